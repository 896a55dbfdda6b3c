"""`hsta-edu pretrain` and `--init` (issue 26): self-supervised weights made from a folder, then fine-tuned."""

from __future__ import annotations

import json

import pytest
import torch

from hsta_edu.cli import main
from tests.cli.test_cli import SAMPLES, last_json, needs_samples

TINY = ["--set", "num_stages=1", "--set", "embed_dim=32", "--set", "special_embed_dim=32"]


@needs_samples
def test_pretrain_then_loso_with_init(tmp_path, capsys):
    out = tmp_path / "ssl"
    common = ["--data", str(SAMPLES), "--cache", str(tmp_path / "cache"), *TINY, "--no-progress", "--json"]
    assert main(["pretrain", *common, "--epochs", "2", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    summary = last_json(captured.out)
    assert summary["epochs"] == 2 and summary["n_clips"] == 24 and summary["resumed_from"] == 0
    assert "labels unused" in captured.err
    for name in ("pretrained.pt", "pretrain_summary.json", "loss.png", "pretrain_checkpoint.pt"):
        assert (out / name).exists(), name
    payload = torch.load(out / "pretrained.pt", weights_only=True)
    assert all(k.startswith(("embed.", "norm.")) or ".usta." in k for k in payload["state_dict"])
    # run again: the finished checkpoint is resumed, nothing retrained
    assert main(["pretrain", *common, "--epochs", "2", "--out", str(out)]) == 0
    assert last_json(capsys.readouterr().out)["resumed_from"] == 2

    run = tmp_path / "run"
    assert main(["loso", *common, "--epochs", "1", "--init", str(out / "pretrained.pt"), "--out", str(run)]) == 0
    captured = capsys.readouterr()
    assert last_json(captured.out)["complete"]
    assert "note: each fold trains" not in captured.err            # pretrained: no from-scratch warning
    model = json.loads((run / "config.json").read_text())["identity"]["model"]
    assert len(model["init_sha256"]) == 64


def test_init_file_missing_is_a_one_line_error(tmp_path, capsys):
    assert main(["loso", "--data", str(SAMPLES), "--init", str(tmp_path / "nope.pt"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "nope.pt" in err and "Traceback" not in err


@pytest.mark.parametrize("ratio", ["0", "1.5"])
def test_pretrain_refuses_a_bad_mask_ratio(tmp_path, capsys, ratio):
    assert main(["pretrain", "--data", str(SAMPLES), "--mask-ratio", ratio, "--out", str(tmp_path / "x"),
                 "--no-progress"]) == 2
    assert "mask_ratio" in capsys.readouterr().err
