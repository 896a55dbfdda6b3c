"""The figure base of the package, and the figures of training and evaluation.

Every figure module builds on this base: `hsta_edu.data.figures` and `hsta_edu.data.step_figures`
(data preparation), `hsta_edu.data.class_plots` (class counts), `hsta_edu.explain.plots` (explanations),
`hsta_edu.explain.internals` (the model's internals) and the explorer of `hsta_edu.explain.widgets`.

- `save_figure` writes a figure to a file, `figure_png` gives its PNG bytes (widgets, notebooks).
- `display_image` turns a frame (C, H, W) or a clip (C, T, H, W), a tensor or an array in any
  normalisation, into values in [0, 1] for ``imshow``; `grey_levels` reads the grey levels of a raw
  (H, W, 3) / (H, W) image, unscaled, to measure differences; `show_image` draws an image on an axis.
- `register_notebook_display` makes IPython show a returned `Figure` as a PNG; only when called.

The figures here (loss curves, confusion matrices, fold and ablation plots), like those of the other
figure modules, are `matplotlib.figure.Figure` objects built without pyplot's global state, so they
work headless and never pile up in a notebook session.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from .errors import DataError
from .io import atomic_write_bytes

__all__ = ["save_figure", "figure_png", "register_notebook_display", "as_float_array", "display_image",
           "grey_levels", "show_image", "plot_history", "plot_confusion", "plot_fold_scores", "plot_ablation"]

# ----------------------------------------------------------------------------- the figure base

_LUMA = np.float32([0.299, 0.587, 0.114])   # ITU-R 601 weights, as OpenCV's RGB2GRAY


def _figure_bytes(fig: Figure, fmt: str, dpi: int, **savefig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, **savefig)
    return buf.getvalue()


def save_figure(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write a figure as PNG (or the path's format) atomically."""
    path = Path(path)
    return atomic_write_bytes(path, _figure_bytes(fig, path.suffix.lstrip(".") or "png", dpi,
                                                  bbox_inches="tight"))


def figure_png(fig: Figure, dpi: int = 90) -> bytes:
    """PNG bytes of a figure (for widgets and files)."""
    return _figure_bytes(fig, "png", dpi)


def register_notebook_display() -> bool:
    """Make IPython show a bare `Figure` (one not made by pyplot) as a PNG (`figure_png`).

    Jupyter's inline backend registers such a formatter only after ``%matplotlib inline`` (or once
    pyplot has drawn a figure), so without either a returned Figure shows as ``<Figure size ...>``.
    Nothing calls this on import: a notebook asks for it. Harmless outside IPython (returns False)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipywidgets
        return False
    ip = get_ipython()
    if ip is None:
        return False
    ip.display_formatter.formatters["image/png"].for_type(Figure, figure_png)
    return True


def as_float_array(x: Any) -> np.ndarray:
    """A tensor (detached, on the CPU) or array-like as a float32 NumPy array."""
    if torch.is_tensor(x):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def display_image(x: Any, *, grey: bool = False, percentile: float = 0.0) -> np.ndarray:
    """A frame (C, H, W) or a clip (C, T, H, W), channels first, as float32 values in [0, 1] for
    ``imshow``: grey (the channel mean: (H, W) / (T, H, W)) or colour (channels last: (H, W, C) /
    (T, H, W, C)). ``x`` is a tensor or an array in any normalisation (or uint8). The values are
    stretched over the whole input, so the frames of a clip share one range: from the ``percentile``
    to the ``100 - percentile`` percentile (0: from the minimum to the maximum), clipped."""
    values = as_float_array(x)
    values = values.mean(0) if grey else np.moveaxis(values, 0, -1)
    low, high = np.percentile(values, percentile), np.percentile(values, 100 - percentile)   # float32
    return np.clip((values - low) / max(high - low, 1e-6), 0, 1)


def grey_levels(image: Any, luma: bool = False) -> np.ndarray:
    """The grey levels (float32, unscaled) of a raw image (H, W, 3) RGB or (H, W) grey, e.g. uint8:
    the mean of the channels, or with ``luma`` the ITU-R 601 weighting (as OpenCV's RGB2GRAY, which
    `hsta_edu.data.prep` measures with). A grey image is returned as it is."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 3:
        return img
    return img @ _LUMA if luma else img.mean(-1)


def show_image(ax, image: Any, title: str = "") -> None:
    """Draw an image (H, W, 3) in colour or (H, W) in grey on ``ax``, pixel for pixel, with a small
    title and no axes."""
    img = np.asarray(image)
    ax.imshow(img, cmap=None if img.ndim == 3 else "gray", interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.axis("off")


# ----------------------------------------------------------------------------- training and evaluation

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
