"""``loso``, ``lodo`` and ``kfold``: a protocol run into a run folder, in this process or, with
``--jobs N``, in N worker processes on this machine, or with ``--launcher`` as submitit jobs (`hsta_edu.runs`)."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .options import datasets_for, default_out, overrides_from_args, probe_config, train_config_for
from .output import emit, print_metrics


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


def _executor(args: argparse.Namespace) -> Any:
    """The executor the options ask for: `Submitit` (``--launcher``), `WorkerProcesses` (``--jobs`` > 1)
    or `InProcess`."""
    from ..runs import InProcess, Submitit, WorkerProcesses

    if args.launcher:
        if args.shard:
            raise ConfigError("--launcher runs one task per fold itself: leave out --shard")
        params: dict[str, Any] = {"timeout_min": args.time, "cpus_per_task": args.cpus_per_task}
        if args.launcher == "slurm":
            params.update(gpus_per_node=args.gpus, slurm_mem_gb=args.mem_gb, slurm_partition=args.partition,
                          slurm_array_parallelism=args.array_parallelism)
        return Submitit(args.launcher, folder=args.slurm_folder, wait=args.launcher == "local" or args.wait,
                        **params)
    return WorkerProcesses(args.jobs) if args.jobs > 1 else InProcess()


def cmd_protocol(args: argparse.Namespace, protocol_name: str) -> int:
    from ..fingerprint import model_identity
    from ..runs import RunOptions, execute, prepare_run
    from ..training import data_size_note
    from ..training.pretrain import init_identity, initialised_model

    t0 = time.time()
    recipe_name, cfg = train_config_for(args)
    _check_jobs(args)
    executor = _executor(args)   # fails early on a missing submitit or a bad combination
    index, prep, test_ds, train_ds = datasets_for(args, probe_config(args), progress=cfg.progress)
    overrides = overrides_from_args(args, len(index.classes))
    init = init_identity(args.init)               # a missing --init file: one line, before any model
    model = initialised_model(args.preset, overrides, args.init)  # fail early on a bad option or --init file
    protocol = _make_protocol(args, protocol_name, cfg.seed)
    out = default_out(args, protocol.name)
    info = {"data": str(args.data), "dataset": index.name, "preset": args.preset,
            "model_overrides": {k: (list(v) if isinstance(v, tuple) else v) for k, v in overrides.items()},
            "recipe": recipe_name, "prep": prep.to_dict(), "model": {**model_identity(model), **init},
            "n_dropped": len(index.dropped), "warnings": list(index.warnings)}
    model_fn = partial(initialised_model, args.preset, overrides, args.init)   # travels to the workers
    options = RunOptions(val_subjects=args.val_subjects, info=info, overwrite=args.overwrite,
                         keep_checkpoints=args.keep_checkpoints, checkpoint_every=args.checkpoint_every,
                         shard=args.shard, jobs=args.jobs, progress=not args.no_progress)
    # claim (or check) the run folder before any training or submission; then its dropped rows
    spec = prepare_run(test_ds, protocol, model_fn, cfg, out, train_dataset=train_ds, options=options)
    write_dropped(index, out)
    n_train = int(statistics.median(len(f.train) for f in spec.folds))
    for note in (cfg.budget_note(n_train, what="training clips (median fold)"),
                 data_size_note(n_train, prep.special, pretrained=bool(args.init))):
        if note:
            print(note, file=sys.stderr, flush=True)
    result = execute(spec, executor)
    if args.launcher == "slurm" and not args.wait and not result.complete:
        print(f"when they have finished: hsta-edu report {out}", flush=True)
        return 0
    summary = result.summary()
    summary["seconds"] = time.time() - t0
    summary.setdefault("n_samples", len(test_ds))
    print_metrics(summary)
    if result.complete:
        print(f"run folder: {out} (report.md, metrics.json, confusion.png)")
    emit(summary, args.json)
    return 0


def write_dropped(index: Any, out: Path) -> None:
    """``dropped.csv`` in the output folder: every annotation row the loader left out, and why."""
    path = index.to_dropped_csv(out / "dropped.csv")
    if index.dropped:
        print(f"note: all {len(index.dropped)} dropped rows and their reasons: {path}", file=sys.stderr)
