"""The torch side of the data: a `Dataset` of (video, special, label) and a class-balanced sampler.

Clips are decoded once (`prep.load_or_prepare`, optionally through the disk cache) and kept
in memory as uint8 `PreparedClip`s, so later epochs only normalise and sample: no image is
decoded again. Subsets made with `MERDataset.subset` (LOSO folds) share that memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, WeightedRandomSampler

from ..errors import ConfigError, DataError
from .clip import DatasetIndex
from .labelled import LabelledDataset, dataset_info
from .prep import CacheStats, PreparedClip, PrepConfig, assemble, load_or_prepare, prepare_index
from .prep.tensors import assemble_batch


class MERDataset(LabelledDataset):
    """Micro-expression clips as model inputs.

    ``__getitem__(i) -> (video (3, T, S, S) float32, special (3, 2, S, S) float32, label int64 scalar)``.
    Attributes: ``labels`` (np.int64, one per clip), ``groups`` (LOSO group per clip), ``classes``,
    ``uids`` and ``train_only`` (from the clips), ``index`` (the `DatasetIndex`): a `LabelledDataset`,
    read by `dataset_info`. ``train=True`` jitters the temporal sampling (if ``prep_cfg.jitter``);
    ``train=False`` is deterministic. ``in_memory`` keeps decoded clips for the next epochs.
    """

    def __init__(self, index: DatasetIndex, prep_cfg: PrepConfig, cache_dir: str | Path | None = None,
                 train: bool = False, *, in_memory: bool = True, generator: torch.Generator | None = None,
                 _memory: dict[str, PreparedClip] | None = None) -> None:
        if not isinstance(index, DatasetIndex):
            raise DataError(f"MERDataset needs a DatasetIndex, got {type(index).__name__}")
        unknown = sorted({c.label for c in index.clips} - set(index.classes))
        if unknown:
            raise DataError(f"{index.name}: clip labels {unknown} are not in classes {index.classes}")
        uids = [c.uid for c in index.clips]
        if len(set(uids)) != len(uids):
            dup = sorted({u for u in uids if uids.count(u) > 1})
            raise DataError(f"{index.name}: duplicate clip ids {dup[:5]}")
        self.index = index
        self.prep_cfg = prep_cfg
        self.cache_dir = None if cache_dir is None else Path(cache_dir).expanduser()
        self.train = train
        self.in_memory = in_memory
        self.generator = generator
        self.classes = list(index.classes)
        self.labels = np.asarray(index.labels, dtype=np.int64)
        self.groups = list(index.groups)
        self.stats = CacheStats()
        self._memory: dict[str, PreparedClip] = {} if _memory is None else _memory

    def __len__(self) -> int:
        return len(self.index.clips)

    @property
    def uids(self) -> list[str]:
        """The uid (``dataset/subject/clip_id``) of every clip."""
        return [c.uid for c in self.index.clips]

    @property
    def train_only(self) -> np.ndarray:
        """True for the clips marked ``clip.meta["train_only"]`` (CAS(ME)^3 macro-expressions loaded
        with ``macro=True``): they only ever train."""
        return np.asarray([bool(c.meta.get("train_only", False)) for c in self.index.clips], dtype=bool)

    def prepared(self, i: int) -> PreparedClip:
        """The decoded clip ``i`` (from memory, the disk cache, or its frame files)."""
        clip = self.index.clips[i]
        hit = self._memory.get(clip.uid)
        if hit is not None:
            return hit
        p = load_or_prepare(clip, self.prep_cfg, self.cache_dir, self.stats)
        if self.in_memory:
            self._memory[clip.uid] = p
        return p

    def preload(self, progress: bool = True) -> MERDataset:
        """Decode (or load from the cache) every clip now, with a progress bar; returns self."""
        todo = [c for c in self.index.clips if c.uid not in self._memory]
        if todo:
            for clip, p in zip(todo, prepare_index(todo, self.prep_cfg, self.cache_dir,
                                                   progress=progress, stats=self.stats), strict=True):
                if self.in_memory:
                    self._memory[clip.uid] = p
        return self

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} clips")
        i = i % len(self)
        video, special = assemble(self.prepared(i), self.prep_cfg, train=self.train, generator=self.generator,
                                  where=self.index.clips[i].uid)
        return video, special, torch.tensor(self.labels[i], dtype=torch.int64)

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """A batch's items, as ``[self[i] for i in indices]`` gives them (the same values and random
        draws, bit for bit), assembled at once at train time (`assemble_batch`): the loader's
        per-item overhead. ``DataLoader`` calls this for each batch, then collates as usual."""
        if not self.train or len(indices) < 2:
            return [self[i] for i in indices]
        bad = [i for i in indices if not -len(self) <= i < len(self)]
        if bad:
            raise IndexError(f"index {bad[0]} out of range for {len(self)} clips")
        idx = [i % len(self) for i in indices]
        video, special = assemble_batch([self.prepared(i) for i in idx], self.prep_cfg, train=True,
                                        generator=self.generator, where=[self.index.clips[i].uid for i in idx])
        return [(v, s, torch.tensor(self.labels[i], dtype=torch.int64)) for v, s, i in zip(video, special, idx, strict=True)]

    def train_view(self) -> MERDataset:
        """The same clips with train-time sampling and augmentation, sharing the decoded clips."""
        return self.subset(range(len(self)), train=True)

    def test_view(self) -> MERDataset:
        """The same clips with deterministic test-time sampling, sharing the decoded clips."""
        return self.subset(range(len(self)), train=False)

    def view(self, train: bool | None = None, **changes: Any) -> MERDataset:
        """The same clips (sharing the decoded clips) with other assemble-time settings, e.g.
        ``view(train=True, flip=False, shift=0, photometric=0.0)``: train-time frame sampling
        without augmentation. Settings that shape the decoded clips (`PrepConfig.shape_settings`)
        cannot change here: they need a new `MERDataset`."""
        new = self.prep_cfg.replace(**changes)
        if new.shape_settings() != self.prep_cfg.shape_settings():
            shaped = sorted(k for k in changes if getattr(new, k) != getattr(self.prep_cfg, k)
                            and k in set(new.shape_settings()) | set(self.prep_cfg.shape_settings()))
            raise ConfigError(f"MERDataset.view: {shaped} change the decoded clips, not only how they are "
                              "assembled; build a new MERDataset for them")
        return MERDataset(self.index, new, self.cache_dir, self.train if train is None else train,
                          in_memory=self.in_memory, generator=self.generator, _memory=self._memory)

    def subset(self, indices: Sequence[int] | np.ndarray, train: bool | None = None) -> MERDataset:
        """A dataset of the clips at ``indices`` (same classes, shared in-memory clips), e.g. one LOSO fold."""
        idx = [int(i) for i in np.asarray(indices, dtype=np.int64).reshape(-1)]
        bad = [i for i in idx if not 0 <= i < len(self)]
        if bad:
            raise DataError(f"subset indices out of range 0..{len(self) - 1}: {bad[:5]}")
        sub_index = DatasetIndex(self.index.name, [self.index.clips[i] for i in idx], list(self.classes),
                                 list(self.index.dropped), self.index.root)
        return MERDataset(sub_index, self.prep_cfg, self.cache_dir, self.train if train is None else train,
                          in_memory=self.in_memory, generator=self.generator, _memory=self._memory)


class SpecialCrop(LabelledDataset):
    """View of a (video, special, label) dataset whose special frames are cropped to the top-left
    ``size`` x ``size`` pixels. ``PrepConfig(special_size=...)`` (which `PrepConfig.for_model`
    sets) does the same inside `MERDataset`; this view serves other datasets.

    ``hsta-base`` takes 216 px special frames: the reference feeds 224 px frames to a stride-12
    tubelet conv that only ever sees their top-left 216 x 216, so cropping a 224 px preparation
    reproduces the reference exactly. A `LabelledDataset` saying what `dataset_info` says of ``base``
    (``labels``, ``classes``, ``groups``, ``uids``, ``train_only``).
    """

    def __init__(self, base: Dataset, size: int) -> None:
        self.base, self.size = base, int(size)

    def __len__(self) -> int:
        return len(self.base)

    @property
    def labels(self) -> np.ndarray:
        return dataset_info(self.base).labels

    @property
    def classes(self) -> list[str]:
        return dataset_info(self.base).classes

    @property
    def groups(self) -> list[str] | None:
        return dataset_info(self.base).known_groups

    @property
    def uids(self) -> list[str]:
        return dataset_info(self.base).uids

    @property
    def train_only(self) -> np.ndarray:
        return dataset_info(self.base).train_only

    def __getitem__(self, i: int):
        video, special, label = self.base[i]
        if special.shape[-1] < self.size or special.shape[-2] < self.size:
            raise DataError(f"special frames of item {i} are {tuple(special.shape[-2:])} px, "
                            f"smaller than the crop of {self.size} px")
        return video, special[..., : self.size, : self.size].contiguous(), label


def balanced_sampler(labels: Sequence[int] | np.ndarray, generator: torch.Generator | None = None,
                     num_samples: int | None = None) -> WeightedRandomSampler:
    """Sampling with replacement, each clip weighted by 1 / (its class count): classes drawn equally often.

    The paper trains with balanced sampling; ``num_samples`` defaults to ``len(labels)`` (one epoch).
    """
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    if y.size == 0:
        raise DataError("balanced_sampler: no labels")
    if (y < 0).any():
        raise DataError(f"balanced_sampler: negative labels {sorted(set(y[y < 0].tolist()))}")
    counts = np.bincount(y)
    weights = torch.as_tensor(1.0 / counts[y], dtype=torch.double)
    return WeightedRandomSampler(weights, num_samples=int(num_samples or y.size), replacement=True,
                                 generator=generator)
