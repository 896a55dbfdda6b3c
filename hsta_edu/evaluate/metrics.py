"""MEGC metrics: UF1, UAR, accuracy, per-class report and confusion matrix (from scikit-learn),
and the same numbers per value of a column of a predictions table (per fold, per dataset)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score, recall_score

from ..errors import DataError

__all__ = ["class_indices"]


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
    known = len(classes) if classes is not None else None
    y_true = class_indices(y_true, "y_true", classes)
    y_pred = class_indices(y_pred, "y_pred", classes)
    if y_true.shape != y_pred.shape:
        raise DataError(f"y_true and y_pred must be 1-D of the same length, got {y_true.shape} and {y_pred.shape}")
    if len(y_true) == 0:
        raise DataError("no predictions to score")
    n_classes = known if known is not None else int(max(y_true.max(), y_pred.max())) + 1
    names = list(classes) if classes is not None else [str(i) for i in range(n_classes)]
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


def class_indices(values: Sequence[int], name: str, classes: Sequence[str] | int | None = None) -> np.ndarray:
    """``values`` as an int64 array of class indices, checked: 1-D, every value a whole number (an
    integer, or a float such as 1.0 that is one: 0.4 is refused, never truncated), at least 0 and,
    when ``classes`` (the names, or their number) is known, below their number. DataError naming
    the first bad value and its position."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataError(f"{name} must be a 1-D sequence of class indices, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        whole = np.ones(len(arr), dtype=bool)
    elif arr.dtype.kind == "f":
        whole = np.isfinite(arr) & (arr == np.round(arr))
    else:   # bools, text, objects: only true integers and whole real numbers are class indices
        whole = np.array([isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
                          or isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))
                          and math.isfinite(v) and float(v).is_integer() for v in arr.tolist()], dtype=bool)
    if not whole.all():
        i = int(np.flatnonzero(~whole)[0])
        raise DataError(f"{name}[{i}] = {arr.tolist()[i]!r} is not a class index (a whole number from 0): "
                        "give classes (e.g. logits.argmax(-1)), not scores, probabilities or names")
    big = 2 ** 62   # a value this large is out of range anyway; clipped so the cast cannot wrap round
    ints = arr.astype(np.int64) if arr.dtype.kind == "i" else np.clip(arr.astype(np.float64), -1, big).astype(np.int64)
    n = len(classes) if classes is not None and not isinstance(classes, int) else classes
    bad = np.flatnonzero((ints < 0) | (ints >= n)) if n is not None else np.flatnonzero(ints < 0)
    if len(bad):
        i = int(bad[0])
        names = f": {list(classes)}" if classes is not None and not isinstance(classes, int) else ""
        raise DataError(f"{name}[{i}] = {arr.tolist()[i]!r} is outside the class indices "
                        + (f"0..{n - 1} ({n} classes{names})" if n is not None else "(negative; they start at 0)"))
    return ints


def metrics_table(predictions: pd.DataFrame, by: str, classes: Sequence[str] | None = None) -> pd.DataFrame:
    """UF1 / UAR / accuracy / n per value of column ``by`` (e.g. "fold" or "dataset") of a
    predictions table with ``y_true`` and ``y_pred`` columns."""
    rows = []
    for key, part in predictions.groupby(by, sort=True):
        m = compute_metrics(part["y_true"], part["y_pred"], classes)
        rows.append({by: key, "uf1": m["uf1"], "uar": m["uar"], "accuracy": m["accuracy"], "n": m["n_samples"]})
    return pd.DataFrame(rows)
