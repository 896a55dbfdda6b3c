"""Protocol runs as resumable jobs: one model per fold, each fold's predictions saved as it ends.

`run_protocol` trains one model per fold with a fixed epoch budget (or picks the epoch on a
validation split of *training* subjects only: never on the test fold), saves each fold's
predictions atomically, skips finished folds on a rerun, runs a slice with ``shard=(i, n)``,
and `merge_run` pools the folds into ``metrics.json``, ``predictions.csv``, ``per_fold.csv``,
``confusion.png`` and ``report.md``. A run folder's ``config.json`` holds a fingerprint of
everything that decides its results; a rerun with another fingerprint is refused.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit
from torch import nn
from torch.utils.data import Dataset, Subset

from ..errors import ConfigError, DataError, Interrupted
from ..io import atomic_write_json, atomic_write_text
from ..train import RUNTIME_FIELDS, TrainConfig, dataset_labels, predict, set_seed, train
from .metrics import compute_metrics, metrics_table
from .parallel import FoldDisplay, fold_order, run_fold_jobs
from .protocols import (
    Fold,
    MissingClassWarning,
    Protocol,
    parse_shard,
    protocol_folds,
    shard_folds,
    train_only_mask,
)

__all__ = ["RunResult", "run_protocol", "merge_run"]


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
        from ..viz import plot_confusion
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


def _fold_file(run_dir: Path, index: int) -> Path:
    return run_dir / "folds" / f"fold_{index:03d}.json"


def run_protocol(dataset: Dataset, protocol: Protocol, model_fn: Callable[[], nn.Module], cfg: TrainConfig,
                 run_dir: str | Path, *, train_dataset: Dataset | None = None,
                 shard: tuple[int, int] | str | None = None, val_subjects: float = 0.0,
                 info: dict[str, Any] | None = None, keep_checkpoints: bool = False,
                 progress: bool | None = None, train_only: Sequence[bool] | bool | None = None,
                 jobs: int = 1, threads: int | None = None) -> RunResult:
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
    exists) are skipped; an interrupted fold resumes from its last epoch checkpoint.
    ``info`` (model preset and options, data, preprocessing) is stored in ``config.json``; a
    run folder holding another configuration is refused rather than mixed.
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
    run_dir = Path(run_dir)
    shard = parse_shard(shard)
    progress = cfg.progress if progress is None else progress
    train_dataset = dataset if train_dataset is None else train_dataset
    labels = dataset_labels(dataset)
    if len(train_dataset) != len(dataset) or not np.array_equal(dataset_labels(train_dataset), labels):
        raise DataError("train_dataset must hold the same clips in the same order as dataset")
    groups = _groups(dataset)
    uids = _uids(dataset)
    extra = train_only_mask(dataset, train_only)
    folds = protocol_folds(protocol, labels, groups, extra)
    fold_cfg = replace(cfg, select="best_val") if val_subjects else cfg
    config = _run_config(protocol, fold_cfg, folds, _classes(dataset), uids, len(labels), extra,
                         val_subjects, info)
    _claim_run_dir(run_dir, config)

    mine = shard_folds(folds, shard)
    todo = [f for f in mine if not _fold_file(run_dir, f.index).exists()]
    if int(jobs) < 1:
        raise ConfigError(f"jobs={jobs}: must be >= 1")
    display = FoldDisplay(len(mine), len(mine) - len(todo), desc=f"{protocol.name} folds", enabled=progress)
    job = partial(_fold_job, dataset=dataset, train_dataset=train_dataset, model_fn=model_fn, run_dir=run_dir,
                  labels=labels, groups=groups, uids=uids, protocol=protocol, val_subjects=val_subjects,
                  keep_checkpoints=keep_checkpoints, extra=extra)
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


def _run_config(protocol: Protocol, fold_cfg: TrainConfig, folds: list[Fold], classes: list[str],
                uids: list[str], n_clips: int, extra: np.ndarray, val_subjects: float,
                info: dict[str, Any] | None) -> dict[str, Any]:
    """A run's ``config.json``, with its ``fingerprint``: the config without ``info`` and without
    the run-time-only training fields, as sorted JSON. The key order and the fingerprint text
    are a stored format (old run folders resume only while they match byte for byte)."""
    config = {
        "format": "hsta_edu.run/1", "protocol": protocol.to_dict(), "train_config": fold_cfg.to_dict(),
        "val_subjects": val_subjects, "n_folds": len(folds), "n_samples": int(n_clips - extra.sum()),
        "classes": classes, "info": info or {},
        "folds": [{"index": f.index, "name": f.name, "n_train": int(len(f.train)), "n_test": int(len(f.test))}
                  for f in folds],
    }
    if extra.any():
        config["n_train_only"] = int(extra.sum())
        config["train_only_uids"] = [uids[i] for i in np.flatnonzero(extra)]
    comparable = {k: v for k, v in config.items() if k != "info"}
    comparable["train_config"] = {k: v for k, v in fold_cfg.to_dict().items() if k not in RUNTIME_FIELDS}
    config["fingerprint"] = json.dumps(comparable, sort_keys=True)
    return config


def _claim_run_dir(run_dir: Path, config: dict[str, Any]) -> None:
    """Write ``config.json`` into a new run folder; refuse one that holds another run."""
    cfg_file = run_dir / "config.json"
    if cfg_file.exists():
        old = json.loads(cfg_file.read_text())
        if old.get("fingerprint") != config["fingerprint"]:
            raise ConfigError(f"{run_dir} holds a different run (protocol, training recipe, folds or data "
                              "differ); use a new run folder or delete this one")
    else:
        atomic_write_json(cfg_file, config)


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
              progress: bool = False) -> None:
    """One fold as a job (what a worker process runs): `_run_fold` with the run's fixed arguments."""
    _run_fold(dataset, train_dataset, fold, model_fn, cfg, run_dir, labels, groups, uids, protocol,
              val_subjects, keep_checkpoints, progress, extra)


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
    fold_cfg = replace(cfg, seed=cfg.seed + fold.index, progress=progress and cfg.progress)
    set_seed(fold_cfg.seed)
    model = model_fn()
    ckpt_dir = run_dir / "checkpoints" / f"fold_{fold.index:03d}"
    try:
        result = train(model, Subset(train_dataset, train_idx.tolist()), fold_cfg, checkpoint_dir=ckpt_dir,
                       val_dataset=Subset(dataset, val_idx.tolist()) if len(val_idx) else None,
                       desc=f"fold {fold.name}")
    except Interrupted as exc:
        raise Interrupted(f"{exc} of fold {fold.name}") from None
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
        "resumed_from": int(result.resumed_from),
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
        from ..viz import plot_confusion, save_figure
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

