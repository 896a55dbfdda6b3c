"""A warm start for fold workers (``--jobs N``): a fork server that imports what they need early.

A spawned worker imports torch and this package again, a few seconds on a laptop CPU, before it
trains anything, and the first ``torch.optim`` parameter group imports ``torch._dynamo`` (about
two seconds more). `warm_workers` starts multiprocessing's fork server at once, which does those
imports in the background, on another core, while the caller is still starting up and loading
its data; `hsta_edu.runs.executors` then forks its workers from it, ready to train. The fork
server is a fresh process that runs no tensor operation (no CUDA context, no torch thread pool)
and does not load OpenCV (whose worker threads do not survive a fork; a worker imports it after
the fork); the BLAS libraries numpy and SciPy load stop their threads for a fork. A worker forked
from it starts as clean as a spawned one. This module imports nothing heavy, so the command line
can call it first.
"""

from __future__ import annotations

#: What a fold worker imports, preloaded by the fork server (not ``hsta_edu.data``: OpenCV).
WORKER_MODULES = ("torch", "torch._dynamo", "cloudpickle", "hsta_edu.training", "hsta_edu.runs.fold")
_STATE = {"method": "spawn"}


def warm_workers() -> bool:
    """Start the fork server of later fold workers now, preloading `WORKER_MODULES`; returns
    False (and workers are spawned later) where the OS has no fork server (Windows)."""
    import multiprocessing.forkserver

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(WORKER_MODULES))
    multiprocessing.forkserver.ensure_running()
    _STATE["method"] = "forkserver"
    return True


def start_method() -> str:
    """How fold workers start: "forkserver" after `warm_workers`, else "spawn"."""
    return _STATE["method"]
