"""Figures of the micro-expression steps of `hsta_edu.data.prep`: registration to the onset,
Eulerian magnification, the frames/difference representations of a clip and the clip-level
train-time augmentation.

Each function returns a `matplotlib.figure.Figure` built without pyplot's global state (headless,
displayed inline when it is a notebook cell's value; save with `hsta_edu.viz.save_figure`). The
notebook reaches them through `hsta_edu.data.figures.clips`, which re-exports them. Images are
``(H, W, 3)`` uint8 RGB or ``(H, W)`` grey, masks ``(H, W)`` bool; model inputs are the tensors of
`prep.assemble`: video (3, T, H, W), special (3, 2, H, W).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from ...errors import DataError
from ...viz import display_image, grey_levels, show_image


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
    g0 = grey_levels(onset, luma=True)
    before = np.abs(grey_levels(frame, luma=True) - g0)
    after = np.abs(grey_levels(registered, luma=True) - g0)
    vmax = max(float(np.percentile(np.concatenate([before.ravel(), after.ravel()]), 99.5)), 1.0)
    fig = Figure(figsize=(8.4, 2.5), layout="constrained")
    axes = fig.subplots(1, 4)
    show_image(axes[0], onset, "onset (reference)")
    show_image(axes[1], frame, "frame")
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
    g0, g1, gm = (grey_levels(image, luma=True) for image in (onset, apex, magnified_apex))
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
    show_image(axes[2], magnified_apex, "magnified apex")
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
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)  # off the curves
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
                show_image(axes[r, t], display_image(video[:, t]), title)
        show_image(axes[r, T], display_image(special[:, 0]), "special[0]\nonset")
        if signed:
            _signed(axes[r, T + 1], special[:, 1].float().mean(0).cpu().numpy(), vmax,
                    "special[1]\napex - onset")
        else:
            show_image(axes[r, T + 1], display_image(special[:, 1]), "special[1]\napex")
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
            show_image(axes[r, c], np.clip((img - lo) / (hi - lo + 1e-8), 0, 1), f"t={idx[c]}" if r == 0 else "")
        if difference:
            im = _signed(axes[r, 2], diffs[r], vmax, f"t={idx[1]} - t={idx[0]}" if r == 0 else "")
        label = f"draw {r + 1}" + ("\n" + _describe_augment(params[r]) if params is not None else "")
        _label_row(axes[r, 0], label)
    if im is not None:
        fig.colorbar(im, ax=axes[:, 2].tolist(), shrink=0.8, label="normalised units")
    fig.suptitle("train-time augmentation: one draw per clip, the same for all its frames", fontsize=9)
    return fig
