"""Protocol runs as resumable jobs: one model per fold, each fold's predictions saved as it ends.

`run_protocol` trains one model per fold with a fixed epoch budget (or picks the epoch on a
validation split of *training* subjects only: never on the test fold), saves each fold's
predictions atomically, skips finished folds on a rerun, runs a slice with ``shard=(i, n)``,
and `merge_run` (`hsta_edu.evaluate.results`) pools the folds into ``metrics.json``,
``predictions.csv``, ``per_fold.csv``, ``confusion.png`` and ``report.md``. A run folder's
``config.json`` holds the identity of everything that decides its results (`prepare_run`): a
rerun with another identity is refused, naming the fields that differ.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import GroupShuffleSplit
from torch import nn
from torch.utils.data import Dataset, Subset

from ..data.clip import require_classes
from ..errors import ConfigError, DataError, Interrupted
from ..fingerprint import describe_differences, differences, digest, model_identity
from ..io import OutputFolder, atomic_write_json
from ..train import TrainConfig, dataset_labels, predict, set_seed, train
from .parallel import FoldDisplay, fold_order, run_fold_jobs
from .protocols import (
    Fold,
    MissingClassWarning,
    Protocol,
    check_val_subjects,
    parse_shard,
    protocol_folds,
    shard_folds,
    train_only_mask,
)
from .results import RunResult, _fold_file, _read_json, merge_run

__all__ = ["RunResult", "run_protocol", "merge_run", "prepare_run", "PreparedRun"]


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


def run_protocol(dataset: Dataset, protocol: Protocol, model_fn: Callable[[], nn.Module], cfg: TrainConfig,
                 run_dir: str | Path, *, train_dataset: Dataset | None = None,
                 shard: tuple[int, int] | str | None = None, val_subjects: float = 0.0,
                 info: dict[str, Any] | None = None, keep_checkpoints: bool = False,
                 progress: bool | None = None, train_only: Sequence[bool] | bool | None = None,
                 jobs: int = 1, threads: int | None = None, overwrite: bool = False,
                 prepared: PreparedRun | None = None, checkpoint_every: float = 60.0) -> RunResult:
    """Run ``protocol`` over ``dataset`` into ``run_dir``; each fold is an independent job.

    ``dataset`` is the deterministic view (``MERDataset(..., train=False)``): test clips and
    validation clips come from it; ``train_dataset`` (same clips, same order, usually with
    ``train=True`` augmentation) feeds training; it defaults to ``dataset``.
    ``model_fn()`` builds a fresh model; it is called after seeding with ``cfg.seed + fold``,
    so every fold is reproducible on its own, in any order and on any shard.
    ``val_subjects`` > 0 holds out that fraction (or number, if >= 1) of the *training*
    subjects as a validation set and sets ``select="best_val"``; 0 keeps a fixed epoch budget.
    ``shard=(i, n)`` runs the i-th of n balanced slices (`shard_folds`; fold i alone when n is at
    least the number of folds). Finished folds (their JSON file
    exists) are skipped; an interrupted fold resumes from its last checkpoint, written at most every
    ``checkpoint_every`` seconds (`train`; 0: after every epoch) and deleted when the fold ends
    unless ``keep_checkpoints``.
    ``info`` (model preset and options, data, preprocessing) is stored in ``config.json``, and
    its ``model`` and ``prep`` entries join the run's fingerprint (see `prepare_run`): a run folder
    holding another run is refused, naming what differs, rather than mixed; ``overwrite=True``
    deletes its results first. ``prepared``: the `prepare_run` result of this same call, when the
    caller claimed the folder first (the CLI does, to write ``dropped.csv`` only into a folder that
    is this run's); it is checked to be this run, not claimed a second time.
    ``train_only``: clips that only ever train (see `train_only_mask`; default: the clips
    marked ``clip.meta["train_only"]``, e.g. CAS(ME)^3 macro-expressions); the metrics are
    pooled over the other clips.
    ``jobs`` > 1 runs the folds in that many worker processes on this machine, largest first, each
    with ``threads`` CPU threads (default: the cores shared out) or one GPU each (see
    `hsta_edu.evaluate.parallel`); the results equal the sequential run's, fold by fold.
    Progress: one bar over the folds on a terminal (with each fold's epoch bar when sequential),
    one line per finished fold when the output goes to a file.
    Returns `merge_run`'s result when all folds are done, else a partial `RunResult`.
    """
    shard = parse_shard(shard)
    if int(jobs) < 1:
        raise ConfigError(f"jobs={jobs}: must be >= 1")
    if not checkpoint_every >= 0:
        raise ConfigError(f"checkpoint_every={checkpoint_every}: must be >= 0 seconds")
    progress = cfg.progress if progress is None else progress
    if prepared is None:
        run = prepare_run(dataset, protocol, model_fn, cfg, run_dir, train_dataset=train_dataset,
                          val_subjects=val_subjects, info=info, train_only=train_only, overwrite=overwrite)
    else:
        run = _check_prepared(prepared, run_dir, protocol, cfg, val_subjects)
    run_dir, folds, fold_cfg, extra = run.run_dir, run.folds, run.cfg, run.train_only
    train_dataset = dataset if train_dataset is None else train_dataset
    labels, groups, uids = dataset_labels(dataset), _groups(dataset), _uids(dataset)
    mine = shard_folds(folds, shard)
    todo = [f for f in mine if not _fold_file(run_dir, f.index).exists()]
    display = FoldDisplay(len(mine), len(mine) - len(todo), desc=f"{protocol.name} folds", enabled=progress)
    job = partial(_fold_job, dataset=dataset, train_dataset=train_dataset, model_fn=model_fn, run_dir=run_dir,
                  labels=labels, groups=groups, uids=uids, protocol=protocol, val_subjects=val_subjects,
                  keep_checkpoints=keep_checkpoints, extra=extra, run_id=run.config["run_id"],
                  checkpoint_every=checkpoint_every)
    try:
        if int(jobs) > 1 and len(todo) > 1:
            run_fold_jobs(todo, job, fold_cfg, int(jobs), display, threads=threads)
        else:
            for fold in fold_order(todo):
                display.started(fold)
                t0 = time.time()
                job(fold, fold_cfg, progress=display.tty)
                display.finished(fold, time.time() - t0)
    finally:
        display.close()
    done = sorted(f.index for f in folds if _fold_file(run_dir, f.index).exists())
    if len(done) == len(folds):
        return merge_run(run_dir)
    return RunResult(run_dir=run_dir, n_folds=len(folds), folds_done=done, complete=False)


@dataclass
class PreparedRun:
    """A claimed run folder: its folds, the recipe every fold trains with, the clips that only
    train, and the ``config.json`` it holds (with the ``identity`` the folder was checked against)."""
    run_dir: Path
    folds: list[Fold]
    cfg: TrainConfig
    train_only: np.ndarray
    config: dict[str, Any]


_FOLD = r"fold_\d{3,}"

#: a run folder: ``config.json`` (written first) marks it as a run's; these are every file a run writes
#: there (``overwrite`` deletes these and nothing else; a user's file, and the folder holding it, stay)
RUN_FOLDER = OutputFolder("run folder", ("config.json",), (
    r"config\.json", r"metrics\.json", r"predictions\.csv", r"per_fold\.csv", r"confusion\.png", r"report\.md",
    r"dropped\.csv", rf"folds/{_FOLD}\.json", rf"checkpoints/{_FOLD}/last\.pt",
    # submitit's files (--launcher, default --slurm-folder RUN_DIR/slurm): pickles, scripts and logs per job
    r"slurm/[0-9a-f]{32}\.pkl", r"slurm/\.submission_file_[0-9a-f]{32}\.sh",
    r"slurm/[0-9_]+/[0-9_]+_(?:submitted\.pkl|result\.pkl|log\.err|log\.out|submission\.sh)"))


def prepare_run(dataset: Dataset, protocol: Protocol, model_fn: Callable[[], nn.Module], cfg: TrainConfig,
                run_dir: str | Path, *, train_dataset: Dataset | None = None, val_subjects: float = 0.0,
                info: dict[str, Any] | None = None, train_only: Sequence[bool] | bool | None = None,
                overwrite: bool = False) -> PreparedRun:
    """Compute the folds and claim ``run_dir`` for this run, without training anything.

    The folder's ``config.json`` records the run's *identity*: the protocol and its folds, the
    recipe (its run-time-only fields aside), the validation share, the classes, the clips' ids and
    labels (a digest), the model (``info["model"]``, else the configuration of one ``model_fn()``
    built for the purpose) and the preprocessing (``info["prep"]``). A folder that holds another
    identity is refused with a ConfigError naming the differing fields; ``overwrite=True`` deletes
    the run's files there first (`RUN_FOLDER`; nothing else). A folder that holds anything but no
    run (no ``config.json``) is refused, ``overwrite`` or not: a run never writes over a user's
    files. `run_protocol` calls this; so does a launcher that submits the folds elsewhere."""
    check_val_subjects(val_subjects)
    run_dir = Path(run_dir).expanduser()
    train_dataset = dataset if train_dataset is None else train_dataset
    labels = dataset_labels(dataset)
    require_classes(dataset, labels_of=dataset_labels, what="evaluation data")
    if len(train_dataset) != len(dataset) or not np.array_equal(dataset_labels(train_dataset), labels):
        raise DataError("train_dataset must hold the same clips in the same order as dataset")
    extra = train_only_mask(dataset, train_only)
    folds = protocol_folds(protocol, labels, _groups(dataset), extra)
    fold_cfg = _fold_config(cfg, val_subjects)
    info = dict(info or {})
    if "model" not in info:
        import torch
        with torch.random.fork_rng(devices=[]):   # the probe draws nothing from the run's random stream
            info["model"] = model_identity(model_fn())
    config = _run_config(protocol, fold_cfg, folds, _classes(dataset), _uids(dataset), labels, extra,
                         val_subjects, info)
    _claim_run_dir(run_dir, config, overwrite)
    return PreparedRun(run_dir, folds, fold_cfg, extra, config)


def _fold_config(cfg: TrainConfig, val_subjects: float) -> TrainConfig:
    """The recipe every fold trains with: validation subjects select the best epoch on them."""
    return replace(cfg, select="best_val") if val_subjects else cfg


def _check_prepared(run: PreparedRun, run_dir: str | Path, protocol: Protocol, cfg: TrainConfig,
                    val_subjects: float) -> PreparedRun:
    """``run_protocol(prepared=...)``: the prepared run must be the one these arguments describe."""
    same = (Path(run_dir).resolve() == run.run_dir.resolve()
            and run.config["identity"]["protocol"] == protocol.to_dict()
            and run.config["identity"]["train_config"] == _fold_config(cfg, val_subjects).recipe_dict()
            and run.config["identity"]["val_subjects"] == val_subjects)
    if not same:
        raise ConfigError(f"prepared= was made for another run (folder {run.run_dir}, protocol "
                          f"{run.config['protocol'].get('name')}); call prepare_run with these arguments")
    return run


def _run_config(protocol: Protocol, fold_cfg: TrainConfig, folds: list[Fold], classes: list[str],
                uids: list[str], labels: np.ndarray, extra: np.ndarray, val_subjects: float,
                info: dict[str, Any]) -> dict[str, Any]:
    """A run's ``config.json``: what it is (``identity``, and ``run_id``, its digest, which every
    fold record carries) plus ``info`` for people. ``fingerprint`` is the format-1 text (the config
    without ``info`` and the run-time-only fields) that folders made before ``identity`` held."""
    config = {
        "format": "hsta_edu.run/1", "protocol": protocol.to_dict(), "train_config": fold_cfg.to_dict(),
        "val_subjects": val_subjects, "n_folds": len(folds), "n_samples": int(len(labels) - extra.sum()),
        "classes": classes, "info": info,
        "folds": [{"index": f.index, "name": f.name, "n_train": int(len(f.train)), "n_test": int(len(f.test))}
                  for f in folds],
    }
    if extra.any():
        config["n_train_only"] = int(extra.sum())
        config["train_only_uids"] = [uids[i] for i in np.flatnonzero(extra)]
    comparable = {k: v for k, v in config.items() if k != "info"}
    comparable["train_config"] = fold_cfg.recipe_dict()
    config["fingerprint"] = json.dumps(comparable, sort_keys=True)
    pairs = [[u, int(y)] for u, y in zip(uids, labels.tolist(), strict=True)]
    config["identity"] = {
        "protocol": comparable["protocol"], "train_config": comparable["train_config"],
        "val_subjects": val_subjects, "folds": comparable["folds"], "classes": classes,
        "data": {"n_clips": len(pairs), "digest": digest(pairs), "n_train_only": int(extra.sum())},
        "model": info.get("model"), "prep": info.get("prep"),
    }
    config["run_id"] = digest(config["identity"])
    return config


def _read_run_record(path: Path) -> dict[str, Any]:
    """A run folder's ``config.json``, checked to be a run's (DataError naming it otherwise: a file
    that is not a run's own is never replaced, not even with ``overwrite``)."""
    fix = "it is not a run record hsta_edu can use, so it is not replaced: choose another run folder"
    old = _read_json(path, fix)
    if not isinstance(old, dict) or not ({"identity", "fingerprint"} & old.keys()
                                         or str(old.get("format", "")).startswith("hsta_edu.run")):
        raise DataError(f"{path} is not a run configuration of hsta_edu (a JSON object); {fix}")
    return old


def _claim_run_dir(run_dir: Path, config: dict[str, Any], overwrite: bool = False) -> None:
    """Write ``config.json`` into a new (or empty) run folder; refuse one that holds another run,
    naming the differing fields, and one that holds files but no run (`RUN_FOLDER`). ``overwrite``
    deletes the run files of the folder's run first. A folder from before identities (format-1 text
    fingerprint only) is compared as it was then, with a warning that its model and data could not
    be checked."""
    old = RUN_FOLDER.claim(run_dir, overwrite=overwrite, read_record=_read_run_record)
    if old is None:
        atomic_write_json(run_dir / "config.json", config)
        return
    if "identity" in old:
        diffs = differences(old["identity"], config["identity"])
    elif old.get("fingerprint") == config["fingerprint"]:
        warnings.warn(f"{run_dir} was made by an older hsta_edu: its model, preprocessing and clip ids are not "
                      "recorded, so only the protocol, recipe and folds were checked", stacklevel=4)
        return
    else:
        diffs = [("protocol, recipe, folds or classes", "(older run folder)", "this run")]
    if diffs:
        raise ConfigError(f"{run_dir} holds a different run ({describe_differences(diffs, 'there', 'now')}); "
                          "rerun with --overwrite (run_protocol(overwrite=True)) to delete its results and "
                          "start afresh, or choose another run folder")


def _val_split(train_idx: np.ndarray, groups: Sequence[str], val_subjects: float, seed: int,
               ) -> tuple[np.ndarray, np.ndarray]:
    g = np.asarray([groups[i] for i in train_idx])
    n_groups = len(set(g))
    n_val = int(val_subjects) if val_subjects >= 1 else max(1, int(round(val_subjects * n_groups)))
    if n_val >= n_groups:
        raise ConfigError(f"val_subjects={val_subjects} leaves no training subject ({n_groups} available)")
    tr, va = next(GroupShuffleSplit(n_splits=1, test_size=n_val, random_state=seed).split(train_idx, groups=g))
    return train_idx[tr], train_idx[va]


def _fold_job(fold: Fold, cfg: TrainConfig, *, dataset, train_dataset, model_fn, run_dir: Path, labels, groups,
              uids, protocol: Protocol, val_subjects: float, keep_checkpoints: bool, extra: np.ndarray,
              run_id: str | None = None, progress: bool = False, checkpoint_every: float = 0.0) -> None:
    """One fold as a job (what a worker process runs): `_run_fold` with the run's fixed arguments."""
    _run_fold(dataset, train_dataset, fold, model_fn, cfg, run_dir, labels, groups, uids, protocol,
              val_subjects, keep_checkpoints, progress, extra, run_id, checkpoint_every)


def _run_fold(dataset, train_dataset, fold: Fold, model_fn, cfg: TrainConfig, run_dir: Path, labels, groups,
              uids, protocol: Protocol, val_subjects: float, keep_checkpoints: bool, progress: bool,
              extra: np.ndarray | None = None, run_id: str | None = None, checkpoint_every: float = 0.0) -> None:
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
    fold_cfg = replace(cfg, seed=cfg.seed + fold.index, progress=progress and cfg.progress)
    set_seed(fold_cfg.seed)
    model = model_fn()
    ckpt_dir = run_dir / "checkpoints" / f"fold_{fold.index:03d}"
    try:
        result = train(model, Subset(train_dataset, train_idx.tolist()), fold_cfg, checkpoint_dir=ckpt_dir,
                       checkpoint_every=checkpoint_every,
                       val_dataset=Subset(dataset, val_idx.tolist()) if len(val_idx) else None,
                       desc=f"fold {fold.name}")
    except Interrupted as exc:
        raise Interrupted(f"{exc} of fold {fold.name}") from None
    pred = predict(result.model, Subset(dataset, fold.test.tolist()), batch_size=max(cfg.batch_size, 32),
                   device=cfg.device, amp=cfg.amp)
    record = {
        "index": fold.index, "name": fold.name, "run_id": run_id, "test_index": fold.test.tolist(),
        "uid": [uids[i] for i in fold.test], "group": [groups[i] for i in fold.test],
        "y_true": [int(labels[i]) for i in fold.test], "y_pred": pred["pred"].tolist(),
        "prob": np.round(pred["prob"].astype(np.float64), 6).tolist(),
        "train_groups": train_groups, "val_groups": sorted({groups[i] for i in val_idx}),
        "test_groups": test_groups, "n_train": int(len(train_idx)), "n_val": int(len(val_idx)),
        "absent_train_classes": absent,
        "n_train_only": int(extra[train_idx].sum()) if extra is not None else 0,
        "best_epoch": result.best_epoch, "epochs": int(len(result.history)),
        "resumed_from": int(result.resumed_from),
        "history": result.history.to_dict(orient="records"), "device": result.device,
        "seconds": time.time() - t0,
    }
    atomic_write_json(_fold_file(run_dir, fold.index), record)
    if not keep_checkpoints:
        (ckpt_dir / "last.pt").unlink(missing_ok=True)
        for folder in (ckpt_dir, ckpt_dir.parent):
            try:
                folder.rmdir()   # only when empty: another fold's checkpoint, or a user's file, stays
            except OSError:
                break


