"""Figures about datasets: how many clips each class has, per label scheme or per corpus.

Functions return a `matplotlib.figure.Figure` built without pyplot's global state (headless,
displayed inline in a notebook; save with `hsta_edu.viz.save_figure`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from ...errors import DataError
from ..clip import DatasetIndex

Counts = Mapping[str, Mapping[str, int]]


def _as_counts(counts: Counts | Mapping[str, DatasetIndex]) -> dict[str, dict[str, int]]:
    out = {}
    for name, value in counts.items():
        out[str(name)] = dict(value.class_counts() if isinstance(value, DatasetIndex) else value)
    if not out or not any(out.values()):
        raise DataError("no class counts to plot")
    return out


def plot_class_counts(counts: Counts | Mapping[str, DatasetIndex], title: str | None = None,
                      stacked: bool = False) -> Figure:
    """Clips per class for several indexes (or ``{name: {class: count}}`` tables).

    ``stacked=False``: one panel per entry (e.g. one per label scheme, each with its own
    classes), a bar per class labelled with its count. ``stacked=True``: one bar per entry
    (e.g. per corpus of the composite), split by class, with the total on top.
    """
    table = _as_counts(counts)
    if stacked:
        classes = list(dict.fromkeys(c for row in table.values() for c in row))
        fig = Figure(figsize=(1.8 + 1.1 * len(table), 3.2))
        ax = fig.subplots()
        bottom = np.zeros(len(table))
        for cls in classes:
            values = np.array([row.get(cls, 0) for row in table.values()], dtype=float)
            ax.bar(list(table), values, bottom=bottom, label=cls)
            bottom += values
        for x, total in enumerate(bottom):
            ax.text(x, total, f"{int(total)}", ha="center", va="bottom", fontsize=8)
        ax.set(ylabel="clips", ylim=(0, bottom.max() * 1.12))
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.set_title(title or "clips per class", fontsize=10)
    else:
        fig = Figure(figsize=(min(3.0 * len(table), 12), 3.0))
        axes = np.atleast_1d(fig.subplots(1, len(table)))
        for ax, (name, row) in zip(axes, table.items(), strict=True):
            bars = ax.bar(list(row), list(row.values()), color="tab:blue", alpha=0.8)
            ax.bar_label(bars, fontsize=7)
            ax.set_title(f"{name} ({sum(row.values())})", fontsize=9)
            ax.tick_params(axis="x", labelrotation=60, labelsize=7)
            ax.margins(y=0.15)
        axes[0].set_ylabel("clips")
        if title:
            fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
