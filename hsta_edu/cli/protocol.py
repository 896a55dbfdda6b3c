"""``loso``, ``lodo`` and ``kfold``: a protocol run into a run folder, in this process or, with
``--jobs N``, in N worker processes on this machine (`hsta_edu.evaluate.parallel`)."""

from __future__ import annotations

import argparse
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
    from ..evaluate import run_protocol

    t0 = time.time()
    recipe_name, cfg = _train_config(args)
    _check_jobs(args)
    index, prep, test_ds, train_ds = _datasets(args, _probe_config(args), progress=cfg.progress)
    overrides = _model_overrides(args, len(index.classes))
    create_model(args.preset, **overrides)  # fail early on a bad option
    protocol = _make_protocol(args, protocol_name, cfg.seed)
    out = _default_out(args, protocol.name)
    info = {"data": str(args.data), "dataset": index.name, "preset": args.preset,
            "model_overrides": {k: (list(v) if isinstance(v, tuple) else v) for k, v in overrides.items()},
            "recipe": recipe_name, "prep": prep.to_dict()}
    model_fn = lambda: create_model(args.preset, **overrides)   # noqa: E731 - travels to the workers
    if args.launcher:
        result = _launch(args, out, test_ds, train_ds, protocol, model_fn, cfg, info)
        if result is None:
            return 0
    else:
        result = run_protocol(test_ds, protocol, model_fn, cfg, out, train_dataset=train_ds, shard=args.shard,
                              val_subjects=args.val_subjects, info=info, keep_checkpoints=args.keep_checkpoints,
                              progress=not args.no_progress, jobs=args.jobs)
    summary = result.summary()
    summary["seconds"] = time.time() - t0
    summary.setdefault("n_samples", len(test_ds))
    _print_metrics(summary)
    if result.complete:
        print(f"run folder: {out} (report.md, metrics.json, confusion.png)")
    _emit(summary, args.json)
    return 0


def _launch(args: argparse.Namespace, out: Path, test_ds, train_ds, protocol, model_fn, cfg, info) -> Any:
    """``--launcher``: write the run folder, submit one job per unfinished fold, and (local, or
    slurm with ``--wait``) wait and merge. Returns the merged result, or None once submitted."""
    from ..evaluate import merge_run, protocol_folds, run_protocol, train_only_mask
    from ..evaluate.runs import _fold_file
    from .launch import launch_folds, wait_for

    if args.shard:
        raise ConfigError("--launcher runs one task per fold itself: leave out --shard")
    # claim (or check) the run folder before anything is submitted: a shard that holds no fold
    run_protocol(test_ds, protocol, model_fn, cfg, out, train_dataset=train_ds, shard=(10 ** 9 - 1, 10 ** 9),
                 val_subjects=args.val_subjects, info=info, progress=False)
    folds = protocol_folds(protocol, test_ds.labels, list(test_ds.groups), train_only_mask(test_ds))
    todo = [f for f in folds if not _fold_file(out, f.index).exists()]
    if not todo:
        return merge_run(out)
    jobs = launch_folds(args, out, todo, len(folds))
    ids = sorted({str(j.job_id).split("_")[0] for j in jobs})
    print(f"submitted {len(jobs)} fold job(s) with submitit ({args.launcher}; job {', '.join(ids)}); "
          f"logs in {Path(args.slurm_folder or out / 'slurm').resolve()}", flush=True)
    if args.launcher == "slurm" and not args.wait:
        print(f"when they have finished: hsta-edu report {out}", flush=True)
        return None
    wait_for(jobs, todo)
    return merge_run(out)
