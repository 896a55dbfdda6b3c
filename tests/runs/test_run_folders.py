"""A run writes only into a folder that is empty, missing or its own, and ``--overwrite`` deletes
only the files the run wrote (issue 24): protocol run folders (`prepare_run`, ``hsta-edu loso``)
and training output folders (``hsta-edu train --out``) alike. Every test checks the user's files
byte for byte after the refused or overwriting run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hsta_edu import create_model
from hsta_edu.cli import main
from hsta_edu.data.examples import build_folder
from hsta_edu.data.labelled import LabelledDataset
from hsta_edu.errors import ConfigError, DataError
from hsta_edu.evaluate import LOSO
from hsta_edu.runs import RUN_FOLDER, TRAIN_FOLDER, claim_folder, prepare_run, run_protocol
from hsta_edu.training import recipe
from tests.configs import TINY_16PX_2FRAMES_1STAGE as TINY

# the CLI's model, as tiny as the library tests' (the claim is checked before any training)
TINY_SET = [a for k in ("img_size", "special_img_size", "patch_size", "special_patch_size", "num_frames")
            for a in ("--set", f"{k}={TINY[k]}")]


class Clips(LabelledDataset):
    """12 (video, special, label) clips of two subjects, three classes."""

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.labels = np.arange(12) % 3
        self.groups = [f"d/s{i % 2}" for i in range(12)]
        self.classes = ["negative", "positive", "surprise"]
        self.video = torch.randn(12, 3, 2, 16, 16, generator=g)
        self.special = torch.randn(12, 3, 2, 16, 16, generator=g)

    def __len__(self) -> int:
        return 12

    def __getitem__(self, i: int):
        return self.video[i], self.special[i], torch.tensor(self.labels[i])


def tiny(**kw):
    return lambda: create_model("hsta-tiny", **{**TINY, **kw})


def fast():
    return recipe("fast", epochs=1, batch_size=8, warmup_epochs=0, progress=False)


def write(folder: Path, files: dict[str, str]) -> dict[str, str]:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return files


def contents(folder: Path, names) -> dict[str, str]:
    return {n: (folder / n).read_text() for n in names if (folder / n).is_file()}


USERS_RESULTS = {"report.md": "# my own report\n", "metrics.json": '{"mine": true}\n', "predictions.csv": "a,b\n1,2\n"}


# ----------------------------------------------------------------------------------- the rule

def test_the_run_files_are_exact_names_in_the_runs_own_folders():
    for rel in ("config.json", "report.md", "folds/fold_000.json", "folds/fold_1234.json",
                "checkpoints/fold_007/last.pt", "checkpoints/fold_007/.last.pt.ab_12cd9.tmp",
                "slurm/4242_3/4242_3_log.out", "slurm/4242_3/4242_submission.sh",
                "slurm/0123456789abcdef0123456789abcdef.pkl"):
        assert RUN_FOLDER.owns(rel), rel
    for rel in ("notes.md", "folds/fold_000.json.bak", "folds/fold_00.json", "folds/mine.json", "fold_000.json",
                "checkpoints/fold_007/best.pt", "checkpoints/last.pt", "slurm/notes.txt", "report.md/x",
                "config.json.orig", ".report.md.swp"):
        assert not RUN_FOLDER.owns(rel), rel
    assert RUN_FOLDER.owns_folder("checkpoints/fold_003") and RUN_FOLDER.owns_folder("folds")
    assert not RUN_FOLDER.owns_folder("mine") and not RUN_FOLDER.owns_folder("checkpoints/old")
    assert TRAIN_FOLDER.owns("checkpoint/last.pt") and not TRAIN_FOLDER.owns("checkpoint/epoch3.pt")


# ----------------------------------------------------------------------------------- protocol runs

@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_of_the_users_own_results_is_refused_and_left_as_it_was(tmp_path, overwrite):
    mine = write(tmp_path, USERS_RESULTS)
    with pytest.raises(ConfigError) as err:
        prepare_run(Clips(), LOSO(), tiny(), fast(), tmp_path, overwrite=overwrite)
    message = str(err.value)
    assert str(tmp_path) in message and "\n" not in message
    assert all(name in message for name in mine) and "no config.json" in message
    assert contents(tmp_path, mine) == mine and sorted(p.name for p in tmp_path.iterdir()) == sorted(mine)


def test_overwrite_deletes_the_runs_files_and_nothing_of_the_users(tmp_path):
    run = tmp_path / "run"
    assert run_protocol(Clips(), LOSO(), tiny(), fast(), run, keep_checkpoints=True).complete
    ours = sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file())
    assert "checkpoints/fold_001/last.pt" in ours and "folds/fold_000.json" in ours and "report.md" in ours
    write(run, {"slurm/77_0/77_0_log.out": "log\n", "slurm/77_0/77_submission.sh": "#!/bin/sh\n"})
    mine = write(run, {"notes.md": "keep me\n", "folds/my_fold_notes.txt": "mine\n",
                       "checkpoints/my_best.pt": "weights of mine\n", "checkpoints/fold_001/notes.txt": "mine too\n",
                       "extra/anything.csv": "1\n"})
    # another model into the same folder, with overwrite: only the old run's files go
    again = prepare_run(Clips(), LOSO(), tiny(use_csta=False), fast(), run, overwrite=True)
    assert again.config["identity"]["model"]["use_csta"] is False
    assert contents(run, mine) == mine
    left = sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file())
    assert left == sorted([*mine, "config.json"])
    assert not (run / "slurm").exists() and (run / "checkpoints" / "fold_001").is_dir()   # a folder with a user's file stays
    assert not (run / "checkpoints" / "fold_000").exists()
    # the new run runs beside the user's files, and a rerun of it resumes there
    assert run_protocol(Clips(), LOSO(), tiny(use_csta=False), fast(), run).complete
    assert contents(run, mine) == mine and (run / "report.md").read_text() != USERS_RESULTS["report.md"]


def test_a_config_json_that_is_not_a_runs_is_never_replaced(tmp_path):
    mine = write(tmp_path, {"config.json": json.dumps({"learning_rate": 0.1}), **USERS_RESULTS})
    with pytest.raises(DataError, match=r"config.json is not the record of a run folder of hsta_edu.*not replaced"):
        prepare_run(Clips(), LOSO(), tiny(), fast(), tmp_path, overwrite=True)
    assert contents(tmp_path, mine) == mine


def test_a_fold_keeps_a_users_file_in_its_checkpoint_folder(tmp_path):
    run = tmp_path / "run"
    prepare_run(Clips(), LOSO(), tiny(), fast(), run)
    mine = write(run, {"checkpoints/fold_000/mine.txt": "mine\n"})
    assert run_protocol(Clips(), LOSO(), tiny(), fast(), run).complete
    assert contents(run, mine) == mine and not (run / "checkpoints" / "fold_000" / "last.pt").exists()
    assert not (run / "checkpoints" / "fold_001").exists()


# ----------------------------------------------------------------------------------- train --out

IDENTITY = {"model": {"embed_dim": 32}, "train_config": {"epochs": 1}}


def _claim_train_out(folder, identity, overwrite):
    """What ``hsta-edu train --out`` does: the same claim as a protocol run's, with the training kind."""
    return claim_folder(TRAIN_FOLDER, folder, {"identity": identity}, overwrite=overwrite)


@pytest.mark.parametrize("overwrite", [False, True])
def test_train_out_refuses_a_folder_of_the_users_files(tmp_path, overwrite):
    mine = write(tmp_path, {"history.csv": "epoch,loss\n0,1.0\n", "dropped.csv": "mine\n", "model.txt": "x\n"})
    with pytest.raises(ConfigError, match="no train_run.json") as err:
        _claim_train_out(tmp_path, IDENTITY, overwrite)
    assert all(name in str(err.value) for name in mine) and str(tmp_path) in str(err.value)
    assert contents(tmp_path, mine) == mine and not (tmp_path / "train_run.json").exists()


def test_train_out_overwrite_deletes_only_the_runs_files(tmp_path):
    _claim_train_out(tmp_path, IDENTITY, False)
    write(tmp_path, {"history.csv": "run\n", "train_summary.json": "{}", "checkpoint/last.pt": "ckpt"})
    mine = write(tmp_path, {"notes.md": "mine\n", "checkpoint/epoch_3_by_hand.pt": "mine\n"})
    _claim_train_out(tmp_path, IDENTITY, False)                    # the same run again: its own folder
    with pytest.raises(ConfigError, match=r"another training run \(train_config.epochs: 1 there, 2 now\)"):
        _claim_train_out(tmp_path, {**IDENTITY, "train_config": {"epochs": 2}}, False)
    _claim_train_out(tmp_path, {**IDENTITY, "train_config": {"epochs": 2}}, True)
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == sorted([*mine, "train_run.json"]) and contents(tmp_path, mine) == mine
    assert json.loads((tmp_path / "train_run.json").read_text())["identity"]["train_config"]["epochs"] == 2


# ----------------------------------------------------------------------------------- the command

@pytest.mark.parametrize("command", ["loso", "train"])
def test_the_command_refuses_a_users_folder_in_one_line_and_keeps_the_files(tmp_path, capsys, command):
    build_folder(tmp_path / "data")
    out = tmp_path / "out"
    out.mkdir()
    mine = write(out, USERS_RESULTS)
    for extra in ([], ["--overwrite"]):
        code = main([command, "--data", str(tmp_path / "data"), "--out", str(out), "--epochs", "1", "--no-progress",
                     *TINY_SET, *extra])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert f"{out} is not empty" in err and "report.md" in err and "predictions.csv" in err
        assert contents(out, mine) == mine and sorted(p.name for p in out.iterdir()) == sorted(mine)
