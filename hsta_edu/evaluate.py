"""Evaluation that can be trusted: MEGC metrics, protocols as objects, folds as resumable jobs.

- Metrics (UF1, UAR, accuracy, per-class report, confusion matrix) come from scikit-learn
  and are computed on predictions **pooled over all folds** (the MEGC definition), with
  per-fold and per-dataset breakdowns (groups are ``dataset/subject``).
- Protocols: `LOSO` (one fold per subject, ``LeaveOneGroupOut``), `LODO` (leave one
  dataset out: train on the other corpora of a composite, test on one), `SubjectKFold`
  (subject-grouped, stratified k-fold) and `SampleKFold` (the paper's clip-level k-fold,
  which puts one subject in train and test and warns so).
- Train-only clips (the paper's Table 7: CAS(ME)^3 macro-expressions as extra training
  data): clips marked ``clip.meta["train_only"]`` (or given by ``train_only=``) never enter
  a test fold; each fold trains on them unless their subject is in its test fold, and the
  metrics are pooled over the other (micro-expression) clips only.
- `run_protocol` trains one model per fold with a fixed epoch budget (or picks the epoch on a
  validation split of *training* subjects only: never on the test fold), saves each fold's
  predictions atomically as it ends, skips finished folds on a rerun, runs a slice with
  ``shard=(i, n)``, and `merge_run` pools the folds into ``metrics.json``, ``predictions.csv``,
  ``confusion.png`` and ``report.md``.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score, recall_score
from sklearn.model_selection import (
    GroupShuffleSplit,
    LeaveOneGroupOut,
    StratifiedGroupKFold,
    StratifiedKFold,
)
from torch import nn
from torch.utils.data import Dataset, Subset
from tqdm.auto import tqdm

from .errors import ConfigError, DataError
from .io import atomic_write_json, atomic_write_text
from .train import TrainConfig, dataset_labels, predict, set_seed, train

__all__ = [
    "compute_metrics", "metrics_table", "Fold", "Protocol", "LOSO", "LODO", "SubjectKFold", "SampleKFold",
    "SubjectLeakageWarning", "make_protocol", "run_protocol", "merge_run", "RunResult", "parse_shard",
    "protocol_folds", "train_only_mask",
]


# ----------------------------------------------------------------------------------- metrics

def compute_metrics(y_true: Sequence[int], y_pred: Sequence[int], classes: Sequence[str] | None = None,
                    ) -> dict[str, Any]:
    """UF1, UAR, accuracy, confusion matrix and per-class report of one set of predictions.

    UF1 = mean over classes of 2TP / (2TP + FP + FN) (``f1_score(average="macro")``);
    UAR = mean over classes of TP / n_c (``recall_score(average="macro")``). The classes
    averaged over are those present in ``y_true`` or ``y_pred`` (scikit-learn's default): a
    class absent from both has no defined score and is not counted as zero; it is listed in
    ``absent_classes`` (and still has its row and column, all zero, in ``confusion``). Call it on
    the predictions pooled over all folds for the MEGC numbers.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise DataError(f"y_true and y_pred must be 1-D of the same length, got {y_true.shape} and {y_pred.shape}")
    if len(y_true) == 0:
        raise DataError("no predictions to score")
    n_classes = len(classes) if classes is not None else int(max(y_true.max(), y_pred.max())) + 1
    names = list(classes) if classes is not None else [str(i) for i in range(n_classes)]
    bad = [int(v) for v in np.unique(np.concatenate([y_true, y_pred])) if not 0 <= v < n_classes]
    if bad:
        raise DataError(f"labels {bad} are outside 0..{n_classes - 1} (classes {names})")
    present = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    report = classification_report(y_true, y_pred, labels=list(range(n_classes)), target_names=names,
                                   output_dict=True, zero_division=0)
    return {
        "uf1": float(f1_score(y_true, y_pred, average="macro", labels=present, zero_division=0)),
        "uar": float(recall_score(y_true, y_pred, average="macro", labels=present, zero_division=0)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "n_samples": int(len(y_true)),
        "classes": names,
        "absent_classes": [names[i] for i in range(n_classes) if i not in present],
        "confusion": confusion_matrix(y_true, y_pred, labels=list(range(n_classes))).tolist(),
        "report": report,
    }


def metrics_table(predictions: pd.DataFrame, by: str, classes: Sequence[str] | None = None) -> pd.DataFrame:
    """UF1 / UAR / accuracy / n per value of column ``by`` (e.g. "fold" or "dataset") of a
    predictions table with ``y_true`` and ``y_pred`` columns."""
    rows = []
    for key, part in predictions.groupby(by, sort=True):
        m = compute_metrics(part["y_true"], part["y_pred"], classes)
        rows.append({by: key, "uf1": m["uf1"], "uar": m["uar"], "accuracy": m["accuracy"], "n": m["n_samples"]})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------- protocols

class SubjectLeakageWarning(UserWarning):
    """The protocol puts clips of one subject in both training and test folds."""


class MissingClassWarning(UserWarning):
    """A fold's training set holds no clip of some class (the fold still trains and is scored;
    pooled metrics keep every class)."""


@dataclass(frozen=True)
class Fold:
    """One train/test split: positions into the dataset, and the fold's name (LOSO: the subject)."""
    index: int
    name: str
    train: np.ndarray
    test: np.ndarray


class Protocol:
    """A cross-validation protocol: ``split(labels, groups) -> list[Fold]``."""

    name = "protocol"
    subject_independent = True

    def split(self, labels: Sequence[int], groups: Sequence[str]) -> list[Fold]:  # pragma: no cover
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name}

    def _check(self, labels: Sequence[int], groups: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        labels = np.asarray(labels, dtype=np.int64)
        groups = np.asarray([str(g) for g in groups])
        if len(labels) != len(groups):
            raise DataError(f"{len(labels)} labels but {len(groups)} groups")
        if len(labels) == 0:
            raise DataError("cannot split an empty dataset")
        return labels, groups


class LOSO(Protocol):
    """Leave one subject out: one fold per group (``dataset/subject``), in sorted group order."""

    name = "loso"

    def split(self, labels: Sequence[int], groups: Sequence[str]) -> list[Fold]:
        labels, groups = self._check(labels, groups)
        if len(set(groups)) < 2:
            raise DataError(f"LOSO needs at least 2 subjects, got {sorted(set(groups))}")
        folds = []
        for i, (tr, te) in enumerate(LeaveOneGroupOut().split(np.zeros(len(labels)), labels, groups)):
            folds.append(Fold(i, str(groups[te[0]]), tr, te))
        return folds


def dataset_of(group: str) -> str:
    """The corpus of a LOSO group ``dataset/subject`` ('samm/006' -> 'samm')."""
    return str(group).split("/", 1)[0]


class LODO(Protocol):
    """Leave one dataset out: one fold per corpus (the part of the group before '/'), trained on
    the other corpora, as the MEGC composite's cross-database protocol. Fold names are the
    held-out corpora; `merge_run`'s per-dataset table gives the score per held-out corpus and
    ``metrics`` the pooled one."""

    name = "lodo"

    def split(self, labels: Sequence[int], groups: Sequence[str]) -> list[Fold]:
        labels, groups = self._check(labels, groups)
        datasets = np.asarray([dataset_of(g) for g in groups])
        if len(set(datasets)) < 2:
            raise DataError(f"leave-one-dataset-out needs clips of at least 2 datasets, got {sorted(set(datasets))} "
                            "(load the MEGC2019 composite, or concatenate corpora)")
        return [Fold(i, str(datasets[te[0]]), tr, te)
                for i, (tr, te) in enumerate(LeaveOneGroupOut().split(np.zeros(len(labels)), labels, datasets))]


class SubjectKFold(Protocol):
    """k folds of whole subjects, stratified by class where possible (``StratifiedGroupKFold``)."""

    name = "subject-kfold"

    def __init__(self, k: int = 5, seed: int = 0, stratified: bool = True) -> None:
        if k < 2:
            raise ConfigError(f"SubjectKFold needs k >= 2, got {k}")
        self.k, self.seed, self.stratified = k, seed, stratified

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "k": self.k, "seed": self.seed, "stratified": self.stratified}

    def split(self, labels: Sequence[int], groups: Sequence[str]) -> list[Fold]:
        labels, groups = self._check(labels, groups)
        if len(set(groups)) < self.k:
            raise DataError(f"SubjectKFold(k={self.k}) needs at least {self.k} subjects, got {len(set(groups))}")
        splitter = StratifiedGroupKFold(self.k, shuffle=True, random_state=self.seed)
        return [Fold(i, f"fold{i}", tr, te)
                for i, (tr, te) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups))]


class SampleKFold(Protocol):
    """The paper's (and reference code's) clip-level stratified k-fold. Clips of one subject
    land in both training and test, so scores are optimistic; it warns each time."""

    name = "sample-kfold"
    subject_independent = False

    def __init__(self, k: int = 5, seed: int = 0) -> None:
        if k < 2:
            raise ConfigError(f"SampleKFold needs k >= 2, got {k}")
        self.k, self.seed = k, seed

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "k": self.k, "seed": self.seed}

    def split(self, labels: Sequence[int], groups: Sequence[str]) -> list[Fold]:
        labels, groups = self._check(labels, groups)
        warnings.warn("SampleKFold splits clips, not subjects: the same subjects appear in training and test "
                      "folds, so its scores overstate subject-independent accuracy (use LOSO or SubjectKFold)",
                      SubjectLeakageWarning, stacklevel=2)
        splitter = StratifiedKFold(self.k, shuffle=True, random_state=self.seed)
        return [Fold(i, f"fold{i}", tr, te)
                for i, (tr, te) in enumerate(splitter.split(np.zeros(len(labels)), labels))]


def make_protocol(spec: dict[str, Any] | str) -> Protocol:
    """Rebuild a protocol from its ``to_dict()`` (or a name: "loso", "lodo", "subject-kfold", "sample-kfold")."""
    spec = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = spec.pop("name")
    if name == "loso":
        return LOSO()
    if name == "lodo":
        return LODO()
    if name == "subject-kfold":
        return SubjectKFold(**spec)
    if name == "sample-kfold":
        return SampleKFold(**spec)
    raise ConfigError(f"unknown protocol {name!r}; choose loso, lodo, subject-kfold or sample-kfold")


def parse_shard(text: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """"i/n" or (i, n) -> (i, n) with 0 <= i < n; None stays None."""
    if text is None:
        return None
    try:
        i, n = (int(x) for x in (text.split("/") if isinstance(text, str) else text))
    except (ValueError, TypeError):
        raise ConfigError(f"shard must look like 'i/n' (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ConfigError(f"shard {i}/{n}: need 0 <= i < n")
    return i, n


# ----------------------------------------------------------------------------------- runs

@dataclass
class RunResult:
    """A run folder's state. ``complete`` once every fold has predictions; then ``metrics``
    (pooled), ``predictions`` (one row per clip), ``per_fold`` and ``per_dataset`` are set."""

    run_dir: Path
    n_folds: int
    folds_done: list[int]
    complete: bool
    metrics: dict[str, Any] | None = None
    predictions: pd.DataFrame | None = None
    per_fold: pd.DataFrame | None = None
    per_dataset: pd.DataFrame | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The headline numbers as a flat dict (what ``hsta-edu ... --json`` prints)."""
        out: dict[str, Any] = {"run_dir": str(self.run_dir), "n_folds": self.n_folds,
                               "folds_done": len(self.folds_done), "complete": self.complete}
        if self.metrics is not None:
            m = self.metrics
            out.update(uf1=m["uf1"], uar=m["uar"], accuracy=m["accuracy"], n_samples=m["n_samples"],
                       train_seconds=m.get("fold_seconds"))
            if self.per_dataset is not None and len(self.per_dataset) > 1:
                out["per_dataset"] = {r["dataset"]: {"uf1": r["uf1"], "uar": r["uar"], "n": int(r["n"])}
                                      for _, r in self.per_dataset.iterrows()}
        return out

    def plot_confusion(self, normalize: bool = True, **kwargs: Any):
        from .viz import plot_confusion
        if self.metrics is None:
            raise DataError(f"run {self.run_dir} is not complete: {len(self.folds_done)}/{self.n_folds} folds")
        return plot_confusion(self.metrics["confusion"], self.metrics["classes"], normalize=normalize, **kwargs)


def _uids(dataset: Dataset) -> list[str]:
    base = dataset.dataset if isinstance(dataset, Subset) else dataset
    index = getattr(base, "index", None)
    clips = getattr(index, "clips", None)
    uids = [c.uid for c in clips] if clips is not None else [str(i) for i in range(len(base))]
    if isinstance(dataset, Subset):
        uids = [uids[i] for i in dataset.indices]
    return uids


def _groups(dataset: Dataset) -> list[str]:
    if isinstance(dataset, Subset):
        g = _groups(dataset.dataset)
        return [g[i] for i in dataset.indices]
    groups = getattr(dataset, "groups", None)
    if groups is None:
        raise DataError("the dataset needs a `groups` attribute (dataset/subject of every item) for subject "
                        "protocols; MERDataset has one")
    return [str(x) for x in groups]


def _classes(dataset: Dataset) -> list[str]:
    base = dataset.dataset if isinstance(dataset, Subset) else dataset
    classes = getattr(base, "classes", None)
    if classes is None:
        return [str(i) for i in range(int(dataset_labels(dataset).max()) + 1)]
    return [str(c) for c in classes]


def train_only_mask(dataset: Dataset, train_only: Sequence[bool] | bool | None = None) -> np.ndarray:
    """Which items are train-only: ``train_only`` as given (a mask, or False for none), else the
    dataset's clips marked ``clip.meta["train_only"]`` (CAS(ME)^3 macro-expressions loaded with
    ``macro=True``)."""
    n = len(dataset)
    if train_only is False:
        return np.zeros(n, dtype=bool)
    if train_only is not None and train_only is not True:
        mask = np.asarray(train_only)
        if mask.shape != (n,) or mask.dtype != bool:
            raise DataError(f"train_only must be {n} booleans (one per clip), got shape {mask.shape} "
                            f"dtype {mask.dtype}")
        return mask
    base = dataset.dataset if isinstance(dataset, Subset) else dataset
    clips = getattr(getattr(base, "index", None), "clips", None)
    if clips is None:
        return np.zeros(n, dtype=bool)
    mask = np.asarray([bool(c.meta.get("train_only", False)) for c in clips], dtype=bool)
    return mask[list(dataset.indices)] if isinstance(dataset, Subset) else mask


def protocol_folds(protocol: Protocol, labels: Sequence[int], groups: Sequence[str],
                   train_only: np.ndarray | None = None) -> list[Fold]:
    """The folds of ``protocol`` over the clips, with train-only clips never in a test fold.

    The protocol splits the other clips; each fold then also trains on every train-only
    clip whose group (subject) is not among the fold's test groups. Positions refer to
    the whole dataset."""
    labels = np.asarray(labels, dtype=np.int64)
    groups_arr = np.asarray([str(g) for g in groups])
    if train_only is None or not train_only.any():
        return protocol.split(labels, groups_arr)
    main = np.flatnonzero(~train_only)
    extra = np.flatnonzero(train_only)
    if len(main) == 0:
        raise DataError("every clip is train-only: there is nothing to test on")
    folds = []
    for f in protocol.split(labels[main], groups_arr[main]):
        test = main[f.test]
        test_groups = set(groups_arr[test])
        keep = np.asarray([g not in test_groups for g in groups_arr[extra]], dtype=bool)
        train = np.sort(np.concatenate([main[f.train], extra[keep]]))
        folds.append(Fold(f.index, f.name, train, test))
    return folds


def _fold_file(run_dir: Path, index: int) -> Path:
    return run_dir / "folds" / f"fold_{index:03d}.json"


def run_protocol(dataset: Dataset, protocol: Protocol, model_fn: Callable[[], nn.Module], cfg: TrainConfig,
                 run_dir: str | Path, *, train_dataset: Dataset | None = None,
                 shard: tuple[int, int] | str | None = None, val_subjects: float = 0.0,
                 info: dict[str, Any] | None = None, keep_checkpoints: bool = False,
                 progress: bool | None = None, train_only: Sequence[bool] | bool | None = None) -> RunResult:
    """Run ``protocol`` over ``dataset`` into ``run_dir``; each fold is an independent job.

    ``dataset`` is the deterministic view (``MERDataset(..., train=False)``): test clips and
    validation clips come from it; ``train_dataset`` (same clips, same order, usually with
    ``train=True`` augmentation) feeds training; it defaults to ``dataset``.
    ``model_fn()`` builds a fresh model; it is called after seeding with ``cfg.seed + fold``,
    so every fold is reproducible on its own, in any order and on any shard.
    ``val_subjects`` > 0 holds out that fraction (or number, if >= 1) of the *training*
    subjects as a validation set and sets ``select="best_val"``; 0 keeps a fixed epoch budget.
    ``shard=(i, n)`` runs folds ``i, i+n, i+2n, ...`` only. Finished folds (their JSON file
    exists) are skipped; an interrupted fold resumes from its last epoch checkpoint.
    ``info`` (model preset and options, data, preprocessing) is stored in ``config.json``; a
    run folder holding another configuration is refused rather than mixed.
    ``train_only``: clips that only ever train (see `train_only_mask`; default: the clips
    marked ``clip.meta["train_only"]``, e.g. CAS(ME)^3 macro-expressions); the metrics are
    pooled over the other clips.
    Returns `merge_run`'s result when all folds are done, else a partial `RunResult`.
    """
    run_dir = Path(run_dir)
    shard = parse_shard(shard)
    progress = cfg.progress if progress is None else progress
    train_dataset = dataset if train_dataset is None else train_dataset
    labels = dataset_labels(dataset)
    if len(train_dataset) != len(dataset) or not np.array_equal(dataset_labels(train_dataset), labels):
        raise DataError("train_dataset must hold the same clips in the same order as dataset")
    groups = _groups(dataset)
    uids = _uids(dataset)
    classes = _classes(dataset)
    extra = train_only_mask(dataset, train_only)
    folds = protocol_folds(protocol, labels, groups, extra)

    fold_cfg = cfg
    if val_subjects:
        fold_cfg = TrainConfig.from_dict({**cfg.to_dict(), "select": "best_val"})
    config = {
        "format": "hsta_edu.run/1", "protocol": protocol.to_dict(), "train_config": fold_cfg.to_dict(),
        "val_subjects": val_subjects, "n_folds": len(folds), "n_samples": int(len(labels) - extra.sum()),
        "classes": classes, "info": info or {},
        "folds": [{"index": f.index, "name": f.name, "n_train": int(len(f.train)), "n_test": int(len(f.test))}
                  for f in folds],
    }
    if extra.any():
        config["n_train_only"] = int(extra.sum())
        config["train_only_uids"] = [uids[i] for i in np.flatnonzero(extra)]
    comparable = {k: v for k, v in config.items() if k != "info"}
    comparable["train_config"] = {k: v for k, v in fold_cfg.to_dict().items()
                                  if k not in ("progress", "device", "num_workers")}
    config["fingerprint"] = json.dumps(comparable, sort_keys=True)
    cfg_file = run_dir / "config.json"
    if cfg_file.exists():
        old = json.loads(cfg_file.read_text())
        if old.get("fingerprint") != config["fingerprint"]:
            raise ConfigError(f"{run_dir} holds a different run (protocol, training recipe, folds or data "
                              "differ); use a new run folder or delete this one")
    else:
        atomic_write_json(cfg_file, config)

    todo = [f for f in folds if shard is None or f.index % shard[1] == shard[0]]
    bar = tqdm(todo, desc=f"{protocol.name} folds", disable=not progress)
    for fold in bar:
        out = _fold_file(run_dir, fold.index)
        if out.exists():
            continue
        bar.set_postfix(fold=fold.name)
        _run_fold(dataset, train_dataset, fold, model_fn, fold_cfg, run_dir, labels, groups, uids,
                  protocol, val_subjects, keep_checkpoints, progress, extra)
    bar.close()
    done = sorted(f.index for f in folds if _fold_file(run_dir, f.index).exists())
    if len(done) == len(folds):
        return merge_run(run_dir)
    return RunResult(run_dir=run_dir, n_folds=len(folds), folds_done=done, complete=False)


def _val_split(train_idx: np.ndarray, groups: Sequence[str], val_subjects: float, seed: int,
               ) -> tuple[np.ndarray, np.ndarray]:
    g = np.asarray([groups[i] for i in train_idx])
    n_groups = len(set(g))
    n_val = int(val_subjects) if val_subjects >= 1 else max(1, int(round(val_subjects * n_groups)))
    if n_val >= n_groups:
        raise ConfigError(f"val_subjects={val_subjects} leaves no training subject ({n_groups} available)")
    tr, va = next(GroupShuffleSplit(n_splits=1, test_size=n_val, random_state=seed).split(train_idx, groups=g))
    return train_idx[tr], train_idx[va]


def _run_fold(dataset, train_dataset, fold: Fold, model_fn, cfg: TrainConfig, run_dir: Path, labels, groups,
              uids, protocol: Protocol, val_subjects: float, keep_checkpoints: bool, progress: bool,
              extra: np.ndarray | None = None) -> None:
    t0 = time.time()
    train_groups = sorted({groups[i] for i in fold.train})
    test_groups = sorted({groups[i] for i in fold.test})
    overlap = sorted(set(train_groups) & set(test_groups))
    if protocol.subject_independent and overlap:
        raise DataError(f"fold {fold.name}: subjects {overlap} are in both train and test")
    if extra is not None and extra[fold.test].any():
        raise DataError(f"fold {fold.name}: train-only clips in the test fold")
    train_idx, val_idx = fold.train, np.zeros(0, dtype=np.int64)
    if val_subjects:
        train_idx, val_idx = _val_split(fold.train, groups, val_subjects, cfg.seed + fold.index)
        if extra is not None:   # validate on the scored kind of clip only; its subjects stay out of training
            val_idx = val_idx[~extra[val_idx]]
            if len(val_idx) == 0:
                raise ConfigError(f"fold {fold.name}: the validation subjects have only train-only clips")
    classes = _classes(train_dataset)
    absent = [c for i, c in enumerate(classes) if not np.any(labels[train_idx] == i)]
    if absent:
        warnings.warn(f"fold {fold.name}: no training clip of class(es) {absent}; the fold trains without "
                      "them (it cannot predict them) and pooled metrics still count every class",
                      MissingClassWarning, stacklevel=3)
    fold_cfg = TrainConfig.from_dict({**cfg.to_dict(), "seed": cfg.seed + fold.index,
                                      "progress": progress and cfg.progress})
    set_seed(fold_cfg.seed)
    model = model_fn()
    ckpt_dir = run_dir / "checkpoints" / f"fold_{fold.index:03d}"
    result = train(model, Subset(train_dataset, train_idx.tolist()), fold_cfg, checkpoint_dir=ckpt_dir,
                   val_dataset=Subset(dataset, val_idx.tolist()) if len(val_idx) else None,
                   desc=f"fold {fold.name}")
    pred = predict(result.model, Subset(dataset, fold.test.tolist()), batch_size=max(cfg.batch_size, 32),
                   device=cfg.device, amp=cfg.amp)
    record = {
        "index": fold.index, "name": fold.name, "test_index": fold.test.tolist(),
        "uid": [uids[i] for i in fold.test], "group": [groups[i] for i in fold.test],
        "y_true": [int(labels[i]) for i in fold.test], "y_pred": pred["pred"].tolist(),
        "prob": np.round(pred["prob"].astype(np.float64), 6).tolist(),
        "train_groups": train_groups, "val_groups": sorted({groups[i] for i in val_idx}),
        "test_groups": test_groups, "n_train": int(len(train_idx)), "n_val": int(len(val_idx)),
        "absent_train_classes": absent,
        "n_train_only": int(extra[train_idx].sum()) if extra is not None else 0,
        "best_epoch": result.best_epoch, "epochs": int(len(result.history)),
        "history": result.history.to_dict(orient="records"), "device": result.device,
        "seconds": time.time() - t0,
    }
    atomic_write_json(_fold_file(run_dir, fold.index), record)
    if not keep_checkpoints:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        try:
            ckpt_dir.parent.rmdir()   # only when no other fold's checkpoint is left
        except OSError:
            pass


def merge_run(run_dir: str | Path, write: bool = True) -> RunResult:
    """Pool every fold of a run folder: metrics on all predictions at once (MEGC), plus per-fold
    and per-dataset tables; writes ``metrics.json``, ``predictions.csv``, ``per_fold.csv``,
    ``confusion.png`` and ``report.md``. A run with folds missing is reported, not scored."""
    run_dir = Path(run_dir)
    cfg_file = run_dir / "config.json"
    if not cfg_file.exists():
        raise DataError(f"{run_dir} is not a run folder (no config.json)")
    config = json.loads(cfg_file.read_text())
    n_folds = int(config["n_folds"])
    records = []
    for f in config["folds"]:
        path = _fold_file(run_dir, f["index"])
        if path.exists():
            try:
                records.append(json.loads(path.read_text()))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path} is not valid JSON ({exc}); delete it to rerun that fold") from exc
    done = sorted(r["index"] for r in records)
    if len(records) < n_folds:
        return RunResult(run_dir=run_dir, n_folds=n_folds, folds_done=done, complete=False)
    classes = config["classes"]
    rows = []
    for r in records:
        for j, uid in enumerate(r["uid"]):
            row = {"fold": r["index"], "fold_name": r["name"], "index": r["test_index"][j], "uid": uid,
                   "group": r["group"][j], "dataset": r["group"][j].split("/")[0],
                   "y_true": r["y_true"][j], "y_pred": r["y_pred"][j],
                   "true": classes[r["y_true"][j]], "pred": classes[r["y_pred"][j]]}
            row.update({f"p_{c}": p for c, p in zip(classes, r["prob"][j], strict=True)})
            rows.append(row)
    predictions = pd.DataFrame(rows).sort_values("index").reset_index(drop=True)
    if predictions["index"].duplicated().any():
        dup = predictions.loc[predictions["index"].duplicated(), "uid"].tolist()[:5]
        raise DataError(f"{run_dir}: clips scored in more than one fold (e.g. {dup}); the folds overlap")
    metrics = compute_metrics(predictions["y_true"], predictions["y_pred"], classes)
    per_fold = metrics_table(predictions, "fold", classes)
    per_fold.insert(1, "name", [next(r["name"] for r in records if r["index"] == i) for i in per_fold["fold"]])
    per_fold["seconds"] = [next(r["seconds"] for r in records if r["index"] == i) for i in per_fold["fold"]]
    per_dataset = metrics_table(predictions, "dataset", classes)
    fold_seconds = float(sum(r["seconds"] for r in records))
    metrics.update(n_folds=n_folds, protocol=config["protocol"], fold_seconds=fold_seconds,
                   per_dataset=per_dataset.set_index("dataset").to_dict(orient="index"),
                   per_fold_uf1_mean=float(per_fold["uf1"].mean()),
                   best_epochs=[r["best_epoch"] for r in records] if config.get("val_subjects") else None)
    result = RunResult(run_dir=run_dir, n_folds=n_folds, folds_done=done, complete=True, metrics=metrics,
                       predictions=predictions, per_fold=per_fold, per_dataset=per_dataset,
                       seconds=fold_seconds, extra={"config": config})
    if write:
        atomic_write_json(run_dir / "metrics.json", metrics)
        atomic_write_text(run_dir / "predictions.csv", predictions.to_csv(index=False))
        atomic_write_text(run_dir / "per_fold.csv", per_fold.to_csv(index=False))
        from .viz import plot_confusion, save_figure
        save_figure(plot_confusion(metrics["confusion"], classes, normalize=True,
                                   title=f"{config['protocol']['name']}: UF1 {metrics['uf1']:.3f}"),
                    run_dir / "confusion.png")
        atomic_write_text(run_dir / "report.md", _report_md(result, config))
    return result


def _report_md(result: RunResult, config: dict[str, Any]) -> str:
    m = result.metrics
    assert m is not None and result.per_fold is not None and result.per_dataset is not None
    info = config.get("info", {})
    tc = config["train_config"]
    lines = [
        f"# {config['protocol']['name'].upper()} run: {info.get('data', '')}".rstrip(": "),
        "",
        f"- Protocol: `{json.dumps(config['protocol'])}`; {result.n_folds} folds, {m['n_samples']} clips, "
        f"classes {', '.join(m['classes'])}",
        f"- Model: `{info.get('preset', '?')}` {json.dumps(info.get('model_overrides', {}))}",
        f"- Training: {tc['epochs']} epochs, batch {tc['batch_size']}, lr {tc['lr']}, loss {tc['loss']}, "
        f"selection `{tc['select']}`" + (f" on {config['val_subjects']} held-out training subjects"
                                         if config.get("val_subjects") else " (fixed epoch budget)"),
        f"- Training time, all folds: {m['fold_seconds']:.0f} s",
        *([f"- Extra training data: {config['n_train_only']} train-only clips (never tested; each fold trains "
           "on those of subjects outside its test fold); metrics below are over the other clips only"]
          if config.get("n_train_only") else []),
        "",
        "Metrics on predictions pooled over all folds (MEGC definition):",
        "",
        "| UF1 | UAR | Accuracy | n |",
        "|---|---|---|---|",
        f"| {m['uf1']:.4f} | {m['uar']:.4f} | {m['accuracy']:.4f} | {m['n_samples']} |",
        "",
    ]
    if len(result.per_dataset) > 1:
        lines += ["Per dataset (same run):", "", "| dataset | UF1 | UAR | accuracy | n |", "|---|---|---|---|---|"]
        lines += [f"| {r.dataset} | {r.uf1:.4f} | {r.uar:.4f} | {r.accuracy:.4f} | {r.n} |"
                  for r in result.per_dataset.itertuples()]
        lines.append("")
    lines += ["Per fold (for inspection; a fold's UF1 over few clips is noisy, and their mean is not the "
              "reported score):", "", "| fold | name | UF1 | accuracy | n |", "|---|---|---|---|---|"]
    lines += [f"| {r.fold} | {r.name} | {r.uf1:.3f} | {r.accuracy:.3f} | {r.n} |" for r in result.per_fold.itertuples()]
    lines += ["", "![confusion matrix](confusion.png)", ""]
    return "\n".join(lines)

