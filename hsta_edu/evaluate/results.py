"""Run folders as results: `merge_run` pools a run folder's fold records into metrics, tables,
a confusion matrix and ``report.md``; `RunResult` is a run folder's state. Every file read here is
checked first: a corrupt, foreign or incomplete ``config.json`` or fold record is a DataError
naming the file and what to do, never a traceback from deep inside."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError
from ..io import atomic_write_json, atomic_write_text
from .metrics import compute_metrics, metrics_table

__all__ = ["read_json"]


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


def fold_file(run_dir: Path, index: int) -> Path:
    return run_dir / "folds" / f"fold_{index:03d}.json"


def read_json(path: Path, what: str) -> Any:
    """A JSON file of a run folder; DataError naming the file (and how to recover) when unreadable."""
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON ({exc}); {what}") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None


def merge_run(run_dir: str | Path, write: bool = True) -> RunResult:
    """Pool every fold of a run folder: metrics on all predictions at once (MEGC), plus per-fold
    and per-dataset tables; writes ``metrics.json``, ``predictions.csv``, ``per_fold.csv``,
    ``confusion.png`` and ``report.md``. A run with folds missing is reported, not scored."""
    run_dir = Path(run_dir)
    cfg_file = run_dir / "config.json"
    if not cfg_file.exists():
        raise DataError(f"{run_dir} is not a run folder (no config.json)")
    config = read_json(cfg_file, "it cannot be merged; move the folder away and rerun the protocol to start afresh")
    if not isinstance(config, dict) or not {"n_folds", "folds", "classes", "protocol"} <= set(config):
        raise DataError(f"{cfg_file} is not a run configuration written by hsta_edu (missing "
                        f"{sorted({'n_folds', 'folds', 'classes', 'protocol'} - set(config or {}))})")
    n_folds = int(config["n_folds"])
    records = [r for r in (_read_fold(run_dir, f["index"], config) for f in config["folds"]) if r is not None]
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


_RECORD_KEYS = ("index", "name", "test_index", "uid", "group", "y_true", "y_pred", "prob", "seconds", "best_epoch")


def _read_fold(run_dir: Path, index: int, config: dict[str, Any]) -> dict[str, Any] | None:
    """Fold ``index``'s record, checked: of this run (its ``run_id``), complete, and with predictions
    among the run's classes; None when the fold has not finished. DataError naming the file."""
    path = fold_file(run_dir, index)
    if not path.exists():
        return None
    fix = "delete it to rerun that fold"
    r = read_json(path, fix)
    missing = [k for k in _RECORD_KEYS if not isinstance(r, dict) or k not in r]
    if missing:
        raise DataError(f"{path} is not a fold record of hsta_edu (no {missing}); {fix}")
    if config.get("run_id") and r.get("run_id") and r["run_id"] != config["run_id"]:
        raise DataError(f"{path} comes from another run (run id {r['run_id']}, this folder's is "
                        f"{config['run_id']}): folds merge only when their runs agree; {fix}")
    n = len(config["classes"])
    bad = [v for v in (*r["y_pred"], *r["y_true"]) if not isinstance(v, int) or not 0 <= v < n]
    if bad or r["index"] != index or len({len(r[k]) for k in ("uid", "y_true", "y_pred", "prob")}) != 1:
        what = f"class index {bad[0]!r} outside the run's {n} classes" if bad else "inconsistent fields"
        raise DataError(f"{path}: {what}; {fix}")
    return r


def _data_lines(info: dict[str, Any]) -> list[str]:
    """The report's lines on what the loader left out or flagged (from ``info``, as the CLI records it)."""
    lines = []
    if "n_dropped" in info:
        lines.append(f"- Annotation rows dropped: {info['n_dropped']}" + (" (every reason in dropped.csv)"
                                                                         if info["n_dropped"] else ""))
    warned = info.get("warnings") or []
    if warned:
        lines.append(f"- Clips kept with a warning: {len(warned)}, e.g. " + "; ".join(warned[:3]))
    return lines


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
        *_data_lines(info),
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
