"""``--launcher slurm|local``: one submitit job per fold, a Slurm job array on a cluster.

Each array task runs this same command for one fold (``--shard k/N`` with N folds), so it finds
the run folder the launcher wrote, trains its fold and saves it; whichever task ends last merges
the run, and ``hsta-edu report RUN_DIR`` merges it at any time. A task that Slurm preempts or
times out is requeued by submitit (`FoldTask` is checkpointable) and the fold resumes from its
last epoch checkpoint in the run folder. ``--launcher local`` runs the same jobs as local
processes through submitit's local executor (what the tests use) and waits for them.
Needs the ``cluster`` extra: ``pip install "hsta_edu[cluster]"``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError

try:
    import submitit
except ImportError:   # the cluster extra is optional
    submitit = None

__all__ = ["FoldTask", "launch_folds", "task_argv"]

_Base: Any = submitit.helpers.Checkpointable if submitit is not None else object

# options of the launching command that a fold task must not repeat
_WITH_VALUE = ("--launcher", "--partition", "--gpus", "--time", "--cpus-per-task", "--mem-gb",
               "--array-parallelism", "--jobs", "--shard", "--out", "--slurm-folder")
_FLAGS = ("--json", "--wait", "--no-progress", "--overwrite")   # a task must never clear the run folder


class FoldTask(_Base):
    """One fold of a protocol run: ``hsta-edu <argv> --shard k/N``. Checkpointable: on preemption or
    timeout submitit requeues it with the same arguments, and the fold resumes from its checkpoint."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)

    def __call__(self, fold_index: int, n_folds: int) -> int:
        from . import main

        code = main([*self.argv, "--shard", f"{fold_index}/{n_folds}", "--no-progress"])
        if code != 0:
            raise DataError(f"fold {fold_index}: `hsta-edu {' '.join(self.argv)}` exited with status {code}")
        return fold_index


def task_argv(argv: Sequence[str], out: Path) -> list[str]:
    """The launching command's arguments for a fold task: launcher options dropped, ``--out`` absolute."""
    kept, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        name = a.split("=", 1)[0]
        if name in _WITH_VALUE:
            skip = "=" not in a
            continue
        if name not in _FLAGS:
            kept.append(a)
    return [*kept, "--out", str(Path(out).resolve())]


def _executor(args: argparse.Namespace, out: Path) -> Any:
    if submitit is None:
        raise ConfigError(f"--launcher {args.launcher} needs submitit: pip install \"hsta_edu[cluster]\"")
    folder = Path(args.slurm_folder).resolve() if args.slurm_folder else Path(out).resolve() / "slurm"
    try:
        executor = submitit.AutoExecutor(folder=folder / "%j", cluster=args.launcher)
    except RuntimeError as exc:    # submitit: 'Could not detect "srun", are you indeed on a slurm cluster?'
        raise ConfigError(f"--launcher {args.launcher}: {exc} Submit from a machine with Slurm's commands, or "
                          "try the same jobs here with --launcher local") from exc
    params: dict[str, Any] = {"name": "hsta-edu-fold", "timeout_min": args.time, "cpus_per_task": args.cpus_per_task}
    if args.launcher == "slurm":
        params.update(gpus_per_node=args.gpus, slurm_mem_gb=args.mem_gb)
        if args.partition:
            params["slurm_partition"] = args.partition
        if args.array_parallelism:
            params["slurm_array_parallelism"] = args.array_parallelism
    executor.update_parameters(**{k: v for k, v in params.items() if v is not None})
    return executor


def launch_folds(args: argparse.Namespace, out: Path, folds: Sequence[Any], n_folds: int) -> list[Any]:
    """Submit one job per fold (largest first; a job array on Slurm); returns the submitit jobs."""
    from ..evaluate.parallel import fold_order

    executor = _executor(args, out)
    task = FoldTask(task_argv(args.argv, out))
    with executor.batch():
        jobs = [executor.submit(task, f.index, n_folds) for f in fold_order(folds)]
    return jobs


def wait_for(jobs: Sequence[Any], folds: Sequence[Any]) -> None:
    """Wait for every job; a failed one raises a `DataError` with the end of its log."""
    names = {f.index: f.name for f in folds}
    for job in jobs:
        try:
            job.result()
        except Exception as e:   # submitit re-raises the task's error with its traceback text
            fold = job.submission().args[0] if hasattr(job, "submission") else "?"
            tail = ""
            try:
                tail = (job.stderr() or "")[-800:]
            except Exception:   # the log may not exist yet
                pass
            raise DataError(f"fold {names.get(fold, fold)} (job {job.job_id}) failed: {type(e).__name__}: "
                            f"{str(e).strip().splitlines()[-1] if str(e).strip() else ''}\n{tail}") from None
