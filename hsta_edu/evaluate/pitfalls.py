"""The evaluation pitfalls of MER, measured: what notebook 04 demonstrates, as library code.

Nothing here is a way to evaluate a model; each function measures how much a known mistake
would change a reported score, so that it can be shown and avoided:

- `trace_test_epochs` retrains a protocol's folds exactly as `run_protocol` does and records the
  test fold's predictions after every epoch (the random state is restored around each look, so
  the last epoch reproduces the honest run). `EpochTrace.table` then compares the fixed budget
  with choosing the epoch on the test folds: **test-set selection**.
- `sampling_spread` predicts the same test clips several times through a deterministic view and
  through one that samples frames at random (as the reference code does at test time).
- `subject_correlated` keeps a subset of a balanced corpus in which each subject mostly shows
  one class, as in the real corpora, where a **clip-level split** rewards recognising the face.
- `face_shortcut_scores`: the shortcut itself as a classifier ("recognise the face by its nearest
  training clip, answer that person's usual label"), scored under any protocol's folds.

`SUBJECT_CORRELATED` and `FAINT` are the SynthME variants built for the demonstrations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from ..data.labelled import dataset_info
from ..data.synth.config import SAMPLES_CONFIG
from ..errors import ConfigError
from ..progress import progress_bar
from ..training.loop import TrainConfig, predict, set_seed, train
from .metrics import compute_metrics
from .protocols import Fold, Protocol, protocol_folds

__all__ = ["EpochTrace", "trace_test_epochs", "sampling_spread", "subject_correlated",
           "face_shortcut_scores", "SUBJECT_CORRELATED", "FAINT"]

#: data_samples' four people with four clips per class (the first two are data_samples' own clips):
#: `subject_correlated` keeps 4 clips of each subject's favourite class and 1 of each other class.
SUBJECT_CORRELATED = SAMPLES_CONFIG.replace(clips_per_class=4)
#: data_samples' four people with fainter movements (0.5-1.5 px at the apex instead of 1.5-3) and four
#: clips per class: clips near a model's decision boundary, where the frames sampled decide the answer.
FAINT = SAMPLES_CONFIG.replace(amplitude=(0.5, 1.5), clips_per_class=4)


@dataclass
class EpochTrace:
    """Test predictions after every epoch of every fold (``predictions``: (epochs, clips), -1 where
    a clip is in no test fold) and the final model of each fold. For demonstrating test-set
    selection only: nothing chosen from it is a result."""

    folds: list[Fold]
    labels: np.ndarray
    classes: list[str]
    predictions: np.ndarray
    models: dict[int, nn.Module]

    @property
    def epochs(self) -> int:
        return int(self.predictions.shape[0])

    def _tested(self) -> np.ndarray:
        return np.concatenate([f.test for f in self.folds])

    def uf1(self, pred: np.ndarray) -> float:
        idx = self._tested()
        return float(compute_metrics(self.labels[idx], pred[idx], self.classes)["uf1"])

    def curve(self) -> pd.Series:
        """Pooled test UF1 after each epoch (index: epoch, from 1)."""
        return pd.Series([self.uf1(p) for p in self.predictions], index=range(1, self.epochs + 1),
                         name="pooled test UF1")

    def per_fold_selected(self) -> tuple[np.ndarray, list[int]]:
        """Predictions where each fold takes the epoch of its best *test* accuracy, and those epochs."""
        out, chosen = self.predictions[-1].copy(), []
        for fold in self.folds:
            hits = (self.predictions[:, fold.test] == self.labels[fold.test]).mean(axis=1)
            best = int(np.argmax(hits))
            out[fold.test] = self.predictions[best, fold.test]
            chosen.append(best + 1)
        return out, chosen

    def table(self) -> pd.DataFrame:
        """The honest fixed-budget UF1 next to the two ways of choosing the epoch on the test folds."""
        curve = self.curve()
        picked, chosen = self.per_fold_selected()
        return pd.DataFrame(
            {"UF1": [curve.iloc[-1], self.uf1(picked), curve.max()],
             "epoch": [f"{self.epochs} (the fixed budget)", "per fold: " + ", ".join(map(str, chosen)),
                       f"{int(curve.idxmax())} (best pooled test UF1)"]},
            index=["honest: fixed budget", "test-selected, per fold", "test-selected, one epoch"])

    def plot(self, ax=None, title: str = "pooled test UF1 after each epoch (for illustration only)"):
        """The curve with the fixed budget marked and a chance line; returns the figure."""
        from matplotlib.figure import Figure

        from ..viz import chance_line

        if ax is None:
            fig = Figure(figsize=(6, 3), layout="constrained")
            ax = fig.subplots()
        fig = ax.figure
        curve = self.curve()
        ax.plot(curve.index, curve.values, marker="o", label="pooled test UF1")
        ax.axvline(self.epochs, color="0.4", ls=":", label=f"fixed budget ({self.epochs})")
        best = int(curve.idxmax())
        ax.plot([best], [curve.max()], "r*", ms=12, label=f"best epoch on the test folds ({best})")
        chance_line(ax, len(self.classes))
        ax.set(xlabel="epoch", ylabel="pooled test UF1", title=title, ylim=(0, 1))
        ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
        return fig


def trace_test_epochs(dataset: Dataset, protocol: Protocol, model_fn: Callable[[], nn.Module], cfg: TrainConfig,
                      *, train_dataset: Dataset | None = None, progress: bool = True) -> EpochTrace:
    """Train every fold as `run_protocol` does (seed ``cfg.seed + fold``, the same clips and recipe)
    and record the test fold's predictions after each epoch. The looks do not change training:
    the random state is saved and restored around each one, so the last epoch's predictions are
    those of ``run_protocol(dataset, protocol, model_fn, cfg, ...)``."""
    train_dataset = dataset if train_dataset is None else train_dataset
    info = dataset_info(dataset)
    labels = info.labels
    folds = protocol_folds(protocol, labels, info.groups, info.train_only)
    # a recipe with min_steps gives each fold its own number of epochs (`TrainConfig.for_data`): a fold
    # whose training has ended keeps its final predictions in the later rows
    fold_cfgs = {f.index: replace(cfg, seed=cfg.seed + f.index, progress=False).for_data(len(f.train)) for f in folds}
    epochs = max((c.epochs for c in fold_cfgs.values()), default=cfg.epochs)
    preds = np.full((epochs, len(labels)), -1, dtype=np.int64)
    models: dict[int, nn.Module] = {}
    for fold in progress_bar(folds, desc="folds", enabled=progress, leave=False):
        fold_cfg = fold_cfgs[fold.index]
        set_seed(fold_cfg.seed)
        model = model_fn()
        test = Subset(dataset, fold.test.tolist())

        def look(row: dict[str, Any], model: nn.Module = model, fold: Fold = fold, test: Dataset = test) -> None:
            state = torch.get_rng_state()
            preds[row["epoch"] - 1, fold.test] = predict(model, test, batch_size=max(cfg.batch_size, 32),
                                                         device=cfg.device, amp=cfg.amp)["pred"]
            torch.set_rng_state(state)

        models[fold.index] = train(model, Subset(train_dataset, fold.train.tolist()), fold_cfg,
                                   callback=look).model
        preds[fold_cfg.epochs:, fold.test] = preds[fold_cfg.epochs - 1, fold.test]
    return EpochTrace(folds, labels, info.classes, preds, models)


def sampling_spread(models: nn.Module | dict[int, nn.Module], views: dict[str, Dataset], labels: Sequence[int],
                    classes: Sequence[str], *, folds: Sequence[Fold] | None = None, repeats: int = 5,
                    ) -> pd.DataFrame:
    """Predict the test clips ``repeats`` times through each view (seeding torch's random stream with
    the repeat number) and tabulate how much the pooled UF1 and the predictions move. ``models``:
    one model for every clip, or with ``folds`` one model per fold (``{fold.index: model}``), each
    predicting its fold's test clips."""
    if repeats < 2:
        raise ConfigError(f"repeats={repeats}: need at least 2 to see a spread")
    labels = np.asarray(labels)
    if folds is None:
        if not isinstance(models, nn.Module):
            raise ConfigError("sampling_spread: several models need the folds they belong to (folds=...)")
        parts = [(models, np.arange(len(labels)))]
    else:
        parts = [(models[f.index], f.test) for f in folds]
    idx = np.concatenate([test for _, test in parts])
    rows = {}
    for name, view in views.items():
        probs = np.zeros((repeats, len(labels), len(classes)))
        for r in range(repeats):
            torch.manual_seed(r)
            for model, test in parts:
                probs[r, test] = predict(model, Subset(view, test.tolist()))["prob"]
        pred = probs[:, idx].argmax(2)
        uf1 = [compute_metrics(labels[idx], p, list(classes))["uf1"] for p in pred]
        rows[name] = {"UF1 min": min(uf1), "UF1 max": max(uf1),
                      "clips whose prediction changes": float((pred != pred[0]).any(0).mean()),
                      "max |Δ probability|": float(np.abs(probs[:, idx] - probs[0, idx]).max())}
    return pd.DataFrame(rows).T


def subject_correlated(labels: Sequence[int], groups: Sequence[str], favourite: int = 4, other: int = 1,
                       ) -> np.ndarray:
    """Indices of a subset in which subject number s (in sorted order) keeps ``favourite`` clips of
    class ``s mod C`` and ``other`` clips of each other class: labels that depend on the person.
    Raises `ConfigError` when a subject has too few clips of a class."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    keep = []
    for s, subject in enumerate(sorted(set(groups))):
        mine = np.flatnonzero(np.asarray(groups) == subject)
        for c in classes:
            want = favourite if c == classes[s % len(classes)] else other
            have = mine[labels[mine] == c]
            if len(have) < want:
                raise ConfigError(f"subject {subject}: {len(have)} clip(s) of class {c}, {want} needed")
            keep.extend(have[:want].tolist())
    return np.sort(np.asarray(keep, dtype=np.int64))


def face_shortcut_scores(features: np.ndarray, labels: Sequence[int], groups: Sequence[str],
                         protocols: dict[str, Protocol], classes: Sequence[str]) -> pd.DataFrame:
    """The identity shortcut as a classifier, scored on each protocol's folds: name a test clip's
    subject by its nearest training clip (1-NN on ``features``, one row per clip, e.g. the onset
    frame's pixels) and answer that subject's most frequent training label. It knows nothing about
    expressions, so whatever it scores above chance is the leak. Columns: the share of test clips
    whose subject is in training, the share whose subject it names, and its pooled UF1 and accuracy."""
    from sklearn.neighbors import KNeighborsClassifier

    labels, groups = np.asarray(labels, dtype=np.int64), np.asarray([str(g) for g in groups])
    if len(features) != len(labels):
        raise ConfigError(f"{len(features)} feature rows for {len(labels)} clips")
    rows = {}
    for name, protocol in protocols.items():
        folds = protocol_folds(protocol, labels, list(groups))
        pred = np.zeros(len(labels), dtype=np.int64)
        named = np.zeros(len(labels), dtype=bool)
        seen = np.zeros(len(labels), dtype=bool)
        for f in folds:
            knn = KNeighborsClassifier(n_neighbors=1).fit(features[f.train], groups[f.train])
            who = knn.predict(features[f.test])
            usual = {g: int(np.bincount(labels[f.train][groups[f.train] == g], minlength=len(classes)).argmax())
                     for g in set(who)}
            pred[f.test] = [usual[g] for g in who]
            named[f.test] = who == groups[f.test]
            seen[f.test] = np.isin(groups[f.test], groups[f.train])
        idx = np.concatenate([f.test for f in folds])
        m = compute_metrics(labels[idx], pred[idx], list(classes))
        rows[name] = {"test clips whose subject is in training": seen[idx].mean(),
                      "subject named right": named[idx].mean(), "UF1": m["uf1"], "accuracy": m["accuracy"]}
    return pd.DataFrame(rows).T
