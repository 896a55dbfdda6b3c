"""``loso``, ``lodo`` and ``kfold``: a protocol run into a run folder, in this process or, with
``--jobs N``, in N worker processes (``python -m hsta_edu.cli ... --shard i/N``) and one merge."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
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


def _check_jobs(args: argparse.Namespace) -> str | None:
    """Check ``--jobs``; with more than one job and no ``--cache``, point ``args.cache`` at a fresh
    scratch folder (the worker processes read the clips prepared here) and return it."""
    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: must be >= 1")
    if args.jobs > 1 and args.shard:
        raise ConfigError("--jobs and --shard exclude each other (--jobs runs all shards itself)")
    if args.jobs > 1 and not args.cache:
        args.cache = tempfile.mkdtemp(prefix="hsta-prep-")
        return args.cache
    return None


def _cmd_protocol(args: argparse.Namespace, protocol_name: str) -> int:
    from .. import create_model
    from ..evaluate import run_protocol

    t0 = time.time()
    recipe_name, cfg = _train_config(args)
    scratch = _check_jobs(args)
    index, prep, test_ds, train_ds = _datasets(args, _probe_config(args), progress=cfg.progress)
    overrides = _model_overrides(args, len(index.classes))
    create_model(args.preset, **overrides)  # fail early on a bad option
    protocol = _make_protocol(args, protocol_name, cfg.seed)
    out = _default_out(args, protocol.name)
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


def _fold_names(folds_dir: Path) -> set[str]:
    return {p.name for p in folds_dir.glob("fold_*.json")} if folds_dir.exists() else set()


def _start_workers(args: argparse.Namespace, out: Path, threads: int, logs: Path) -> list:
    """The ``--jobs`` worker processes, as ``(Popen, open log file)`` pairs."""
    import subprocess

    n = args.jobs
    base = _strip_options(args.argv, ("--jobs", "--out", "--cache", "--threads", "--shard"),
                          ("--json", "--no-progress"))
    procs = []
    for i in range(n):
        cmd = [sys.executable, "-m", "hsta_edu.cli", *base, "--shard", f"{i}/{n}", "--threads", str(threads),
               "--out", str(out), "--cache", str(args.cache), "--no-progress"]
        log = open(logs / f"shard-{i}.log", "w")  # noqa: SIM115 - closed by _wait_workers
        procs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
    return procs


def _wait_workers(procs: list, folds_dir: Path, seen: set[str], n_folds: int) -> None:
    """Wait for the workers, printing one line per finished fold; closes their log files."""
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


def _run_jobs(args: argparse.Namespace, out: Path, run_protocol, test_ds, protocol, model_fn, cfg, train_ds,
              info) -> Any:
    """``--jobs N``: the same command as N worker processes, each running the folds ``i, i+N, ...``
    (``--shard i/N``) with its share of the CPU threads, then one merge. Folds are seeded on their own,
    so the result equals the sequential run fold by fold. One line per finished fold; each worker's
    output goes to ``<run folder>/logs/shard-<i>.log``."""
    import os

    import torch

    from ..evaluate import merge_run, protocol_folds, train_only_mask
    # write the run folder's config once, and check it matches an existing one, before the workers start
    run_protocol(test_ds, protocol, model_fn, cfg, out, train_dataset=train_ds, shard=(10 ** 9 - 1, 10 ** 9),
                 val_subjects=args.val_subjects, info=info, progress=False)
    n = args.jobs
    threads = max(1, (os.cpu_count() or 1) // n) if not torch.cuda.is_available() else 1
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    n_folds = len(protocol_folds(protocol, test_ds.labels, list(test_ds.groups), train_only_mask(test_ds)))
    folds_dir = out / "folds"
    before = _fold_names(folds_dir)
    print(f"{n} worker processes x {threads} thread(s); {n_folds - len(before)} of {n_folds} folds to run; "
          f"logs in {logs}", flush=True)
    procs = _start_workers(args, out, threads, logs)
    _wait_workers(procs, folds_dir, set(before), n_folds)
    failed = [i for i, (p, _) in enumerate(procs) if p.returncode != 0]
    if failed:
        tail = (logs / f"shard-{failed[0]}.log").read_text()[-600:]
        raise DataError(f"worker(s) {failed} failed (see {logs}); last output of worker {failed[0]}:\n{tail}")
    return merge_run(out)


def _report_new_folds(folds_dir: Path, seen: set[str], n_folds: int, t0: float) -> set[str]:
    for name in sorted(_fold_names(folds_dir) - seen):
        try:
            rec = json.loads((folds_dir / name).read_text())
            what = f"fold {rec.get('name', name)}: {rec.get('seconds', 0):.0f} s"
        except (OSError, ValueError):
            what = name
        seen = seen | {name}
        print(f"[{len(seen)}/{n_folds}] {what} (elapsed {time.time() - t0:.0f} s)", flush=True)
    return seen
