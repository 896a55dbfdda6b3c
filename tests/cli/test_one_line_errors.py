"""Nothing silent, no foreign traceback (issue 24): one frame folder under two subjects, scores
given as predictions, a model file without weights, a figure name matplotlib cannot write, a model
with fewer outputs than the data has classes, and ``~`` in a path. Each ends in one package error
naming the rows, value, file or numbers concerned, or (``~``) simply works."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from hsta_edu import create_model
from hsta_edu.cli import main
from hsta_edu.data.datasets import load_dataset
from hsta_edu.data.examples import build_casme2, build_folder
from hsta_edu.errors import AnnotationError, CheckpointError, ConfigError, DataError
from hsta_edu.evaluate import compute_metrics
from hsta_edu.io import safe_torch_load
from hsta_edu.model import load_model, save_model
from hsta_edu.training import recipe, train
from tests.configs import TINY_16PX_2FRAMES_1STAGE as TINY

# ----------------------------------------------------------------------------------- one folder, two subjects


@pytest.mark.parametrize("strict", [False, True])
def test_a_frame_folder_under_two_subjects_is_an_error_naming_both_rows(tmp_path, strict):
    text = build_folder(tmp_path)
    (tmp_path / "annotations.csv").write_text(text + "carol,c9,sad,,,,alice/clip01,\n")
    with pytest.raises(AnnotationError) as err:
        load_dataset(tmp_path, strict=strict)
    message = str(err.value)
    assert "frame folder alice/clip01" in message and "\n" not in message
    assert "alice/clip01 (annotations.csv row 2)" in message and "carol/c9 (annotations.csv row 5)" in message
    assert err.value.row == 5 and err.value.file == "annotations.csv"


def test_a_link_to_another_subjects_frames_is_the_same_folder(tmp_path):
    rows = [{"Subject": s, "Filename": f, "OnsetFrame": 46, "ApexFrame": 47, "OffsetFrame": 48, "Action Units": 12,
             "Estimated Emotion": e} for s, f, e in ((1, "EP01_01f", "happiness"), (2, "EP02_01f", "disgust"))]
    build_casme2(tmp_path, rows, objective=False)
    frames = tmp_path / "CASME2_RAW_selected"
    (frames / "sub02" / "EP09_01f").symlink_to(frames / "sub01" / "EP01_01f", target_is_directory=True)
    rows.append({**rows[1], "Filename": "EP09_01f"})
    build_casme2(tmp_path / "again", rows, objective=False)     # the sheet with the extra row
    (tmp_path / "again" / "CASME2-coding-20140508.xlsx").replace(tmp_path / "CASME2-coding-20140508.xlsx")
    with pytest.raises(AnnotationError, match=r"sub01/EP01_01f \(CASME2-coding-20140508.xlsx row 2\) and "
                                              r"sub02/EP09_01f \(CASME2-coding-20140508.xlsx row 4\)"):
        load_dataset(tmp_path)


def test_clips_of_one_subject_may_share_a_folder_and_the_very_same_frames_are_warned(tmp_path):
    text = build_folder(tmp_path)
    (tmp_path / "annotations.csv").write_text(text + "alice,c9,sad,0,1,3,alice/clip01,\n")
    index = load_dataset(tmp_path)                       # one video, two clips: as SAMM and CAS(ME)^3 have
    assert len(index) == 4 and not index.warnings and not index.dropped
    (tmp_path / "annotations.csv").write_text(text + "alice,c9,sad,0,2,5,alice/clip01,\n")
    index = load_dataset(tmp_path)
    assert len(index) == 4 and len(index.warnings) == 1
    assert "alice/c9 (annotations.csv row 5) reads the very frames of alice/clip01 (annotations.csv row 2)" \
        in index.warnings[0]


# ----------------------------------------------------------------------------------- metrics


def test_scores_are_not_truncated_into_classes():
    with pytest.raises(DataError, match=r"^y_pred\[0\] = 0.4 is not a class index"):
        compute_metrics([0, 1, 2], [0.4, 1.6, 2.9])
    with pytest.raises(DataError, match=r"^y_true\[1\] = 1.5 is not a class index"):
        compute_metrics([0, 1.5, 2], [0, 1, 2])
    with pytest.raises(DataError, match=r"^y_pred\[2\] = nan is not a class index"):
        compute_metrics([0, 1, 2], [0, 1, float("nan")])
    with pytest.raises(DataError, match=r"^y_pred\[1\] = 'positive' is not a class index"):
        compute_metrics([0, 1], np.array([0, "positive"], dtype=object))
    with pytest.raises(DataError, match=r"^y_pred\[0\] = False is not a class index"):
        compute_metrics([0, 1], np.array([False, True]))


def test_class_indices_out_of_range_are_named_with_their_position():
    with pytest.raises(DataError, match=r"^y_pred\[2\] = 3 is outside the class indices 0..2 \(3 classes"):
        compute_metrics([0, 1, 2], [0, 1, 3], ["a", "b", "c"])
    with pytest.raises(DataError, match=r"^y_true\[1\] = -1 is outside the class indices \(negative"):
        compute_metrics([0, -1, 2], [0, 1, 2])
    whole = compute_metrics([0, 1, 2, 1], [0.0, 1.0, 2.0, 2.0], ["a", "b", "c"])   # whole floats are classes
    assert whole == compute_metrics([0, 1, 2, 1], [0, 1, 2, 2], ["a", "b", "c"])


# ----------------------------------------------------------------------------------- model files


@pytest.mark.parametrize("spoil, message", [
    (lambda o: o.pop("state_dict"), "holds no 'state_dict' entry"),
    (lambda o: o.__setitem__("state_dict", [1, 2]), "holds a 'state_dict' that is a list"),
    (lambda o: o["model_config"].__setitem__("embed_dim", "wide"), "its stored configuration builds no model"),
])
def test_a_model_file_without_usable_weights_is_named(tmp_path, spoil, message):
    path = save_model(tmp_path / "model.pt", create_model("hsta-tiny", **TINY))
    obj = safe_torch_load(path)
    spoil(obj)
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match=message) as err:
        load_model(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


# ----------------------------------------------------------------------------------- explain --out


def test_explain_checks_the_figure_name_before_any_work(tmp_path, capsys):
    # the model does not exist: a check made after loading it would name the model instead
    code = main(["explain", "--model", str(tmp_path / "no-model.pt"), "--data", str(tmp_path / "no-data"),
                 "--out", str(tmp_path / "x.xyz")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"--out {tmp_path / 'x.xyz'}: matplotlib cannot write .xyz files" in err and ".png" in err
    assert "no-model" not in err and not (tmp_path / "x.xyz").exists()


# ----------------------------------------------------------------------------------- train


def test_a_model_with_fewer_outputs_than_classes_is_refused_before_training():
    ds = TensorDataset(torch.randn(6, 3, 2, 16, 16), torch.randn(6, 3, 2, 16, 16), torch.tensor([0, 1, 2] * 2))
    model = create_model("hsta-tiny", **{**TINY, "num_classes": 2})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = recipe("fast", epochs=1, batch_size=4, warmup_epochs=0, progress=False)
    with pytest.raises(ConfigError, match=r"training data has 3 classes \(labels up to 2\) but the model has 2 "
                                          r"outputs \(num_classes=2\): build it with num_classes=3"):
        train(model, ds, cfg)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())     # nothing trained
    val = TensorDataset(ds.tensors[0], ds.tensors[1], torch.tensor([0, 1, 0, 1, 0, 3]))
    with pytest.raises(ConfigError, match=r"validation data has 4 classes"):
        train(create_model("hsta-tiny", **TINY), ds, cfg, val_dataset=val)


# ----------------------------------------------------------------------------------- ~ in paths


def test_a_tilde_in_paths_means_the_home_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    build_folder(tmp_path / "data")
    assert len(load_dataset("~/data")) == 3
    assert main(["prepare", "--data", "~/data", "--cache", "~/cache", "--no-progress",
                 "--set", "img_size=16", "--set", "special_img_size=16", "--set", "num_frames=2"]) == 0
    assert "prepared 3 clips" in capsys.readouterr().out and any((tmp_path / "cache").iterdir())
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.md").write_text("mine\n")
    assert main(["loso", "--data", "~/data", "--out", "~/mine", "--epochs", "1", "--no-progress",
                 "--set", "img_size=16", "--set", "special_img_size=16", "--set", "num_frames=2"]) == 2
    assert f"{tmp_path / 'mine'} is not empty" in capsys.readouterr().err     # the expanded folder was checked
    assert not (tmp_path.parent / "~").exists() and not (tmp_path / "~").exists()
