"""Ctrl-C on the command line: one line saying where it stopped, exit status 130, and a rerun resumes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data_samples"


@pytest.mark.slow
def test_sigint_is_one_line_and_the_rerun_resumes(tmp_path, sigint_delivered):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "hsta_edu.cli", "loso", "--data", str(SAMPLES), "--epochs", "30", "--threads", "1",
           "--prep", "register=none", "--prep", "magnify=0", "--no-progress", "--checkpoint-every", "0", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    ckpt_dir = out / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline and not any(ckpt_dir.glob("fold_*/last.pt")):
        time.sleep(0.05)
    assert any(ckpt_dir.glob("fold_*/last.pt")), "no checkpoint appeared"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert "interrupted at epoch" in last and "of 30 of fold synthme/sub0" in last
    assert last.endswith("rerun the same command to resume")
    again = subprocess.run([*cmd, "--json"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["complete"]
    records = [json.loads(p.read_text()) for p in (out / "folds").glob("fold_*.json")]
    assert len(records) == 4 and any(r["resumed_from"] > 0 for r in records)   # the interrupted fold resumed
