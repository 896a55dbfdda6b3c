"""Protocol runs: claim a run folder for one run (`prepare_run` -> `RunSpec`), run its unfinished
folds with an executor (`execute`), and merge them into the report (`hsta_edu.evaluate.merge_run`);
`run_protocol` does all three.

A run trains one model per fold with a fixed epoch budget (or picks the epoch on a validation split
of *training* subjects only: never on the test fold), saves each fold's predictions atomically,
skips finished folds on a rerun, runs a slice with ``shard=(i, n)``, and pools the folds into
``metrics.json``, ``predictions.csv``, ``per_fold.csv``, ``confusion.png`` and ``report.md``. The
folder's ``config.json`` holds the identity of everything that decides its results: a rerun with
another identity is refused, naming the fields that differ (`hsta_edu.runs.folders`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn
from torch.utils.data import Dataset

from ..data.clip import require_classes
from ..data.labelled import dataset_info
from ..errors import DataError
from ..evaluate.protocols import (
    Protocol,
    check_val_subjects,
    protocol_folds,
    shard_folds,
    train_only_mask,
)
from ..evaluate.results import RunResult, fold_file, merge_run
from ..fingerprint import digest, model_identity
from ..progress import progress_bar
from ..training import TrainConfig
from .executors import Executor, InProcess, WorkerProcesses
from .folders import RUN_FOLDER, claim_folder
from .spec import RunOptions, RunSpec


def prepare_run(dataset: Dataset, protocol: Protocol, model_fn: Callable[[], nn.Module], cfg: TrainConfig,
                run_dir: str | Path, *, train_dataset: Dataset | None = None, options: RunOptions | None = None,
                **kwargs: Any) -> RunSpec:
    """Compute the folds and claim ``run_dir`` for this run, without training anything; returns the
    `RunSpec` that `execute` runs (here, in worker processes, or as Slurm jobs).

    ``dataset`` is the deterministic view (``MERDataset(..., train=False)``): test and validation
    clips come from it; ``train_dataset`` (same clips, same order, usually augmented) feeds training.
    ``model_fn()`` builds a fresh model, after seeding with ``cfg.seed + fold``. ``options`` (a
    `RunOptions`, or its fields as keyword arguments) says how. The folder's ``config.json`` records
    the run's identity: protocol and folds, recipe (run-time fields aside), validation share,
    classes, the clips' ids and labels (a digest), the model (``info["model"]``, else the
    configuration of one ``model_fn()`` built for the purpose) and the preprocessing
    (``info["prep"]``)."""
    options = RunOptions.of(options, **kwargs)
    check_val_subjects(options.val_subjects)
    run_dir = Path(run_dir).expanduser()
    train_dataset = dataset if train_dataset is None else train_dataset
    info = dataset_info(dataset)
    labels = info.labels
    require_classes(dataset, what="evaluation data")
    if len(train_dataset) != len(dataset) or not np.array_equal(dataset_info(train_dataset).labels, labels):
        raise DataError("train_dataset must hold the same clips in the same order as dataset")
    extra = train_only_mask(dataset, options.train_only)
    groups, uids, classes = info.groups, info.uids, info.classes
    folds = protocol_folds(protocol, labels, groups, extra)
    fold_cfg = replace(cfg, select="best_val") if options.val_subjects else cfg
    about = dict(options.info or {})
    if "model" not in about:
        import torch
        with torch.random.fork_rng(devices=[]):   # the probe draws nothing from the run's random stream
            about["model"] = model_identity(model_fn())
    spec = RunSpec(run_dir, protocol, folds, fold_cfg, dataset, train_dataset, model_fn, labels, groups, uids,
                   classes, extra, {}, options)
    spec.config = claim_folder(RUN_FOLDER, run_dir, _run_config(spec, about), overwrite=options.overwrite,
                               fix="rerun with --overwrite (run_protocol(overwrite=True)) to delete its results and "
                                   "start afresh, or choose another run folder")
    return spec


def _run_config(spec: RunSpec, info: dict[str, Any]) -> dict[str, Any]:
    """A run's ``config.json``: what it is (``identity``, and ``run_id``, its digest, which every
    fold record carries) plus ``info`` for people."""
    protocol, fold_cfg, folds, classes = spec.protocol, spec.cfg, spec.folds, spec.classes
    uids, labels, extra, val_subjects = spec.uids, spec.labels, spec.train_only, spec.options.val_subjects
    config: dict[str, Any] = {
        "protocol": protocol.to_dict(), "train_config": fold_cfg.to_dict(),
        "val_subjects": val_subjects, "n_folds": len(folds), "n_samples": int(len(labels) - extra.sum()),
        "classes": classes, "info": info,
        "folds": [{"index": f.index, "name": f.name, "n_train": int(len(f.train)), "n_test": int(len(f.test))}
                  for f in folds],
    }
    if extra.any():
        config["n_train_only"] = int(extra.sum())
        config["train_only_uids"] = [uids[i] for i in np.flatnonzero(extra)]
    pairs = [[u, int(y)] for u, y in zip(uids, labels.tolist(), strict=True)]
    config["identity"] = {
        "protocol": config["protocol"], "train_config": fold_cfg.recipe_dict(),
        "val_subjects": val_subjects, "folds": config["folds"], "classes": classes,
        "data": {"n_clips": len(pairs), "digest": digest(pairs), "n_train_only": int(extra.sum())},
        "model": info.get("model"), "prep": info.get("prep"),
    }
    config["run_id"] = digest(config["identity"])
    return config


def default_executor(options: RunOptions) -> Executor:
    """`WorkerProcesses` when ``options.jobs`` > 1, else `InProcess`."""
    return WorkerProcesses(options.jobs, options.threads) if options.jobs > 1 else InProcess()


def execute(spec: RunSpec, executor: Executor | None = None) -> RunResult:
    """Run the unfinished folds of ``spec`` (its shard's, when it has one) with ``executor`` (default:
    `default_executor` of its options), then merge the run when every fold is done. Returns
    `merge_run`'s result, or a partial `RunResult` (a shard, or jobs submitted and not waited for)."""
    options = spec.options
    executor = default_executor(options) if executor is None else executor
    mine = shard_folds(spec.folds, options.shard)
    todo = [f for f in mine if not fold_file(spec.run_dir, f.index).exists()]
    progress = spec.cfg.progress if options.progress is None else options.progress
    display = progress_bar(total=len(mine), initial=len(mine) - len(todo), desc=f"{spec.protocol.name} folds",
                           unit="fold", enabled=progress, item_lines=True)
    try:
        if todo:
            executor.run(spec, todo, display)
    finally:
        display.close()
    done = sorted(f.index for f in spec.folds if fold_file(spec.run_dir, f.index).exists())
    if len(done) == len(spec.folds):
        return merge_run(spec.run_dir)
    return RunResult(run_dir=spec.run_dir, n_folds=len(spec.folds), folds_done=done, complete=False)


def run_protocol(dataset: Dataset, protocol: Protocol, model_fn: Callable[[], nn.Module], cfg: TrainConfig,
                 run_dir: str | Path, *, train_dataset: Dataset | None = None, executor: Executor | None = None,
                 options: RunOptions | None = None, **kwargs: Any) -> RunResult:
    """Run ``protocol`` over ``dataset`` into ``run_dir``: `prepare_run` (same arguments; ``kwargs``
    are `RunOptions` fields), then `execute` with ``executor``. Each fold is an independent job,
    reproducible on its own in any order, shard or process; an interrupted fold resumes from its
    last checkpoint. Progress: one bar over the folds on a terminal (with each fold's epoch bar
    when sequential), one line per finished fold when the output goes to a file."""
    spec = prepare_run(dataset, protocol, model_fn, cfg, run_dir, train_dataset=train_dataset, options=options,
                       **kwargs)
    return execute(spec, executor)
