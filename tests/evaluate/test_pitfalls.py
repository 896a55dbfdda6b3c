"""hsta_edu.evaluate.pitfalls: the measurements notebook 04 shows, on data whose answer is known."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from hsta_edu import create_model
from hsta_edu.data.datasets import load_dataset
from hsta_edu.data.labelled import LabelledDataset
from hsta_edu.data.prep import PrepConfig
from hsta_edu.data.torch_data import MERDataset
from hsta_edu.errors import ConfigError
from hsta_edu.evaluate import LOSO, SampleKFold
from hsta_edu.evaluate.pitfalls import (
    FAINT,
    SUBJECT_CORRELATED,
    face_shortcut_scores,
    sampling_spread,
    subject_correlated,
    trace_test_epochs,
)
from hsta_edu.runs import run_protocol
from hsta_edu.training import recipe
from tests.configs import TINY_16PX_2FRAMES_1STAGE

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["negative", "positive", "surprise"]


class Clips(LabelledDataset):
    """18 clips of 3 subjects whose class shows as a bright band; ``noisy`` adds fresh noise on
    every access (drawn from torch's random stream), like random frame sampling."""

    def __init__(self, noisy: float = 0.0) -> None:
        g = torch.Generator().manual_seed(0)
        self.labels = np.arange(18) % 3
        self.groups = [f"d/s{(i // 3) % 3}" for i in range(18)]   # every subject shows every class
        self.classes = CLASSES
        self.video = torch.randn(18, 3, 2, 16, 16, generator=g) * 0.3
        self.special = torch.randn(18, 3, 2, 16, 16, generator=g) * 0.3
        for i, y in enumerate(self.labels):
            self.video[i, :, :, 5 * y:5 * y + 5] += 1.0
        self.noisy = noisy

    def __len__(self) -> int:
        return 18

    def __getitem__(self, i: int):
        video = self.video[i] + self.noisy * torch.randn(self.video[i].shape)
        return video, self.special[i], torch.tensor(self.labels[i])


class BandReader(nn.Module):
    """Reads the class off the bright band of `Clips`: a model whose answer noise can flip."""

    def forward(self, video: torch.Tensor, special: torch.Tensor) -> torch.Tensor:
        cols = video.mean(dim=(1, 2, 4))                                  # (B, H): the band is rows
        return torch.stack([cols[:, 5 * k:5 * k + 5].mean(1) for k in range(3)], dim=1)


def tiny():
    return create_model("hsta-tiny", **TINY_16PX_2FRAMES_1STAGE)


def cfg(**kw):
    return recipe("fast", **{"epochs": 3, "batch_size": 6, "warmup_epochs": 0, "progress": False, **kw})


def test_trace_reproduces_run_protocol_and_selection_never_loses(tmp_path):
    ds = Clips()
    trace = trace_test_epochs(ds, LOSO(), tiny, cfg(), progress=False)
    run = run_protocol(ds, LOSO(), tiny, cfg(), tmp_path / "run")
    assert trace.predictions.shape == (3, 18) and (trace.predictions >= 0).all()
    # the looks after every epoch do not change training: the last epoch is the honest run
    assert np.array_equal(trace.predictions[-1], run.predictions["y_pred"].to_numpy())
    assert trace.curve().iloc[-1] == pytest.approx(run.metrics["uf1"])
    picked, chosen = trace.per_fold_selected()
    assert len(chosen) == 3 and all(1 <= e <= 3 for e in chosen)
    for fold in trace.folds:   # choosing on the test clips can only raise each fold's test accuracy
        last = (trace.predictions[-1, fold.test] == ds.labels[fold.test]).mean()
        assert (picked[fold.test] == ds.labels[fold.test]).mean() >= last
    table = trace.table()
    assert list(table.index) == ["honest: fixed budget", "test-selected, per fold", "test-selected, one epoch"]
    assert table["UF1"].iloc[2] == pytest.approx(trace.curve().max())
    assert set(trace.models) == {0, 1, 2}
    fig = trace.plot()
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() and ax.get_legend() is not None


def test_subject_correlated_counts_and_errors():
    labels = np.tile(np.repeat([0, 1, 2], 4), 4)                  # 4 subjects x 3 classes x 4 clips
    groups = [f"d/s{i // 12}" for i in range(48)]
    keep = subject_correlated(labels, groups, favourite=4, other=1)
    assert len(keep) == 24 and len(set(keep)) == 24
    for s in range(4):
        mine = Counter(int(labels[i]) for i in keep if groups[i] == f"d/s{s}")
        assert mine[s % 3] == 4 and sum(mine.values()) == 6
    with pytest.raises(ConfigError, match="d/s0.*5 needed"):
        subject_correlated(labels, groups, favourite=5)
    assert SUBJECT_CORRELATED.clips_per_class >= 4 and FAINT.amplitude[1] < SUBJECT_CORRELATED.amplitude[0] + 0.5


def test_face_shortcut_wins_only_when_faces_are_shared():
    rng = np.random.default_rng(0)
    labels = np.tile(np.repeat([0, 1, 2], 4), 4)
    groups = np.asarray([f"d/s{i // 12}" for i in range(48)])
    keep = subject_correlated(labels, groups)
    labels, groups = labels[keep], groups[keep]
    faces = rng.normal(size=(4, 32)) * 5                           # one 'face' per subject, no expression
    features = faces[[int(g[-1]) for g in groups]] + rng.normal(size=(24, 32))
    with pytest.warns(Warning):
        table = face_shortcut_scores(features, labels, groups, {"clip": SampleKFold(4), "loso": LOSO()}, CLASSES)
    assert table.loc["clip", "test clips whose subject is in training"] == 1.0
    assert table.loc["clip", "subject named right"] == 1.0
    assert table.loc["loso", "test clips whose subject is in training"] == 0.0
    assert table.loc["loso", "subject named right"] == 0.0
    # each subject's usual label is right for 4 of its 6 clips under a clip split; under LOSO the
    # answer is another person's usual label, right only where two people share a favourite class
    assert table.loc["clip", "accuracy"] == pytest.approx(4 / 6)
    assert table.loc["loso", "accuracy"] <= 0.5 and table.loc["loso", "UF1"] < table.loc["clip", "UF1"] - 0.2
    with pytest.raises(ConfigError, match="feature rows"):
        face_shortcut_scores(features[:3], labels, groups, {"loso": LOSO()}, CLASSES)


def test_sampling_spread_zero_when_deterministic_positive_when_random():
    model = BandReader()
    table = sampling_spread(model, {"fixed": Clips(), "random": Clips(noisy=15.0)}, np.arange(18) % 3, CLASSES,
                            repeats=3)
    assert table.loc["fixed", "UF1 min"] > 0.9                          # it reads the bands
    assert table.loc["fixed", "clips whose prediction changes"] == 0.0
    assert table.loc["fixed", "max |Δ probability|"] == 0.0
    assert table.loc["fixed", "UF1 min"] == table.loc["fixed", "UF1 max"]
    assert table.loc["random", "max |Δ probability|"] > 0.0
    assert table.loc["random", "clips whose prediction changes"] > 0.0
    with pytest.raises(ConfigError, match="repeats"):
        sampling_spread(model, {"fixed": Clips()}, np.arange(18) % 3, CLASSES, repeats=1)
    with pytest.raises(ConfigError, match="folds"):
        sampling_spread({0: model}, {"fixed": Clips()}, np.arange(18) % 3, CLASSES)


def test_dataset_view_changes_assembly_only():
    prep = PrepConfig(img_size=16, num_frames=2, face="none", register="none", magnify=0.0)
    ds = MERDataset(load_dataset(ROOT / "data_samples"), prep).preload(progress=False)
    view = ds.view(train=True, flip=False, shift=0, photometric=0.0)
    assert view.train and not ds.train and view._memory is ds._memory
    assert not view.prep_cfg.flip and ds.prep_cfg.flip
    torch.manual_seed(0)
    a = view[0][0]
    torch.manual_seed(0)
    b = ds.train_view()[0][0]
    assert a.shape == b.shape
    assert torch.equal(ds.view()[3][1], ds[3][1])                 # no change: the same tensors
    with pytest.raises(ConfigError, match="img_size"):
        ds.view(img_size=32)
