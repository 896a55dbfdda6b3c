"""Figures for the data-preparation notebook: a micro-expression clip, its motion over time, its
action-unit regions, face boxes, temporal sampling, optical flow and timings, and the
micro-expression steps of `prep`: registration to the onset, Eulerian magnification, the
frames/difference representations and the clip-level train-time augmentation.

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

from ..errors import DataError
from .prep import FaceBox
from .synth import ACTION_UNITS, SynthClip

__all__ = ["plot_image_grid", "plot_clip_frames", "plot_motion_curve", "plot_distractors", "plot_masks",
           "plot_face_boxes", "plot_sampling", "plot_flow_comparison", "plot_timings", "plot_batch",
           "flow_error", "plot_registration", "plot_magnification", "plot_representations",
           "plot_augmentation"]

_MARK_COLOURS = {"onset": "tab:green", "apex": "tab:red", "offset": "tab:purple"}


def _grey(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image, dtype=np.float32)
    return img.mean(-1) if img.ndim == 3 else img


def _show(ax, image: np.ndarray, title: str = "") -> None:
    img = np.asarray(image)
    ax.imshow(img, cmap=None if img.ndim == 3 else "gray", interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.axis("off")


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
        _show(ax, img, titles[i] if titles is not None else "")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_clip_frames(frames: np.ndarray, frame_numbers: Sequence[int] | None = None,
                     marks: Mapping[str, int] | None = None, count: int = 6, amplify: float = 8.0) -> Figure:
    """``count`` frames spread over a clip (N, H, W, 3), titled by frame number (and onset/apex/offset
    from ``marks`` = {name: frame number}), then the difference apex - onset amplified ``amplify`` times:
    the movement is invisible in the frames and obvious in the difference. ``count + 1`` axes
    (``count`` if there is no apex mark)."""
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
        _show(ax, frames[i], f"#{nums[i]}" + (f" {'/'.join(tags)}" if tags else ""))
        if tags:
            ax.title.set_color(_MARK_COLOURS.get(tags[0], "black"))
    if has_diff:
        on = idx.get("onset", 0)
        diff = _grey(frames[idx["apex"]]) - _grey(frames[on])
        ax = axes[-1]
        ax.imshow(np.clip(diff * amplify, -128, 128), cmap="coolwarm", vmin=-128, vmax=128)
        ax.set_title(f"(apex - onset) x{amplify:g}", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_motion_curve(clip: SynthClip, measured: bool = True) -> Figure:
    """The time course of a SynthME clip: true peak displacement (amplitude x intensity, px) against
    time from the onset (ms), onset/apex/offset marked; with ``measured`` also the mean absolute grey
    difference to the onset frame inside the AU regions (what a camera sees; second y axis).
    One axis (two with ``measured``)."""
    n = len(clip.frames)
    t_ms = np.arange(n) / clip.fps * 1000.0
    fig = Figure(figsize=(6.4, 2.8))
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
        g0 = _grey(clip.frames[0])
        m = clip.mask
        diff = [float(np.abs(_grey(f) - g0)[m].mean()) for f in clip.frames]
        ax2.plot(t_ms, diff, "-s", ms=3, color="tab:orange", label="|frame - onset| in AU regions")
        ax2.set_ylabel("mean |grey difference|", color="tab:orange")
        ax2.set_ylim(0, max(diff) * 1.15 + 1e-6)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower center")
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
    truth an explanation can be scored against. ``len(masks)`` (+1) axes."""
    if not masks:
        raise DataError("plot_masks: no masks")
    grey = _grey(image)
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
        ax.imshow(np.ma.masked_less(mag, 0.05 * mag.max()), cmap="viridis", alpha=0.8)
        yy, xx = np.mgrid[0:mag.shape[0]:step, 0:mag.shape[1]:step]
        keep = mag[yy, xx] > 0.1 * mag.max()
        ax.quiver(xx[keep], yy[keep], dx[yy, xx][keep], dy[yy, xx][keep], color="white", angles="xy",
                  scale_units="xy", scale=0.25, width=0.012)
        ax.set_title(f"apex displacement (max {mag.max():.2f} px)", fontsize=8)
        ax.axis("off")
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
        _show(ax, img, titles[i] if titles is not None else "")
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
    share one colour scale (px). ``1 + len(flows)`` (+1 with ``displacement``) axes."""
    if not flows:
        raise DataError("plot_flow_comparison: no flows")
    m = np.asarray(mask, bool)
    mags = {k: np.linalg.norm(np.asarray(f, np.float32), axis=-1) for k, f in flows.items()}
    true = None if displacement is None else np.hypot(*np.asarray(displacement, np.float32))
    vmax = max([float(np.percentile(v, 99.5)) for v in mags.values()] + ([float(true.max())] if true is not None
                                                                          else []))
    n = 1 + len(flows) + (true is not None)
    fig, axes = _grid(n, None, 2.1)
    _show(axes[0], image, "frame + true AU region")
    axes[0].contour(m, levels=[0.5], colors="yellow", linewidths=1)
    panels = ([("truth", true, "true displacement")] if true is not None else []) + \
             [(k, v, k) for k, v in mags.items()]
    for ax, (key, mag, name) in zip(axes[1:], panels, strict=True):
        ax.imshow(mag, cmap="magma", vmin=0, vmax=vmax)
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
    fig.tight_layout()
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


def _display(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) normalised frame -> (H, W, 3) in [0, 1], stretched per image for display."""
    a = x.detach().float().permute(1, 2, 0).cpu().numpy()
    return (a - a.min()) / (np.ptp(a) + 1e-8)


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
            _show(axes[r, t], _display(video[r, :, t]), f"t={t}" if r == 0 else "")
        _show(axes[r, T], _display(special[r, :, 0]), "onset" if r == 0 else "")
        _show(axes[r, T + 1], _display(special[r, :, 1]), "special[1]" if r == 0 else "")
        axes[r, 0].text(-0.1, 0.5, classes[int(labels[r])], transform=axes[r, 0].transAxes, rotation=90,
                        ha="right", va="center", fontsize=8)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- micro-expression steps

def _luma(image: np.ndarray) -> np.ndarray:
    """Grey levels as float32: (H, W) as is, (H, W, 3) RGB by the ITU-R 601 weights (as OpenCV's RGB2GRAY)."""
    img = np.asarray(image, dtype=np.float32)
    return img @ np.float32([0.299, 0.587, 0.114]) if img.ndim == 3 else img


def _inner_rms(diff: np.ndarray) -> float:
    """RMS of a difference image over its inner 80% (the border band moves in and out of view), as
    `prep.register_image` measures its residual."""
    h, w = diff.shape[:2]
    d = diff[h // 10:h - h // 10, w // 10:w - w // 10]
    return float(np.sqrt(np.mean(d.astype(np.float64) ** 2)))


def _label_row(ax, text: str) -> None:
    """A row label to the left of an image axis (kept visible, unlike ``axis('off')``)."""
    ax.axis("on")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_ylabel(text, fontsize=8)


def _signed(ax, values: np.ndarray, vmax: float, title: str = ""):
    """A signed map on a symmetric diverging scale -vmax..vmax; returns the image (for a colour bar)."""
    im = ax.imshow(values, cmap="coolwarm", vmin=-vmax, vmax=vmax, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.axis("off")
    return im


def _same_shape(name: str, **images: np.ndarray) -> None:
    shapes = {k: np.asarray(v).shape[:2] for k, v in images.items()}
    if len(set(shapes.values())) != 1:
        raise DataError(f"{name}: images differ in size {shapes}")


def _info_value(info: object, *names: str) -> float | None:
    """The first of ``names`` found as an attribute or key of ``info`` (a `Registration` or a mapping)."""
    for n in names:
        v = info.get(n) if isinstance(info, Mapping) else getattr(info, n, None)
        if v is not None and np.ndim(v) == 0:
            return float(v)
    return None


def plot_registration(onset: np.ndarray, frame: np.ndarray, registered: np.ndarray, info: object = None,
                      mask: np.ndarray | None = None) -> Figure:
    """What registration to the onset does to one frame: the onset, the frame, ``|frame - onset|``
    before and ``|registered - onset|`` after (``registered`` = the frame warped onto the onset, e.g.
    ``prep.warp_image(frame, prep.register_image(onset, frame).warp)``). Both difference panels share
    one colour scale in grey levels (one colour bar) and carry their RMS over the inner 80% in their
    titles; head drift shows as bright edges before and is gone after, while the expression (outlined
    by ``mask`` if given) stays. ``info`` (the `Registration`, or a mapping with ``shift``, ``angle``,
    ``residual``, ``motion``) goes into the figure title. Five axes (four panels + colour bar)."""
    _same_shape("plot_registration", onset=onset, frame=frame, registered=registered)
    g0 = _luma(onset)
    before, after = np.abs(_luma(frame) - g0), np.abs(_luma(registered) - g0)
    vmax = max(float(np.percentile(np.concatenate([before.ravel(), after.ravel()]), 99.5)), 1.0)
    fig = Figure(figsize=(8.4, 2.5), layout="constrained")
    axes = fig.subplots(1, 4)
    _show(axes[0], onset, "onset (reference)")
    _show(axes[1], frame, "frame")
    ims = []
    for ax, diff, name in ((axes[2], before, "|frame - onset| before"),
                           (axes[3], after, "|registered - onset| after")):
        ims.append(ax.imshow(diff, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest"))
        if mask is not None:
            ax.contour(np.asarray(mask, bool), levels=[0.5], colors="cyan", linewidths=0.8)
        ax.set_title(f"{name}\nRMS {_inner_rms(diff):.2f} grey levels", fontsize=8)
        ax.axis("off")
    fig.colorbar(ims[1], ax=list(axes[2:]), shrink=0.85, label="grey levels")
    parts = []
    if info is not None:
        motion = info.get("motion") if isinstance(info, Mapping) else getattr(info, "motion", None)
        if motion:
            parts.append(str(motion))
        for label, names, unit in (("shift", ("shift", "shift_px"), " px"),
                                   ("angle", ("angle", "angle_deg"), " deg"), ("residual", ("residual",), "")):
            v = _info_value(info, *names)
            if v is not None:
                parts.append(f"{label} {v:.2f}{unit}")
        converged = info.get("converged") if isinstance(info, Mapping) else getattr(info, "converged", None)
        if converged is False:
            parts.append("NOT converged (identity used)")
    fig.suptitle("registration to the onset frame" + (": " + ", ".join(parts) if parts else ""), fontsize=9)
    return fig


def plot_magnification(onset: np.ndarray, apex: np.ndarray, magnified_apex: np.ndarray, alpha: float,
                       row: int | None = None, mask: np.ndarray | None = None) -> Figure:
    """Eulerian magnification of one apex frame relative to the onset: ``apex - onset`` before and
    ``magnified - onset`` after, on one symmetric diverging colour scale (shared colour bar, grey
    levels; titles give each difference's standard deviation and the ratio), the magnified apex
    itself, and the grey-level profile of onset, apex and magnified apex along image row ``row``
    (default: the row where ``|apex - onset|`` is largest; dashed on the other panels): the edges
    move further. ``mask`` outlines the true moving region. Five axes (four panels + colour bar)."""
    _same_shape("plot_magnification", onset=onset, apex=apex, magnified_apex=magnified_apex)
    g0, g1, gm = _luma(onset), _luma(apex), _luma(magnified_apex)
    d0, d1 = g1 - g0, gm - g0
    if row is None:
        row = int(np.argmax(np.abs(d0).sum(axis=1)))
    if not 0 <= row < g0.shape[0]:
        raise DataError(f"plot_magnification: row {row} outside the image (height {g0.shape[0]})")
    vmax = max(float(np.percentile(np.abs(np.concatenate([d0.ravel(), d1.ravel()])), 99.5)), 1.0)
    fig = Figure(figsize=(10, 2.6), layout="constrained")
    axes = fig.subplots(1, 4, width_ratios=[1, 1, 1, 1.7])
    s0, s1 = float(d0.std()), float(d1.std())
    im = _signed(axes[0], d0, vmax, f"apex - onset\nstd {s0:.2f}")
    _signed(axes[1], d1, vmax,
            f"magnified - onset (alpha {alpha:g})\nstd {s1:.2f} (x{s1 / max(s0, 1e-8):.1f})")
    _show(axes[2], magnified_apex, "magnified apex")
    for ax in axes[:3]:
        ax.axhline(row, color="black" if ax is not axes[2] else "yellow", ls="--", lw=0.8)
        if mask is not None:
            ax.contour(np.asarray(mask, bool), levels=[0.5], colors="green", linewidths=0.8)
    fig.colorbar(im, ax=list(axes[:2]), shrink=0.85, label="grey-level difference")
    x = np.arange(g0.shape[1])
    ax = axes[3]
    ax.plot(x, g0[row], color="tab:green", lw=1, label="onset")
    ax.plot(x, g1[row], color="tab:red", lw=1, label="apex")
    ax.plot(x, gm[row], color="black", lw=1, ls="--", label="magnified apex")
    ax.set(xlabel="x (px)", ylabel="grey level")
    ax.set_title(f"profile along row {row}", fontsize=8)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.suptitle(f"linear Eulerian magnification, alpha = {alpha:g} (reference: the onset frame)", fontsize=9)
    return fig


def _check_inputs(name: str, video: torch.Tensor, special: torch.Tensor) -> None:
    if video.dim() != 4 or special.dim() != 4 or video.shape[0] != 3 or tuple(special.shape[:2]) != (3, 2) \
            or video.shape[2:] != special.shape[2:]:
        raise DataError(f"{name}: video {tuple(video.shape)} / special {tuple(special.shape)} are not one "
                        "clip's (3, T, H, W) / (3, 2, H, W) inputs")


def plot_representations(inputs: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
                         differences: Sequence[str] = ("difference",)) -> Figure:
    """What the model receives for one clip under several settings, one row per entry of ``inputs``
    (``{name: (video (3, T, H, W), special (3, 2, H, W))}``, e.g. from `prep.assemble`): the T video
    frames, then ``special[:, 0]`` (the onset) and ``special[:, 1]``. Rows named in ``differences``
    hold signed values (representation="difference": frame - onset, scaled): their video frames and
    ``special[:, 1]`` are drawn as the channel mean on one symmetric diverging scale shared by all such
    rows (one colour bar, normalised units), their onset as an image; the other rows are images,
    each stretched to its own range. Row labels carry the standard deviation of the video tensor.
    ``len(inputs) * (T + 2)`` axes, plus one colour bar when a difference row is present."""
    if not inputs:
        raise DataError("plot_representations: no inputs")
    for name, (v, s) in inputs.items():
        _check_inputs(f"plot_representations[{name!r}]", v, s)
    Ts = {int(v.shape[1]) for v, _ in inputs.values()}
    if len(Ts) != 1:
        raise DataError(f"plot_representations: rows have different numbers of frames {sorted(Ts)}")
    T = Ts.pop()
    diff_rows = [k for k in inputs if k in differences]
    vmax = 1.0
    if diff_rows:
        vals = torch.cat([torch.cat([v.float().mean(0).flatten(), s[:, 1].float().mean(0).flatten()])
                          for k, (v, s) in inputs.items() if k in diff_rows])
        vmax = max(float(torch.quantile(vals.abs(), 0.995)), 1e-3)
    rows = len(inputs)
    fig = Figure(figsize=(1.05 * (T + 2) + 0.9, 1.15 * rows + 0.5), layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, T + 2))
    im = None
    for r, (name, (video, special)) in enumerate(inputs.items()):
        signed = name in diff_rows
        for t in range(T):
            title = f"t={t}" if r == 0 else ""
            if signed:
                im = _signed(axes[r, t], video[:, t].float().mean(0).cpu().numpy(), vmax, title)
            else:
                _show(axes[r, t], _display(video[:, t]), title)
        _show(axes[r, T], _display(special[:, 0]), "special[0]\nonset")
        if signed:
            _signed(axes[r, T + 1], special[:, 1].float().mean(0).cpu().numpy(), vmax,
                    "special[1]\napex - onset")
        else:
            _show(axes[r, T + 1], _display(special[:, 1]), "special[1]\napex")
        _label_row(axes[r, 0], f"{name}\nstd {float(video.float().std()):.2f}")
    if im is not None:
        fig.colorbar(im, ax=[ax for r, name in enumerate(inputs) if name in diff_rows for ax in axes[r]],
                     shrink=0.9, aspect=12, label="normalised units")
    fig.suptitle("the model's inputs for one clip: T video frames, then the special pair", fontsize=9)
    return fig


def _describe_augment(params: Mapping[str, object]) -> str:
    """A short label of one augmentation draw (``prep``'s keys: flip, dy, dx, gain, offset)."""
    parts = []
    if params.get("flip"):
        parts.append("flip")
    if "dy" in params:
        parts.append(f"shift ({int(params['dy'])}, {int(params['dx'])}) px")
    if "gain" in params:
        parts.append(f"gain {float(params['gain']):.2f}, offset {float(params.get('offset', 0.0)):+.1f}")
    return "\n".join(parts) if parts else "no change"


def plot_augmentation(videos: Sequence[torch.Tensor], params: Sequence[Mapping[str, object]] | None = None,
                      frames: tuple[int, int] = (0, -1), difference: bool = True) -> Figure:
    """One clip under several train-time augmentation draws, one row per draw: two of its video
    frames (``frames``, default the first and the last) and, with ``difference``, their difference
    (channel mean, symmetric diverging scale shared by all rows, one colour bar). ``videos``: (3, T, H,
    W) tensors of an image representation (``representation="frames"``), e.g. ``prep.assemble(...,
    train=True)[0]`` with different generators; the images of all draws share one display range, so
    photometric changes show. The draw moves every frame of the clip together (same flip, shift and
    gain), so the difference, the motion, moves with the face and nothing appears that the clip does
    not have. ``params`` (one mapping per draw, keys flip/dy/dx/gain/offset) label the rows.
    ``len(videos) * (2 + difference)`` axes, plus a colour bar with ``difference``."""
    if len(videos) == 0:
        raise DataError("plot_augmentation: no videos")
    if params is not None and len(params) != len(videos):
        raise DataError(f"plot_augmentation: {len(params)} params for {len(videos)} videos")
    for v in videos:
        if v.dim() != 4 or v.shape[0] != 3 or v.shape[1:] != videos[0].shape[1:]:
            raise DataError(f"plot_augmentation: videos must all be (3, T, H, W) alike, got {tuple(v.shape)}")
    T = int(videos[0].shape[1])
    idx = [f % T for f in frames]
    shown = torch.stack([v[:, idx].float() for v in videos])            # D, 3, 2, H, W
    lo, hi = float(shown.min()), float(shown.max())
    diffs = (shown[:, :, 1] - shown[:, :, 0]).mean(1).cpu().numpy()     # D, H, W
    vmax = max(float(np.percentile(np.abs(diffs), 99.5)), 1e-3)
    cols = 2 + bool(difference)
    fig = Figure(figsize=(1.35 * cols + 1.4, 1.3 * len(videos) + 0.5), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(videos), cols))
    im = None
    for r in range(len(videos)):
        for c in range(2):
            img = shown[r, :, c].permute(1, 2, 0).cpu().numpy()
            _show(axes[r, c], np.clip((img - lo) / (hi - lo + 1e-8), 0, 1), f"t={idx[c]}" if r == 0 else "")
        if difference:
            im = _signed(axes[r, 2], diffs[r], vmax, f"t={idx[1]} - t={idx[0]}" if r == 0 else "")
        label = f"draw {r + 1}" + ("\n" + _describe_augment(params[r]) if params is not None else "")
        _label_row(axes[r, 0], label)
    if im is not None:
        fig.colorbar(im, ax=axes[:, 2].tolist(), shrink=0.8, label="normalised units")
    fig.suptitle("train-time augmentation: one draw per clip, the same for all its frames", fontsize=9)
    return fig
