"""Bad inputs of issue 24 (nothing lost, nothing silent): output folders holding the user's own
files, one frame folder annotated under two subjects, scores given as predictions, a model file
without weights, a figure name matplotlib cannot write, a model with fewer outputs than classes,
and ``~`` in a path. Each case makes the library call, or the command's own function (what
``hsta-edu`` runs, its error not yet turned into a line on stderr)."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from hsta_edu import create_model
from hsta_edu.data.datasets import load_dataset
from hsta_edu.data.examples import build_folder
from hsta_edu.evaluate import LOSO, compute_metrics
from hsta_edu.io import safe_torch_load
from hsta_edu.model import load_model, save_model
from hsta_edu.runs import RUN_FOLDER, run_protocol
from hsta_edu.training import recipe, train

from ..configs import TINY_16PX_2FRAMES_1STAGE as TINY
from .cases import Case, _Seen, _Toy

_CFG = {"epochs": 1, "batch_size": 8, "warmup_epochs": 0, "progress": False}
_USERS = {"report.md": "# my report\n", "metrics.json": '{"uf1": 0.99}\n', "predictions.csv": "clip,pred\n"}
# the command's model as small as the library cases' (the output folder is claimed before any training)
_TINY_SET = [a for k in ("img_size", "special_img_size", "patch_size", "special_patch_size", "num_frames")
             for a in ("--set", f"{k}={TINY[k]}")]


def _toy() -> _Toy:
    return _Toy([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], ["d/s1"] * 6 + ["d/s2"] * 6)


def _model(**kw: object):
    return lambda: create_model("hsta-tiny", **{**TINY, **kw})


def _write(folder: Path, files: dict[str, str]) -> dict[str, str]:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return files


def _check_kept(folder: Path, files: dict[str, str]) -> None:
    changed = [n for n, text in files.items() if not (folder / n).is_file() or (folder / n).read_text() != text]
    if changed:
        raise AssertionError(f"the user's files {changed} in {folder} were changed or deleted")


def _command(argv: Sequence[str]) -> int:
    """What ``hsta-edu ARGV`` runs, with its package error raised instead of printed."""
    from hsta_edu.cli import COMMANDS, _expand_user, build_parser
    from hsta_edu.cli.options import check_arguments

    args = build_parser().parse_args(list(argv))
    args.argv = list(argv)
    _expand_user(args)
    check_arguments(args)
    with contextlib.redirect_stdout(io.StringIO()):
        return COMMANDS[args.command](args)


# ----------------------------------------------------------------------------- output folders

def c_run_folder_of_users_files(tmp: Path):
    mine = _write(tmp / "run", _USERS)
    try:
        run_protocol(_toy(), LOSO(), _model(), recipe("fast", **_CFG), tmp / "run", overwrite=True)
    finally:
        _check_kept(tmp / "run", mine)


def c_train_out_of_users_files(tmp: Path):
    build_folder(tmp / "data")
    mine = _write(tmp / "out", {"history.csv": "epoch,loss\n0,0.1\n", "notes.md": "mine\n"})
    try:
        _command(["train", "--data", str(tmp / "data"), "--out", str(tmp / "out"), "--epochs", "1", "--no-progress",
                  "--overwrite", *_TINY_SET])
    finally:
        _check_kept(tmp / "out", mine)


def c_overwrite_beside_users_files(tmp: Path):
    run = tmp / "run"
    run_protocol(_toy(), LOSO(), _model(), recipe("fast", **_CFG), run, keep_checkpoints=True)
    mine = _write(run, {"checkpoints/mine.pt": "my weights\n", "folds/notes.txt": "mine\n"})
    run_protocol(_toy(), LOSO(), _model(use_csta=False), recipe("fast", **_CFG), run, overwrite=True)
    _check_kept(run, mine)
    files = [p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()]
    kept = sorted(f for f in files if not RUN_FOLDER.owns(f))
    raise _Seen("works", "ok", f"the old run's files deleted and the new run's written; the user's kept: {kept}")


# ----------------------------------------------------------------------------- annotations

def c_frame_folder_of_two_subjects(tmp: Path):
    text = build_folder(tmp)
    (tmp / "annotations.csv").write_text(text + "carol,c9,sad,,,,alice/clip01,\n")
    load_dataset(tmp)


def c_same_frames_twice_in_one_subject(tmp: Path):
    text = build_folder(tmp)
    (tmp / "annotations.csv").write_text(text + "alice,c9,sad,0,2,5,alice/clip01,\n")
    index = load_dataset(tmp)
    raise _Seen("warning", "index.warnings", index.warnings[0])


# ----------------------------------------------------------------------------- metrics

def c_scores_as_predictions(tmp: Path):
    compute_metrics([0, 1, 2], [0.4, 1.6, 2.9])


def c_prediction_beyond_the_classes(tmp: Path):
    compute_metrics([0, 1, 2], [0, 1, 3], ["negative", "positive", "surprise"])


# ----------------------------------------------------------------------------- tracebacks no more

def c_model_file_without_weights(tmp: Path):
    path = save_model(tmp / "model.pt", create_model("hsta-tiny", **TINY))
    obj = safe_torch_load(path)
    del obj["state_dict"]
    torch.save(obj, path)
    load_model(path)


def c_explain_unknown_figure_format(tmp: Path):
    _command(["explain", "--model", "hsta-tiny-synthme", "--data", "data_samples", "--out", str(tmp / "x.xyz")])


def c_model_fewer_outputs_than_classes(tmp: Path):
    train(_model(num_classes=2)(), _toy(), recipe("fast", **_CFG))


def c_tilde_in_paths(tmp: Path):
    build_folder(tmp / "data")
    home = os.environ.get("HOME")
    os.environ["HOME"] = str(tmp)
    try:
        _command(["prepare", "--data", "~/data", "--cache", "~/cache", "--no-progress", *_TINY_SET])
    finally:
        if home is None:
            del os.environ["HOME"]
        else:
            os.environ["HOME"] = home
    cached = sorted(p.name for p in (tmp / "cache").iterdir())
    raise _Seen("works", "ok", f"~ read as the home folder: --data ~/data loaded, --cache ~/cache holds "
                f"{len(cached)} files in <tmp>/cache")


def c_synth_over_a_real_casme2_folder(tmp: Path):
    from hsta_edu.data.synth import SynthConfig, generate_synthme
    frames = tmp / "CASME2" / "CASME2_RAW_selected" / "sub01" / "EP02_01f"
    frames.mkdir(parents=True)
    (frames / "img46.jpg").write_bytes(b"a real frame")
    (tmp / "CASME2" / "CASME2-coding-20140508.xlsx").write_bytes(b"the real coding sheet")
    generate_synthme(tmp / "CASME2", SynthConfig(n_subjects=1, clips_per_class=1), overwrite=True, progress=False)


RUN_CASES: list[Case] = [
    Case("run folder holding the user's `report.md`, `metrics.json`, `predictions.csv` - `run_protocol(overwrite=True)`",
         "error", "report.md", c_run_folder_of_users_files),
    Case("`train --out` folder holding the user's `history.csv` - `hsta-edu train --overwrite`", "error",
         "history.csv", c_train_out_of_users_files),
    Case("user's files inside a run's `checkpoints/` and `folds/` - `run_protocol(overwrite=True)`", "works",
         "checkpoints/mine.pt", c_overwrite_beside_users_files),
    Case("one frame folder under two subjects (`folder` = `alice/clip01` for carol) - `load_dataset`", "error",
         "row 5", c_frame_folder_of_two_subjects),
    Case("the very same frames twice under one subject - `load_dataset`", "warning", "row 5",
         c_same_frames_twice_in_one_subject),
    Case("scores given as predictions (`[0.4, 1.6, 2.9]`) - `compute_metrics`", "error", "y_pred[0] = 0.4",
         c_scores_as_predictions),
    Case("prediction 3 with 3 classes - `compute_metrics`", "error", "y_pred[2] = 3", c_prediction_beyond_the_classes),
    Case("`model.pt` without `state_dict` - `train.load_model`", "error", "state_dict", c_model_file_without_weights),
    Case("`explain --out x.xyz` - `hsta-edu explain`", "error", "x.xyz", c_explain_unknown_figure_format),
    Case("2-class model on 3-class data - `train`", "error", "num_classes=2", c_model_fewer_outputs_than_classes),
    Case("`~` in `--data` and `--cache` - `hsta-edu prepare`", "works", "~/cache", c_tilde_in_paths),
    Case("a real CASME II folder (same names, no `synthme.json`) - `hsta-edu synth --overwrite`", "error",
         "synthme.json", c_synth_over_a_real_casme2_folder),
]
