"""One fold of a protocol run, as every executor runs it: train on the fold's training subjects
(less the validation subjects, when the run holds some out), predict the test subjects
deterministically, and write the fold's record atomically into the run folder."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupShuffleSplit
from torch.utils.data import Subset

from ..errors import ConfigError, DataError, Interrupted
from ..evaluate.protocols import Fold, MissingClassWarning, fold_cost
from ..evaluate.results import fold_file
from ..io import atomic_write_json
from ..training import predict, set_seed, train
from .spec import RunSpec


def fold_order(folds: Sequence[Fold]) -> list[Fold]:
    """The folds largest first (`fold_cost`: training clips, then test clips; ties by fold index):
    the longest jobs start first, so parallel workers finish at nearly the same time."""
    return sorted(folds, key=lambda f: (tuple(-c for c in fold_cost(f)), f.index))


def val_split(train_idx: np.ndarray, groups: Sequence[str], val_subjects: float, seed: int,
              ) -> tuple[np.ndarray, np.ndarray]:
    """``train_idx`` split by subject into (training, validation): ``val_subjects`` subjects (a
    number >= 1) or that share of them (at least one), drawn with ``seed``."""
    g = np.asarray([groups[i] for i in train_idx])
    n_groups = len(set(g))
    n_val = int(val_subjects) if val_subjects >= 1 else max(1, int(round(val_subjects * n_groups)))
    if n_val >= n_groups:
        raise ConfigError(f"val_subjects={val_subjects} leaves no training subject ({n_groups} available)")
    tr, va = next(GroupShuffleSplit(n_splits=1, test_size=n_val, random_state=seed).split(train_idx, groups=g))
    return train_idx[tr], train_idx[va]


def _split(spec: RunSpec, fold: Fold) -> tuple[np.ndarray, np.ndarray]:
    """The fold's training and validation clips, after checking that no subject is on both sides."""
    groups, extra = spec.groups, spec.train_only
    overlap = sorted({groups[i] for i in fold.train} & {groups[i] for i in fold.test})
    if spec.protocol.subject_independent and overlap:
        raise DataError(f"fold {fold.name}: subjects {overlap} are in both train and test")
    if extra[fold.test].any():
        raise DataError(f"fold {fold.name}: train-only clips in the test fold")
    train_idx, val_idx = fold.train, np.zeros(0, dtype=np.int64)
    if spec.options.val_subjects:
        train_idx, val_idx = val_split(fold.train, groups, spec.options.val_subjects, spec.cfg.seed + fold.index)
        val_idx = val_idx[~extra[val_idx]]   # validate on the scored kind of clip; its subjects stay out of training
        if len(val_idx) == 0:
            raise ConfigError(f"fold {fold.name}: the validation subjects have only train-only clips")
    return train_idx, val_idx


def run_fold(spec: RunSpec, fold: Fold, device: str | None = None, progress: bool = False) -> float:
    """Train and test ``fold`` of ``spec`` (on ``device`` when given, else the recipe's), write its
    record (``folds/fold_NNN.json``) and delete its checkpoint unless the run keeps them. An
    interrupted fold resumes from its checkpoint. Returns the seconds it took."""
    t0 = time.time()
    labels, groups, uids = spec.labels, spec.groups, spec.uids
    train_idx, val_idx = _split(spec, fold)
    absent = [c for i, c in enumerate(spec.classes) if not np.any(labels[train_idx] == i)]
    if absent:
        warnings.warn(f"fold {fold.name}: no training clip of class(es) {absent}; the fold trains without "
                      "them (it cannot predict them) and pooled metrics still count every class",
                      MissingClassWarning, stacklevel=2)
    cfg = replace(spec.cfg, seed=spec.cfg.seed + fold.index, progress=progress and spec.cfg.progress,
                  **({"device": device} if device else {}))
    set_seed(cfg.seed)
    model = spec.model_fn()
    ckpt_dir = spec.run_dir / "checkpoints" / f"fold_{fold.index:03d}"
    try:
        result = train(model, Subset(spec.train_dataset, train_idx.tolist()), cfg, checkpoint_dir=ckpt_dir,
                       checkpoint_every=spec.options.checkpoint_every,
                       val_dataset=Subset(spec.dataset, val_idx.tolist()) if len(val_idx) else None,
                       desc=f"fold {fold.name}")
    except Interrupted as exc:
        raise Interrupted(f"{exc} of fold {fold.name}") from None
    pred = predict(result.model, Subset(spec.dataset, fold.test.tolist()), batch_size=max(cfg.batch_size, 32),
                   device=cfg.device, amp=cfg.amp)
    record = {
        "index": fold.index, "name": fold.name, "run_id": spec.run_id, "test_index": fold.test.tolist(),
        "uid": [uids[i] for i in fold.test], "group": [groups[i] for i in fold.test],
        "y_true": [int(labels[i]) for i in fold.test], "y_pred": pred["pred"].tolist(),
        "prob": np.round(pred["prob"].astype(np.float64), 6).tolist(),
        "train_groups": sorted({groups[i] for i in fold.train}), "val_groups": sorted({groups[i] for i in val_idx}),
        "test_groups": sorted({groups[i] for i in fold.test}), "n_train": int(len(train_idx)),
        "n_val": int(len(val_idx)), "absent_train_classes": absent,
        "n_train_only": int(spec.train_only[train_idx].sum()),
        "best_epoch": result.best_epoch, "epochs": int(len(result.history)),
        "resumed_from": int(result.resumed_from),
        "history": result.history.to_dict(orient="records"), "device": result.device,
        "seconds": time.time() - t0,
    }
    atomic_write_json(fold_file(spec.run_dir, fold.index), record)
    if not spec.options.keep_checkpoints:
        _remove_checkpoint(ckpt_dir)
    return time.time() - t0


def _remove_checkpoint(ckpt_dir: Path) -> None:
    for name in ("last.pt", "pretrain_checkpoint.pt"):   # the latter: TrainConfig.pretrain_epochs
        (ckpt_dir / name).unlink(missing_ok=True)
    for folder in (ckpt_dir, ckpt_dir.parent):
        try:
            folder.rmdir()   # only when empty: another fold's checkpoint, or a user's file, stays
        except OSError:
            break
