"""Folds in parallel on one machine, and one progress display for a whole run.

`run_fold_jobs` runs a protocol's folds in ``jobs`` worker processes (`concurrent.futures` with
the *spawn* start method, so CUDA and OpenMP start clean in each worker; or, after `hsta_edu.forkserver.warm_workers`,
forked from a clean fork server that imported torch and this package while the caller was still
starting up, which the command line does: a worker then starts in a fraction of a second instead
of importing everything again), the largest fold first
(folds with more clips take longer, so they start early and the run ends evenly). Each CPU
worker gets its share of the cores (``torch.set_num_threads``); on a machine with GPUs each worker
takes one GPU. The datasets, the model builder and the recipe travel to every worker once, with
`cloudpickle` (so a ``lambda`` builder works), and each fold writes its own file in the run
folder exactly as in a sequential run: folds are seeded on their own, so the results equal a
sequential run's fold by fold when it uses as many CPU threads as each worker (a matrix product's
rounding depends on how many threads share it; the run prints the number).

`FoldDisplay` is the run's one progress display: a live bar on a terminal, and one plain line per
finished fold when the output goes to a file or a pipe (no bar fragments in logs).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any, TextIO

from ..errors import DataError, HSTAError
from ..forkserver import start_method
from ..progress import is_terminal
from .protocols import Fold, fold_cost

__all__ = ["FoldDisplay", "fold_order", "run_fold_jobs", "available_cpus"]



def available_cpus() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def fold_order(folds: Sequence[Fold]) -> list[Fold]:
    """The folds largest first (`fold_cost`: training clips, then test clips; ties by fold index):
    the longest jobs start first, so parallel workers finish at nearly the same time."""
    return sorted(folds, key=lambda f: (tuple(-c for c in fold_cost(f)), f.index))


class FoldDisplay:
    """Progress over a run's folds: a tqdm bar on a terminal, else one line per finished fold."""

    def __init__(self, total: int, done: int = 0, desc: str = "folds", enabled: bool = True,
                 stream: TextIO | None = None) -> None:
        self.total, self.done, self.desc, self.enabled = total, done, desc, enabled
        self.stream = sys.stderr if stream is None else stream
        self.tty = enabled and is_terminal(self.stream)
        self.t0 = time.time()
        self.bar = None
        if self.tty:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total, initial=done, desc=desc, file=self.stream, leave=True)

    def note(self, text: str) -> None:
        """A line of information (above the bar on a terminal)."""
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        elif self.enabled:
            print(text, file=self.stream, flush=True)

    def started(self, fold: Fold) -> None:
        if self.bar is not None:
            self.bar.set_postfix(fold=fold.name)

    def finished(self, fold: Fold, seconds: float | None = None) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.enabled:
            took = "" if seconds is None else f": {seconds:.1f} s" if seconds < 10 else f": {seconds:.0f} s"
            print(f"[{self.done}/{self.total}] fold {fold.name}{took} (elapsed {time.time() - self.t0:.0f} s)",
                  file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ------------------------------------------------------------------------- worker side
_WORK: dict[str, Any] = {}


def _init_worker(payload: bytes, threads: int, devices: Any) -> None:
    import cloudpickle
    import torch

    torch.set_num_threads(threads)
    _watch_parent()
    _WORK.clear()
    _WORK.update(cloudpickle.loads(payload))
    if devices is not None:
        _WORK["device"] = devices.get()


def _watch_parent() -> None:
    """End this worker when the run's process is gone (killed with SIGKILL, say), instead of
    training on as an orphan: a daemon thread waits on multiprocessing's parent sentinel, which
    closes when that process ends, spawned or forked from the fork server alike (a forked worker's
    OS parent is the fork server, which in turn stays up while a worker holds its pipe), and even
    when it ended before this worker got here."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)
    threading.Thread(target=watch, name="hsta-parent-watch", daemon=True).start()


def _work_fold(fold: Fold) -> tuple[int, float]:
    t0 = time.time()
    w = _WORK
    cfg = w["cfg"] if "device" not in w else replace(w["cfg"], device=w["device"])
    w["run_fold"](fold, cfg)
    return fold.index, time.time() - t0


# ------------------------------------------------------------------------- parent side
def _devices(cfg_device: str, jobs: int) -> list[str] | None:
    """One GPU per worker (round robin) when the recipe runs on CUDA; None on a CPU."""
    import torch

    from ..device import pick_device

    device = pick_device(cfg_device)
    if device.type != "cuda":
        return None
    n = torch.cuda.device_count()
    return [f"cuda:{k % n}" for k in range(jobs)]


def run_fold_jobs(folds: Sequence[Fold], run_fold: Callable[[Fold, Any], None], cfg: Any, jobs: int,
                  display: FoldDisplay, threads: int | None = None) -> None:
    """Run ``run_fold(fold, cfg)`` for every fold in ``jobs`` spawned worker processes, largest fold
    first, reporting each finished fold to ``display``. ``threads``: CPU threads per worker (default:
    the available cores shared out). A failed fold stops the run with an error naming it; the folds
    finished until then are saved, so a rerun resumes."""
    import cloudpickle

    todo = fold_order(folds)
    jobs = max(1, min(int(jobs), len(todo)))
    devices = _devices(cfg.device, jobs)
    threads = threads or (1 if devices else max(1, available_cpus() // jobs))
    method = start_method()
    ctx = multiprocessing.get_context(method)
    queue = None
    if devices is not None:
        queue = ctx.Manager().Queue()
        for d in devices:
            queue.put(d)
    payload = cloudpickle.dumps({"run_fold": run_fold, "cfg": cfg})
    by_index = {f.index: f for f in todo}
    where = ", ".join(devices) if devices else (f"{threads} CPU thread(s) each; a sequential run with "
                                               f"{threads} thread(s) gives the same folds")
    display.note(f"{jobs} worker processes ({where}); {len(todo)} fold(s) to run, largest first")
    with _terminate_on_sigterm(), ProcessPoolExecutor(
            max_workers=jobs, mp_context=ctx, initializer=_init_worker,
            initargs=(payload, threads, queue)) as pool:
        pending = {pool.submit(_work_fold, f): f for f in todo}   # submitted largest first: started in order
        for f in todo[:jobs]:
            display.started(f)
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    fold = pending.pop(fut)
                    index, seconds = _result(fut, fold, pending)
                    display.finished(by_index[index], seconds)
        except BaseException:
            # stop at once: the folds still running are dropped (a rerun redoes them from their checkpoints)
            workers = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in workers:
                proc.terminate()
            raise


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
