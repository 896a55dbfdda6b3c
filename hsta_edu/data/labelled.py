"""What a dataset says about its items without loading one, typed: labels, groups, uids, classes
and train-only flags.

`LabelledDataset` is the base of the package's datasets of ``(video, special, label)`` items
(`MERDataset` and its views, `SpecialCrop`): a subclass states its items' ``labels`` and
``classes`` and, where it knows them, their ``groups`` (the LOSO group ``dataset/subject``),
``uids`` and ``train_only`` flags. `dataset_info(dataset)` reads one into a `DatasetInfo`, for
a `LabelledDataset`, a torch ``Subset`` of one (nested or not: the indices applied) or a
``TensorDataset`` (labels from its last tensor). Any other dataset is refused with a DataError
saying what to give instead. Training, protocol runs and fingerprints read a dataset through
`dataset_info` and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch.utils.data import Dataset, Subset, TensorDataset

from ..errors import DataError

__all__ = ["LabelledDataset", "DatasetInfo", "dataset_info"]

_HOW = ("give a LabelledDataset (hsta_edu.data.labelled: set `labels` and `classes`, and `groups` for "
        "subject protocols; MERDataset is one), a torch Subset of one, or a TensorDataset whose last "
        "tensor holds the labels")


class LabelledDataset(Dataset):
    """A dataset of ``(video, special, label)`` items that says what each item is without loading it.

    A subclass sets these as attributes (or defines them as properties), one entry per item:

    - ``labels``: the integer class index of every item (ints, an integer array or tensor);
    - ``classes``: the class names in label-index order; None: the labels' indices as names;
    - ``groups``: the LOSO group (``"dataset/subject"``) of every item; None (the default): not
      known, and subject protocols and validation subjects refuse the dataset;
    - ``uids``: a unique id of every item; None (the default): the items' positions ``"0"``, ``"1"``, ...;
    - ``train_only``: True for an item that only ever trains (never tested); None (the default): none.

    It also needs ``__len__`` and ``__getitem__``, as every map-style torch dataset.
    """

    labels: Sequence[int] | np.ndarray
    classes: Sequence[str] | None = None
    groups: Sequence[str] | None = None
    uids: Sequence[str] | None = None
    train_only: Sequence[bool] | np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class DatasetInfo:
    """What `dataset_info` reads from a dataset: one entry per item, in the dataset's order.

    ``labels`` (int64) and ``train_only`` (bool) are arrays of its own (copies: changing one changes
    neither the dataset nor another `dataset_info`'s); ``classes`` holds every
    class name in label-index order (a label may still be outside it: training reports that
    against the model's outputs). ``groups`` raises a DataError naming the dataset when it does
    not know them (``has_groups`` says whether it does); ``source`` names the dataset in messages.
    """

    labels: np.ndarray
    classes: list[str]
    uids: list[str]
    train_only: np.ndarray
    known_groups: list[str] | None
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def has_groups(self) -> bool:
        return self.known_groups is not None

    @property
    def groups(self) -> list[str]:
        """The LOSO group (``dataset/subject``) of every item; DataError where the dataset does not say."""
        if self.known_groups is None:
            raise DataError(f"{self.source} does not say the group (dataset/subject) of its items, which subject "
                            "protocols and validation subjects need: set `groups` on the LabelledDataset "
                            "(MERDataset has them)")
        return self.known_groups

    def take(self, indices: Sequence[int] | np.ndarray) -> DatasetInfo:
        """The entries of the items at ``indices`` (negative counting from the end, as a torch
        ``Subset`` takes them), with the same classes."""
        n = len(self)
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        bad = idx[(idx < -n) | (idx >= n)]
        if bad.size:
            raise DataError(f"Subset of {self.source}: index {int(bad[0])} out of range for {n} items")
        idx = idx % max(n, 1)
        return DatasetInfo(labels=self.labels[idx], classes=list(self.classes),
                           uids=[self.uids[i] for i in idx.tolist()], train_only=self.train_only[idx],
                           known_groups=None if self.known_groups is None
                           else [self.known_groups[i] for i in idx.tolist()],
                           source=self.source if self.source.startswith("Subset of ") else f"Subset of {self.source}")


def dataset_info(dataset: Dataset) -> DatasetInfo:
    """The labels, classes, uids, train-only flags and (where known) groups of every item of
    ``dataset``: a `LabelledDataset`, a torch ``Subset`` of one (nested or not) or a
    ``TensorDataset`` (labels from its last tensor, items named by position, groups unknown,
    classes ``"0"`` ... up to the largest label). Nothing is loaded. DataError naming what is
    missing or inconsistent, and for any other kind of dataset."""
    if isinstance(dataset, Subset):
        return dataset_info(dataset.dataset).take(dataset.indices)
    if isinstance(dataset, LabelledDataset):
        return _from_labelled(dataset)
    if isinstance(dataset, TensorDataset):
        return _from_tensors(dataset)
    raise DataError(f"{type(dataset).__name__} does not say its items' labels without loading them: {_HOW}")


def _from_labelled(dataset: LabelledDataset) -> DatasetInfo:
    name = type(dataset).__name__
    try:
        raw = dataset.labels
    except AttributeError:
        raise DataError(f"{name} is a LabelledDataset but sets no `labels` (the class index of every item)") from None
    n = len(dataset)
    labels = _labels(raw, n, f"{name}.labels")
    classes = _classes(dataset.classes, labels)
    uids = [str(i) for i in range(n)] if dataset.uids is None else _strings(dataset.uids, n, f"{name}.uids")
    if len(set(uids)) != n:
        dup = sorted({u for u in uids if uids.count(u) > 1})
        raise DataError(f"{name}.uids: duplicate item ids {dup[:5]}")
    groups = None if dataset.groups is None else _strings(dataset.groups, n, f"{name}.groups")
    if dataset.train_only is None:
        train_only = np.zeros(n, dtype=bool)
    else:
        train_only = np.array(dataset.train_only)
        if train_only.shape != (n,) or train_only.dtype != bool:
            raise DataError(f"{name}.train_only must be {n} booleans (one per item), got shape "
                            f"{train_only.shape} dtype {train_only.dtype}")
    return DatasetInfo(labels=labels, classes=classes, uids=uids, train_only=train_only,
                       known_groups=groups, source=name)


def _from_tensors(dataset: TensorDataset) -> DatasetInfo:
    n = len(dataset)
    labels = _labels(dataset.tensors[-1].detach().cpu().numpy(), n, "the TensorDataset's last tensor (labels)")
    return DatasetInfo(labels=labels, classes=_classes(None, labels), uids=[str(i) for i in range(n)],
                       train_only=np.zeros(n, dtype=bool), known_groups=None, source="TensorDataset")


def _labels(raw: object, n: int, what: str) -> np.ndarray:
    labels = np.array(raw)
    if labels.size == 0 and n == 0:
        return labels.astype(np.int64).reshape(0)
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise DataError(f"{what} must be {n} integer class indices (one per item), got shape {labels.shape} "
                        f"dtype {labels.dtype}")
    return labels.astype(np.int64)


def _classes(classes: Sequence[str] | None, labels: np.ndarray) -> list[str]:
    if classes is None:
        return [str(i) for i in range(int(labels.max()) + 1 if labels.size else 0)]
    return [str(c) for c in classes]


def _strings(values: Sequence[str], n: int, what: str) -> list[str]:
    out = [str(v) for v in values]
    if len(out) != n:
        raise DataError(f"{what} has {len(out)} entries for {n} items")
    return out
