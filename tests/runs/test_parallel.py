"""Folds in parallel (hsta_edu.runs.WorkerProcesses) and progress that suits its output (hsta_edu.progress)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from hsta_edu import create_model
from hsta_edu.data.labelled import LabelledDataset
from hsta_edu.errors import ConfigError, DataError
from hsta_edu.evaluate import LOSO, Fold
from hsta_edu.progress import progress_bar
from hsta_edu.runs import fold_order, run_protocol
from hsta_edu.training import recipe
from tests.configs import TINY_16PX_2FRAMES_1STAGE


class Clips(LabelledDataset):
    """18 clips of 3 subjects (6 each, every class twice) with a class-dependent bright band;
    ``sizes`` gives subjects different numbers of clips."""

    def __init__(self, sizes=(6, 6, 6), broken: bool = False) -> None:
        g = torch.Generator().manual_seed(0)
        self.groups = [f"d/s{s}" for s, n in enumerate(sizes) for _ in range(n)]
        n = len(self.groups)
        self.labels = np.arange(n) % 3
        self.classes = ["negative", "positive", "surprise"]
        self.video = torch.randn(n, 3, 2, 16, 16, generator=g) * 0.3
        self.special = torch.randn(n, 3, 2, 16, 16, generator=g) * 0.3
        for i, y in enumerate(self.labels):
            self.video[i, :, :, 5 * y:5 * y + 5] += 1.0
        self.broken = broken

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        if self.broken:
            raise RuntimeError(f"clip {i} cannot be read")
        return self.video[i], self.special[i], torch.tensor(self.labels[i])


def cfg():
    return recipe("fast", epochs=2, batch_size=6, warmup_epochs=0, progress=False)


def test_two_jobs_equal_one_fold_by_fold(tmp_path):
    ds = Clips(sizes=(4, 8, 6))
    make = lambda: create_model("hsta-tiny", **TINY_16PX_2FRAMES_1STAGE)  # noqa: E731 - a lambda travels by cloudpickle
    seq = run_protocol(ds, LOSO(), make, cfg(), tmp_path / "seq", progress=False)
    stream = io.StringIO()
    import sys
    old, sys.stderr = sys.stderr, stream
    try:
        par = run_protocol(ds, LOSO(), make, cfg(), tmp_path / "par", progress=True, jobs=2)
    finally:
        sys.stderr = old
    assert par.complete and seq.complete
    for i in range(3):
        a = json.loads((tmp_path / "seq" / "folds" / f"fold_{i:03d}.json").read_text())
        b = json.loads((tmp_path / "par" / "folds" / f"fold_{i:03d}.json").read_text())
        assert a["y_pred"] == b["y_pred"] and a["test_index"] == b["test_index"]
        assert np.allclose(a["prob"], b["prob"], atol=1e-5)
        assert a["history"][-1]["loss"] == pytest.approx(b["history"][-1]["loss"], abs=1e-5)
    assert par.metrics["uf1"] == pytest.approx(seq.metrics["uf1"])
    log = stream.getvalue()
    assert "2 worker processes" in log and log.count("/3] fold") == 3 and "\r" not in log
    # a rerun finds every fold done and starts no worker
    stream = io.StringIO()
    sys.stderr = stream
    try:
        again = run_protocol(ds, LOSO(), make, cfg(), tmp_path / "par", progress=True, jobs=2)
    finally:
        sys.stderr = old
    assert again.complete and "worker" not in stream.getvalue()


def test_a_failing_fold_names_itself_and_jobs_must_be_positive(tmp_path):
    make = lambda: create_model("hsta-tiny", **TINY_16PX_2FRAMES_1STAGE)  # noqa: E731
    with pytest.raises(DataError, match=r"fold d/s\d failed in its worker process: RuntimeError: clip \d+ cannot"):
        run_protocol(Clips(broken=True), LOSO(), make, cfg(), tmp_path / "broken", progress=False, jobs=2)
    with pytest.raises(ConfigError, match="jobs=0"):
        run_protocol(Clips(), LOSO(), make, cfg(), tmp_path / "zero", progress=False, jobs=0)


def test_largest_fold_first():
    folds = [Fold(0, "a", np.arange(5), np.arange(2)), Fold(1, "b", np.arange(9), np.arange(1)),
             Fold(2, "c", np.arange(5), np.arange(2)), Fold(3, "d", np.arange(3), np.arange(1))]
    assert [f.index for f in fold_order(folds)] == [1, 0, 2, 3]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_one_line_in_a_log():
    log = io.StringIO()
    assert list(progress_bar(range(5), desc="preprocessing", unit="clip", stream=log)) == list(range(5))
    assert log.getvalue().startswith("preprocessing: 5 clips in ") and log.getvalue().count("\n") == 1
    quiet = io.StringIO()
    list(progress_bar(range(5), desc="epoch 1", leave=False, stream=quiet))
    list(progress_bar(range(5), desc="off", enabled=False, stream=quiet))
    assert quiet.getvalue() == ""
    term = _Terminal()
    list(progress_bar(range(5), desc="preprocessing", stream=term))
    assert "\r" in term.getvalue() and "5/5" in term.getvalue()            # tqdm's live bar
    # a run's folds: the same display, one line per finished fold in a log (`hsta_edu.runs.execute`)
    display = progress_bar(total=2, desc="LOSO folds", unit="fold", item_lines=True, stream=io.StringIO())
    display.write("2 worker processes")
    for name, seconds in (("d/s0", 0.3), ("d/s1", 61.0)):
        display.set_postfix_str(f"fold {name}: {seconds:.1f} s" if seconds < 10 else f"fold {name}: {seconds:.0f} s")
        display.update(1)
    display.close()
    lines = display.stream.getvalue().splitlines()
    assert lines[0] == "2 worker processes" and len(lines) == 3
    assert lines[1].startswith("[1/2] fold d/s0: 0.3 s") and lines[2].startswith("[2/2] fold d/s1: 61 s")
    bar = progress_bar(total=2, initial=1, desc="LOSO folds", unit="fold", item_lines=True, stream=_Terminal())
    bar.update(1)
    bar.close()
    assert "2/2" in bar.stream.getvalue() and "[2/2]" not in bar.stream.getvalue()


_SLOW_RUN = """
import sys, time
import numpy as np, torch
from hsta_edu import create_model
from hsta_edu.data.labelled import LabelledDataset
from hsta_edu.evaluate import LOSO
from hsta_edu.runs import run_protocol
from hsta_edu.training import recipe
from tests.configs import TINY_16PX_2FRAMES_1STAGE

if sys.argv[2] == "warm":   # workers forked from the command line's fork server
    from hsta_edu.runs import warm_workers
    assert warm_workers()

class Slow(LabelledDataset):
    groups = [f"d/s{i % 3}" for i in range(12)]
    labels = np.arange(12) % 3
    classes = ["a", "b", "c"]
    def __len__(self):
        return 12
    def __getitem__(self, i):
        time.sleep(0.5)
        return torch.zeros(3, 2, 16, 16), torch.zeros(3, 2, 16, 16), torch.tensor(self.labels[i])

run_protocol(Slow(), LOSO(), lambda: create_model("hsta-tiny", **TINY_16PX_2FRAMES_1STAGE),
             recipe("fast", epochs=50, batch_size=4, warmup_epochs=0, progress=False), sys.argv[1],
             progress=False, jobs=2)
"""


@pytest.mark.parametrize(("sig", "start"), [("SIGTERM", "spawn"), ("SIGKILL", "spawn"), ("SIGKILL", "warm")])
def test_no_orphan_workers_when_the_parent_is_stopped(tmp_path, sig, start):
    """A LOSO with --jobs stopped by `kill` (SIGTERM) or `kill -9` takes its workers with it (and,
    with the command line's warm start, the fork server they came from)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    psutil = pytest.importorskip("psutil")
    root = Path(__file__).resolve().parents[2]
    if start == "warm" and "forkserver" not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip("no fork server on this OS")
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_RUN, str(tmp_path / "run"), start], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)}, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    deadline = time.time() + 120
    workers: list = []
    while time.time() < deadline and proc.poll() is None:
        workers = [c for c in parent.children(recursive=True) if "resource_tracker" not in " ".join(c.cmdline())]
        if len(workers) >= 2 and (tmp_path / "run" / "config.json").exists():
            break
        time.sleep(0.5)
    assert len(workers) >= 2, f"no workers started: {proc.poll()} {proc.stderr.read() if proc.poll() else ''}"
    time.sleep(2)
    proc.send_signal(getattr(signal, sig))
    rc = proc.wait(timeout=60)
    _, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive, f"{len(alive)} worker(s) still running after {sig} of the parent"
    if sig == "SIGTERM":
        assert rc == 143 and "terminated (SIGTERM)" in proc.stderr.read()


def test_the_warm_fork_server_holds_torch_but_not_opencv():
    """Workers forked from it start as clean as spawned ones: no OpenCV (its threads do not survive
    a fork), no CUDA; the imports a worker needs are already done."""
    import multiprocessing
    import subprocess
    import sys

    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork server on this OS")
    script = """
import os, sys, time
import multiprocessing.forkserver as fs
from hsta_edu.runs import WORKER_MODULES, start_method, warm_workers
assert start_method() == "spawn" and warm_workers() and start_method() == "forkserver"
pid = fs._forkserver._forkserver_pid
deadline = time.time() + 120
while time.time() < deadline and "libtorch_cpu" not in open(f"/proc/{pid}/maps").read():
    time.sleep(0.2)
time.sleep(3)   # the rest of WORKER_MODULES
maps = open(f"/proc/{pid}/maps").read()
print("torch" if "libtorch_cpu" in maps else "-", "cv2" if "cv2" in maps else "-", "cuda" if "libcuda.so" in maps else "-")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["torch", "-", "-"]
