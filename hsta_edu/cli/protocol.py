"""``loso``, ``lodo`` and ``kfold``: a protocol run into a run folder, in this process or, with
``--jobs N``, in N worker processes on this machine (`hsta_edu.evaluate.parallel`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .options import _datasets, _default_out, _model_overrides, _probe_config, _train_config
from .output import _emit, _print_metrics


def _make_protocol(args: argparse.Namespace, protocol_name: str, seed: int) -> Any:
    from ..evaluate import LODO, LOSO, SampleKFold, SubjectKFold
    if protocol_name == "loso":
        return LOSO()
    if protocol_name == "lodo":
        return LODO()
    if args.sample_level:
        return SampleKFold(args.k, seed=seed)
    return SubjectKFold(args.k, seed=seed)


def _check_jobs(args: argparse.Namespace) -> None:
    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: must be >= 1")


def _cmd_protocol(args: argparse.Namespace, protocol_name: str) -> int:
    from .. import create_model
    from ..evaluate import prepare_run, run_protocol
    from ..fingerprint import model_identity

    t0 = time.time()
    recipe_name, cfg = _train_config(args)
    _check_jobs(args)
    index, prep, test_ds, train_ds = _datasets(args, _probe_config(args), progress=cfg.progress)
    overrides = _model_overrides(args, len(index.classes))
    model = create_model(args.preset, **overrides)  # fail early on a bad option
    protocol = _make_protocol(args, protocol_name, cfg.seed)
    out = _default_out(args, protocol.name)
    info = {"data": str(args.data), "dataset": index.name, "preset": args.preset,
            "model_overrides": {k: (list(v) if isinstance(v, tuple) else v) for k, v in overrides.items()},
            "recipe": recipe_name, "prep": prep.to_dict(), "model": model_identity(model),
            "n_dropped": len(index.dropped), "warnings": list(index.warnings)}
    model_fn = lambda: create_model(args.preset, **overrides)   # noqa: E731 - travels to the workers
    # claim (or check) the run folder before any training or submission; then its dropped rows
    run = prepare_run(test_ds, protocol, model_fn, cfg, out, train_dataset=train_ds, val_subjects=args.val_subjects,
                      info=info, overwrite=args.overwrite)
    _write_dropped(index, out)
    if args.launcher:
        result = _launch(args, out, run)
        if result is None:
            return 0
    else:
        result = run_protocol(test_ds, protocol, model_fn, cfg, out, train_dataset=train_ds, shard=args.shard,
                              val_subjects=args.val_subjects, info=info, keep_checkpoints=args.keep_checkpoints,
                              checkpoint_every=args.checkpoint_every,
                              progress=not args.no_progress, jobs=args.jobs, prepared=run)
    summary = result.summary()
    summary["seconds"] = time.time() - t0
    summary.setdefault("n_samples", len(test_ds))
    _print_metrics(summary)
    if result.complete:
        print(f"run folder: {out} (report.md, metrics.json, confusion.png)")
    _emit(summary, args.json)
    return 0


def _write_dropped(index: Any, out: Path) -> None:
    """``dropped.csv`` in the output folder: every annotation row the loader left out, and why."""
    path = index.to_dropped_csv(out / "dropped.csv")
    if index.dropped:
        print(f"note: all {len(index.dropped)} dropped rows and their reasons: {path}", file=sys.stderr)


def _launch(args: argparse.Namespace, out: Path, run: Any) -> Any:
    """``--launcher``: submit one job per unfinished fold of the claimed run folder, and (local, or
    slurm with ``--wait``) wait and merge. Returns the merged result, or None once submitted."""
    from ..evaluate import merge_run
    from ..evaluate.results import _fold_file
    from .launch import launch_folds, wait_for

    if args.shard:
        raise ConfigError("--launcher runs one task per fold itself: leave out --shard")
    todo = [f for f in run.folds if not _fold_file(out, f.index).exists()]
    if not todo:
        return merge_run(out)
    jobs = launch_folds(args, out, todo, len(run.folds))
    ids = sorted({str(j.job_id).split("_")[0] for j in jobs})
    print(f"submitted {len(jobs)} fold job(s) with submitit ({args.launcher}; job {', '.join(ids)}); "
          f"logs in {Path(args.slurm_folder or out / 'slurm').resolve()}", flush=True)
    if args.launcher == "slurm" and not args.wait:
        print(f"when they have finished: hsta-edu report {out}", flush=True)
        return None
    wait_for(jobs, todo)
    return merge_run(out)
