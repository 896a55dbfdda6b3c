"""MEGC metrics: UF1, UAR, accuracy, per-class report and confusion matrix (from scikit-learn),
and the same numbers per value of a column of a predictions table (per fold, per dataset)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score, recall_score

from ..errors import DataError

__all__ = ["compute_metrics", "metrics_table"]


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
