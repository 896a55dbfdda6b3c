"""Tests of hsta_edu/cli/: the `hsta-edu` command end to end on data_samples/, JSON output,
ablation flags, report merging and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hsta_edu.cli import build_parser, main
from hsta_edu.model import ablation_overrides

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data_samples"
needs_samples = pytest.mark.skipif(not (SAMPLES / "synthme.json").exists(), reason="data_samples/ not generated")


def last_json(text: str) -> dict:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return json.loads(lines[-1])


def test_ablation_flags_map_to_model_options():
    assert ablation_overrides(no_usta=True) == {"video_blocks": 0, "special_blocks": 0}
    assert ablation_overrides(no_csta=True) == {"use_csta": False}
    assert ablation_overrides(video_only=True) == {"modalities": ("video",)}
    assert ablation_overrides(special_only=True, flow=True) == {"modalities": ("special",),
                                                                "special_input": "flow"}
    args = build_parser().parse_args(["loso", "--data", "x", "--no-usta", "--no-csta", "--shard", "0/2"])
    assert args.no_usta and args.no_csta and args.shard == "0/2"


def test_errors_are_one_line_messages(tmp_path, capsys):
    assert main(["loso", "--data", str(tmp_path / "missing"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "missing" in err and "Traceback" not in err
    assert main(["loso", "--data", "x", "--video-only", "--special-only"]) == 2
    assert "exclude each other" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"], ids=["not-json", "json-list"])
def test_corrupt_synthme_marker_is_a_one_line_error(tmp_path, capsys, content):
    (tmp_path / "synthme.json").write_text(content)
    assert main(["prepare", "--data", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "SynthME marker" in err and str(tmp_path / "synthme.json") in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_synth_subcommand_shares_the_options_of_python_m_synth():
    from hsta_edu.data.synth import BENCHMARK_CONFIG, SAMPLES_CONFIG, synth_config
    argv = ["--out", "x", "--subjects", "3", "--scheme", "objective7", "--seed", "5", "--no-progress"]
    args = build_parser().parse_args(["synth", *argv])
    assert synth_config(args) == BENCHMARK_CONFIG.replace(n_subjects=3, scheme="objective7", seed=5)
    assert synth_config(build_parser().parse_args(["synth", "--out", "x", "--preset", "samples"])) == SAMPLES_CONFIG


def test_synth_then_prepare_run_through_main(tmp_path, capsys):
    """The README's first two commands, end to end (synth's --preset names a SynthME preset, not a
    model: the model-option checks must leave it alone)."""
    assert main(["synth", "--out", str(tmp_path / "s"), "--preset", "samples", "--subjects", "2", "--no-progress"]) == 0
    assert json.loads((tmp_path / "s" / "synthme.json").read_text())["n_clips"] == 12
    assert main(["prepare", "--data", str(tmp_path / "s"), "--cache", str(tmp_path / "c"), "--no-progress"]) == 0
    assert "prepared 12 clips" in capsys.readouterr().out


@needs_samples
def test_loso_json_end_to_end_on_data_samples(tmp_path):
    """The console command as a user runs it: last stdout line is one JSON object."""
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "hsta_edu.cli", "loso", "--data", str(SAMPLES), "--preset", "hsta-tiny",
         "--epochs", "2", "--out", str(run), "--no-progress", "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = last_json(proc.stdout)
    assert {"uf1", "uar", "accuracy", "n_folds", "n_samples", "seconds"} <= set(out)
    assert out["n_folds"] == 4 and out["n_samples"] == 24 and out["complete"]
    assert 0.0 <= out["uf1"] <= 1.0 and out["seconds"] > 0
    # 18 training clips per fold, from scratch on frames: the command says so before training (issue 26)
    assert "note: each fold trains on about 18 clips, from scratch" in proc.stderr
    assert "hsta-edu demo" in proc.stderr and "--flow" in proc.stderr
    for name in ("config.json", "metrics.json", "predictions.csv", "confusion.png", "report.md"):
        assert (run / name).exists()
    config = json.loads((run / "config.json").read_text())
    assert config["info"]["preset"] == "hsta-tiny" and config["train_config"]["epochs"] == 2
    # report re-merges the same folder to the same numbers
    proc = subprocess.run([sys.executable, "-m", "hsta_edu.cli", "report", str(run), "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and last_json(proc.stdout)["uf1"] == out["uf1"]
    # `demo --loso` runs the same run through the library (no command line replayed): same identity
    demo = tmp_path / "demo"
    assert main(["demo", "--loso", "--epochs", "2", "--out", str(demo), "--no-progress"]) == 0
    assert json.loads((demo / "config.json").read_text())["run_id"] == config["run_id"]
    assert json.loads((demo / "metrics.json").read_text())["n_folds"] == 4


@needs_samples
def test_demo_and_ablation_run_in_process(tmp_path, capsys, monkeypatch):
    # the main job: the shipped frames model on subjects it never saw (the bar: UF1 >= 0.80),
    # from a working folder without data_samples/: the name resolves, and so does its seed
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--no-progress", "--json"]) == 0
    text = capsys.readouterr().out
    out = last_json(text)
    assert out["n_samples"] == 24 and out["protocol"] == "held-out subjects" and out["model"] == "hsta-tiny-synthme"
    assert out["uf1"] >= 0.80, text
    assert "other identities than its" in text
    seed = json.loads((SAMPLES / "synthme.json").read_text())["config"]["seed"]
    assert f"in data_samples (SynthME seed {seed})" in text, text
    assert main(["kfold", "--data", str(SAMPLES), "--k", "2", "--epochs", "1", "--no-usta", "--no-csta",
                 "--prep", "representation=frames", "--prep", "magnify=0",
                 "--out", str(tmp_path / "abl"), "--no-progress", "--json"]) == 0
    out = last_json(capsys.readouterr().out)
    assert out["n_folds"] == 2
    config = json.loads((tmp_path / "abl" / "config.json").read_text())
    assert config["info"]["model_overrides"]["video_blocks"] == 0
    assert config["info"]["model_overrides"]["use_csta"] is False
    assert config["protocol"]["name"] == "subject-kfold"
    assert config["info"]["prep"]["representation"] == "frames" and config["info"]["prep"]["magnify"] == 0


@needs_samples
@pytest.mark.parametrize("option,message", [("bogus=1", "unknown --prep option"), ("img_size=64", "follow the model"),
                                            ("magnify=-2", "PrepConfig.magnify")])
def test_bad_prep_option_is_a_clear_error(capsys, option, message):
    assert main(["prepare", "--data", str(SAMPLES), "--prep", option, "--no-progress"]) == 2
    assert message in capsys.readouterr().err


@needs_samples
def test_train_then_explain(tmp_path, capsys):
    out = tmp_path / "train"
    assert main(["train", "--data", str(SAMPLES), "--epochs", "1", "--out", str(out), "--no-progress", "--json"]) == 0
    summary = last_json(capsys.readouterr().out)
    assert summary["epochs"] == 1 and summary["n_train"] == 24
    for name in ("model.pt", "history.csv", "history.png", "checkpoint/last.pt"):
        assert (out / name).exists()
    png = tmp_path / "explain.png"
    assert main(["explain", "--model", str(out / "model.pt"), "--data", str(SAMPLES), "--clip", "3",
                 "--out", str(png)]) == 0
    assert png.stat().st_size > 0 and "rollout map of video" in capsys.readouterr().out
    # A model saved before PrepConfig.register_check existed registered unchecked: explain prepares
    # its clips that way (its record read by PrepConfig.from_record), not with today's default.
    ckpt = torch.load(out / "model.pt", weights_only=True)
    assert ckpt["extra"]["prep"]["register_check"] is True       # this run's default, recorded
    del ckpt["extra"]["prep"]["register_check"]
    old = tmp_path / "old_model.pt"
    torch.save(ckpt, old)
    assert main(["explain", "--model", str(old), "--data", str(SAMPLES), "--clip", "3", "--out", str(png)]) == 0
    assert "note:" not in capsys.readouterr().err                  # prepared as the record says
    assert main(["explain", "--model", str(old), "--data", str(SAMPLES), "--clip", "3", "--out", str(png),
                 "--prep", "register_check=true"]) == 0
    assert "--prep gives {'register_check': True}" in capsys.readouterr().err


@needs_samples
def test_explain_takes_the_name_of_a_pretrained_model(tmp_path, capsys):
    """The model the demo scores can be explained by its name, with its own preprocessing and classes."""
    from hsta_edu import load_pretrained
    from hsta_edu.data.datasets import load_dataset
    from hsta_edu.data.torch_data import MERDataset

    png = tmp_path / "explain.png"
    assert main(["explain", "--model", "hsta-tiny-synthme", "--data", str(SAMPLES), "--clip", "3",
                 "--out", str(png)]) == 0
    captured = capsys.readouterr()
    assert png.stat().st_size > 0 and "note:" not in captured.err   # the data were prepared as it was trained
    model, info = load_pretrained("hsta-tiny-synthme")
    ds = MERDataset(load_dataset(SAMPLES, scheme="megc3"), info["prep"], None, train=False)
    video, special, label = ds[3]
    with torch.no_grad():
        expected = info["classes"][int(model(video[None], special[None]).argmax(-1))]
    assert f"true {ds.classes[int(label)]}, predicted {expected};" in captured.out
    assert main(["explain", "--model", "no-such-model", "--data", str(SAMPLES), "--out", str(png)]) == 2
    err = capsys.readouterr().err
    assert "no such file, and not the name of a pretrained model" in err and "hsta-tiny-synthme" in err


@needs_samples
def test_jobs_runs_folds_in_worker_processes_with_the_sequential_results(tmp_path, capsys):
    common = ["loso", "--data", str(SAMPLES), "--epochs", "1", "--cache", str(tmp_path / "cache"), "--json"]
    assert main([*common, "--out", str(tmp_path / "seq"), "--no-progress"]) == 0
    seq = last_json(capsys.readouterr().out)
    assert main([*common, "--out", str(tmp_path / "par"), "--jobs", "2"]) == 0
    captured = capsys.readouterr()
    import multiprocessing

    from hsta_edu.runs import start_method
    # the workers came from the fork server the command line warmed at its start (where the OS has one)
    assert start_method() == ("forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn")
    par = last_json(captured.out)
    # one display: not a terminal here, so one plain line per fold and no bar fragments
    assert "2 worker processes" in captured.err and captured.err.count("/4] fold") == 4
    assert "\r" not in captured.err and "it/s" not in captured.err
    assert par["complete"] and par["n_folds"] == 4
    for i in range(4):
        a = json.loads((tmp_path / "seq" / "folds" / f"fold_{i:03d}.json").read_text())
        b = json.loads((tmp_path / "par" / "folds" / f"fold_{i:03d}.json").read_text())
        assert a["y_pred"] == b["y_pred"] and a["test_index"] == b["test_index"]
        assert np.allclose(a["prob"], b["prob"], atol=1e-4)
    assert abs(par["uf1"] - seq["uf1"]) < 1e-9
    # --jobs with --shard: the shard's folds, in parallel
    assert main([*common, "--out", str(tmp_path / "half"), "--jobs", "2", "--shard", "0/2"]) == 0
    assert sorted(p.name for p in (tmp_path / "half" / "folds").glob("*.json")) == ["fold_000.json", "fold_002.json"]
    assert main(["loso", "--data", str(SAMPLES), "--jobs", "0"]) == 2
    assert "--jobs 0" in capsys.readouterr().err


@needs_samples
def test_lodo_and_macro_extra_are_exposed_with_clear_errors(tmp_path, capsys):
    # data_samples is one corpus: leave-one-dataset-out says what it needs, before any training
    assert main(["lodo", "--data", str(SAMPLES), "--epochs", "1", "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "at least 2 datasets, got ['synthme']" in err and "np.str_" not in err
    assert main(["loso", "--data", str(SAMPLES), "--macro-extra", "--no-progress"]) == 2
    assert "--macro-extra needs a CAS(ME)^3 folder" in capsys.readouterr().err
    helps = build_parser().format_help()
    assert "lodo" in helps and "``" not in helps   # the docstring's markup is not shown to users
