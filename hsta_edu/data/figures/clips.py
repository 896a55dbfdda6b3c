"""Figures for the data-preparation notebook: a micro-expression clip, its motion over time, its
action-unit regions, face boxes, temporal sampling, optical flow and timings, and a batch as the
model sees it. The figures of the micro-expression steps of `prep` (registration to the onset,
Eulerian magnification, the frames/difference representations and the clip-level train-time
augmentation) live in `steps`, class counts in `classes`; the package `hsta_edu.data.figures`
exports them all, so the notebook reaches every data figure as ``figures.plot_...``.

Every function returns a `matplotlib.figure.Figure` built without pyplot's global state (headless,
displayed inline when it is a notebook cell's value; save with `hsta_edu.viz.save_figure`).
Images are ``(H, W, 3)`` uint8 RGB or ``(H, W)`` grey; flows ``(H, W, 2)`` (u, v) in pixels;
masks ``(H, W)`` bool; displacement fields ``(2, H, W)`` (dx, dy) in pixels, as in `synth`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ...errors import DataError
from ...viz import display_image, grey_levels, outline_region, show_image
from ..prep import FaceBox
from ..synth import ACTION_UNITS, SynthClip

_MARK_COLOURS = {"onset": "tab:green", "apex": "tab:red", "offset": "tab:purple"}


def _grid(n: int, ncols: int | None, size: float) -> tuple[Figure, list]:
    ncols = max(1, min(n, ncols or n))
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(size * ncols, size * nrows + 0.3))
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel().tolist()
    for ax in axes[n:]:
        fig.delaxes(ax)
    return fig, axes[:n]


def plot_image_grid(images: Sequence[np.ndarray], titles: Sequence[str] | None = None, ncols: int | None = None,
                    title: str | None = None, size: float = 1.7) -> Figure:
    """Images side by side (``ncols`` per row): e.g. the identities of a corpus or a few crops."""
    if len(images) == 0:
        raise DataError("plot_image_grid: no images")
    if titles is not None and len(titles) != len(images):
        raise DataError(f"plot_image_grid: {len(titles)} titles for {len(images)} images")
    fig, axes = _grid(len(images), ncols, size)
    for i, (ax, img) in enumerate(zip(axes, images, strict=True)):
        show_image(ax, img, titles[i] if titles is not None else "")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_clip_frames(frames: np.ndarray, frame_numbers: Sequence[int] | None = None,
                     marks: Mapping[str, int] | None = None, count: int = 6, amplify: float = 8.0, *,
                     true_region: np.ndarray | None = None) -> Figure:
    """``count`` frames spread over a clip (N, H, W, 3), titled by frame number (and onset/apex/offset
    from ``marks`` = {name: frame number}), then the difference apex - onset amplified ``amplify`` times
    with its colour bar (grey levels): the movement is invisible in the frames and obvious in the
    difference, where ``true_region`` (H, W), the true moving region, is outlined. ``count + 2`` axes
    (the difference and its colour bar; ``count`` if there is no apex mark)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or len(frames) == 0:
        raise DataError(f"plot_clip_frames: frames must be (N, H, W, 3), got {frames.shape}")
    n = len(frames)
    nums = list(range(n)) if frame_numbers is None else [int(v) for v in frame_numbers]
    marks = dict(marks or {})
    idx = {k: nums.index(v) for k, v in marks.items() if v in nums}
    show = sorted(set(np.rint(np.linspace(0, n - 1, min(count, n))).astype(int).tolist()) | set(idx.values()))
    while len(show) > count:            # keep the marked frames, drop unmarked ones
        drop = [i for i in show if i not in idx.values()]
        show.remove(drop[len(drop) // 2] if drop else show[-1])
    has_diff = "apex" in idx
    fig, axes = _grid(len(show) + has_diff, None, 1.35)
    for ax, i in zip(axes, show, strict=False):
        tags = [k for k, v in idx.items() if v == i]
        show_image(ax, frames[i], f"#{nums[i]}" + (f" {'/'.join(tags)}" if tags else ""))
        if tags:
            ax.title.set_color(_MARK_COLOURS.get(tags[0], "black"))
    if has_diff:
        on = idx.get("onset", 0)
        diff = grey_levels(frames[idx["apex"]]) - grey_levels(frames[on])
        ax = axes[-1]
        im = ax.imshow(np.clip(diff * amplify, -128, 128), cmap="coolwarm", vmin=-128, vmax=128)
        ax.set_title(f"(apex - onset) x{amplify:g}", fontsize=8)
        ax.axis("off")
        if true_region is not None:
            outline_region(ax, true_region)
        bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        bar.set_label(f"grey levels x{amplify:g}", fontsize=7)
        bar.ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def plot_motion_curve(clip: SynthClip, measured: bool = True) -> Figure:
    """The time course of a SynthME clip: true peak displacement (amplitude x intensity, px) against
    time from the onset (ms), onset/apex/offset marked; with ``measured`` also the mean absolute grey
    difference to the onset frame inside the AU regions (what a camera sees; second y axis).
    One axis (two with ``measured``)."""
    n = len(clip.frames)
    t_ms = np.arange(n) / clip.fps * 1000.0
    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.subplots()
    ax.plot(t_ms, clip.amplitude * clip.intensity, "-o", ms=3, color="tab:blue", label="true displacement (px)")
    ax.set(xlabel="time from onset (ms)", ylabel="peak displacement (px)",
           ylim=(0, clip.amplitude * 1.15 + 0.05))
    nums = list(clip.frame_numbers)
    for name in ("onset", "apex", "offset"):
        i = nums.index(getattr(clip, name))
        ax.axvline(t_ms[i], color=_MARK_COLOURS[name], ls="--", lw=1)
        ax.text(t_ms[i], ax.get_ylim()[1], f" {name}", color=_MARK_COLOURS[name], fontsize=8, va="top")
    if measured:
        ax2 = ax.twinx()
        g0 = grey_levels(clip.frames[0])
        m = clip.mask
        diff = [float(np.abs(grey_levels(f) - g0)[m].mean()) for f in clip.frames]
        ax2.plot(t_ms, diff, "-s", ms=3, color="tab:orange", label="|frame - onset| in AU regions")
        ax2.set_ylabel("mean |grey difference|", color="tab:orange")
        ax2.set_ylim(0, max(diff) * 1.15 + 1e-6)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2,
                  frameon=False)           # below the axis: it covers no curve
    else:
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
    ax.set_title(f"{clip.subject}/{clip.clip_id} ({clip.label}, AU {'+'.join(map(str, clip.aus))}): "
                 f"{(n - 1) / clip.fps * 1000:.0f} ms, peak {clip.amplitude:.2f} px", fontsize=9)
    fig.tight_layout()
    return fig


def plot_distractors(clip: SynthClip) -> Figure:
    """The class-blind distractors of a SynthME clip over time: head drift (px), eyelid closure of a
    blink, and lighting gain. Three axes."""
    d = clip.distractors
    n = len(clip.frames)
    t_ms = np.arange(n) / clip.fps * 1000.0
    drift = np.asarray(d.get("drift", np.zeros((n, 2))))
    series = (("head drift (px)", np.hypot(drift[:, 0], drift[:, 1])),
              ("blink (eyelid closure)", np.asarray(d.get("blink", np.zeros(n)))),
              ("lighting gain", np.asarray(d.get("gain", np.ones(n)))))
    fig = Figure(figsize=(9, 2.3))
    axes = fig.subplots(1, 3)
    for ax, (name, y) in zip(axes, series, strict=True):
        ax.plot(t_ms, y, "-o", ms=2)
        ax.set(title=name, xlabel="ms")
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3)
    axes[1].set_ylim(-0.05, 1.05)
    fig.tight_layout()
    return fig


def plot_masks(image: np.ndarray, masks: Mapping[int, np.ndarray], displacement: np.ndarray | None = None,
               step: int = 6) -> Figure:
    """Each action unit's region mask over ``image`` (one axis per AU, named after FACS) and, when
    ``displacement`` (2, H, W) is given, its magnitude with arrows every ``step`` px: the ground
    truth an explanation can be scored against. ``len(masks)`` axes (+2: the displacement panel and
    its colour bar, px)."""
    if not masks:
        raise DataError("plot_masks: no masks")
    grey = grey_levels(image)
    fig, axes = _grid(len(masks) + (displacement is not None), None, 2.0)
    for ax, (au, m) in zip(axes, masks.items(), strict=False):
        ax.imshow(grey, cmap="gray")
        ax.imshow(np.ma.masked_where(~np.asarray(m, bool), np.ones_like(grey)), cmap="autumn", alpha=0.45,
                  vmin=0, vmax=1)
        name = ACTION_UNITS.get(int(au), ("?", ""))[0]
        ax.set_title(f"AU{au}: {name}", fontsize=8)
        ax.axis("off")
    if displacement is not None:
        dx, dy = np.asarray(displacement, np.float32)
        mag = np.hypot(dx, dy)
        ax = axes[-1]
        ax.imshow(grey, cmap="gray", alpha=0.6)
        im = ax.imshow(np.ma.masked_less(mag, 0.05 * mag.max()), cmap="viridis", alpha=0.8, vmin=0,
                       vmax=float(mag.max()) or 1.0)
        yy, xx = np.mgrid[0:mag.shape[0]:step, 0:mag.shape[1]:step]
        keep = mag[yy, xx] > 0.1 * mag.max()
        ax.quiver(xx[keep], yy[keep], dx[yy, xx][keep], dy[yy, xx][keep], color="white", angles="xy",
                  scale_units="xy", scale=0.25, width=0.012)
        ax.set_title(f"apex displacement (max {mag.max():.2f} px)", fontsize=8)
        ax.axis("off")
        bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        bar.set_label("|displacement| (px)", fontsize=7)
        bar.ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def plot_face_boxes(images: Sequence[np.ndarray], boxes: Sequence[FaceBox | Sequence[int]],
                    titles: Sequence[str] | None = None) -> Figure:
    """Frames with their crop box drawn (colour and label by the box's source: a Haar detection or a
    fallback), one axis per image. Pass the same box for several frames of a clip to show that the
    whole clip is cropped with the box found on its onset frame."""
    if len(images) != len(boxes) or len(images) == 0:
        raise DataError(f"plot_face_boxes: {len(images)} images for {len(boxes)} boxes")
    colours = {"haar": "lime", "box": "deepskyblue", "centre": "orange", "full": "white"}
    fig, axes = _grid(len(images), None, 1.6)
    for i, (ax, img, box) in enumerate(zip(axes, images, boxes, strict=True)):
        b = box if isinstance(box, FaceBox) else FaceBox(*[int(v) for v in box], "box")
        show_image(ax, img, titles[i] if titles is not None else "")
        ax.add_patch(Rectangle((b.x - 0.5, b.y - 0.5), b.w, b.h, fill=False, lw=2,
                               ec=colours.get(b.source, "red")))
        ax.text(b.x + 1, b.y + b.h - 2, b.source, color=colours.get(b.source, "red"), fontsize=8,
                va="bottom", fontweight="bold")
    fig.tight_layout()
    return fig


def plot_sampling(onset: int, offset: int, test: Sequence[int], train: Sequence[Sequence[int]] = (),
                  apex: int | None = None, pool: Sequence[int] | None = None) -> Figure:
    """Temporal sampling on a frame-number axis: the ``pool`` of decoded frames (grey ticks), the
    deterministic ``test`` positions and a few jittered ``train`` draws (one row each), with onset,
    apex and offset marked. One axis."""
    rows = [("test", list(test))] + [(f"train #{k + 1}", list(p)) for k, p in enumerate(train)]
    fig = Figure(figsize=(7, 0.9 + 0.4 * len(rows)))
    ax = fig.subplots()
    for r, (_name, pos) in enumerate(rows):
        y = len(rows) - 1 - r
        if pool is not None:
            ax.scatter(list(pool), [y] * len(pool), marker="|", color="lightgrey", s=120)
        ax.scatter(pos, [y] * len(pos), color="tab:blue" if r == 0 else "tab:orange", s=30, zorder=3)
    marks = {"onset": onset, "offset": offset} | ({"apex": apex} if apex is not None else {})
    for name, x in marks.items():
        ax.axvline(x, color=_MARK_COLOURS[name], ls="--", lw=1)
        ax.text(x, len(rows) - 0.45, name, color=_MARK_COLOURS[name], fontsize=8, ha="center")
    ax.set_yticks(range(len(rows)), [name for name, _ in reversed(rows)], fontsize=8)
    ax.set(xlabel="frame number", ylim=(-0.6, len(rows) - 0.1), xlim=(onset - 1, offset + 1))
    ax.set_title(f"T = {len(rows[0][1])} frames sampled between onset and offset", fontsize=9)
    fig.tight_layout()
    return fig


def flow_error(flow: np.ndarray, displacement: np.ndarray, mask: np.ndarray) -> float:
    """Mean end-point error (px) of a flow (H, W, 2) against the true displacement (2, H, W) inside ``mask``."""
    d = np.asarray(displacement, np.float32).transpose(1, 2, 0)
    err = np.linalg.norm(np.asarray(flow, np.float32) - d, axis=-1)
    m = np.asarray(mask, bool)
    return float(err[m].mean()) if m.any() else float("nan")


def plot_flow_comparison(image: np.ndarray, flows: Mapping[str, np.ndarray], mask: np.ndarray,
                         displacement: np.ndarray | None = None,
                         seconds: Mapping[str, float] | None = None) -> Figure:
    """Flow magnitude of several methods (``{name: (H, W, 2)}``) next to the true AU region (``mask``
    outlined on every panel) and, if given, the true displacement magnitude; titles carry each
    method's cost per pair (``seconds``) and its end-point error inside the mask. All magnitude panels
    share one colour scale (px, one colour bar). ``1 + len(flows)`` (+1 with ``displacement``) axes and
    the colour bar."""
    if not flows:
        raise DataError("plot_flow_comparison: no flows")
    m = np.asarray(mask, bool)
    mags = {k: np.linalg.norm(np.asarray(f, np.float32), axis=-1) for k, f in flows.items()}
    true = None if displacement is None else np.hypot(*np.asarray(displacement, np.float32))
    vmax = max([float(np.percentile(v, 99.5)) for v in mags.values()] + ([float(true.max())] if true is not None
                                                                          else []))
    n = 1 + len(flows) + (true is not None)
    fig, axes = _grid(n, None, 2.1)
    show_image(axes[0], image, "frame + true AU region")
    axes[0].contour(m, levels=[0.5], colors="yellow", linewidths=1)
    panels = ([("truth", true, "true displacement")] if true is not None else []) + \
             [(k, v, k) for k, v in mags.items()]
    for ax, (key, mag, name) in zip(axes[1:], panels, strict=True):
        im = ax.imshow(mag, cmap="magma", vmin=0, vmax=vmax)
        ax.contour(m, levels=[0.5], colors="cyan", linewidths=0.8)
        extra = []
        if key in flows:
            if seconds and key in seconds:
                extra.append(f"{seconds[key] * 1000:.1f} ms")
            if displacement is not None:
                extra.append(f"EPE {flow_error(flows[key], displacement, m):.2f} px")
        ax.set_title(name + ("\n" + ", ".join(extra) if extra else f"\nmax {mag.max():.2f} px"), fontsize=8)
        ax.axis("off")
    fig.suptitle(f"|flow| onset -> apex (colour scale 0..{vmax:.2f} px)", fontsize=9)
    fig.set_layout_engine("constrained")
    fig.colorbar(im, ax=axes[1:], shrink=0.8, label="|flow| (px)")
    return fig


def plot_timings(times: Mapping[str, float], unit: str = "s", title: str = "", log: bool = False) -> Figure:
    """Horizontal bars of measured times (``{name: value}``), each labelled with its value. One axis."""
    if not times:
        raise DataError("plot_timings: no timings")
    fig = Figure(figsize=(6, 0.6 + 0.4 * len(times)))
    ax = fig.subplots()
    names = list(times)[::-1]
    bars = ax.barh(names, [times[k] for k in names], color="tab:blue", alpha=0.8)
    ax.bar_label(bars, labels=[f"{times[k]:.3g} {unit}" for k in names], fontsize=8, padding=2)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(unit)
    ax.margins(x=0.25)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_batch(video: torch.Tensor, special: torch.Tensor, labels: torch.Tensor | Sequence[int],
               classes: Sequence[str], max_rows: int = 4) -> Figure:
    """A batch as the model sees it: per sample (row) the T video frames, then the onset and the
    second special slot (apex frame, apex - onset under ``representation="difference"``, or the flow
    magnitude in flow mode), each stretched to its own range. ``video`` (B, 3, T, H, W),
    ``special`` (B, 3, 2, H, W). ``min(B, max_rows) * (T + 2)`` axes."""
    if video.dim() != 5 or special.dim() != 5 or video.shape[0] != special.shape[0]:
        raise DataError(f"plot_batch: video {tuple(video.shape)} / special {tuple(special.shape)} are not batches")
    B, _, T = video.shape[:3]
    rows = min(B, max_rows)
    fig = Figure(figsize=(1.0 * (T + 2), 1.05 * rows + 0.2))
    axes = np.atleast_2d(fig.subplots(rows, T + 2))
    for r in range(rows):
        for t in range(T):
            show_image(axes[r, t], display_image(video[r, :, t]), f"t={t}" if r == 0 else "")
        show_image(axes[r, T], display_image(special[r, :, 0]), "onset" if r == 0 else "")
        show_image(axes[r, T + 1], display_image(special[r, :, 1]), "special[1]" if r == 0 else "")
        axes[r, 0].text(-0.1, 0.5, classes[int(labels[r])], transform=axes[r, 0].transAxes, rotation=90,
                        ha="right", va="center", fontsize=8)
    fig.tight_layout()
    return fig
