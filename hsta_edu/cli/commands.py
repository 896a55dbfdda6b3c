"""``synth``, ``prepare``, ``train``, ``report`` and ``explain``: one function per subcommand,
each taking the parsed arguments and returning the exit status."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from .options import _data_name, _datasets, _default_out, _model_overrides, _probe_config, _train_config
from .output import _emit, _print_metrics


def _cmd_synth(args: argparse.Namespace) -> int:
    from ..data.synth import run_synth
    run_synth(args)
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    t0 = time.time()
    index, prep, ds, _ = _datasets(args, _probe_config(args), progress=not args.no_progress)
    base = getattr(ds, "base", ds)
    print(index.summary())
    print(f"prepared {len(ds)} clips at {prep.img_size}px, T={prep.num_frames}, special={prep.special}"
          + (f"; cache {args.cache}: {base.stats}" if args.cache else " (no cache folder given)"))
    _emit({"n_samples": len(ds), "classes": index.classes, "dropped": len(index.dropped),
           "cache": args.cache, "seconds": time.time() - t0}, args.json)
    return 0


def _write_train_outputs(args: argparse.Namespace, out: Path, result: Any, index: Any, prep: Any,
                         recipe_name: str, cfg: Any) -> None:
    """model.pt, history.csv and history.png of a finished ``train``."""
    from ..io import atomic_write_text
    from ..train import save_model
    from ..viz import plot_history, save_figure

    save_model(out / "model.pt", result.model, preset=args.preset, classes=index.classes,
               extra={"recipe": recipe_name, "train_config": cfg.to_dict(), "data": str(args.data),
                      "best_epoch": result.best_epoch, "prep": prep.to_dict()})
    atomic_write_text(out / "history.csv", result.history.to_csv(index=False))
    save_figure(plot_history(result.history, title=f"{args.preset} on {_data_name(args.data)}"),
                out / "history.png")


def _cmd_train(args: argparse.Namespace) -> int:
    import numpy as np
    from torch.utils.data import Subset

    from .. import create_model
    from ..evaluate import _val_split
    from ..io import atomic_write_json
    from ..train import load_video_pretrained, set_seed, train

    t0 = time.time()
    recipe_name, cfg = _train_config(args)
    index, prep, test_ds, train_ds = _datasets(args, _probe_config(args), progress=cfg.progress)
    overrides = _model_overrides(args, len(index.classes))
    out = _default_out(args, "train")
    set_seed(cfg.seed)
    model = create_model(args.preset, **overrides)
    if args.pretrained_video:
        print(load_video_pretrained(model, args.pretrained_video))
    all_idx = np.arange(len(test_ds))
    train_idx, val_idx = all_idx, np.zeros(0, dtype=np.int64)
    if args.val_subjects:
        from dataclasses import replace
        train_idx, val_idx = _val_split(all_idx, list(test_ds.groups), args.val_subjects, cfg.seed)
        cfg = replace(cfg, select="best_val")
    result = train(model, Subset(train_ds, train_idx.tolist()), cfg, checkpoint_dir=out / "checkpoint",
                   val_dataset=Subset(test_ds, val_idx.tolist()) if len(val_idx) else None,
                   resume=not args.no_resume)
    from ..distributed import context
    if not context(result.device.split()[0]).is_main:
        return 0   # under torchrun: rank 0 writes the model and the summary
    _write_train_outputs(args, out, result, index, prep, recipe_name, cfg)
    summary = {"model": str(out / "model.pt"), "epochs": len(result.history),
               "final_loss": float(result.history["loss"].iloc[-1]),
               "final_train_acc": float(result.history["acc"].iloc[-1]),
               "best_epoch": result.best_epoch, "n_train": int(len(train_idx)), "n_val": int(len(val_idx)),
               "device": result.device, "seconds": time.time() - t0}
    if "val_uf1" in result.history:
        summary["val_uf1_last"] = float(result.history["val_uf1"].dropna().iloc[-1])
    atomic_write_json(out / "train_summary.json", summary)
    print(f"trained {summary['epochs']} epochs on {summary['n_train']} clips ({result.device}); "
          f"final loss {summary['final_loss']:.4f}; model saved to {summary['model']}")
    _emit(summary, args.json)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from ..evaluate import merge_run
    result = merge_run(args.run_dir)
    summary = result.summary()
    summary["seconds"] = result.seconds
    _print_metrics(summary)
    if result.complete:
        print(f"wrote {Path(args.run_dir) / 'report.md'}")
    _emit(summary, args.json)
    return 0 if result.complete else 1


def _clip_position(clip: str | None, uids: list[str]) -> int:
    """The index of ``--clip`` (a uid or a position) among ``uids``; the first clip when None."""
    if clip is None:
        return 0
    if clip in uids:
        return uids.index(clip)
    if clip.isdigit() and int(clip) < len(uids):
        return int(clip)
    raise DataError(f"clip {clip!r} not found; examples: {uids[:3]}")


def _use_stored_prep(args: argparse.Namespace, model: Any, meta: dict[str, Any], prep: Any) -> None:
    """Give ``model`` the preprocessing it was trained with; a note when this run's differs."""
    from ..data.prep import PrepConfig

    stored = (meta.get("extra") or {}).get("prep")
    if stored:
        model.prep_config = PrepConfig.from_dict(stored)   # the attributions' no-movement baseline follows it
        if model.prep_config != prep:
            print(f"note: {args.model} was trained with other preprocessing than this run's "
                  f"({ {k: v for k, v in stored.items() if v != getattr(prep, k)} }); pass them with --prep",
                  file=sys.stderr)


def _cmd_explain(args: argparse.Namespace) -> int:
    try:
        from ..explain import explain_maps, overlay
    except ImportError as exc:
        print(f"explanations are not available in this installation ({exc})", file=sys.stderr)
        return 2
    import torch

    from ..train import load_model
    from ..viz import save_figure

    model, meta = load_model(args.model)
    model.eval()
    _, prep, ds, _ = _datasets(args, model.config, progress=False)
    _use_stored_prep(args, model, meta, prep)
    uids = [c.uid for c in ds.index.clips]
    i = _clip_position(args.clip, uids)
    video, special, label = ds[i]
    with torch.no_grad():
        logits = model(video[None], special[None])
    pred = int(logits.argmax(-1))
    maps = explain_maps(model, video[None], special[None], args.method)
    if args.modality not in maps:
        raise ConfigError(f"this model has no {args.modality} branch (it has {sorted(maps)})")
    frames = video if args.modality == "video" else special
    fig = overlay(frames, maps[args.modality][0],
                  title=f"{uids[i]}: true {ds.classes[int(label)]}, predicted {ds.classes[pred]} ({args.method})")
    save_figure(fig, args.out)
    print(f"{uids[i]}: true {ds.classes[int(label)]}, predicted {ds.classes[pred]}; {args.method} map of "
          f"{args.modality} saved to {args.out}")
    return 0
