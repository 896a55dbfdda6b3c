"""Pictures of explanations: heat maps over the frames, per-frame importance, methods side by side.

Every function returns a `matplotlib.figure.Figure` built without pyplot's figure manager,
so figures never pile up in a notebook session (nothing to close); Jupyter shows a returned
figure once, ``fig.savefig(path)`` or `hsta_edu.viz.save_figure` writes it. Maps are ``(T, H, W)``
aligned with the frames (see `hsta_edu.explain.attention.TokenLayout.to_frames` and
`Attribution.map`). The figure base (PNG bytes, frame display, notebook display) is
`hsta_edu.viz`; `figure_png` and `register_notebook_display` are re-exported here for old imports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..errors import ConfigError
from ..viz import as_float_array, display_image, figure_png, register_notebook_display

__all__ = ["display_frames", "frame_importance", "overlay", "plot_frame_importance", "compare_methods",
           "figure_png", "register_notebook_display"]


def display_frames(clip) -> np.ndarray:
    """A clip (C, T, H, W), (T, H, W) or a batch of one (any normalisation) -> grey frames (T, H, W)
    in [0, 1], aligned with its maps: `hsta_edu.viz.display_image` of the channel mean, stretched
    over the clip between its 0.5 and 99.5 percentiles."""
    x = as_float_array(clip)
    if x.ndim == 5 and x.shape[0] == 1:
        x = x[0]
    if x.ndim == 3:     # already grey: a clip of one channel
        x = x[None]
    if x.ndim != 4:
        raise ConfigError(f"frames must be (C, T, H, W) or (T, H, W), got shape {x.shape}")
    return display_image(x, grey=True, percentile=0.5)


def _heat(m, frames: np.ndarray | None = None) -> np.ndarray:
    h = as_float_array(m)
    if h.ndim == 4 and h.shape[0] == 1:
        h = h[0]
    if h.ndim != 3:
        raise ConfigError(f"a map must be (T, H, W), got shape {h.shape}")
    if frames is not None and h.shape != frames.shape:
        raise ConfigError(f"map shape {h.shape} does not match the frames {frames.shape}")
    return h


def frame_importance(heat) -> np.ndarray:
    """Share of the map's (absolute) mass in each frame: (T, H, W) -> (T,), sums to 1."""
    h = np.abs(_heat(heat))
    per = h.reshape(h.shape[0], -1).sum(1)
    return per / max(per.sum(), 1e-12)


def _frame_choice(frames: str | int | Sequence[int], T: int) -> list[int | str]:
    if frames == "all":
        return list(range(T))
    if frames == "mean":
        return ["mean"]
    if isinstance(frames, int):
        frames = [frames]
    out: list[int | str] = []
    for f in frames:
        if f == "mean":
            out.append("mean")
        elif not -T <= int(f) < T:
            raise ConfigError(f"frame {f} out of range: the clip has {T} frames")
        else:
            out.append(int(f) % T)
    return out


def _draw(ax, grey: np.ndarray, heat: np.ndarray, vmax: float, alpha: float, cmap: str, title: str) -> None:
    ax.imshow(grey, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.imshow(heat, cmap=cmap, alpha=alpha, vmin=0, vmax=vmax, interpolation="bilinear")
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()


def overlay(clip, heat, frames: str | int | Sequence[int] = "all", *, alpha: float = 0.5, cmap: str = "jet",
            title: str | None = None, ncols: int = 6, panel: float = 2.0) -> Figure:
    """Heat map over the frames: one panel per chosen frame, and/or ``'mean'`` (map summed over
    time, drawn on the first frame). ``clip`` (C, T, H, W) or (T, H, W); ``heat`` (T, H, W)."""
    grey = display_frames(clip)
    h = np.abs(_heat(heat, grey))
    chosen = _frame_choice(frames, grey.shape[0])
    n = len(chosen)
    cols = min(ncols, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(panel * cols, panel * rows + (0.4 if title else 0)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    vmax = float(h.max()) or 1.0
    mean = h.sum(0)
    for ax, f in zip(axes, chosen, strict=False):
        if f == "mean":
            _draw(ax, grey[0], mean, float(mean.max()) or 1.0, alpha, cmap, "all frames")
        else:
            _draw(ax, grey[f], h[f], vmax, alpha, cmap, f"frame {f}")
    for ax in axes[n:]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig


def plot_frame_importance(maps, *, labels: Sequence[str] | None = None, title: str = "When the model looks",
                          figsize: tuple[float, float] = (5, 3)) -> Figure:
    """Per-frame share of each map's mass: ``maps`` is a (T, H, W) map or a dict name -> map."""
    if not isinstance(maps, Mapping):
        maps = {"importance": maps}
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    for name, m in maps.items():
        curve = frame_importance(m)
        ax.plot(np.arange(len(curve)), curve, marker="o", label=name)
    T = max(len(frame_importance(m)) for m in maps.values())
    ax.set_xticks(range(T))
    if labels is not None:
        ax.set_xticklabels(labels)
    ax.set_xlabel("frame")
    ax.set_ylabel("share of attribution")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    if len(maps) > 1:
        ax.legend(fontsize=8)
    return fig


def compare_methods(clip, maps: Mapping[str, object], frames: str | int | Sequence[int] = "mean", *,
                    alpha: float = 0.5, cmap: str = "jet", mask=None, panel: float = 2.0) -> Figure:
    """Methods side by side: one column per method (plus the input), one row per chosen frame.

    ``maps``: name -> (T, H, W) map on the frames of ``clip``; ``mask`` (H, W) or (T, H, W):
    true moving regions, outlined in white where given (SynthME)."""
    if not maps:
        raise ConfigError("compare_methods needs at least one map")
    grey = display_frames(clip)
    chosen = _frame_choice(frames, grey.shape[0])
    names = list(maps)
    heats = {k: np.abs(_heat(v, grey)) for k, v in maps.items()}
    msk = None if mask is None else as_float_array(mask)
    fig = Figure(figsize=(panel * (len(names) + 1), panel * len(chosen)), layout="constrained")
    axes = fig.subplots(len(chosen), len(names) + 1, squeeze=False)
    for r, f in enumerate(chosen):
        g = grey[0] if f == "mean" else grey[f]
        axes[r, 0].imshow(g, cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_title("input" + ("" if f == "mean" else f", frame {f}"), fontsize=9)
        axes[r, 0].set_axis_off()
        for c, k in enumerate(names, start=1):
            h = heats[k].sum(0) if f == "mean" else heats[k][f]
            _draw(axes[r, c], g, h, float(h.max()) or 1.0, alpha, cmap, k)
            if msk is not None:
                mm = msk if msk.ndim == 2 else (msk.max(0) if f == "mean" else msk[f])
                if mm.any():
                    axes[r, c].contour(mm > 0, levels=[0.5], colors="white", linewidths=0.8)
    return fig
