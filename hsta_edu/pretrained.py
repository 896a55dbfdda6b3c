"""Pretrained HSTA weights shipped inside the package, with what is needed to use and reproduce them.

Layout of ``hsta_edu/weights/`` (or any folder given as ``weights_dir``)::

    manifest.json     {"format": "hsta_edu.pretrained/1", "models": {name: entry, ...}}
    <name>.pt         a flat state dict {str: Tensor}: tensors only, loadable with weights_only=True

Each manifest entry holds the file name, its sha256 and size in bytes, a description, the
model configuration (``HSTAConfig.to_dict()``), the preprocessing the weights were trained
with (``PrepConfig.to_dict()``), the class names in label-index order, a free ``provenance``
record (script, command, data, subjects, recipe, seed, torch version, date) and the held-out
``metrics``. `load_pretrained` checks the file's sha256 against the manifest *before* anything
is unpickled, loads it with ``weights_only=True`` and rebuilds the model strictly.

    >>> from hsta_edu import list_pretrained, load_pretrained
    >>> list_pretrained()                                    # doctest: +SKIP
    ['hsta-tiny-synthme', 'hsta-tiny-synthme-flow']
    >>> model, info = load_pretrained("hsta-tiny-synthme")   # doctest: +SKIP
    >>> info["prep"], info["classes"]                        # doctest: +SKIP

The shipped weights are reproduced by ``benchmarks/train_pretrained.py``.

**Self-supervised weights** (no labels, no head: the encoders that fine-tuning starts from, as the
paper's start from VideoMAE) sit in the same folder under the manifest's ``"self_supervised"``
section, ``{name: {file, sha256, bytes, description, model_config, prep, provenance, pretraining}}``,
each file a `hsta_edu.training.pretrain.save_pretrained` file. `self_supervised_path` returns a
shipped file after checking its sha256; ``--init NAME`` on ``train``, ``loso``, ``lodo`` and
``kfold`` takes such a name as well as a path. Reproduced by ``benchmarks/pretrain_ssl.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .errors import CheckpointError, ConfigError
from .io import atomic_write_bytes, atomic_write_json, safe_torch_load
from .model import HSTA, HSTAConfig

if TYPE_CHECKING:  # importing prep pulls in OpenCV: keep `import hsta_edu` light
    from .data.prep import PrepConfig

__all__ = ["predict_pretrained", "export_pretrained", "self_supervised_path", "export_self_supervised",
           "default_prep", "WEIGHTS_DIR", "MANIFEST_NAME", "MANIFEST_FORMAT", "MAX_BYTES"]

#: The folder of the shipped weights (inside the installed package).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "hsta_edu.pretrained/1"
#: Largest weights file `export_pretrained` writes by default (each shipped file is at most 3 MB).
MAX_BYTES = 3_000_000

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")


# ----------------------------------------------------------------------------------- manifest

def _dir(weights_dir: str | Path | None) -> Path:
    return WEIGHTS_DIR if weights_dir is None else Path(weights_dir)


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of ``folder``; None when there is none; CheckpointError when it is unusable."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read the pretrained-weights manifest {path}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT \
            or not isinstance(manifest.get("models"), dict):
        raise CheckpointError(f"{path} is not a pretrained-weights manifest (expected "
                              f"{{'format': {MANIFEST_FORMAT!r}, 'models': {{...}}}})")
    return manifest


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def list_pretrained(*, weights_dir: str | Path | None = None) -> list[str]:
    """Sorted names of the pretrained models in the manifest (``[]`` when there is no manifest yet)."""
    manifest = _read_manifest(_dir(weights_dir))
    return [] if manifest is None else sorted(manifest["models"])


# ----------------------------------------------------------------------------------- loading

def _manifest_entry(folder: Path, name: str) -> tuple[dict[str, Any], str, Path]:
    """``(entry, where, weights path)`` of ``name`` in the manifest of ``folder``, its fields checked.

    ``where`` names the entry in messages. ConfigError for an unknown name (listing the available
    ones); CheckpointError for an entry that is not an object, lacks a field or names no plain file.
    """
    manifest = _read_manifest(folder)
    models = {} if manifest is None else manifest["models"]
    if name not in models:
        where = folder / MANIFEST_NAME
        available = sorted(models) if models else f"none: no pretrained weights in {where}"
        raise ConfigError(f"unknown pretrained model {name!r}; available: {available}")
    entry = models[name]
    where = f"{folder / MANIFEST_NAME} [{name!r}]"
    if not isinstance(entry, dict):
        raise CheckpointError(f"{where}: the manifest entry is not an object")
    missing = [k for k in ("file", "sha256", "model_config", "prep", "classes") if k not in entry]
    if missing:
        raise CheckpointError(f"{where}: the manifest entry lacks {missing}")
    fname = entry["file"]
    if not isinstance(fname, str) or not fname or Path(fname).name != fname:
        raise CheckpointError(f"{where}: 'file' must be a plain file name in the weights folder, got {fname!r}")
    return entry, where, folder / fname


def _read_verified(path: Path, name: str, entry: dict[str, Any], folder: Path,
                   check_hash: bool) -> tuple[bytes, str]:
    """The bytes of the weights file ``path`` and their sha256, compared with the manifest's (unless
    ``check_hash`` is False) before anything is unpickled; CheckpointError when missing, unreadable
    or different."""
    if not path.is_file():
        raise CheckpointError(f"pretrained weights file not found: {path} (listed for {name!r} in "
                              f"{folder / MANIFEST_NAME})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read pretrained weights file {path}: {exc}") from exc
    digest = _sha256(data)
    if check_hash and digest != entry["sha256"]:
        raise CheckpointError(f"pretrained weights file {path} was modified or corrupted: its sha256 is "
                              f"{digest}, the manifest expects {entry['sha256']} "
                              f"({len(data)} bytes; manifest: {entry.get('bytes')} bytes)")
    return data, digest


def _load_state(path: Path, map_location: Any) -> dict[str, torch.Tensor]:
    """The flat state dict in ``path``, loaded with weights_only=True; CheckpointError for anything else."""
    state = safe_torch_load(path, map_location=map_location)  # weights_only=True
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise CheckpointError(f"{path} is not a flat state dict of tensors (dict[str, Tensor])")
    return state


def _entry_configs(entry: dict[str, Any], where: str) -> tuple[HSTAConfig, PrepConfig, list]:
    """The entry's HSTAConfig, PrepConfig and class names, checked against each other."""
    from .data.prep import PrepConfig

    try:
        config = HSTAConfig.from_dict(entry["model_config"])
        prep = PrepConfig.from_record(entry["prep"])
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"{where}: invalid model_config or prep: {exc}") from exc
    classes = entry["classes"]
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes) \
            or len(classes) != config.num_classes:
        raise CheckpointError(f"{where}: 'classes' must be {config.num_classes} class names "
                              f"(model_config.num_classes), got {classes!r}")
    return config, prep, classes


def _build_model(config: HSTAConfig, prep: PrepConfig, state: dict[str, torch.Tensor], path: Path,
                 map_location: Any) -> HSTA:
    """The HSTA of ``config`` with ``state`` loaded strictly, on ``map_location``, in eval mode."""
    model = HSTA(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: the weights do not match the model configuration in the manifest: "
                              f"{exc}") from exc
    if isinstance(map_location, (str, torch.device)):
        model.to(map_location)
    model.eval()
    model.prep_config = prep   # explanations read the input representation from it
    return model


def load_pretrained(name: str, *, map_location: Any = "cpu", check_hash: bool = True,
                    weights_dir: str | Path | None = None) -> tuple[HSTA, dict[str, Any]]:
    """The pretrained model ``name`` in eval mode, and what it was trained with.

    Returns ``(model, info)``; ``info`` has ``name``, ``description``, ``prep`` (the
    `PrepConfig` to prepare clips with), ``classes`` (label-index order), ``model_config``
    (dict), ``provenance``, ``metrics``, ``sha256`` and ``file`` (Path). Errors:
    ConfigError for an unknown name (listing the available ones); CheckpointError for a
    missing file, a sha256 that differs from the manifest (checked before unpickling; skip
    with ``check_hash=False``), a file holding anything but tensors, or weights that do not
    fit the stored configuration.
    """
    folder = _dir(weights_dir)
    entry, where, path = _manifest_entry(folder, name)
    data, digest = _read_verified(path, name, entry, folder, check_hash)
    state = _load_state(path, map_location)
    config, prep, classes = _entry_configs(entry, where)
    model = _build_model(config, prep, state, path, map_location)
    info = {
        "name": name,
        "description": entry.get("description", ""),
        "prep": prep,
        "classes": list(classes),
        "model_config": config.to_dict(),
        "provenance": dict(entry.get("provenance") or {}),
        "metrics": dict(entry.get("metrics") or {}),
        "sha256": digest,
        "bytes": len(data),
        "file": path,
    }
    return model, info


def predict_pretrained(name: str, data: str | Path, *, scheme: str = "megc3", progress: bool = False,
                       weights_dir: str | Path | None = None) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The pretrained model ``name`` applied to every clip of the dataset folder ``data``, with the
    model's own preprocessing (deterministic test-time sampling).

    Returns ``(dataset, info, pred)``: the test-time `MERDataset`, `load_pretrained`'s ``info`` and
    `hsta_edu.training.loop.predict`'s ``{"logits", "prob", "pred"}`` plus ``"uids"`` (the clips' uids in the
    same order). DataError when the folder's classes differ from the model's."""
    from .data.datasets import load_dataset
    from .data.torch_data import MERDataset
    from .errors import DataError
    from .training.loop import predict

    model, info = load_pretrained(name, weights_dir=weights_dir)
    index = load_dataset(data, scheme=scheme)
    if list(index.classes) != list(info["classes"]):
        raise DataError(f"{data}: classes {list(index.classes)} differ from the model's {info['classes']}")
    ds = MERDataset(index, info["prep"], None, train=False).preload(progress=progress)
    pred = predict(model, ds)
    pred["uids"] = [c.uid for c in index.clips]
    return ds, info, pred


# ----------------------------------------------------------------------------------- export

def default_prep(model_config: HSTAConfig | HSTA, special: str | None = None) -> PrepConfig:
    """The preprocessing for a model: `PrepConfig.for_model` (its sizes, frame count and special
    input; PrepConfig's defaults, the study's choice, for everything else). ``special`` ("frames"
    or "flow") prepares for that special input instead of the model's own."""
    from dataclasses import replace

    from .data.prep import PrepConfig

    cfg = getattr(model_config, "config", model_config)
    if not isinstance(cfg, HSTAConfig):
        raise ConfigError(f"default_prep needs an HSTAConfig or an HSTA model, got {type(model_config).__name__}")
    return PrepConfig.for_model(cfg if special is None else replace(cfg, special_input=special))


def _json_ready(value: Any, what: str) -> Any:
    """``value`` after a JSON round trip; ConfigError when it is not plain JSON (NaN included)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"export_pretrained: {what} must be plain JSON (dicts, lists, str, finite numbers, "
                          f"bool, None): {exc}") from exc


# many parameters: keyword-only manifest fields, each required so no entry ships without it
def export_pretrained(name: str, model: nn.Module, *, prep: PrepConfig, classes: Sequence[str],
                      description: str, provenance: dict[str, Any], metrics: dict[str, Any],
                      weights_dir: str | Path | None = None, max_bytes: int | None = MAX_BYTES) -> Path:
    """Write ``<name>.pt`` (the model's state dict, tensors only) and its manifest entry; returns the file.

    The tensors are detached, moved to the CPU, made contiguous and cloned (so no tensor
    drags a larger shared storage into the file); the file and the manifest are written
    atomically, the file first. An existing entry of the same name is replaced. Refuses
    (ConfigError, nothing written) a name that is not ``[a-z0-9][a-z0-9._-]*``, a model
    without an HSTAConfig, a ``prep`` or ``classes`` that do not fit the model, metadata
    that is not plain JSON, and a file larger than ``max_bytes`` (3 MB; None: no limit).
    """
    from .data.prep import PrepConfig

    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ConfigError(f"pretrained model name {name!r} must match [a-z0-9][a-z0-9._-]* "
                          "(lower-case letters, digits, '.', '_', '-')")
    config = getattr(model, "config", None)
    if not isinstance(config, HSTAConfig):
        raise ConfigError("export_pretrained needs an HSTA model (with an HSTAConfig as model.config)")
    if not isinstance(prep, PrepConfig):
        raise ConfigError(f"prep must be a PrepConfig, got {type(prep).__name__}")
    if prep.img_size != config.img_size or prep.num_frames != config.num_frames:
        raise ConfigError(f"prep (img_size={prep.img_size}, num_frames={prep.num_frames}) does not fit the model "
                          f"(img_size={config.img_size}, num_frames={config.num_frames})")
    if "special" in config.modalities and prep.special != config.special_input:
        raise ConfigError(f"prep.special={prep.special!r} but the model's special_input={config.special_input!r}")
    classes = [str(c) for c in classes]
    if len(classes) != config.num_classes or len(set(classes)) != len(classes):
        raise ConfigError(f"classes must be {config.num_classes} distinct names (the model's num_classes), "
                          f"got {classes}")
    entry_meta = {"description": _json_ready(str(description), "description"),
                  "provenance": _json_ready(dict(provenance), "provenance"),
                  "metrics": _json_ready(dict(metrics), "metrics")}

    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    if max_bytes is not None and len(data) > max_bytes:
        raise ConfigError(f"pretrained weights {name!r} would be {len(data):,} bytes, over the limit of "
                          f"{max_bytes:,} bytes (max_bytes); ship a smaller model")
    # the file must load back with weights_only=True, exactly
    back = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if set(back) != set(state) or not all(torch.equal(back[k], state[k]) for k in state):
        raise CheckpointError(f"pretrained weights {name!r} do not load back identically")

    folder = _dir(weights_dir)
    manifest = _read_manifest(folder) or {"format": MANIFEST_FORMAT, "models": {}}
    path = atomic_write_bytes(folder / f"{name}.pt", data)
    models = dict(manifest["models"])
    models[name] = {
        "file": path.name,
        "sha256": _sha256(data),
        "bytes": len(data),
        "description": entry_meta["description"],
        "model_config": config.to_dict(),
        "prep": prep.to_dict(),
        "classes": classes,
        "provenance": entry_meta["provenance"],
        "metrics": entry_meta["metrics"],
    }
    manifest["models"] = {k: models[k] for k in sorted(models)}
    atomic_write_json(folder / MANIFEST_NAME, manifest, allow_nan=False)
    return path


# ----------------------------------------------------------------------- self-supervised weights

def list_self_supervised(*, weights_dir: str | Path | None = None) -> list[str]:
    """Sorted names of the shipped self-supervised weights (the manifest's ``"self_supervised"``)."""
    manifest = _read_manifest(_dir(weights_dir))
    return [] if manifest is None else sorted(manifest.get("self_supervised") or {})


def self_supervised_path(name: str, *, weights_dir: str | Path | None = None) -> Path:
    """The file of the shipped self-supervised weights ``name``, its sha256 checked against the manifest
    (CheckpointError when it differs; ConfigError naming the shipped ones for an unknown name)."""
    folder = _dir(weights_dir)
    manifest = _read_manifest(folder) or {}
    entries = manifest.get("self_supervised") or {}
    if name not in entries:
        raise ConfigError(f"unknown self-supervised weights {name!r}; shipped: {sorted(entries) or 'none'}")
    entry = entries[name]
    where = f"{folder / MANIFEST_NAME} [self_supervised][{name!r}]"
    if not isinstance(entry, dict) or any(k not in entry for k in ("file", "sha256")):
        raise CheckpointError(f"{where}: the entry must be an object with 'file' and 'sha256'")
    fname = entry["file"]
    if not isinstance(fname, str) or not fname or Path(fname).name != fname:
        raise CheckpointError(f"{where}: 'file' must be a plain file name in the weights folder, got {fname!r}")
    _read_verified(folder / fname, name, entry, folder, check_hash=True)
    return folder / fname


def export_self_supervised(name: str, source: str | Path, *, description: str, provenance: dict[str, Any],
                           weights_dir: str | Path | None = None, max_bytes: int | None = MAX_BYTES) -> Path:
    """Ship the self-supervised file ``source`` (written by `hsta_edu.training.pretrain.save_pretrained`)
    as ``<name>.pt`` with its manifest entry (sha256, size, model config, preparation and the pretraining
    record from the file's own metadata, plus ``description`` and ``provenance``); returns the file.
    An existing entry of the same name is replaced; the supervised entries are kept as they are."""
    from .training.pretrain import PRETRAINED_FORMAT

    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ConfigError(f"self-supervised weights name {name!r} must match [a-z0-9][a-z0-9._-]*")
    data = Path(source).read_bytes()
    if max_bytes is not None and len(data) > max_bytes:
        raise ConfigError(f"self-supervised weights {name!r} would be {len(data):,} bytes, over {max_bytes:,}")
    payload = safe_torch_load(source)
    if not isinstance(payload, dict) or payload.get("format") != PRETRAINED_FORMAT:
        raise CheckpointError(f"{source}: not a self-supervised hsta_edu file (format {PRETRAINED_FORMAT!r})")
    meta = dict(payload.get("meta") or {})
    folder = _dir(weights_dir)
    manifest = _read_manifest(folder) or {"format": MANIFEST_FORMAT, "models": {}}
    path = atomic_write_bytes(folder / f"{name}.pt", data)
    entries = dict(manifest.get("self_supervised") or {})
    entries[name] = {
        "file": path.name, "sha256": _sha256(data), "bytes": len(data),
        "description": _json_ready(str(description), "description"),
        "model_config": _json_ready(payload.get("model_config"), "model_config"),
        "prep": _json_ready(meta.get("prep"), "prep"),
        "provenance": _json_ready(dict(provenance), "provenance"),
        "pretraining": _json_ready({k: meta[k] for k in ("dataset", "n_clips", "recipe", "seconds", "device")
                                    if k in meta}
                                   | {"first_loss": (meta.get("losses") or [None])[0],
                                      "final_loss": (meta.get("losses") or [None])[-1],
                                      "epochs": len(meta.get("losses") or [])}, "pretraining"),
    }
    manifest["self_supervised"] = {k: entries[k] for k in sorted(entries)}
    atomic_write_json(folder / MANIFEST_NAME, manifest, allow_nan=False)
    return path
