"""The ``hsta-edu`` command: the whole path from data to metrics, headless.

Subcommands: ``synth`` (generate SynthME), ``prepare`` (preprocess and cache), ``train``,
``loso`` / ``kfold`` (protocol runs into a run folder), ``report`` (merge a run folder),
``explain`` (attention / attribution maps of one clip) and ``demo`` (the pretrained
``hsta-tiny-synthme`` scored on the unseen subjects of ``data_samples/`` in seconds; ``--loso`` adds a
LOSO run from scratch). With ``--json`` a command prints one JSON
object as its last line (``loso``/``kfold``/``demo``: ``uf1``, ``uar``, ``accuracy``,
``n_folds``, ``n_samples``, ``seconds``). Errors of the package end the command with a one-line
message and exit status 2, not a traceback.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError, DataError, HSTAError, check_fields

__all__ = ["main", "build_parser", "ablation_overrides"]

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


# ----------------------------------------------------------------------------------- arguments

def _add_data(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--data", required=required, help="dataset folder or name (casme2, samm, ..., data_samples)")
    p.add_argument("--scheme", default=None,
                   help="label scheme: native, megc2019 (= megc3: the MEGC2019 3-class sets, as in the paper's "
                        "Table 5), broad3 (every negative emotion negative), objective, emotion7; loader default")
    p.add_argument("--macro-extra", action="store_true",
                   help="CAS(ME)^3: add its macro-expressions as extra TRAINING data (never tested; the paper's "
                        "Table 7); needs --scheme objective")
    p.add_argument("--cache", default=None, help="preprocessing cache folder (default: none, decode in memory)")
    p.add_argument("--face", default=None, choices=("haar", "box", "none"), help="face crop mode (prep default)")
    p.add_argument("--prep", dest="prep_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="any PrepConfig option, e.g. --prep representation=frames --prep magnify=0 (repeatable)")


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="hsta-tiny", help="model preset: hsta-tiny, hsta-small, hsta-base")
    p.add_argument("--no-usta", action="store_true", help="ablation: no USTA blocks (embeddings + CSTA only)")
    p.add_argument("--no-csta", action="store_true", help="ablation: no CSTA [CLS] exchange")
    p.add_argument("--video-only", action="store_true", help="ablation: the video branch alone")
    p.add_argument("--special-only", action="store_true", help="ablation: the special-data branch alone")
    p.add_argument("--flow", action="store_true", help="special data = onset + optical flow onset->apex")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="any HSTAConfig override, e.g. --set drop_rate=0.1 (repeatable)")


def _add_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", default=None, choices=("paper", "reference", "fast"),
                   help="training recipe (default: fast for hsta-tiny, paper otherwise)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--warmup-epochs", type=float)
    p.add_argument("--loss", choices=("ce", "mse"))
    p.add_argument("--layer-decay", type=float)
    p.add_argument("--drop-path", type=float)
    p.add_argument("--grad-clip", type=float)
    p.add_argument("--no-balanced", action="store_true", help="plain shuffling instead of balanced sampling")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best available)")
    p.add_argument("--amp", choices=("auto", "bf16", "fp16", "off"))
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (1 is fastest for hsta-tiny on a busy shared CPU)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_protocol(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=None, help="run folder (default: runs/<data>-<protocol>-<preset>[-ablation])")
    p.add_argument("--shard", default=None, metavar="I/N", help="run only folds i, i+n, ... (job arrays, GPUs)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="run the folds in N processes on this machine (each with its share of the cores)")
    p.add_argument("--val-subjects", type=float, default=0.0,
                   help="pick the epoch on this fraction (or number) of held-out TRAINING subjects; "
                        "0 = fixed epoch budget (default)")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep each fold's last checkpoint")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hsta-edu", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    from .data.synth import add_synth_arguments
    p = sub.add_parser("synth", help="generate a SynthME corpus (CASME II layout)")
    add_synth_arguments(p, default_preset="benchmark")  # the options of python -m hsta_edu.data.synth

    p = sub.add_parser("prepare", help="preprocess every clip into the cache")
    _add_data(p)
    _add_model(p)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("train", help="train on a whole dataset (optionally with held-out validation subjects)")
    _add_data(p)
    _add_model(p)
    _add_train(p)
    p.add_argument("--out", default=None, help="output folder (model.pt, history.csv, history.png)")
    p.add_argument("--val-subjects", type=float, default=0.0)
    p.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    p.add_argument("--pretrained-video", default=None, help="local VideoMAE-style checkpoint for the video branch")
    p.add_argument("--json", action="store_true")

    for name, help_ in (("loso", "leave-one-subject-out evaluation"),
                        ("lodo", "leave-one-dataset-out evaluation on the composite (train on two corpora, "
                                 "test on the third)"),
                        ("kfold", "k-fold evaluation (subject-grouped; --sample-level for the paper's split)")):
        p = sub.add_parser(name, help=help_)
        _add_data(p)
        _add_model(p)
        _add_train(p)
        _add_protocol(p)
        if name == "kfold":
            p.add_argument("--k", type=int, default=5)
            p.add_argument("--sample-level", action="store_true",
                           help="the paper's clip-level split (mixes subjects between train and test!)")

    p = sub.add_parser("report", help="merge a run folder's folds into metrics, figure and report")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("explain", help="attention / attribution maps of one clip from a trained model")
    p.add_argument("--model", required=True, help="model.pt written by `hsta-edu train`")
    _add_data(p)
    p.add_argument("--clip", default=None, help="clip uid (dataset/subject/clip_id) or index; default: first")
    p.add_argument("--method", default="rollout", help="rollout, cls, csta, integrated_gradients, ...")
    p.add_argument("--modality", default="video", choices=("video", "special"))
    p.add_argument("--out", default="explain.png")

    p = sub.add_parser("demo", help="the pretrained hsta-tiny scored on data_samples/ (unseen subjects; seconds)")
    p.add_argument("--data", default="data_samples")
    p.add_argument("--model", default="hsta-tiny-synthme", help="a name from hsta_edu.list_pretrained()")
    p.add_argument("--loso", action="store_true", help="also run a LOSO from scratch on --data (minutes)")
    p.add_argument("--epochs", type=int, default=None, help="epochs of the --loso run")
    p.add_argument("--out", default=None, help="run folder (default: a temporary folder)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true")
    return parser


# ----------------------------------------------------------------------------------- builders

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
    overrides = ablation_overrides(args.no_usta, args.no_csta, args.video_only, args.special_only, args.flow)
    overrides.update(_parse_overrides(args.overrides))
    overrides["num_classes"] = num_classes
    if getattr(args, "drop_path", None) is not None:
        overrides["drop_path_rate"] = args.drop_path
    return overrides


def _train_config(args: argparse.Namespace):
    from .train import recipe
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


def _datasets(args: argparse.Namespace, model_cfg: Any, progress: bool):
    """(index, prep_cfg, test-time dataset, train-time dataset) sharing decoded clips in memory."""
    from .data.datasets import load_dataset
    from .data.prep import PrepConfig
    from .data.torch_data import MERDataset

    scheme = args.scheme
    if scheme is None:  # a SynthME folder names its own label scheme in synthme.json
        from .data.datasets.casme2 import read_marker
        scheme = (read_marker(Path(str(args.data))) or {}).get("scheme")
    loader_kw: dict[str, Any] = {}
    if getattr(args, "macro_extra", False):
        from .data.datasets import _resolve as resolve_data
        from .data.datasets import detect_dataset
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
    extra = _parse_overrides(getattr(args, "prep_overrides", []) or [])
    check_fields(PrepConfig, extra, "--prep option(s)")
    clash = sorted(set(extra) & set(PrepConfig.MODEL_FIELDS))
    if clash:
        raise ConfigError(f"--prep {clash}: these follow the model (use --set img_size=..., num_frames=..., --flow)")
    if getattr(args, "face", None):
        extra["face"] = args.face
    prep = PrepConfig.for_model(model_cfg, **extra)
    test_ds = MERDataset(index, prep, args.cache, train=False).preload(progress=progress)
    return index, prep, test_ds, test_ds.train_view()


def _data_name(data: str) -> str:
    p = Path(data)
    return p.name if p.name else str(data)


def _ablation_tag(args: argparse.Namespace) -> str:
    tags = [k.replace("_", "-") for k in ABLATIONS if getattr(args, k, False)]
    return ("-" + "-".join(tags)) if tags else ""


def _emit(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, default=str), flush=True)


def _print_metrics(summary: dict[str, Any]) -> None:
    if "uf1" in summary:
        print(f"UF1 {summary['uf1']:.4f}  UAR {summary['uar']:.4f}  accuracy {summary['accuracy']:.4f}  "
              f"({summary['n_samples']} clips, {summary['n_folds']} folds)")
        for name, d in (summary.get("per_dataset") or {}).items():
            print(f"  {name}: UF1 {d['uf1']:.4f}  UAR {d['uar']:.4f}  (n={d['n']})")
    else:
        print(f"{summary['folds_done']}/{summary['n_folds']} folds done in {summary['run_dir']}; "
              f"run the remaining shards, then `hsta-edu report {summary['run_dir']}`")


# ----------------------------------------------------------------------------------- commands

def _cmd_synth(args: argparse.Namespace) -> int:
    from .data.synth import run_synth
    run_synth(args)
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from .model.hsta import preset_config
    t0 = time.time()
    probe = preset_config(args.preset, **ablation_overrides(flow=args.flow))
    index, prep, ds, _ = _datasets(args, probe, progress=not args.no_progress)
    base = getattr(ds, "base", ds)
    print(index.summary())
    print(f"prepared {len(ds)} clips at {prep.img_size}px, T={prep.num_frames}, special={prep.special}"
          + (f"; cache {args.cache}: {base.stats}" if args.cache else " (no cache folder given)"))
    _emit({"n_samples": len(ds), "classes": index.classes, "dropped": len(index.dropped),
           "cache": args.cache, "seconds": time.time() - t0}, args.json)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import numpy as np
    from torch.utils.data import Subset

    from . import create_model
    from .evaluate import _val_split
    from .io import atomic_write_json, atomic_write_text
    from .model.hsta import preset_config
    from .train import load_video_pretrained, save_model, set_seed, train
    from .viz import plot_history, save_figure

    t0 = time.time()
    recipe_name, cfg = _train_config(args)
    probe = preset_config(args.preset, **ablation_overrides(flow=args.flow))
    index, prep, test_ds, train_ds = _datasets(args, probe, progress=cfg.progress)
    overrides = _model_overrides(args, len(index.classes))
    out = Path(args.out or f"runs/{_data_name(args.data)}-train-{args.preset}{_ablation_tag(args)}")
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
    save_model(out / "model.pt", result.model, preset=args.preset, classes=index.classes,
               extra={"recipe": recipe_name, "train_config": cfg.to_dict(), "data": str(args.data),
                      "best_epoch": result.best_epoch, "prep": prep.to_dict()})
    atomic_write_text(out / "history.csv", result.history.to_csv(index=False))
    save_figure(plot_history(result.history, title=f"{args.preset} on {_data_name(args.data)}"),
                out / "history.png")
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


def _cmd_protocol(args: argparse.Namespace, protocol_name: str) -> int:
    from . import create_model
    from .evaluate import LODO, LOSO, SampleKFold, SubjectKFold, run_protocol
    from .model.hsta import preset_config

    t0 = time.time()
    recipe_name, cfg = _train_config(args)
    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: must be >= 1")
    if args.jobs > 1 and args.shard:
        raise ConfigError("--jobs and --shard exclude each other (--jobs runs all shards itself)")
    scratch = None
    if args.jobs > 1 and not args.cache:   # the worker processes read the clips prepared here
        scratch = tempfile.mkdtemp(prefix="hsta-prep-")
        args.cache = scratch
    probe = preset_config(args.preset, **ablation_overrides(flow=args.flow))
    index, prep, test_ds, train_ds = _datasets(args, probe, progress=cfg.progress)
    overrides = _model_overrides(args, len(index.classes))
    create_model(args.preset, **overrides)  # fail early on a bad option
    if protocol_name == "loso":
        protocol = LOSO()
    elif protocol_name == "lodo":
        protocol = LODO()
    elif args.sample_level:
        protocol = SampleKFold(args.k, seed=cfg.seed)
    else:
        protocol = SubjectKFold(args.k, seed=cfg.seed)
    out = Path(args.out or f"runs/{_data_name(args.data)}-{protocol.name}-{args.preset}{_ablation_tag(args)}")
    info = {"data": str(args.data), "dataset": index.name, "preset": args.preset,
            "model_overrides": {k: (list(v) if isinstance(v, tuple) else v) for k, v in overrides.items()},
            "recipe": recipe_name, "prep": prep.to_dict()}
    if args.jobs > 1:
        try:
            result = _run_jobs(args, out, run_protocol, test_ds, protocol,
                               lambda: create_model(args.preset, **overrides), cfg, train_ds, info)
        finally:
            if scratch:
                import shutil
                shutil.rmtree(scratch, ignore_errors=True)
    else:
        result = run_protocol(test_ds, protocol, lambda: create_model(args.preset, **overrides), cfg, out,
                              train_dataset=train_ds, shard=args.shard, val_subjects=args.val_subjects, info=info,
                              keep_checkpoints=args.keep_checkpoints, progress=cfg.progress)
    summary = result.summary()
    summary["seconds"] = time.time() - t0
    summary.setdefault("n_samples", len(test_ds))
    _print_metrics(summary)
    if result.complete:
        print(f"run folder: {out} (report.md, metrics.json, confusion.png)")
    _emit(summary, args.json)
    return 0


def _strip_options(argv: Sequence[str], with_value: Sequence[str], flags: Sequence[str]) -> list[str]:
    """``argv`` without the given options (``--x v``, ``--x=v`` and bare flags)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        name = a.split("=", 1)[0]
        if name in with_value:
            skip = "=" not in a
            continue
        if name in flags:
            continue
        out.append(a)
    return out


def _run_jobs(args: argparse.Namespace, out: Path, run_protocol, test_ds, protocol, model_fn, cfg, train_ds,
              info) -> Any:
    """``--jobs N``: the same command as N worker processes, each running the folds ``i, i+N, ...``
    (``--shard i/N``) with its share of the CPU threads, then one merge. Folds are seeded on their own,
    so the result equals the sequential run fold by fold. One line per finished fold; each worker's
    output goes to ``<run folder>/logs/shard-<i>.log``."""
    import os
    import subprocess

    import torch

    from .evaluate import merge_run
    # write the run folder's config once, and check it matches an existing one, before the workers start
    run_protocol(test_ds, protocol, model_fn, cfg, out, train_dataset=train_ds, shard=(10 ** 9 - 1, 10 ** 9),
                 val_subjects=args.val_subjects, info=info, progress=False)
    n = args.jobs
    threads = max(1, (os.cpu_count() or 1) // n) if not torch.cuda.is_available() else 1
    base = _strip_options(args.argv, ("--jobs", "--out", "--cache", "--threads", "--shard"),
                          ("--json", "--no-progress"))
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    from .evaluate import protocol_folds, train_only_mask
    n_folds = len(protocol_folds(protocol, test_ds.labels, list(test_ds.groups), train_only_mask(test_ds)))
    folds_dir = out / "folds"
    before = {p.name for p in folds_dir.glob("fold_*.json")} if folds_dir.exists() else set()
    print(f"{n} worker processes x {threads} thread(s); {n_folds - len(before)} of {n_folds} folds to run; "
          f"logs in {logs}", flush=True)
    procs = []
    for i in range(n):
        cmd = [sys.executable, "-m", "hsta_edu.cli", *base, "--shard", f"{i}/{n}", "--threads", str(threads),
               "--out", str(out), "--cache", str(args.cache), "--no-progress"]
        log = open(logs / f"shard-{i}.log", "w")  # noqa: SIM115 - closed below
        procs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
    seen = set(before)
    t0 = time.time()
    try:
        while any(p.poll() is None for p, _ in procs):
            time.sleep(1.0)
            seen = _report_new_folds(folds_dir, seen, n_folds, t0)
    except KeyboardInterrupt:
        for p, _ in procs:
            p.terminate()
        raise
    finally:
        for _, log in procs:
            log.close()
    _report_new_folds(folds_dir, seen, n_folds, t0)
    failed = [i for i, (p, _) in enumerate(procs) if p.returncode != 0]
    if failed:
        tail = (logs / f"shard-{failed[0]}.log").read_text()[-600:]
        raise DataError(f"worker(s) {failed} failed (see {logs}); last output of worker {failed[0]}:\n{tail}")
    return merge_run(out)


def _report_new_folds(folds_dir: Path, seen: set[str], n_folds: int, t0: float) -> set[str]:
    now = {p.name for p in folds_dir.glob("fold_*.json")} if folds_dir.exists() else set()
    for name in sorted(now - seen):
        try:
            rec = json.loads((folds_dir / name).read_text())
            what = f"fold {rec.get('name', name)}: {rec.get('seconds', 0):.0f} s"
        except (OSError, ValueError):
            what = name
        seen = seen | {name}
        print(f"[{len(seen)}/{n_folds}] {what} (elapsed {time.time() - t0:.0f} s)", flush=True)
    return seen


def _cmd_report(args: argparse.Namespace) -> int:
    from .evaluate import merge_run
    result = merge_run(args.run_dir)
    summary = result.summary()
    summary["seconds"] = result.seconds
    _print_metrics(summary)
    if result.complete:
        print(f"wrote {Path(args.run_dir) / 'report.md'}")
    _emit(summary, args.json)
    return 0 if result.complete else 1


def _cmd_explain(args: argparse.Namespace) -> int:
    try:
        from .explain import explain_maps, overlay
    except ImportError as exc:
        print(f"explanations are not available in this installation ({exc})", file=sys.stderr)
        return 2
    import torch

    from .data.prep import PrepConfig
    from .train import load_model
    from .viz import save_figure

    model, meta = load_model(args.model)
    model.eval()
    _, prep, ds, _ = _datasets(args, model.config, progress=False)
    stored = (meta.get("extra") or {}).get("prep")
    if stored:
        model.prep_config = PrepConfig.from_dict(stored)   # the attributions' no-movement baseline follows it
        if model.prep_config != prep:
            print(f"note: {args.model} was trained with other preprocessing than this run's "
                  f"({ {k: v for k, v in stored.items() if v != getattr(prep, k)} }); pass them with --prep",
                  file=sys.stderr)
    uids = [c.uid for c in ds.index.clips]
    if args.clip is None:
        i = 0
    elif args.clip in uids:
        i = uids.index(args.clip)
    elif args.clip.isdigit() and int(args.clip) < len(uids):
        i = int(args.clip)
    else:
        raise DataError(f"clip {args.clip!r} not found; examples: {uids[:3]}")
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


def _cmd_demo(args: argparse.Namespace) -> int:
    """The headless main job: the shipped hsta-tiny trained on frames, scored on subjects it never saw.

    ``hsta-tiny-synthme`` was trained (benchmarks/train_pretrained.py) on SynthME subjects generated
    with another seed than ``data_samples/``: every clip scored here belongs to a subject outside its
    training set, so the result is subject-independent. It takes seconds; ``--loso`` adds a LOSO run
    from scratch on the same folder for comparison (minutes)."""
    import numpy as np

    from .data.datasets import load_dataset
    from .data.torch_data import MERDataset
    from .evaluate import compute_metrics
    from .pretrained import load_pretrained
    from .train import predict

    t0 = time.time()
    model, info = load_pretrained(args.model)
    index = load_dataset(args.data, scheme="megc3")
    if list(index.classes) != list(info["classes"]):
        raise DataError(f"{args.data}: classes {index.classes} differ from the model's {info['classes']}")
    prov = info["provenance"]
    trained_on = set(prov.get("subjects", {}).get("train", []))
    ds = MERDataset(index, info["prep"], None, train=False).preload(progress=not args.no_progress)
    pred = predict(model, ds)
    m = compute_metrics(ds.labels, pred["pred"], ds.classes)
    data_seed = _synth_seed(args.data)
    print(f"demo: pretrained {args.model} (hsta-tiny, frames: onset + apex, {info['prep'].num_frames} video "
          f"frames; {prov.get('n_train_clips', '?')} training clips of SynthME seed "
          f"{prov.get('data', {}).get('synth_config', {}).get('seed', '?')})")
    print(f"      scored on {len(ds)} clips of {len(set(ds.groups))} subjects in {args.data} (SynthME seed "
          f"{data_seed}): other identities than its {len(trained_on)} training subjects")
    print(f"UF1 {m['uf1']:.4f}  UAR {m['uar']:.4f}  accuracy {m['accuracy']:.4f}  ({len(ds)} clips)")
    cm = np.asarray(m["confusion"])
    print("confusion (rows true, columns predicted): " + ", ".join(
        f"{c}: {list(map(int, row))}" for c, row in zip(ds.classes, cm, strict=True)))
    summary = {"uf1": m["uf1"], "uar": m["uar"], "accuracy": m["accuracy"], "n_folds": 1, "n_samples": len(ds),
               "seconds": time.time() - t0, "model": args.model, "protocol": "held-out subjects"}
    print(f"({summary['seconds']:.0f} s)")
    if args.loso:
        out = args.out or tempfile.mkdtemp(prefix="hsta-demo-")
        argv = ["loso", "--data", args.data, "--preset", "hsta-tiny", "--out", out]
        if args.epochs:
            argv += ["--epochs", str(args.epochs)]
        if args.no_progress:
            argv.append("--no-progress")
        print(f"demo: and from scratch, hsta-tiny LOSO on {args.data} (frames; run folder {out})")
        main(argv)
    _emit(summary, args.json)
    return 0


def _synth_seed(folder: str) -> Any:
    """The seed in a SynthME folder's marker, '?' when it has none (or no readable marker)."""
    from .data.datasets.casme2 import read_marker
    try:
        config = (read_marker(folder) or {}).get("config")
    except DataError:
        return "?"
    return config.get("seed", "?") if isinstance(config, dict) else "?"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``hsta-edu``; returns the exit status."""
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if hasattr(args, "video_only"):  # check flag combinations before any data is read
            ablation_overrides(args.no_usta, args.no_csta, args.video_only, args.special_only, args.flow)
        if getattr(args, "threads", None):
            import torch
            torch.set_num_threads(args.threads)
        if args.command == "synth":
            return _cmd_synth(args)
        if args.command == "prepare":
            return _cmd_prepare(args)
        if args.command == "train":
            return _cmd_train(args)
        if args.command in ("loso", "lodo", "kfold"):
            return _cmd_protocol(args, args.command)
        if args.command == "report":
            return _cmd_report(args)
        if args.command == "explain":
            return _cmd_explain(args)
        if args.command == "demo":
            return _cmd_demo(args)
    except HSTAError as exc:
        print(f"hsta-edu {args.command}: error: {exc}", file=sys.stderr)
        return 2
    raise AssertionError(args.command)  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
