"""Figures for training and evaluation: loss curves, confusion matrices, fold and ablation plots.

Every function returns a `matplotlib.figure.Figure` built without pyplot's global state, so it
works headless (saved with `save_figure`) and displays inline in a notebook. Attention plots
live in `hsta_edu.explain`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .errors import DataError
from .io import atomic_write_bytes

__all__ = ["plot_history", "plot_confusion", "plot_fold_scores", "plot_ablation", "save_figure"]


def save_figure(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write a figure as PNG (or the path's format) atomically."""
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())


def plot_history(history: pd.DataFrame | Sequence[dict[str, Any]], title: str | None = None) -> Figure:
    """Training curves from `TrainResult.history`: loss (and val loss), accuracy / UF1 (train and
    validation when present) and the learning rate, per epoch."""
    df = pd.DataFrame(history)
    if df.empty or "epoch" not in df:
        raise DataError("history is empty: nothing to plot")
    fig = Figure(figsize=(11, 3.2))
    axes = fig.subplots(1, 3)
    axes[0].plot(df["epoch"], df["loss"], marker="o", ms=3, label="train")
    if "val_loss" in df:
        axes[0].plot(df["epoch"], df["val_loss"], marker="s", ms=3, label="validation")
    axes[0].set(xlabel="epoch", ylabel="loss", title="loss")
    for col, style in (("acc", "-"), ("uf1", "--"), ("val_acc", "-"), ("val_uf1", "--")):
        if col in df:
            axes[1].plot(df["epoch"], df[col], style, marker="o", ms=3, label=col)
    axes[1].set(xlabel="epoch", ylim=(0, 1.02), title="accuracy / UF1")
    axes[2].plot(df["epoch"], df["lr"], color="tab:green")
    axes[2].set(xlabel="epoch", ylabel="lr (end of epoch)", title="learning rate")
    axes[2].ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    for ax in axes[:2]:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion(confusion: Sequence[Sequence[int]] | np.ndarray, classes: Sequence[str],
                   normalize: bool = True, title: str | None = None) -> Figure:
    """Confusion matrix (rows = true class, columns = predicted). ``normalize`` shows each row
    as fractions of the true class (the diagonal is per-class recall, whose mean is the UAR),
    annotated with the raw counts."""
    import seaborn as sns

    cm = np.asarray(confusion, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(classes):
        raise DataError(f"confusion matrix of shape {cm.shape} does not match {len(classes)} classes")
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    labels = np.array([[f"{shown[i, j]:.2f}\n({int(cm[i, j])})" if normalize else f"{int(cm[i, j])}"
                        for j in range(cm.shape[1])] for i in range(cm.shape[0])])
    side = 1.2 + 0.9 * len(classes)
    fig = Figure(figsize=(side + 1.2, side))
    ax = fig.subplots()
    sns.heatmap(shown, annot=labels, fmt="", cmap="Blues", vmin=0, vmax=1 if normalize else None,
                xticklabels=classes, yticklabels=classes, cbar=True, square=True, ax=ax)
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion matrix")
    fig.tight_layout()
    return fig


def plot_fold_scores(per_fold: pd.DataFrame, metric: str = "uf1", pooled: float | None = None) -> Figure:
    """Bar chart of a metric per fold (e.g. per LOSO subject), with the pooled score as a line."""
    if metric not in per_fold:
        raise DataError(f"per-fold table has no column {metric!r}; columns: {list(per_fold.columns)}")
    names = per_fold["name"] if "name" in per_fold else per_fold.index.astype(str)
    fig = Figure(figsize=(max(4, 0.45 * len(per_fold) + 1.5), 3))
    ax = fig.subplots()
    ax.bar(range(len(per_fold)), per_fold[metric], color="tab:blue", alpha=0.8)
    ax.set_xticks(range(len(per_fold)), [str(n) for n in names], rotation=60, ha="right", fontsize=8)
    if pooled is not None:
        ax.axhline(pooled, color="tab:red", ls="--", label=f"pooled {metric.upper()} {pooled:.3f}")
        ax.legend(fontsize=8)
    ax.set(ylim=(0, 1.02), ylabel=metric.upper(), title=f"{metric.upper()} per fold")
    fig.tight_layout()
    return fig


def plot_ablation(table: pd.DataFrame, metrics: Sequence[str] = ("uf1", "uar", "accuracy"),
                  label: str = "variant") -> Figure:
    """Grouped bars comparing runs (rows of ``table``, named by column ``label``)."""
    missing = [c for c in (label, *metrics) if c not in table]
    if missing:
        raise DataError(f"ablation table lacks columns {missing}")
    fig = Figure(figsize=(1.6 + 1.3 * len(table), 3.2))
    ax = fig.subplots()
    width = 0.8 / len(metrics)
    x = np.arange(len(table))
    for k, m in enumerate(metrics):
        ax.bar(x + (k - (len(metrics) - 1) / 2) * width, table[m], width, label=m.upper())
    ax.set_xticks(x, table[label].astype(str), rotation=20, ha="right")
    ax.set(ylim=(0, 1.02), title="ablation")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
