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
from ..viz import (
    MapScale,
    as_float_array,
    display_image,
    map_scale,
    outline_region,
    region_handle,
)

__all__ = ["display_frames"]


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


def draw_overlay(ax, grey: np.ndarray, heat: np.ndarray, vmax: float, alpha: float, cmap: str, title: str,
          vmin: float = 0.0):
    """The frame in grey with the map over it (limits ``vmin``..``vmax``); returns the map's image."""
    ax.imshow(grey, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    im = ax.imshow(heat, cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax, interpolation="bilinear")
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
    return im


def _regions(mask, grey: np.ndarray):
    """A true-region mask as a function frame -> (H, W) bool: ``mask`` (H, W) is the same on every
    frame, (T, H, W) one per frame, any other (n, H, W) (e.g. SynthME's per-AU ``masks``) their
    union; "mean" (all frames) is the union over time."""
    if mask is None:
        return None
    m = as_float_array(mask) > 0
    T, H, W = grey.shape
    if m.ndim not in (2, 3) or m.shape[-2:] != (H, W):
        raise ConfigError(f"true-region mask of shape {m.shape} does not match the frames ({H}, {W}): "
                          "map it onto the model's input first (hsta_edu.explain.score.synthme_mask)")
    if m.ndim == 3 and m.shape[0] != T:
        m = m.any(0)
    if m.ndim == 2:
        return lambda f: m
    return lambda f: m.any(0) if f == "mean" else m[f]


def _panel(ax, grey: np.ndarray, heat: np.ndarray, ms: MapScale, alpha: float, title: str, region=None):
    """One map panel drawn on its `MapScale` (``heat`` already on that scale), the true region outlined."""
    im = draw_overlay(ax, grey, heat, ms.vmax, alpha, ms.cmap, title, ms.vmin)
    drawn = region is not None and outline_region(ax, region)
    return im, drawn


def _colourbar(fig: Figure, im, axes, label: str, **kw) -> None:
    bar = fig.colorbar(im, ax=axes, shrink=kw.pop("shrink", 0.85), **kw)
    bar.set_label(label, fontsize=7)
    bar.ax.tick_params(labelsize=7)


def _region_legend(fig: Figure, drawn: bool) -> None:
    if drawn:
        fig.legend(handles=[region_handle()], loc="outside lower center", fontsize=8, frameon=False)


# many parameters: keyword-only drawing options, each with a default that suits a notebook
def overlay(clip, heat, frames: str | int | Sequence[int] = "all", *, alpha: float = 0.5, cmap: str = "jet",
            title: str | None = None, ncols: int = 6, panel: float = 2.0, true_region=None,
            scale: str = "auto", label: str = "|map|") -> Figure:
    """Heat map over the frames: one panel per chosen frame, and/or ``'mean'`` (map summed over
    time, drawn on the first frame). ``clip`` (C, T, H, W) or (T, H, W); ``heat`` (T, H, W).

    The frames share one colour scale (one colour bar); the summed panel has its own. ``scale``
    (`hsta_edu.viz.map_scale`): "absolute" |map| from 0, "deviation" map / uniform - 1 on a
    diverging scale (structure in a near-uniform map such as attention), "auto" (default) picks
    deviation when the map is nearly flat. ``true_region`` (H, W) / (T, H, W) mask: the true moving
    region (SynthME), outlined on every panel."""
    grey = display_frames(clip)
    h = np.abs(_heat(heat, grey))
    region = _regions(true_region, grey)
    chosen = _frame_choice(frames, grey.shape[0])
    n = len(chosen)
    cols = min(ncols, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(panel * cols + 1.0, panel * rows + (0.4 if title else 0) + (0.3 if region else 0)),
                 layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    frames_scale = map_scale(h, scale, cmap=cmap, label=label)
    mean_scale = map_scale(h.sum(0), scale, cmap=cmap, label=f"{label} summed")
    ims: dict[str, tuple] = {}
    drawn = False
    for ax, f in zip(axes, chosen, strict=False):
        ms = mean_scale if f == "mean" else frames_scale
        values = ms.values if f == "mean" else ms.values[f]
        im, d = _panel(ax, grey[0] if f == "mean" else grey[f], values, ms, alpha,
                       "all frames" if f == "mean" else f"frame {f}", region and region(f))
        drawn |= d
        key = "mean" if f == "mean" else "frames"
        ims.setdefault(key, (im, ms, []))[2].append(ax)
    for ax in axes[n:]:
        ax.set_axis_off()
    for im, ms, axs in ims.values():
        _colourbar(fig, im, axs, ms.label)
    _region_legend(fig, drawn)
    if title:
        fig.suptitle(title)
    return fig


def plot_frame_importance(maps, *, labels: Sequence[str] | None = None, title: str = "When the model looks",
                          figsize: tuple[float, float] = (5, 3), uniform: bool = True) -> Figure:
    """Per-frame share of each map's mass: ``maps`` is a (T, H, W) map or a dict name -> map. With
    ``uniform`` a dashed line at 1/T, the share of a map that looks at every frame alike (the legend
    sits outside the curves)."""
    if not isinstance(maps, Mapping):
        maps = {"importance": maps}
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    for name, m in maps.items():
        curve = frame_importance(m)
        ax.plot(np.arange(len(curve)), curve, marker="o", label=name)
    T = max(len(frame_importance(m)) for m in maps.values())
    if uniform:
        ax.axhline(1 / T, color="dimgrey", ls="--", lw=1, label=f"uniform 1/{T}")
    ax.set_xticks(range(T))
    if labels is not None:
        ax.set_xticklabels(labels)
    ax.set_xlabel("frame")
    ax.set_ylabel("share of attribution")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if len(maps) > 1 or uniform:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


# many parameters: keyword-only drawing options, each with a default that suits a notebook
def compare_methods(clip, maps: Mapping[str, object], frames: str | int | Sequence[int] = "mean", *,
                    alpha: float = 0.5, cmap: str = "jet", mask=None, panel: float = 2.0, true_region=None,
                    scale: str = "auto") -> Figure:
    """Methods side by side: one column per method (plus the input), one row per chosen frame.

    ``maps``: name -> (T, H, W) map on the frames of ``clip``; ``true_region`` (or its old name
    ``mask``) (H, W) or (T, H, W): true moving regions, outlined on the input and on every map where
    given (SynthME). Methods measure in different units, so every map panel has its own colour bar;
    ``scale`` as in `overlay` (near-uniform maps show their deviation from uniform)."""
    if not maps:
        raise ConfigError("compare_methods needs at least one map")
    grey = display_frames(clip)
    chosen = _frame_choice(frames, grey.shape[0])
    names = list(maps)
    heats = {k: np.abs(_heat(v, grey)) for k, v in maps.items()}
    region = _regions(true_region if true_region is not None else mask, grey)
    fig = Figure(figsize=(panel * 1.3 * (len(names) + 1), panel * len(chosen) + (0.3 if region else 0)),
                 layout="constrained")
    axes = fig.subplots(len(chosen), len(names) + 1, squeeze=False)
    drawn = False
    # "mean": the maps are summed over time; the input panel shows the frame with the most contrast (for a
    # clip of differences to the onset, frame 0 is the onset minus itself: a blank panel)
    busiest = int(np.argmax(grey.reshape(grey.shape[0], -1).std(1)))
    for r, f in enumerate(chosen):
        g = grey[busiest] if f == "mean" else grey[f]
        axes[r, 0].imshow(g, cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_title(f"input, frame {busiest} (most change)" if f == "mean" else f"input, frame {f}",
                             fontsize=9)
        axes[r, 0].set_axis_off()
        if region:
            drawn |= outline_region(axes[r, 0], region(f))
        for c, k in enumerate(names, start=1):
            h = heats[k].sum(0) if f == "mean" else heats[k][f]
            ms = map_scale(h, scale, cmap=cmap, label="|map|")
            im, d = _panel(axes[r, c], g, ms.values, ms, alpha, k, region and region(f))
            drawn |= d
            _colourbar(fig, im, axes[r, c], ms.label, shrink=0.8, aspect=15)
    _region_legend(fig, drawn)
    return fig
