"""What a protocol run is, as picklable records: the options a caller chooses (`RunOptions`) and
the claimed run with everything a fold needs (`RunSpec`). An executor sends a `RunSpec` to where
the folds run (a worker process, a Slurm job) exactly as it is, with `cloudpickle`, so a ``lambda``
model builder travels too; nothing re-parses a command line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn
from torch.utils.data import Dataset

from ..errors import ConfigError
from ..evaluate.protocols import Fold, Protocol, parse_shard
from ..training import TrainConfig


@dataclass(frozen=True)
class RunOptions:
    """How a protocol run is made and executed (every field has a default).

    ``val_subjects`` > 0 holds out that fraction (or number, if >= 1) of each fold's *training*
    subjects to choose the epoch (``select="best_val"``); 0 trains a fixed budget. ``train_only``:
    clips that only ever train (default: those marked ``clip.meta["train_only"]``). ``info`` goes into
    ``config.json``; its ``model`` and ``prep`` entries join the run's identity. ``overwrite`` deletes
    the run files of the folder's earlier run first. ``keep_checkpoints`` keeps each fold's last
    checkpoint, written at most every ``checkpoint_every`` seconds (0: every epoch). ``shard=(i, n)``
    runs the i-th of n slices of the folds. ``jobs`` > 1 runs folds in that many local worker
    processes with ``threads`` CPU threads each (an explicit executor overrides both). ``progress``
    None follows the recipe's ``progress``."""
    val_subjects: float = 0.0
    train_only: Sequence[bool] | bool | None = None
    info: dict[str, Any] | None = None
    overwrite: bool = False
    keep_checkpoints: bool = False
    checkpoint_every: float = 60.0
    shard: tuple[int, int] | str | None = None
    jobs: int = 1
    threads: int | None = None
    progress: bool | None = None

    @classmethod
    def of(cls, options: RunOptions | None = None, **kwargs: Any) -> RunOptions:
        """``options`` with ``kwargs`` replacing its fields; an unknown name is a `ConfigError` naming it."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise ConfigError(f"unknown run option(s) {unknown}; the options are {sorted(names)}")
        base = options or cls()
        return cls(**{**{n: getattr(base, n) for n in names}, **kwargs})

    def __post_init__(self) -> None:
        if int(self.jobs) < 1:
            raise ConfigError(f"jobs={self.jobs}: must be >= 1")
        if self.threads is not None and int(self.threads) < 1:
            raise ConfigError(f"threads={self.threads}: must be >= 1")
        if not self.checkpoint_every >= 0:
            raise ConfigError(f"checkpoint_every={self.checkpoint_every}: must be >= 0 seconds")
        object.__setattr__(self, "shard", parse_shard(self.shard))


@dataclass
class RunSpec:
    """A claimed run folder and everything its folds need: the datasets (``dataset`` is the
    deterministic view that tests and validates; ``train_dataset`` the same clips, usually
    augmented), the model builder, the recipe every fold trains with (``cfg``; each fold seeds with
    ``cfg.seed + fold.index``), the folds, the clips' labels, groups and ids, and ``config``, the
    ``config.json`` the folder holds (its ``run_id`` goes into every fold's record)."""
    run_dir: Path
    protocol: Protocol
    folds: list[Fold]
    cfg: TrainConfig
    dataset: Dataset
    train_dataset: Dataset
    model_fn: Callable[[], nn.Module]
    labels: np.ndarray
    groups: list[str]
    uids: list[str]
    classes: list[str]
    train_only: np.ndarray
    config: dict[str, Any]
    options: RunOptions = field(default_factory=RunOptions)

    @property
    def run_id(self) -> str:
        return self.config["run_id"]

    @property
    def n_folds(self) -> int:
        return len(self.folds)
