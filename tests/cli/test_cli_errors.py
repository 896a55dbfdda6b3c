"""No silent wrong result and no foreign traceback from the real ``hsta-edu`` (issue 16).

Every test runs the command in a subprocess, as a user would, and checks the exit status, that the
package's message names what is wrong, and that no Python traceback reaches the user.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data_samples"
pytestmark = pytest.mark.skipif(not (SAMPLES / "synthme.json").exists(), reason="data_samples/ not generated")


def hsta(*argv: str, code: int | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "hsta_edu.cli", *map(str, argv)], capture_output=True, text=True,
                       cwd=ROOT, timeout=600)
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    if code is not None:
        assert r.returncode == code, (r.returncode, r.stderr[-3000:])
    return r


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli-errors") / "cache"


def kfold(out: Path, cache: Path, *extra: str, code: int = 0) -> subprocess.CompletedProcess:
    return hsta("kfold", "--k", "2", "--data", SAMPLES, "--epochs", "1", "--threads", "1", "--no-progress",
                "--cache", cache, "--out", out, *extra, code=code)


def test_a_reused_run_folder_is_refused_naming_what_differs(tmp_path, cache):
    run = tmp_path / "run"
    kfold(run, cache)
    assert (run / "dropped.csv").read_text() == "source,row,clip,reason\n"    # written, empty: nothing dropped
    r = kfold(run, cache, "--flow", code=2)
    assert "holds a different run" in r.stderr and "model.special_input: 'frames' there, 'flow' now" in r.stderr
    assert "prep.special" in r.stderr and "--overwrite" in r.stderr
    # a shard of another model into the same folder: refused, so shards merge only when they agree
    r = kfold(run, cache, "--no-csta", "--shard", "1/2", code=2)
    assert "model.use_csta: true there, false now" in r.stderr
    before = json.loads((run / "metrics.json").read_text())["uf1"]
    assert hsta("report", run, code=0).stdout.count(f"{before:.4f}") == 1      # the folder still holds its run
    kfold(run, cache, "--flow", "--overwrite", "--json")
    config = json.loads((run / "config.json").read_text())
    assert config["identity"]["model"]["special_input"] == "flow" and config["info"]["prep"]["special"] == "flow"
    # the same command again resumes (nothing differs), trains nothing and reports the same
    again = kfold(run, cache, "--flow", "--json")
    assert json.loads(again.stdout.strip().splitlines()[-1])["complete"]


def test_train_out_reused_is_refused_and_explain_uses_the_stored_classes(tmp_path, cache):
    import torch

    from hsta_edu import create_model
    from hsta_edu.model import save_model

    out = tmp_path / "train"
    common = ["train", "--data", SAMPLES, "--threads", "1", "--no-progress", "--cache", cache, "--out", out]
    hsta(*common, "--epochs", "1", code=0)
    r = hsta(*common, "--epochs", "2", code=2)
    assert "holds the model of another training run (train_config.epochs: 1 there, 2 now)" in r.stderr
    r = hsta(*common, "--epochs", "1", "--val-subjects", "1", code=2)
    assert "data.n_val: 0 there, 6 now" in r.stderr
    hsta(*common, "--epochs", "2", "--overwrite", code=0)
    meta = torch.load(out / "model.pt", weights_only=True)
    assert meta["extra"]["epochs"] == 2 and meta["extra"]["fingerprint"]["train_config"]["epochs"] == 2
    # explain reads the model's own class names and checks them against the data's
    torch.manual_seed(0)
    five = create_model("hsta-tiny", num_classes=5)
    save_model(tmp_path / "five.pt", five, preset="hsta-tiny", classes=["a", "b", "c", "d", "e"])
    r = hsta("explain", "--model", tmp_path / "five.pt", "--data", SAMPLES, "--out", tmp_path / "x.png", code=2)
    assert "was trained on classes ['a', 'b', 'c', 'd', 'e']" in r.stderr and "'negative'" in r.stderr
    save_model(tmp_path / "one.pt", create_model("hsta-tiny", num_classes=1), preset="hsta-tiny", classes=["negative"])
    r = hsta("explain", "--model", tmp_path / "one.pt", "--data", SAMPLES, "--out", tmp_path / "y.png", code=2)
    assert "predicts a single class ('negative')" in r.stderr
    r = hsta("explain", "--model", out / "model.pt", "--data", SAMPLES, "--clip", "2", "--out", tmp_path / "z.png",
             "--cache", cache, code=0)
    said = r.stdout.split("predicted ")[1].split(";")[0]
    assert said in ("negative", "positive", "surprise")
    # a write that fails while the command runs (the figure's folder cannot be made): one line naming it
    (tmp_path / "a_file").write_text("x")
    r = hsta("explain", "--model", out / "model.pt", "--data", SAMPLES, "--out", tmp_path / "a_file" / "z.png",
             "--cache", cache, code=2)
    assert f"could not write {tmp_path / 'a_file' / 'z.png'}" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_model_options_reach_preprocessing(cache):
    r = hsta("prepare", "--data", SAMPLES, "--set", "img_size=64", "--set", "num_frames=8", "--no-progress", code=0)
    assert "prepared 24 clips at 64px, T=8" in r.stdout
    r = hsta("prepare", "--data", SAMPLES, "--set", "special_input=flow", "--no-progress", code=0)
    assert "special=flow" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--threads", "-1"], "--threads -1: must be >= 1"),
    (["--device", "foo"], "device 'foo' is not a device name"),
    (["--device", "cuda:99"], "device 'cuda:99'"),
    (["--shard", "5/2"], "shard 5/2"),
    (["--set", "bogus=1"], "unknown model option(s) ['bogus']"),
    (["--epochs", "0"], "--epochs 0: must be >= 1"),
])
def test_arguments_are_checked_before_any_data_is_read(tmp_path, args, message):
    # the data folder does not exist: an argument checked late would fail on the data instead
    r = hsta("loso", "--data", tmp_path / "no-such-data", *args, code=2)
    assert message in r.stderr and "no-such-data" not in r.stderr


def test_paths_that_are_files_or_unwritable_are_named(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for flag in ("--out", "--cache"):
        r = hsta("loso", "--data", tmp_path / "no-such-data", flag, a_file, code=2)
        assert f"{flag} {a_file}: is a file, not a folder" in r.stderr
    r = hsta("loso", "--data", tmp_path / "no-such-data", "--out", a_file / "run", code=2)
    assert f"{a_file} is a file, so no folder can be made there" in r.stderr


def test_report_names_a_corrupt_run_folder(tmp_path, cache):
    run = tmp_path / "run"
    kfold(run, cache)
    fold = run / "folds" / "fold_001.json"
    good = fold.read_text()
    for text, message in (("{}", "fold_001.json is not a fold record"), ("[", "fold_001.json is not valid JSON"),
                          (good.replace('"y_pred": [', '"y_pred": [9, ', 1).replace('"uid": [', '"uid": ["x", ', 1)
                           .replace('"y_true": [', '"y_true": [0, ', 1).replace('"prob": [', '"prob": [[1, 0, 0], ', 1),
                           "class index 9 outside the run's 3 classes")):
        fold.write_text(text)
        r = hsta("report", run, code=2)
        assert message in r.stderr and "delete it to rerun that fold" in r.stderr, r.stderr
    fold.write_text(good)
    (run / "config.json").write_text("{")
    r = hsta("report", run, code=2)
    assert "config.json is not valid JSON" in r.stderr


def test_drops_are_printed_and_written_to_dropped_csv(tmp_path, cache):
    data = tmp_path / "data"
    shutil.copytree(SAMPLES, data)
    from openpyxl import load_workbook

    book = load_workbook(data / "CASME2-coding-20140508.xlsx")
    sheet = book.active
    first = [c.value for c in sheet[2]]
    sheet.append([first[0], "EP99_01f", *first[2:]])       # a clip whose frames are not there
    book.save(data / "CASME2-coding-20140508.xlsx")
    r = kfold(tmp_path / "run", tmp_path / "cache2", "--data", data)
    assert "1 annotation rows dropped" in r.stderr and "EP99_01f" in r.stderr
    rows = (tmp_path / "run" / "dropped.csv").read_text().splitlines()
    assert rows[0] == "source,row,clip,reason" and len(rows) == 2 and "EP99_01f" in rows[1]
    assert "- Annotation rows dropped: 1 (every reason in dropped.csv)" in (tmp_path / "run" / "report.md").read_text()
