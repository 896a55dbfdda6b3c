"""From parsed arguments to what the library takes: model overrides, a TrainConfig, the datasets.

Every command that reads data or builds a model goes through here, so an option means the same
thing in ``train``, ``loso``/``lodo``/``kfold``, ``prepare`` and ``explain``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..model import ABLATIONS, ablation_overrides
from ..typed_fields import parse_assignments


def args_ablations(args: argparse.Namespace) -> dict[str, Any]:
    """`ablation_overrides` of the ablation flags in ``args`` (raises on a forbidden combination)."""
    if args.video_only and args.special_only:
        raise ConfigError("--video-only and --special-only exclude each other")
    return ablation_overrides(args.no_usta, args.no_csta, args.video_only, args.special_only, args.flow)


def overrides_from_args(args: argparse.Namespace, num_classes: int) -> dict[str, Any]:
    """HSTAConfig overrides: the ablation flags, then each ``--set KEY=VALUE`` typed by its field
    (`hsta_edu.typed_fields`: ``use_csta=false`` is False, ``qkv_bias=maybe`` a ConfigError)."""
    from ..model.hsta import HSTAConfig
    overrides = args_ablations(args)
    given = parse_assignments(HSTAConfig, args.overrides, flag="--set", what="model option(s)")
    if "num_classes" in given:     # it would be replaced by the data's class count without a word
        raise ConfigError(f"--set num_classes={given['num_classes']}: the number of classes follows the data's "
                          "label scheme (choose it with --scheme); remove --set num_classes")
    overrides.update(given)
    overrides["num_classes"] = num_classes
    if getattr(args, "drop_path", None) is not None:
        overrides["drop_path_rate"] = args.drop_path
    return overrides


def probe_config(args: argparse.Namespace, num_classes: int = 2) -> Any:
    """The final HSTAConfig of this command: the preset with every ablation flag, ``--set`` and
    ``--drop-path`` applied. Preprocessing follows it (`_prep_config`), so no option can reach the
    model and not the data, or the reverse; a bad option fails here, before any data is read."""
    from ..model.hsta import preset_config
    return preset_config(args.preset, **overrides_from_args(args, num_classes))


def check_arguments(args: argparse.Namespace) -> None:
    """Every argument that can be checked without data, checked before any data is read."""
    from ..evaluate import check_val_subjects, parse_shard
    from ..training.device import pick_device

    for name in ("threads", "epochs", "batch_size", "jobs", "time", "cpus_per_task", "mem_gb", "array_parallelism"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} {value}: must be >= 1")
    if getattr(args, "min_steps", None) is not None and args.min_steps < 0:
        raise ConfigError(f"--min-steps {args.min_steps}: must be >= 0 (0 = off)")
    if getattr(args, "gpus", None) is not None and args.gpus < 0:
        raise ConfigError(f"--gpus {args.gpus}: must be >= 0")
    if getattr(args, "launcher", None) == "slurm" and shutil.which("srun") is None:   # what submitit looks for
        raise ConfigError("--launcher slurm: this machine has no Slurm commands (srun); submit from a cluster's "
                          "login node, or try the same jobs here with --launcher local")
    if getattr(args, "workers", None) is not None and args.workers < 0:
        raise ConfigError(f"--workers {args.workers}: must be >= 0")
    if getattr(args, "device", None):
        pick_device(args.device)
    if getattr(args, "shard", None):
        parse_shard(args.shard)
    if getattr(args, "val_subjects", None) is not None:
        check_val_subjects(args.val_subjects, what="--val-subjects")
    for flag in ("out", "cache") if args.command != "explain" else ("cache",):   # explain's --out is a PNG
        path = getattr(args, flag, None)
        if path and Path(path).exists() and not Path(path).is_dir():
            raise ConfigError(f"--{flag} {path}: is a file, not a folder; give a folder (it is created if missing)")
        blocked = next((a for a in Path(path).parents if a.exists() and not a.is_dir()), None) if path else None
        if blocked is not None:
            raise ConfigError(f"--{flag} {path}: {blocked} is a file, so no folder can be made there")
    if hasattr(args, "overrides") and hasattr(args, "no_usta"):   # a command with model options (not synth's --preset)
        model_cfg = probe_config(args)
        if hasattr(args, "prep_overrides"):
            _prep_config(args, model_cfg)       # every --prep option typed and in range, before the data
    elif getattr(args, "prep_overrides", None):
        _prep_overrides(args)                   # explain: the model decides the rest; the types now


def train_config_for(args: argparse.Namespace):
    from ..training import recipe
    name = args.recipe or ("fast" if args.preset == "hsta-tiny" else "paper")
    fields = {"epochs": args.epochs, "min_steps": args.min_steps, "batch_size": args.batch_size, "lr": args.lr,
              "weight_decay": args.weight_decay, "warmup_epochs": args.warmup_epochs, "loss": args.loss,
              "layer_decay": args.layer_decay, "drop_path": args.drop_path, "grad_clip": args.grad_clip,
              "label_smoothing": args.label_smoothing, "pretrain_epochs": args.pretrain_epochs,
              "seed": args.seed, "amp": args.amp}
    kw = {k: v for k, v in fields.items() if v is not None}
    if args.no_balanced:
        kw["balanced"] = False
    kw.update(device=args.device, compile=args.compile, num_workers=args.workers, progress=not args.no_progress)
    return name, recipe(name, **kw)


def _load_index(args: argparse.Namespace):
    """The DatasetIndex of ``--data`` (with ``--scheme`` and ``--macro-extra``); DataError when empty or, but for
    ``explain``, of a single class. Each dropped row's reason (the first 5) is printed on stderr."""
    from ..data.datasets import load_dataset

    scheme = args.scheme
    if scheme is None:  # a SynthME folder names its own label scheme in synthme.json
        from ..data.datasets.casme2 import read_marker
        scheme = (read_marker(Path(str(args.data))) or {}).get("scheme")
    loader_kw: dict[str, Any] = {}
    if getattr(args, "macro_extra", False):
        from ..data.datasets import detect_dataset
        from ..data.datasets import resolve_data_path as resolve_data
        kind = detect_dataset(resolve_data(args.data))
        if kind != "casme3":
            raise ConfigError(f"--macro-extra needs a CAS(ME)^3 folder; {args.data} holds {kind}")
        loader_kw = {"macro": True, "correct": True}
    index = load_dataset(args.data, scheme=scheme, **loader_kw)
    if len(index) == 0:
        raise DataError(f"{args.data}: no usable clips ({len(index.dropped)} rows dropped)\n"
                        f"{index.dropped_report()}")
    if getattr(args, "command", None) != "explain":   # explaining clips of one class is fine, not training
        from ..data.clip import require_classes
        require_classes(index, what=str(args.data))
    if index.dropped:
        print(f"note: {len(index.dropped)} annotation rows dropped:", file=sys.stderr)
        for d in index.dropped[:5]:
            print(f"  {d.source}:{d.row if d.row is not None else '-'} {d.clip or ''}: {d.reason}", file=sys.stderr)
        if len(index.dropped) > 5:
            print(f"  ... and {len(index.dropped) - 5} more", file=sys.stderr)
    return index


def _prep_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--prep KEY=VALUE`` options as PrepConfig values, each typed by its field (``flip=false``
    is False; ``flip=maybe`` a ConfigError naming it)."""
    from ..data.prep import PrepConfig
    return parse_assignments(PrepConfig, getattr(args, "prep_overrides", []) or [], flag="--prep",
                             what="--prep option(s)")


def _prep_config(args: argparse.Namespace, model_cfg: Any):
    """The PrepConfig for ``model_cfg`` with the ``--prep`` and ``--face`` options."""
    from ..data.prep import PrepConfig

    extra = _prep_overrides(args)
    clash = sorted(set(extra) & set(PrepConfig.MODEL_FIELDS))
    if clash:
        raise ConfigError(f"--prep {clash}: these follow the model (use --set img_size=..., num_frames=..., --flow)")
    if getattr(args, "face", None):
        extra["face"] = args.face
    return PrepConfig.for_model(model_cfg, **extra)


def datasets_for(args: argparse.Namespace, model_cfg: Any, progress: bool):
    """(index, prep_cfg, test-time dataset, train-time dataset) sharing decoded clips in memory."""
    from ..data.torch_data import MERDataset

    index = _load_index(args)
    prep = _prep_config(args, model_cfg)
    test_ds = MERDataset(index, prep, args.cache, train=False).preload(progress=progress)
    return index, prep, test_ds, test_ds.train_view()


def data_name(data: str) -> str:
    p = Path(data)
    return p.name if p.name else str(data)


def _ablation_tag(args: argparse.Namespace) -> str:
    tags = [k.replace("_", "-") for k in ABLATIONS if getattr(args, k, False)]
    return ("-" + "-".join(tags)) if tags else ""


def default_out(args: argparse.Namespace, what: str) -> Path:
    """``--out``, or ``runs/<data>-<what>-<preset>[-ablation]``."""
    return Path(args.out or f"runs/{data_name(args.data)}-{what}-{args.preset}{_ablation_tag(args)}")
