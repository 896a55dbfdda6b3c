"""Where a run's folds execute, behind one small interface (`Executor.run(spec, folds, display)`):

- `InProcess`: one after the other in this process (each fold with its epoch bar on a terminal);
- `WorkerProcesses`: ``jobs`` worker processes on this machine, largest fold first, forked from the
  warm fork server when the caller started one (`hsta_edu.runs.forkserver`), else spawned; each CPU
  worker gets its share of the cores, each GPU worker one GPU;
- `Submitit`: one submitit job per fold, a Slurm job array on a cluster (``cluster="local"`` runs the
  same jobs as local processes: what the tests use). Needs ``pip install "hsta_edu[cluster]"``.

Every executor sends the same `RunSpec` with `cloudpickle` (once per worker, or once to
``spec.pkl`` for the jobs), and every fold runs `run_fold`, which writes its own file in the run
folder: folds are seeded on their own, so the results equal a sequential run's fold by fold when it
uses as many CPU threads as each worker (a matrix product's rounding depends on how many threads
share it; the run prints the number).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError, HSTAError
from ..evaluate.protocols import Fold
from ..progress import Progress
from .fold import fold_order, run_fold
from .forkserver import start_method
from .spec import RunSpec


def available_cpus() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class Executor:
    """Runs the given folds of a claimed run. ``run`` returns True when every fold it was given has
    finished (False: submitted to run elsewhere, e.g. a Slurm queue that is not waited for)."""

    def run(self, spec: RunSpec, folds: Sequence[Fold], display: Progress) -> bool:
        raise NotImplementedError


def _done(display: Progress, fold: Fold, seconds: float) -> None:
    display.set_postfix_str(f"fold {fold.name}: {seconds:.1f} s" if seconds < 10 else f"fold {fold.name}: {seconds:.0f} s")
    display.update(1)


class InProcess(Executor):
    """The folds one after the other in this process, largest first."""

    def run(self, spec: RunSpec, folds: Sequence[Fold], display: Progress) -> bool:
        for fold in fold_order(folds):
            display.set_postfix_str(f"fold {fold.name}")
            _done(display, fold, run_fold(spec, fold, progress=display.live))
        return True


# ------------------------------------------------------------------------- local worker processes
_WORK: dict[str, Any] = {}


def _init_worker(payload: bytes, threads: int, devices: Any) -> None:
    import cloudpickle
    import torch

    torch.set_num_threads(threads)
    _watch_parent()
    _WORK.clear()
    _WORK["spec"] = cloudpickle.loads(payload)
    _WORK["device"] = devices.get() if devices is not None else None


def _watch_parent() -> None:
    """End this worker when the run's process is gone (killed with SIGKILL, say), instead of
    training on as an orphan: a daemon thread waits on multiprocessing's parent sentinel, which
    closes when that process ends (spawned or forked from the fork server alike)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)
    threading.Thread(target=watch, name="hsta-parent-watch", daemon=True).start()


def _work_fold(fold: Fold) -> tuple[int, float]:
    return fold.index, run_fold(_WORK["spec"], fold, device=_WORK["device"])


def _devices(cfg_device: str, jobs: int) -> list[str] | None:
    """One GPU per worker (round robin) when the recipe runs on CUDA; None on a CPU."""
    import torch

    from ..training import pick_device

    if pick_device(cfg_device).type != "cuda":
        return None
    n = torch.cuda.device_count()
    return [f"cuda:{k % n}" for k in range(jobs)]


class WorkerProcesses(Executor):
    """The folds in ``jobs`` worker processes on this machine, largest first, each with ``threads``
    CPU threads (default: the available cores shared out) or one GPU. A failed fold stops the run
    with an error naming it; the folds finished until then are saved, so a rerun resumes."""

    def __init__(self, jobs: int, threads: int | None = None) -> None:
        if int(jobs) < 1:
            raise ConfigError(f"jobs={jobs}: must be >= 1")
        self.jobs, self.threads = int(jobs), threads

    def run(self, spec: RunSpec, folds: Sequence[Fold], display: Progress) -> bool:
        import cloudpickle

        todo = fold_order(folds)
        jobs = max(1, min(self.jobs, len(todo)))
        devices = _devices(spec.cfg.device, jobs)
        threads = self.threads or (1 if devices else max(1, available_cpus() // jobs))
        ctx = multiprocessing.get_context(start_method())
        queue = None
        if devices is not None:
            queue = ctx.Manager().Queue()
            for d in devices:
                queue.put(d)
        by_index = {f.index: f for f in todo}
        where = ", ".join(devices) if devices else (f"{threads} CPU thread(s) each; a sequential run with "
                                                   f"{threads} thread(s) gives the same folds")
        display.write(f"{jobs} worker processes ({where}); {len(todo)} fold(s) to run, largest first")
        with _terminate_on_sigterm(), ProcessPoolExecutor(
                max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                initargs=(cloudpickle.dumps(spec), threads, queue)) as pool:
            pending = {pool.submit(_work_fold, f): f for f in todo}   # submitted largest first: started in order
            try:
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        index, seconds = _result(fut, pending.pop(fut), pending)
                        _done(display, by_index[index], seconds)
            except BaseException:
                # stop at once: the folds still running are dropped (a rerun redoes them from their checkpoints)
                pool.shutdown(wait=False, cancel_futures=True)
                for proc in multiprocessing.active_children():
                    if proc.name.startswith(("ForkServerProcess", "SpawnProcess")):   # the pool's workers
                        proc.terminate()
                raise
        return True


class _terminate_on_sigterm:
    """While the workers run, SIGTERM (``kill``, a scheduler's stop) raises SystemExit(143) in the
    parent, so the workers are stopped with it rather than left training as orphans."""

    def __enter__(self) -> None:
        self.old = None
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGTERM, self._stop)

    @staticmethod
    def _stop(signum: int, frame: Any) -> None:
        print("terminated (SIGTERM): stopping the fold workers; finished folds are saved, rerun the same "
              "command to resume", file=sys.stderr, flush=True)
        raise SystemExit(128 + signum)

    def __exit__(self, *exc: Any) -> None:
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)


def _result(fut: Any, fold: Fold, pending: dict) -> tuple[int, float]:
    try:
        return fut.result()
    except BrokenProcessPool:
        raise DataError(f"a worker process died (killed, or out of memory) while fold {fold.name} and "
                        f"{len(pending)} other fold(s) were pending; finished folds are saved: rerun the same "
                        "command to resume") from None
    except HSTAError:
        raise
    except Exception as e:
        raise DataError(f"fold {fold.name} failed in its worker process: {type(e).__name__}: {e}") from e


# ------------------------------------------------------------------------- submitit (Slurm, or local jobs)
try:
    import submitit
except ImportError:   # the cluster extra is optional
    submitit = None

_Checkpointable: Any = submitit.helpers.Checkpointable if submitit is not None else object


class FoldTask(_Checkpointable):
    """One fold as a submitit job: loads the run's spec (``spec.pkl``, written once by `Submitit`),
    runs the fold, and merges the run when it was the last one to finish. Checkpointable: on
    preemption or timeout submitit requeues it, and the fold resumes from its checkpoint."""

    def __init__(self, spec_path: str | Path) -> None:
        self.spec_path = str(spec_path)

    def __call__(self, fold_index: int) -> int:
        import cloudpickle

        from ..evaluate.results import fold_file, merge_run

        with open(self.spec_path, "rb") as f:
            spec: RunSpec = cloudpickle.load(f)
        fold = next(f for f in spec.folds if f.index == fold_index)
        run_fold(spec, fold)
        if all(fold_file(spec.run_dir, f.index).exists() for f in spec.folds):
            merge_run(spec.run_dir)
        return fold_index


class Submitit(Executor):
    """One submitit job per fold (largest first; a job array on Slurm). ``cluster`` "slurm" or
    "local"; ``folder`` for submitit's files (default ``RUN_DIR/slurm``); ``wait`` for the jobs (a
    failed one raises a `DataError` with the end of its log); ``parameters`` are submitit's
    (``timeout_min``, ``cpus_per_task``, ``gpus_per_node``, ``slurm_partition``, ...). After
    `run`, ``jobs`` holds the submitted jobs."""

    def __init__(self, cluster: str = "slurm", folder: str | Path | None = None, wait: bool = True,
                 **parameters: Any) -> None:
        if submitit is None:
            raise ConfigError(f"the {cluster} launcher needs submitit: pip install \"hsta_edu[cluster]\"")
        if cluster not in ("slurm", "local"):
            raise ConfigError(f"cluster {cluster!r}: must be 'slurm' or 'local'")
        self.cluster, self.folder, self.wait = cluster, folder, wait
        self.parameters = {k: v for k, v in parameters.items() if v is not None}
        self.jobs: list[Any] = []

    def _executor(self, folder: Path) -> Any:
        try:
            executor = submitit.AutoExecutor(folder=folder / "%j", cluster=self.cluster)
        except RuntimeError as exc:    # submitit: 'Could not detect "srun", are you indeed on a slurm cluster?'
            raise ConfigError(f"--launcher {self.cluster}: {exc} Submit from a machine with Slurm's commands, or "
                              "try the same jobs here with --launcher local") from exc
        executor.update_parameters(name="hsta-edu-fold", **self.parameters)
        return executor

    def run(self, spec: RunSpec, folds: Sequence[Fold], display: Progress) -> bool:
        import cloudpickle

        from ..io import atomic_write_bytes

        folder = Path(self.folder).expanduser().resolve() if self.folder else spec.run_dir.resolve() / "slurm"
        spec_path = folder / "spec.pkl"
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(spec_path, cloudpickle.dumps(spec))
        executor = self._executor(folder)
        task = FoldTask(spec_path)
        with executor.batch():
            self.jobs = [executor.submit(task, f.index) for f in fold_order(folds)]
        ids = sorted({str(j.job_id).split("_")[0] for j in self.jobs})
        # not progress but where the work went: said even with progress off
        print(f"submitted {len(self.jobs)} fold job(s) with submitit ({self.cluster}; job {', '.join(ids)}); "
              f"logs in {folder}", flush=True)
        if not self.wait:
            return False
        by_index = {f.index: f for f in folds}
        for job in self.jobs:
            t0 = time.time()
            index = _job_result(job, by_index)
            _done(display, by_index[index], time.time() - t0)
        return True


def _job_result(job: Any, folds: dict[int, Fold]) -> int:
    """Wait for one job; a failed one raises a `DataError` with the end of its log."""
    try:
        return job.result()
    except Exception as e:   # submitit re-raises the task's error with its traceback text
        fold = job.submission().args[0] if hasattr(job, "submission") else "?"
        tail = ""
        try:
            tail = (job.stderr() or "")[-800:]
        except Exception:   # the log may not exist yet
            pass
        name = folds[fold].name if fold in folds else fold
        raise DataError(f"fold {name} (job {job.job_id}) failed: {type(e).__name__}: "
                        f"{str(e).strip().splitlines()[-1] if str(e).strip() else ''}\n{tail}") from None
