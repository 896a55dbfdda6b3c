"""``synth``, ``prepare``, ``train``, ``report`` and ``explain``: one function per subcommand,
each taking the parsed arguments and returning the exit status."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from .options import data_name, datasets_for, default_out, overrides_from_args, probe_config, train_config_for
from .output import emit, print_metrics


def cmd_synth(args: argparse.Namespace) -> int:
    from ..data.synth import run_synth
    run_synth(args)
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    t0 = time.time()
    index, prep, ds, _ = datasets_for(args, probe_config(args), progress=not args.no_progress)
    base = getattr(ds, "base", ds)
    print(index.summary())
    print(f"prepared {len(ds)} clips at {prep.img_size}px, T={prep.num_frames}, special={prep.special}"
          + (f"; cache {args.cache}: {base.stats}" if args.cache else " (no cache folder given)"))
    emit({"n_samples": len(ds), "classes": index.classes, "dropped": len(index.dropped),
           "cache": args.cache, "seconds": time.time() - t0}, args.json)
    return 0


def _train_identity(args: argparse.Namespace, model: Any, prep: Any, cfg: Any, test_ds: Any,
                    train_idx: Any, val_idx: Any) -> dict[str, Any]:
    """What decides a ``train`` run's model: the model, preprocessing, recipe, training and
    validation clips, and the video initialisation."""
    from ..data.labelled import dataset_info
    from ..fingerprint import digest, model_identity
    from ..training.pretrain import init_identity

    info = dataset_info(test_ds)
    ids, labels = info.uids, info.labels.tolist()
    return {"model": model_identity(model), "prep": prep.to_dict(),
            "train_config": cfg.recipe_dict(),
            "data": {"n_train": len(train_idx), "n_val": len(val_idx),
                     "digest": digest([[[ids[i], labels[i]] for i in part] for part in (train_idx, val_idx)])},
            "pretrained_video": str(args.pretrained_video) if args.pretrained_video else None,
            **init_identity(args.init)}


def _write_train_outputs(args: argparse.Namespace, out: Path, result: Any, index: Any, prep: Any,
                         recipe_name: str, cfg: Any, identity: dict[str, Any]) -> None:
    """model.pt, history.csv and history.png of a finished ``train``."""
    from ..io import atomic_write_text
    from ..model import save_model
    from ..viz import plot_history, save_figure

    save_model(out / "model.pt", result.model, preset=args.preset, classes=index.classes,
               extra={"recipe": recipe_name, "train_config": cfg.to_dict(), "data": str(args.data),
                      "best_epoch": result.best_epoch, "prep": prep.to_dict(), "fingerprint": identity,
                      "epochs": len(result.history)})
    atomic_write_text(out / "history.csv", result.history.to_csv(index=False))
    save_figure(plot_history(result.history, title=f"{args.preset} on {data_name(args.data)}"),
                out / "history.png")


def cmd_train(args: argparse.Namespace) -> int:
    import numpy as np
    from torch.utils.data import Subset

    from .. import create_model
    from ..io import atomic_write_json
    from ..model import load_video_pretrained
    from ..runs import TRAIN_FOLDER, claim_folder, val_split
    from ..training import data_size_note, set_seed, train

    t0 = time.time()
    recipe_name, cfg = train_config_for(args)
    index, prep, test_ds, train_ds = datasets_for(args, probe_config(args), progress=cfg.progress)
    overrides = overrides_from_args(args, len(index.classes))
    out = default_out(args, "train")
    set_seed(cfg.seed)
    model = create_model(args.preset, **overrides)
    if args.init:
        from ..training.pretrain import init_from_pretrained
        print(init_from_pretrained(model, args.init), file=sys.stderr)
    if args.pretrained_video:
        print(load_video_pretrained(model, args.pretrained_video))
    all_idx = np.arange(len(test_ds))
    train_idx, val_idx = all_idx, np.zeros(0, dtype=np.int64)
    if args.val_subjects:
        from dataclasses import replace
        train_idx, val_idx = val_split(all_idx, list(test_ds.groups), args.val_subjects, cfg.seed)
        cfg = replace(cfg, select="best_val")
    identity = _train_identity(args, model, prep, cfg, test_ds, train_idx, val_idx)
    claim_folder(TRAIN_FOLDER, out, {"identity": identity}, overwrite=args.overwrite,
                 fix="pass --overwrite to replace it, or choose another --out")
    if index.dropped:
        from .protocol import write_dropped
        write_dropped(index, out)
    for note in (cfg.budget_note(int(len(train_idx))),
                 data_size_note(int(len(train_idx)), prep.special, pretrained=bool(args.pretrained_video or args.init))):
        if note:
            print(note, file=sys.stderr, flush=True)
    result = train(model, Subset(train_ds, train_idx.tolist()), cfg, checkpoint_dir=out / "checkpoint",
                   val_dataset=Subset(test_ds, val_idx.tolist()) if len(val_idx) else None,
                   resume=not args.no_resume)
    from ..training.distributed import context
    if not context(result.device.split()[0]).is_main:
        return 0   # under torchrun: rank 0 writes the model and the summary
    _write_train_outputs(args, out, result, index, prep, recipe_name, cfg, identity)
    summary = {"model": str(out / "model.pt"), "epochs": len(result.history),
               "final_loss": float(result.history["loss"].iloc[-1]),
               "final_train_acc": float(result.history["acc"].iloc[-1]),
               "best_epoch": result.best_epoch, "n_train": int(len(train_idx)), "n_val": int(len(val_idx)),
               "device": result.device, "seconds": time.time() - t0}
    if "val_uf1" in result.history:
        summary["val_uf1_last"] = float(result.history["val_uf1"].dropna().iloc[-1])
    atomic_write_json(out / "train_summary.json", summary)
    print(f"trained {summary['epochs']} epoch{'s' if summary['epochs'] != 1 else ''} on {summary['n_train']} clips ({result.device}); "
          f"final loss {summary['final_loss']:.4f}; model saved to {summary['model']}")
    emit(summary, args.json)
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from .. import create_model
    from ..io import atomic_write_json
    from ..training.pretrain import PretrainConfig, pretrain, save_pretrained

    t0 = time.time()
    cfg = PretrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, mask_ratio=args.mask_ratio,
                         norm_target=args.target == "normalised", seed=args.seed, progress=not args.no_progress)
    index, prep, _, train_ds = datasets_for(args, probe_config(args), progress=cfg.progress)
    overrides = overrides_from_args(args, len(index.classes))
    out = default_out(args, "pretrain")
    out.mkdir(parents=True, exist_ok=True)
    import torch
    torch.manual_seed(cfg.seed)
    model = create_model(args.preset, **overrides)
    print(f"pretraining {args.preset} by masked reconstruction on {len(train_ds)} clips of {index.name} "
          f"(labels unused; tube masking {cfg.mask_ratio:.0%}; {cfg.epochs} epochs)", file=sys.stderr, flush=True)
    result = pretrain(model, train_ds, cfg, checkpoint_dir=out, resume=not args.no_resume, device=args.device)
    meta = {"data": str(args.data), "dataset": index.name, "n_clips": len(train_ds), "preset": args.preset,
            "prep": prep.to_dict(), "recipe": {k: v for k, v in vars(cfg).items() if k != "progress"},
            "losses": result.losses, "seconds": result.seconds, "device": result.device}
    path = save_pretrained(out / "pretrained.pt", model, meta)
    _loss_figure(result.losses, out / "loss.png")
    summary = {"model": str(path), "epochs": len(result.losses), "first_loss": result.losses[0],
               "final_loss": result.losses[-1], "resumed_from": result.resumed_from, "n_clips": len(train_ds),
               "seconds": time.time() - t0}
    atomic_write_json(out / "pretrain_summary.json", summary)
    print(f"pretrained {summary['epochs']} epochs on {summary['n_clips']} clips: reconstruction loss "
          f"{summary['first_loss']:.3f} -> {summary['final_loss']:.3f}; weights saved to {path} "
          f"(use: --init {path})")
    emit(summary, args.json)
    return 0


def _loss_figure(losses: list[float], path: Path) -> None:
    from matplotlib.figure import Figure
    fig = Figure(figsize=(5, 3.2))
    ax = fig.subplots()
    ax.plot(range(1, len(losses) + 1), losses, marker="o", ms=3)
    ax.set(xlabel="epoch", ylabel="masked reconstruction loss (MSE, normalised tubelets)",
           title="self-supervised pretraining")
    ax.yaxis.label.set_fontsize(8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def cmd_report(args: argparse.Namespace) -> int:
    from ..evaluate import merge_run
    result = merge_run(args.run_dir)
    summary = result.summary()
    summary["seconds"] = result.seconds
    print_metrics(summary)
    if result.complete:
        print(f"wrote {Path(args.run_dir) / 'report.md'}")
    emit(summary, args.json)
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


def _data_as_trained(args: argparse.Namespace, model: Any, meta: dict[str, Any]) -> Any:
    """The clips of ``--data`` prepared as ``model`` was trained: its stored record
    (`PrepConfig.from_record`, so a model saved before an option existed keeps that option's old
    value), ``--prep`` options on top; a note when the options change the record. Returns the
    dataset; ``model.prep_config`` is what prepared it (the attributions' no-movement baseline
    follows it)."""
    from ..data.prep import PrepConfig

    stored = (meta.get("extra") or {}).get("prep")
    if stored:
        model.prep_config = PrepConfig.from_record(stored)
    _, prep, ds, _ = datasets_for(args, model, progress=False)
    if stored:
        trained = model.prep_config
        model.prep_config = prep
        if prep != trained:
            changed = {k: getattr(prep, k) for k in trained.to_dict() if getattr(prep, k) != getattr(trained, k)}
            print(f"note: {args.model} was trained with other preprocessing than this run's: --prep gives "
                  f"{changed}", file=sys.stderr)
    return ds


def _stored_classes(path: Any, meta: dict[str, Any], model: Any, data_classes: list[str]) -> list[str]:
    """The class names a saved model predicts, checked: one per output, at least two, and covering
    every class of the data it is asked about (ConfigError naming both lists otherwise)."""
    classes = [str(c) for c in meta.get("classes") or []]
    n_out = int(getattr(model.config, "num_classes", len(classes)))
    if not classes:
        raise ConfigError(f"{path} stores no class names; it cannot say what it predicts")
    if len(classes) != n_out:
        raise ConfigError(f"{path} stores {len(classes)} class names ({classes}) for {n_out} outputs")
    if len(classes) < 2:
        raise ConfigError(f"{path} predicts a single class ({classes[0]!r}): there is nothing to explain")
    unknown = [c for c in data_classes if c not in classes]
    if unknown:
        raise ConfigError(f"{path} was trained on classes {classes}; the data's labels {data_classes} include "
                          f"{unknown}, which it never saw: use data under the model's label scheme (--scheme)")
    return classes


def _load_explained(where: str) -> tuple[Any, dict[str, Any]]:
    """``explain --model``: a ``model.pt`` file, else a shipped pretrained model's name (the one
    ``demo`` scores); its preprocessing and classes in the form a ``model.pt`` stores them."""
    from pathlib import Path

    from ..model import load_model
    from ..pretrained import list_pretrained, load_pretrained

    if Path(where).exists():
        return load_model(where)
    names = list_pretrained()
    if where not in names:
        raise ConfigError(f"--model {where}: no such file, and not the name of a pretrained model "
                          f"(those shipped: {', '.join(names) or 'none'})")
    model, info = load_pretrained(where)
    return model, {"classes": info["classes"], "extra": {"prep": info["prep"].to_dict()}}


def cmd_explain(args: argparse.Namespace) -> int:
    from ..viz import figure_format

    try:
        figure_format(args.out)   # before any work: a name matplotlib cannot write fails now, not at the end
    except ConfigError as exc:
        raise ConfigError(f"--out {exc}") from None
    try:
        from ..explain import explain_maps, overlay
    except ImportError as exc:
        print(f"explanations are not available in this installation ({exc})", file=sys.stderr)
        return 2
    import torch

    from ..viz import save_figure

    model, meta = _load_explained(args.model)
    model.eval()
    ds = _data_as_trained(args, model, meta)
    classes = _stored_classes(args.model, meta, model, list(ds.classes))
    uids = [c.uid for c in ds.index.clips]
    i = _clip_position(args.clip, uids)
    video, special, label = ds[i]
    with torch.no_grad():
        logits = model(video[None], special[None])
    pred, true = classes[int(logits.argmax(-1))], ds.classes[int(label)]
    maps = explain_maps(model, video[None], special[None], args.method)
    if args.modality not in maps:
        raise ConfigError(f"this model has no {args.modality} branch (it has {sorted(maps)})")
    frames = video if args.modality == "video" else special
    fig = overlay(frames, maps[args.modality][0], title=f"{uids[i]}: true {true}, predicted {pred} ({args.method})")
    save_figure(fig, args.out)
    print(f"{uids[i]}: true {true}, predicted {pred}; {args.method} map of {args.modality} saved to {args.out}")
    return 0
