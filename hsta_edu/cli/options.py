"""From parsed arguments to what the library takes: model overrides, a TrainConfig, the datasets.

Every command that reads data or builds a model goes through here, so an option means the same
thing in ``train``, ``loso``/``lodo``/``kfold``, ``prepare`` and ``explain``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError, check_fields

__all__ = ["ABLATIONS", "ablation_overrides"]

ABLATIONS = {
    "no_usta": {"video_blocks": 0, "special_blocks": 0},
    "no_csta": {"use_csta": False},
    "video_only": {"modalities": ("video",)},
    "special_only": {"modalities": ("special",)},
    "flow": {"special_input": "flow"},
}


def ablation_overrides(no_usta: bool = False, no_csta: bool = False, video_only: bool = False,
                       special_only: bool = False, flow: bool = False) -> dict[str, Any]:
    """HSTAConfig overrides for the paper's ablations (Table 5) and the flow variant."""
    if video_only and special_only:
        raise ConfigError("--video-only and --special-only exclude each other")
    out: dict[str, Any] = {}
    for name, on in (("no_usta", no_usta), ("no_csta", no_csta), ("video_only", video_only),
                     ("special_only", special_only), ("flow", flow)):
        if on:
            out.update(ABLATIONS[name])
    return out


def _args_ablations(args: argparse.Namespace) -> dict[str, Any]:
    """`ablation_overrides` of the ablation flags in ``args`` (raises on a forbidden combination)."""
    return ablation_overrides(args.no_usta, args.no_csta, args.video_only, args.special_only, args.flow)


def _parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key.strip()] = value
    return out


def _model_overrides(args: argparse.Namespace, num_classes: int) -> dict[str, Any]:
    overrides = _args_ablations(args)
    overrides.update(_parse_overrides(args.overrides))
    overrides["num_classes"] = num_classes
    if getattr(args, "drop_path", None) is not None:
        overrides["drop_path_rate"] = args.drop_path
    return overrides


def _probe_config(args: argparse.Namespace) -> Any:
    """The preset's HSTAConfig with the input-shaping flag (``--flow``): what preprocessing follows."""
    from ..model.hsta import preset_config
    return preset_config(args.preset, **ablation_overrides(flow=args.flow))


def _train_config(args: argparse.Namespace):
    from ..train import recipe
    name = args.recipe or ("fast" if args.preset == "hsta-tiny" else "paper")
    fields = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
              "weight_decay": args.weight_decay, "warmup_epochs": args.warmup_epochs, "loss": args.loss,
              "layer_decay": args.layer_decay, "drop_path": args.drop_path, "grad_clip": args.grad_clip,
              "seed": args.seed, "amp": args.amp}
    kw = {k: v for k, v in fields.items() if v is not None}
    if args.no_balanced:
        kw["balanced"] = False
    kw.update(device=args.device, compile=args.compile, num_workers=args.workers, progress=not args.no_progress)
    return name, recipe(name, **kw)


def _load_index(args: argparse.Namespace):
    """The DatasetIndex of ``--data`` (with ``--scheme`` and ``--macro-extra``); DataError when empty."""
    from ..data.datasets import load_dataset

    scheme = args.scheme
    if scheme is None:  # a SynthME folder names its own label scheme in synthme.json
        from ..data.datasets.casme2 import read_marker
        scheme = (read_marker(Path(str(args.data))) or {}).get("scheme")
    loader_kw: dict[str, Any] = {}
    if getattr(args, "macro_extra", False):
        from ..data.datasets import _resolve as resolve_data
        from ..data.datasets import detect_dataset
        kind = detect_dataset(resolve_data(args.data))
        if kind != "casme3":
            raise ConfigError(f"--macro-extra needs a CAS(ME)^3 folder; {args.data} holds {kind}")
        loader_kw = {"macro": True, "correct": True}
    index = load_dataset(args.data, scheme=scheme, **loader_kw)
    if len(index) == 0:
        raise DataError(f"{args.data}: no usable clips ({len(index.dropped)} rows dropped)\n"
                        f"{index.dropped_report()}")
    if index.dropped:
        print(f"note: {len(index.dropped)} annotation rows dropped (see DatasetIndex.dropped_report())",
              file=sys.stderr)
    return index


def _prep_config(args: argparse.Namespace, model_cfg: Any):
    """The PrepConfig for ``model_cfg`` with the ``--prep`` and ``--face`` options."""
    from ..data.prep import PrepConfig

    extra = _parse_overrides(getattr(args, "prep_overrides", []) or [])
    check_fields(PrepConfig, extra, "--prep option(s)")
    clash = sorted(set(extra) & set(PrepConfig.MODEL_FIELDS))
    if clash:
        raise ConfigError(f"--prep {clash}: these follow the model (use --set img_size=..., num_frames=..., --flow)")
    if getattr(args, "face", None):
        extra["face"] = args.face
    return PrepConfig.for_model(model_cfg, **extra)


def _datasets(args: argparse.Namespace, model_cfg: Any, progress: bool):
    """(index, prep_cfg, test-time dataset, train-time dataset) sharing decoded clips in memory."""
    from ..data.torch_data import MERDataset

    index = _load_index(args)
    prep = _prep_config(args, model_cfg)
    test_ds = MERDataset(index, prep, args.cache, train=False).preload(progress=progress)
    return index, prep, test_ds, test_ds.train_view()


def _data_name(data: str) -> str:
    p = Path(data)
    return p.name if p.name else str(data)


def _ablation_tag(args: argparse.Namespace) -> str:
    tags = [k.replace("_", "-") for k in ABLATIONS if getattr(args, k, False)]
    return ("-" + "-".join(tags)) if tags else ""


def _default_out(args: argparse.Namespace, what: str) -> Path:
    """``--out``, or ``runs/<data>-<what>-<preset>[-ablation]``."""
    return Path(args.out or f"runs/{_data_name(args.data)}-{what}-{args.preset}{_ablation_tag(args)}")
