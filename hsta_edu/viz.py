"""The figure base of the package, and the figures of training and evaluation.

Every figure module builds on this base: `hsta_edu.data.figures.clips` and `hsta_edu.data.figures.steps`
(data preparation), `hsta_edu.data.figures.classes` (class counts), `hsta_edu.explain.plots` (explanations),
`hsta_edu.explain.internals` (the model's internals) and the explorer of `hsta_edu.explain.widgets`.

- `save_figure` writes a figure to a file (`figure_format` checks its name first), `figure_png` gives its PNG bytes (widgets, notebooks).
- `display_image` turns a frame (C, H, W) or a clip (C, T, H, W), a tensor or an array in any
  normalisation, into values in [0, 1] for ``imshow``; `grey_levels` reads the grey levels of a raw
  (H, W, 3) / (H, W) image, unscaled, to measure differences; `show_image` draws an image on an axis.
- `register_notebook_display` makes IPython show a returned `Figure` as a PNG; only when called.
- `map_scale` chooses how a map is coloured (its values from 0, or, for a near-uniform map such as
  attention, its deviation from uniform on a diverging scale) and says so in a colour-bar label;
  `outline_region` draws a true region's outline over an image; `chance_line` the chance level
  1/K of a score.

The figures here (loss curves, confusion matrices, fold and ablation plots), like those of the other
figure modules, are `matplotlib.figure.Figure` objects built without pyplot's global state, so they
work headless and never pile up in a notebook session.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from .errors import ConfigError, DataError
from .io import atomic_write_bytes

__all__ = ["save_figure", "figure_format", "figure_png", "register_notebook_display", "as_float_array", "display_image",
           "grey_levels", "show_image", "MapScale", "map_scale", "outline_region", "region_handle", "chance_line",
           "plot_history", "plot_curves", "plot_confusion", "plot_fold_scores", "plot_ablation",
           "plot_learning_curve"]

# ----------------------------------------------------------------------------- the figure base

_LUMA = np.float32([0.299, 0.587, 0.114])   # ITU-R 601 weights, as OpenCV's RGB2GRAY


def _figure_bytes(fig: Figure, fmt: str, dpi: int, **savefig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, **savefig)
    return buf.getvalue()


def figure_format(path: str | Path) -> str:
    """The image format matplotlib writes ``path`` in (its extension; ``png`` when it has none);
    ConfigError naming the path and the formats there are when matplotlib cannot write it. Check a
    figure's path with it before the work that makes the figure."""
    from matplotlib.backend_bases import FigureCanvasBase

    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    formats = FigureCanvasBase.get_supported_filetypes()
    if fmt not in formats:
        raise ConfigError(f"{path}: matplotlib cannot write .{fmt} files; end the file name with one of "
                          f"{', '.join('.' + f for f in sorted(formats))}")
    return fmt


def save_figure(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write a figure as PNG (or the path's format, `figure_format`) atomically."""
    path = Path(path)
    return atomic_write_bytes(path, _figure_bytes(fig, figure_format(path), dpi, bbox_inches="tight"))


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


# ----------------------------------------------------------------------------- maps: scale, true regions, chance

SCALES = ("auto", "absolute", "deviation")
DIVERGING = "RdBu_r"
REGION_LABEL = "true moving region"


class MapScale(NamedTuple):
    """How a map is coloured: the ``values`` drawn, their colour limits, the colour map and the
    colour-bar ``label`` (it says what is shown); ``deviation`` when the values are map / uniform - 1."""

    values: np.ndarray
    vmin: float
    vmax: float
    cmap: str
    label: str
    deviation: bool


def map_scale(values: Any, scale: str = "auto", *, cmap: str = "viridis", label: str = "value",
              over: Any = None, ratio: float = 1.2) -> MapScale:
    """Colour a map truthfully. ``scale="absolute"``: the values, from 0 to their maximum (on a
    symmetric diverging scale when some are negative). ``"deviation"``: ``values / uniform - 1`` on a
    symmetric diverging scale, ``uniform`` being the mean of ``over`` (default ``values``): for
    attention over N tokens that is ``attention x N - 1``, 0 = uniform, +1 = twice the uniform share.
    ``"auto"``: deviation when the map is nearly flat (all positive, max / min < ``ratio``: an absolute
    scale would show one colour), absolute otherwise."""
    if scale not in SCALES:
        raise DataError(f"unknown map scale {scale!r}; choose one of {SCALES}")
    v = as_float_array(values)
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
    if scale == "auto":
        scale = "deviation" if lo > 0 and hi / lo < ratio else "absolute"
    mean = float(as_float_array(v if over is None else over).mean()) if v.size else 0.0
    if scale == "deviation" and mean != 0:
        d = v / mean - 1.0
        lim = max(float(np.abs(d).max()), 1e-6)
        return MapScale(d, -lim, lim, DIVERGING, f"{label} / uniform - 1", True)
    if lo < 0:
        lim = max(-lo, hi)
        return MapScale(v, -lim, lim, DIVERGING, label, False)
    return MapScale(v, 0.0, hi or 1.0, cmap, label, False)


def _region_effects() -> list:
    from matplotlib import patheffects
    return [patheffects.withStroke(linewidth=2.6, foreground="black")]


def outline_region(ax, mask: Any, color: str = "white") -> bool:
    """Outline a true region (an (H, W) mask, nonzero inside) on an image axis: a ``color`` line edged
    in black, visible on any colour map. Returns whether anything was drawn (not for an empty mask)."""
    m = as_float_array(mask) > 0
    if m.ndim != 2 or not m.any():
        return False
    contours = ax.contour(m.astype(np.float32), levels=[0.5], colors=color, linewidths=1.2)
    contours.set_path_effects(_region_effects())
    return True


def region_handle(color: str = "white"):
    """A legend entry for `outline_region`'s line."""
    from matplotlib.lines import Line2D
    return Line2D([], [], color=color, lw=1.2, path_effects=_region_effects(), label=REGION_LABEL)


def chance_line(ax, num_classes: int) -> None:
    """A dashed line at the chance level 1/K of a score (what guessing uniformly scores), labelled
    for the legend."""
    if int(num_classes) < 1:
        raise DataError(f"chance level needs num_classes >= 1, got {num_classes}")
    k = int(num_classes)
    ax.axhline(1 / k, color="dimgrey", ls="--", lw=1, label=f"chance 1/{k} = {1 / k:.2f}")


# ----------------------------------------------------------------------------- training and evaluation

def _runs(history: Any) -> dict[str, pd.DataFrame]:
    """One history, or several runs {name: history} (a `TrainResult` too), as tables by run name."""
    if isinstance(history, Mapping) and "epoch" not in history:
        runs = {str(k): pd.DataFrame(getattr(v, "history", v)) for k, v in history.items()}
    else:
        runs = {"": pd.DataFrame(getattr(history, "history", history))}
    for name, df in runs.items():
        if df.empty or "epoch" not in df:
            raise DataError(f"history{f' {name!r}' if name else ''} is empty: nothing to plot")
    if not runs:
        raise DataError("history is empty: nothing to plot")
    return runs


def _curve(ax, x: Any, y: Any, **style: Any) -> bool:
    """Plot y against its own x, leaving out missing values (a curve never breaks on a NaN)."""
    d = pd.DataFrame({"x": pd.to_numeric(pd.Series(list(x)), errors="coerce"),
                      "y": pd.to_numeric(pd.Series(list(y)), errors="coerce")}).dropna()
    if d.empty:
        return False
    ax.plot(d["x"], d["y"], **style)
    return True


_SCORES = (("acc", "train acc"), ("uf1", "train UF1"), ("val_acc", "val acc"), ("val_uf1", "val UF1"))


def _score_style(col: str, run: int, several: bool) -> dict[str, Any]:
    val = col.startswith("val_")
    if several:   # colour = run, marker = score
        return {"color": f"C{run}", "marker": "^" if col.endswith("uf1") else "o", "ls": "--" if val else "-"}
    return {"color": "C1" if col.endswith("uf1") else "C0", "marker": "s" if val else "o", "ls": "--" if val else "-"}


def plot_history(history: pd.DataFrame | Sequence[dict[str, Any]] | Mapping[str, Any], title: str | None = None,
                 *, num_classes: int | None = None) -> Figure:
    """Training curves from `TrainResult.history`: loss (and val loss), accuracy / UF1 (train and
    validation when present; with ``num_classes`` the chance level 1/K dashed) and the learning rate,
    per epoch. ``history`` is one run's table (or rows), or several runs ``{name: history}``; every
    run is drawn against its own epochs and missing values are skipped, so runs of different lengths
    never leave gaps."""
    from matplotlib.ticker import MaxNLocator

    runs = _runs(history)
    several = len(runs) > 1
    fig = Figure(figsize=(11.5, 3.4), layout="constrained")
    axes = fig.subplots(1, 3)
    for i, (name, df) in enumerate(runs.items()):
        tag = f"{name}: " if several else ""
        colour = {"color": f"C{i}"} if several else {}
        _curve(axes[0], df["epoch"], df.get("loss", []), marker="o", ms=3, label=f"{tag}train", **colour)
        if "val_loss" in df:
            _curve(axes[0], df["epoch"], df["val_loss"], marker="s", ms=3, ls="--", label=f"{tag}validation",
                   **({"color": f"C{i}"} if several else {"color": "C1"}))
        for col, label in _SCORES:
            if col in df:
                _curve(axes[1], df["epoch"], df[col], ms=3, label=f"{tag}{label}", **_score_style(col, i, several))
        if "lr" in df:
            _curve(axes[2], df["epoch"], df["lr"], label=name or "lr", color=f"C{i}" if several else "tab:green")
    if num_classes:
        chance_line(axes[1], num_classes)
    axes[0].set(xlabel="epoch", ylabel="loss", title="loss")
    axes[1].set(xlabel="epoch", ylabel="score", ylim=(0, 1.02), title="accuracy / UF1")
    axes[2].set(xlabel="epoch", ylabel="lr (end of epoch)", title="learning rate")
    axes[2].ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0] and (ax is not axes[2] or several):
            ax.legend(fontsize=7, loc="best", framealpha=0.8)
    if title:
        fig.suptitle(title)
    return fig


def _xy(curve: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(curve, pd.Series):
        return np.asarray(curve.index, dtype=float), curve.to_numpy(dtype=float)
    if isinstance(curve, Mapping):
        return np.asarray(list(curve), dtype=float), np.asarray(list(curve.values()), dtype=float)
    x, y = curve
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def plot_curves(curves: Mapping[str, Any], *, xlabel: str = "x", ylabel: str = "value", title: str | None = None,
                subplots: bool = False, logy: bool = False, panel: tuple[float, float] = (5.0, 2.8)) -> Figure:
    """Several curves, each against its own x: ``{name: curve}``, a curve being a `pandas.Series`
    (x = its index), an ``(x, y)`` pair or a mapping x -> y. Joining them into one DataFrame would
    put them on a shared index and leave NaN gaps wherever one has no value; here each is drawn whole.
    One axis with a legend, or with ``subplots`` one titled axis per curve."""
    if not curves:
        raise DataError("plot_curves: no curves")
    n = len(curves) if subplots else 1
    fig = Figure(figsize=(panel[0] * n, panel[1]), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n)).ravel()
    for i, (name, curve) in enumerate(curves.items()):
        ax = axes[i if subplots else 0]
        x, y = _xy(curve)
        _curve(ax, x, y, color=f"C{i}", label=str(name))
        ax.set(xlabel=xlabel, ylabel=ylabel)
        if subplots:
            ax.set_title(str(name), fontsize=9)
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    if not subplots:
        axes[0].legend(fontsize=8, loc="best")
        axes[0].set_title(title or ", ".join(map(str, curves)), fontsize=9)
    elif title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_confusion(confusion: Sequence[Sequence[int]] | np.ndarray, classes: Sequence[str],
                   normalize: bool = True, title: str | None = None) -> Figure:
    """Confusion matrix (rows = true class, columns = predicted). ``normalize`` shows each row
    as fractions of the true class (the diagonal is per-class recall, whose mean is the UAR),
    annotated with the raw counts; the colour bar says which."""
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
                xticklabels=classes, yticklabels=classes, cbar=True, square=True, ax=ax,
                cbar_kws={"label": "share of the true class" if normalize else "clips"})
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion matrix")
    fig.tight_layout()
    return fig


def _score_axes(ax, num_classes: int | None, ylabel: str, title: str) -> None:
    """Common finish of a bar chart of scores in [0, 1]: chance line, labels, legend outside the bars."""
    if num_classes:
        chance_line(ax, num_classes)
    ax.set(ylim=(0, 1.02), ylabel=ylabel, title=title)
    ax.grid(axis="y", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def plot_fold_scores(per_fold: pd.DataFrame, metric: str = "uf1", pooled: float | None = None, *,
                     num_classes: int | None = None) -> Figure:
    """Bar chart of a metric per fold (e.g. per LOSO subject), with the pooled score as a line and,
    with ``num_classes`` K, the chance level 1/K dashed (legend outside the bars)."""
    if metric not in per_fold:
        raise DataError(f"per-fold table has no column {metric!r}; columns: {list(per_fold.columns)}")
    names = per_fold["name"] if "name" in per_fold else per_fold.index.astype(str)
    fig = Figure(figsize=(max(4, 0.45 * len(per_fold) + 1.5) + 1.6, 3.2), layout="constrained")
    ax = fig.subplots()
    ax.bar(range(len(per_fold)), per_fold[metric], color="tab:blue", alpha=0.8, label=f"{metric.upper()} of a fold")
    ax.set_xticks(range(len(per_fold)), [str(n) for n in names], rotation=60, ha="right", fontsize=8)
    if pooled is not None:
        ax.axhline(pooled, color="tab:red", ls="-", lw=1.2, label=f"pooled {metric.upper()} {pooled:.3f}")
    ax.set_xlabel("fold")
    _score_axes(ax, num_classes, metric.upper(), f"{metric.upper()} per fold")
    return fig


def plot_ablation(table: pd.DataFrame, metrics: Sequence[str] = ("uf1", "uar", "accuracy"),
                  label: str = "variant", *, num_classes: int | None = None) -> Figure:
    """Grouped bars comparing runs (rows of ``table``, named by column ``label``); with
    ``num_classes`` K the chance level 1/K dashed (legend outside the bars)."""
    missing = [c for c in (label, *metrics) if c not in table]
    if missing:
        raise DataError(f"ablation table lacks columns {missing}")
    fig = Figure(figsize=(3.2 + 1.3 * len(table), 3.4), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(metrics)
    x = np.arange(len(table))
    for k, m in enumerate(metrics):
        ax.bar(x + (k - (len(metrics) - 1) / 2) * width, table[m], width, label=m.upper())
    ax.set_xticks(x, table[label].astype(str), rotation=20, ha="right")
    ax.set_xlabel(label)
    _score_axes(ax, num_classes, "score", "ablation")
    return fig


def plot_learning_curve(rows: Sequence[Mapping[str, Any]], *, num_classes: int = 3,
                        marks: Mapping[str, int] | None = None, titles: Mapping[str, str] | None = None) -> Figure:
    """Score against training size: one panel per ``level``, one line per (clips per class, start), the
    mean over seeds with min-max bars. ``rows``: one per run, with keys ``level``, ``clips``, ``per_class``,
    ``uf1`` and optionally ``init`` (True: started from self-supervised weights; dashed) and ``seed``.
    ``marks``: vertical lines at named sizes (e.g. the clips of real corpora); ``titles``: a panel title
    per level. The chance level 1/``num_classes`` is dashed."""
    need = ("level", "clips", "per_class", "uf1")
    if not rows:
        raise DataError("plot_learning_curve: no rows")
    for i, r in enumerate(rows):
        missing = [k for k in need if k not in r]
        if missing:
            raise DataError(f"plot_learning_curve: row {i} lacks {missing}")
    levels = list(dict.fromkeys(str(r["level"]) for r in rows))
    fig = Figure(figsize=(4.6 * len(levels), 4.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(levels), sharey=True)).ravel()
    handles: dict[str, Any] = {}
    sizes = sorted({int(r["per_class"]) for r in rows})     # one colour per clips-per-class, in every panel
    for ax, level in zip(axes, levels, strict=True):
        lv = [r for r in rows if str(r["level"]) == level]
        lines = sorted({(int(r["per_class"]), bool(r.get("init", False))) for r in lv})
        for k, init in lines:
            pts: dict[int, list[float]] = {}
            for r in lv:
                if int(r["per_class"]) == k and bool(r.get("init", False)) == init:
                    pts.setdefault(int(r["clips"]), []).append(float(r["uf1"]))
            x = sorted(pts)
            mean = np.array([np.mean(pts[c]) for c in x])
            err = np.array([[m - min(pts[c]) for m, c in zip(mean, x, strict=True)],
                            [max(pts[c]) - m for m, c in zip(mean, x, strict=True)]])
            label = f"{k} clips per class and subject, " + ("self-supervised init" if init else "from scratch")
            bars = ax.errorbar(x, mean, yerr=err, marker="o", ms=4, capsize=3, ls="--" if init else "-",
                               color=f"C{sizes.index(k) % 10}", label=label)
            handles.setdefault(label, bars)
        for name, n in (marks or {}).items():
            ax.axvline(n, color="grey", lw=0.8, ls=":")
            ax.text(n, 0.03, f" {name}", rotation=90, fontsize=7, color="grey", va="bottom")
        chance_line(ax, num_classes)
        handles.setdefault(ax.lines[-1].get_label(), ax.lines[-1])
        ax.set(xlabel="clips in the LOSO run", ylim=(0, 1.02))
        ax.set_title((titles or {}).get(level, level), fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("pooled LOSO UF1 (mean; bars: min-max over seeds)")
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=2, fontsize=8)
    return fig
