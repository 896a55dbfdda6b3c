"""Cross-validation protocols as frozen dataclasses, and the folds they make.

- `LOSO` (one fold per subject, ``LeaveOneGroupOut``), `LODO` (leave one dataset out: train on
  the other corpora of a composite, test on one), `SubjectKFold` (subject-grouped, stratified
  k-fold) and `SampleKFold` (the paper's clip-level k-fold, which puts one subject in train and
  test and warns so). The two k-fold protocols share `KFoldProtocol`, which checks ``k``.
- A protocol's fields are its whole configuration: ``to_dict()`` is ``{"name": ..., **fields}``
  and `make_protocol` rebuilds it from that dict (or from a bare name) through the `PROTOCOLS`
  registry. Run folders store ``to_dict()`` in their fingerprint, so names and fields are a
  stored format: renaming one stops old run folders from resuming.
- Train-only clips (`train_only_mask`) never enter a test fold; `protocol_folds` adds them to
  the training side of every fold whose test subjects they do not share.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, StratifiedGroupKFold, StratifiedKFold
from torch.utils.data import Dataset

from ..data.labelled import dataset_info
from ..errors import ConfigError, DataError, check_fields


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


@dataclass(frozen=True)
class Protocol:
    """A cross-validation protocol: ``split(labels, groups) -> list[Fold]``.

    Subclasses are frozen dataclasses whose fields are their options; ``name`` (the registry
    key) and ``subject_independent`` (whether no subject may be in train and test of a fold)
    are facts of the class, not options."""

    name: ClassVar[str] = "protocol"
    subject_independent: ClassVar[bool] = True

    def split(self, labels: Sequence[int], groups: Sequence[str]) -> list[Fold]:  # pragma: no cover
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., **fields}``: what `make_protocol` rebuilds the protocol from."""
        return {"name": self.name, **{f.name: getattr(self, f.name) for f in fields(self)}}

    def _check(self, labels: Sequence[int], groups: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        labels = np.asarray(labels, dtype=np.int64)
        groups = np.asarray([str(g) for g in groups])
        if len(labels) != len(groups):
            raise DataError(f"{len(labels)} labels but {len(groups)} groups")
        if len(labels) == 0:
            raise DataError("cannot split an empty dataset")
        return labels, groups


@dataclass(frozen=True)
class LOSO(Protocol):
    """Leave one subject out: one fold per group (``dataset/subject``), in sorted group order."""

    name: ClassVar[str] = "loso"

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


@dataclass(frozen=True)
class LODO(Protocol):
    """Leave one dataset out: one fold per corpus (the part of the group before '/'), trained on
    the other corpora, as the MEGC composite's cross-database protocol. Fold names are the
    held-out corpora; `merge_run`'s per-dataset table gives the score per held-out corpus and
    ``metrics`` the pooled one."""

    name: ClassVar[str] = "lodo"

    def split(self, labels: Sequence[int], groups: Sequence[str]) -> list[Fold]:
        labels, groups = self._check(labels, groups)
        datasets = np.asarray([dataset_of(g) for g in groups])
        if len(set(datasets)) < 2:
            raise DataError(f"leave-one-dataset-out needs clips of at least 2 datasets, got {sorted(set(datasets.tolist()))} "
                            "(load the MEGC2019 composite, or concatenate corpora)")
        return [Fold(i, str(datasets[te[0]]), tr, te)
                for i, (tr, te) in enumerate(LeaveOneGroupOut().split(np.zeros(len(labels)), labels, datasets))]


@dataclass(frozen=True)
class KFoldProtocol(Protocol):
    """Base of the k-fold protocols: ``k`` folds (an integer >= 2), shuffled with ``seed``.
    Folds are named ``fold0``, ``fold1``, ..."""

    k: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, numbers.Integral) or self.k < 2:
            raise ConfigError(f"{type(self).__name__} needs k >= 2, got {self.k}")

    def _folds(self, splits) -> list[Fold]:
        return [Fold(i, f"fold{i}", tr, te) for i, (tr, te) in enumerate(splits)]


@dataclass(frozen=True)
class SubjectKFold(KFoldProtocol):
    """k folds of whole subjects, stratified by class where possible (``StratifiedGroupKFold``);
    ``stratified=False`` balances the folds by size only (``GroupKFold``, subjects shuffled with
    ``seed``)."""

    name: ClassVar[str] = "subject-kfold"
    stratified: bool = True

    def split(self, labels: Sequence[int], groups: Sequence[str]) -> list[Fold]:
        labels, groups = self._check(labels, groups)
        if len(set(groups)) < self.k:
            raise DataError(f"SubjectKFold(k={self.k}) needs at least {self.k} subjects, got {len(set(groups))}")
        if self.stratified:
            splitter = StratifiedGroupKFold(self.k, shuffle=True, random_state=self.seed)
        else:
            splitter = GroupKFold(self.k, shuffle=True, random_state=self.seed)
        return self._folds(splitter.split(np.zeros(len(labels)), labels, groups))


@dataclass(frozen=True)
class SampleKFold(KFoldProtocol):
    """The paper's (and reference code's) clip-level stratified k-fold. Clips of one subject
    land in both training and test, so scores are optimistic; it warns each time."""

    name: ClassVar[str] = "sample-kfold"
    subject_independent: ClassVar[bool] = False

    def split(self, labels: Sequence[int], groups: Sequence[str]) -> list[Fold]:
        labels, groups = self._check(labels, groups)
        warnings.warn("SampleKFold splits clips, not subjects: the same subjects appear in training and test "
                      "folds, so its scores overstate subject-independent accuracy (use LOSO or SubjectKFold)",
                      SubjectLeakageWarning, stacklevel=2)
        splitter = StratifiedKFold(self.k, shuffle=True, random_state=self.seed)
        return self._folds(splitter.split(np.zeros(len(labels)), labels))


#: Protocol name (as in ``to_dict()["name"]``) -> class; `make_protocol` looks names up here.
PROTOCOLS: dict[str, type[Protocol]] = {cls.name: cls for cls in (LOSO, LODO, SubjectKFold, SampleKFold)}


def make_protocol(spec: dict[str, Any] | str) -> Protocol:
    """Rebuild a protocol from its ``to_dict()`` (or a name: "loso", "lodo", "subject-kfold", "sample-kfold").

    An unknown name, or a field the protocol does not have, is a `ConfigError` naming the valid ones."""
    spec = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = spec.pop("name", None)
    cls = PROTOCOLS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ConfigError(f"unknown protocol {name!r}; choose one of {sorted(PROTOCOLS)}")
    check_fields(cls, spec, f"{cls.__name__} field(s)")
    return cls(**spec)


def parse_shard(text: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """"i/n" or (i, n) -> (i, n) with 0 <= i < n; None stays None. "auto" reads a Slurm job array's
    ``SLURM_ARRAY_TASK_ID`` and ``SLURM_ARRAY_TASK_COUNT`` (ids counted from ``SLURM_ARRAY_TASK_MIN``)."""
    if text is None:
        return None
    if isinstance(text, str) and text.strip().lower() == "auto":
        import os
        env = {k: os.environ.get(k) for k in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT")}
        missing = [k for k, v in env.items() if not v]
        if missing:
            raise ConfigError(f"shard 'auto' reads a Slurm job array's {' and '.join(missing)}, which "
                              "is not set here: run inside `sbatch --array=...`, or give the shard as i/n")
        try:
            first = int(os.environ.get("SLURM_ARRAY_TASK_MIN") or 0)
            text = (int(env["SLURM_ARRAY_TASK_ID"]) - first, int(env["SLURM_ARRAY_TASK_COUNT"]))
        except ValueError:
            raise ConfigError(f"shard 'auto': the Slurm variables are not integers: {env}") from None
    try:
        i, n = (int(x) for x in (text.split("/") if isinstance(text, str) else text))
    except (ValueError, TypeError):
        raise ConfigError(f"shard must look like 'i/n' (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ConfigError(f"shard {i}/{n}: need 0 <= i < n")
    return i, n


def check_val_subjects(value: Any, what: str = "val_subjects") -> float:
    """``value`` itself when it is a valid ``val_subjects``: 0 (no validation split: a fixed epoch
    budget), a whole number of held-out training subjects >= 1, or a fraction in (0, 1) of them.
    ConfigError naming ``what`` (e.g. "--val-subjects") and the value otherwise (negative, nan, inf,
    1.5, a bool or a text), before any data is read."""
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
          and (value == 0 or 0 < value < 1 or (value >= 1 and float(value).is_integer())))
    if not ok:
        shown = f"{value:g}" if isinstance(value, float) else repr(value)
        raise ConfigError(f"{what} {shown}: must be 0 (no validation split), a whole number of held-out "
                          "training subjects (>= 1) or a fraction of them in (0, 1)")
    return value


def fold_cost(fold: Fold) -> tuple[int, int]:
    """How long a fold takes, for scheduling: its training clips (every epoch passes over them),
    then its test clips (one forward pass each)."""
    return len(fold.train), len(fold.test)


def shard_folds(folds: Sequence[Fold], shard: tuple[int, int] | None) -> list[Fold]:
    """The folds of ``shard=(i, n)``: with at least as many shards as folds, shard ``i`` holds fold
    ``i`` (one job per fold); with fewer, the folds are dealt largest first (`fold_cost`) to the
    shard with the least work so far, so shards of unequal subjects still finish together. Every
    shard computes the same split on its own, from the folds alone."""
    if shard is None:
        return list(folds)
    i, n = shard
    if n >= len(folds):
        return [f for f in folds if f.index == i]
    load = [0] * n
    mine: list[Fold] = []
    for f in sorted(folds, key=lambda f: (tuple(-c for c in fold_cost(f)), f.index)):
        k = min(range(n), key=lambda s: (load[s], s))
        load[k] += fold_cost(f)[0] + 1
        if k == i:
            mine.append(f)
    return sorted(mine, key=lambda f: f.index)


def train_only_mask(dataset: Dataset, train_only: Sequence[bool] | bool | None = None) -> np.ndarray:
    """Which items are train-only: ``train_only`` as given (a mask, or False for none), else what
    `dataset_info` says (`MERDataset`: the clips marked ``clip.meta["train_only"]``, CAS(ME)^3
    macro-expressions loaded with ``macro=True``)."""
    n = len(dataset)
    if train_only is False:
        return np.zeros(n, dtype=bool)
    if train_only is not None and train_only is not True:
        mask = np.asarray(train_only)
        if mask.shape != (n,) or mask.dtype != bool:
            raise DataError(f"train_only must be {n} booleans (one per clip), got shape {mask.shape} "
                            f"dtype {mask.dtype}")
        return mask
    return dataset_info(dataset).train_only


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


