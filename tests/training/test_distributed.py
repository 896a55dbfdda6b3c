"""One fold on several processes: `train` under torchrun with DistributedDataParallel (gloo on CPU)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hsta_edu.errors import ConfigError
from hsta_edu.training.distributed import DistContext, RankBatches

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "training" / "ddp_train.py"
TOLERANCE = 1e-5   # max |weight difference| between 2 gloo processes and 1 process, same global batch


def test_rank_batches_split_every_global_batch_evenly():
    order = list(range(10))
    r0 = list(RankBatches(order, 4, DistContext(rank=0, world=2)))
    r1 = list(RankBatches(order, 4, DistContext(rank=1, world=2)))
    assert r0 == [[0, 2], [4, 6], [8]] and r1 == [[1, 3], [5, 7], [9]]
    assert len(RankBatches(order, 4, DistContext(rank=0, world=2))) == 3
    # a last batch smaller than the world: dropped on every rank
    assert list(RankBatches(list(range(9)), 4, DistContext(rank=1, world=2))) == [[1, 3], [5, 7]]
    assert len(RankBatches(list(range(9)), 4, DistContext(rank=1, world=2))) == 2
    with pytest.raises(ConfigError, match="multiple of the 2 processes"):
        RankBatches(order, 5, DistContext(rank=0, world=2))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), str(SCRIPT), str(out), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def _single(out: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    done = subprocess.run([sys.executable, str(SCRIPT), str(out)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return torch.load(out / "result.pt", weights_only=True)


@pytest.mark.slow
def test_two_gloo_processes_match_one_and_resume_on_every_rank(tmp_path):
    one = _single(tmp_path / "single")
    first = _torchrun(tmp_path / "ddp", "--stop-after", "2")             # interrupted after epoch 2 ...
    assert first.returncode != 0 and (tmp_path / "ddp" / "ckpt" / "last.pt").exists(), first.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "ddp" / "ckpt").iterdir()) == ["last.pt"]   # rank 0 writes alone
    again = _torchrun(tmp_path / "ddp")                                   # ... and resumed on both ranks
    assert again.returncode == 0, again.stderr[-2000:]
    two = torch.load(tmp_path / "ddp" / "result.pt", weights_only=True)
    assert two["resumed_from"] == 2
    worst = max(float((one["state"][k].float() - two["state"][k].float()).abs().max()) for k in one["state"])
    assert worst < TOLERANCE, f"weights differ by up to {worst:.2e}"
    # the history is of the whole global batch: the same losses and accuracies as one process
    assert one["history"]["acc"] == two["history"]["acc"]
    assert max(abs(a - b) for a, b in zip(one["history"]["loss"], two["history"]["loss"], strict=True)) < 1e-5
