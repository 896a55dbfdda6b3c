"""Bad inputs of issue 16: run folders, checkpoints and files that could answer for another run,
and the arguments checked before any data is read. Each case is the library call the command
line makes; tests/cli/test_cli_errors.py runs the same mistakes through the real ``hsta-edu``."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from hsta_edu import create_model
from hsta_edu.data.datasets import load_dataset
from hsta_edu.data.examples import build_casme2
from hsta_edu.evaluate import LOSO, merge_run
from hsta_edu.runs import run_protocol
from hsta_edu.training import pick_device, recipe, train

from ..configs import TINY_16PX_2FRAMES_1STAGE as TINY
from .cases import Case, _Seen, _Toy

_CFG = {"epochs": 1, "batch_size": 8, "warmup_epochs": 0, "progress": False}


def _toy() -> _Toy:
    return _Toy([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], ["d/s1"] * 6 + ["d/s2"] * 6)


def _run(tmp: Path, **model: object):
    return run_protocol(_toy(), LOSO(), lambda: create_model("hsta-tiny", **{**TINY, **model}),
                        recipe("fast", **_CFG), tmp / "run")


def c_run_folder_other_model(tmp: Path):
    _run(tmp)
    _run(tmp, use_csta=False)


def c_shards_of_two_models(tmp: Path):
    toy, cfg = _toy(), recipe("fast", **_CFG)
    run_protocol(toy, LOSO(), lambda: create_model("hsta-tiny", **TINY), cfg, tmp / "run", shard="0/2")
    run_protocol(toy, LOSO(), lambda: create_model("hsta-tiny", **{**TINY, "embed_dim": 64}), cfg, tmp / "run",
                 shard="1/2")


def c_checkpoint_other_clips(tmp: Path):
    cfg = recipe("fast", **_CFG)
    train(create_model("hsta-tiny", **TINY), _toy(), cfg, checkpoint_dir=tmp / "ckpt")
    other = _Toy([2, 1, 0, 0, 1, 2, 0, 1, 2, 0, 1, 2], ["d/s1"] * 6 + ["d/s2"] * 6)
    train(create_model("hsta-tiny", **TINY), other, cfg, checkpoint_dir=tmp / "ckpt")


def c_corrupt_run_config(tmp: Path):
    _run(tmp)
    (tmp / "run" / "config.json").write_text('{"n_folds": 2, "folds": [')
    merge_run(tmp / "run")


def c_empty_fold_record(tmp: Path):
    _run(tmp)
    (tmp / "run" / "folds" / "fold_001.json").write_text("{}")
    merge_run(tmp / "run")


def c_prediction_outside_classes(tmp: Path):
    _run(tmp)
    path = tmp / "run" / "folds" / "fold_000.json"
    record = json.loads(path.read_text())
    record["y_pred"][0] = 5
    path.write_text(json.dumps(record))
    merge_run(tmp / "run")


def c_negative_checkpoint_interval(tmp: Path):
    run_protocol(_toy(), LOSO(), lambda: create_model("hsta-tiny", **TINY), recipe("fast", **_CFG), tmp / "run",
                 checkpoint_every=-5)


def c_unknown_device(tmp: Path):
    pick_device("foo")


def c_missing_gpu(tmp: Path):
    pick_device(f"cuda:{torch.cuda.device_count() if torch.cuda.is_available() else 0}")


def c_unreadable_frame_folder(tmp: Path):
    rows = build_casme2(tmp / "casme2")
    denied = rows[2]["Filename"]
    iterdir = Path.iterdir

    def no_permission(self: Path):   # root reads every folder: a refusal like chmod 000's, made by hand
        if self.name == denied:
            raise PermissionError(13, "Permission denied", str(self))
        return iterdir(self)

    Path.iterdir = no_permission   # type: ignore[method-assign]
    try:
        index = load_dataset(tmp / "casme2")
    finally:
        Path.iterdir = iterdir   # type: ignore[method-assign]
    drops = [d for d in index.dropped if "Permission denied" in d.reason]
    if drops:
        raise _Seen("drop", "DroppedRow", f"{len(drops)} rows dropped, e.g. {drops[0].clip}: {drops[0].reason}")


RUN_CASES: list[Case] = [
    Case("run folder reused for another model (`--no-csta`) - `run_protocol`", "error", "model.use_csta",
         c_run_folder_other_model),
    Case("LOSO shards of two models into one folder - `run_protocol(shard=)`", "error", "model.embed_dim",
         c_shards_of_two_models),
    Case("training checkpoint resumed on other clips - `train(checkpoint_dir=)`", "error", "data.digest",
         c_checkpoint_other_clips),
    Case("corrupt run `config.json` - `merge_run` (`hsta-edu report`)", "error", "config.json is not valid JSON",
         c_corrupt_run_config),
    Case("fold record `{}` - `merge_run`", "error", "fold_001.json is not a fold record", c_empty_fold_record),
    Case("fold prediction outside the classes - `merge_run`", "error", "class index 5", c_prediction_outside_classes),
    Case("`--checkpoint-every -5` - `run_protocol`", "error", "checkpoint_every=-5", c_negative_checkpoint_interval),
    Case("`--device foo` - `pick_device`", "error", "'foo'", c_unknown_device),
    Case("`--device cuda` on a machine without that GPU - `pick_device`", "error", "cuda", c_missing_gpu),
    Case("frame folder without read permission - `load_dataset`", "drop", "Permission denied",
         c_unreadable_frame_folder),
]
