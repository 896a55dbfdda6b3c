"""Pictures of the model's internals for the USTA/CSTA notebook: the inputs, the tubelet grid,
the sinusoidal position table, one block's attention matrix and token maps.

Unlike the other figure modules these figures are made with pyplot, on purpose: the notebooks
(00, 02, 06) call them as ``internals.plot_inputs(...);`` and rely on pyplot's inline backend to
show the figure at the end of the cell (a bare `Figure` would not be shown there). Frames are
drawn with `hsta_edu.viz.display_image` (grey, stretched per frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..viz import display_image, map_scale, outline_region, region_handle

__all__ = ["plot_inputs", "plot_tubelets", "plot_position_table", "plot_attention_matrix", "plot_token_map"]


def plot_inputs(video: torch.Tensor, special: torch.Tensor, amplify: float = 5.0,
                representation: str = "auto", mask: Any = None) -> Figure:
    """The two modalities of one clip as the model receives them: T video frames (C,T,H,W), then the
    special pair. ``representation``: "frames" (images: onset, apex, and apex - onset drawn for
    reference), "difference" (video frames and the apex channel are frame - onset: drawn on a
    diverging scale with a colour bar) or "auto" (difference when the first video frame is all zero).
    ``mask`` (H, W): the true moving region (SynthME: `explain.score.synthme_mask`), outlined on every
    difference panel, so what moves outside it (a blink, drift, noise) is told from the expression."""
    if representation == "auto":
        representation = "difference" if bool((video[:, 0] == 0).all()) else "frames"
    t = video.shape[1]
    fig, axes = plt.subplots(1, t + 3, figsize=(1.6 * (t + 3), 2.2))
    if representation == "difference":
        vals = torch.cat([video.mean(0).flatten(), special[:, 1].mean(0).flatten()])
        lim = float(vals.abs().quantile(0.995)) + 1e-8
        for i in range(t):
            im = axes[i].imshow(video[:, i].mean(0).cpu().numpy(), cmap="coolwarm", vmin=-lim, vmax=lim)
            axes[i].set_title(f"video t={i} - onset", fontsize=8)
        axes[t].imshow(display_image(special[:, 0], grey=True), cmap="gray")
        axes[t].set_title("special: onset", fontsize=8)
        axes[t + 1].imshow(special[:, 1].mean(0).cpu().numpy(), cmap="coolwarm", vmin=-lim, vmax=lim)
        axes[t + 1].set_title("special: apex - onset", fontsize=8)
        axes[t + 2].axis("off")
        fig.colorbar(im, ax=axes[t + 2], fraction=0.9, label="difference (normalised units)")
    else:
        for i in range(t):
            axes[i].imshow(display_image(video[:, i], grey=True), cmap="gray")
            axes[i].set_title(f"video t={i}", fontsize=8)
        axes[t].imshow(display_image(special[:, 0], grey=True), cmap="gray")
        axes[t].set_title("onset", fontsize=8)
        axes[t + 1].imshow(display_image(special[:, 1], grey=True), cmap="gray")
        axes[t + 1].set_title("apex", fontsize=8)
        diff = (special[:, 1] - special[:, 0]).mean(0).cpu().numpy()
        lim = np.abs(diff).max() + 1e-8
        im = axes[t + 2].imshow(np.clip(diff * amplify / lim, -1, 1), cmap="coolwarm", vmin=-1, vmax=1)
        axes[t + 2].set_title("apex - onset (scaled)", fontsize=8)
        fig.colorbar(im, ax=axes[t + 2], fraction=0.046, label="relative")
    if mask is not None:
        panels = [*axes[:t], axes[t + 1]] if representation == "difference" else [axes[t + 2]]
        if any([outline_region(ax, mask) for ax in panels]):
            fig.legend(handles=[region_handle()], loc="lower left", fontsize=8, frameon=False)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_tubelets(video: torch.Tensor, patch: Sequence[int], max_frames: int = 6) -> Figure:
    """Frames (C,T,H,W) with the tubelet grid drawn and each token's index written in its cell:
    a tubelet spans ``patch[0]`` frames, so consecutive frame pairs share token numbers."""
    pt, ph, pw = patch
    _, t, h, w = video.shape
    n = min(t, max_frames)
    fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.4))
    axes = np.atleast_1d(axes)
    gh, gw = h // ph, w // pw
    for i in range(n):
        ax = axes[i]
        ax.imshow(display_image(video[:, i], grey=True), cmap="gray")
        for k in range(1, gh):
            ax.axhline(k * ph - 0.5, color="yellow", lw=0.6)
        for k in range(1, gw):
            ax.axvline(k * pw - 0.5, color="yellow", lw=0.6)
        for r in range(gh):
            for c in range(gw):
                token = 1 + (i // pt) * gh * gw + r * gw + c
                ax.text(c * pw + pw / 2, r * ph + ph / 2, str(token), color="cyan", fontsize=6,
                        ha="center", va="center")
        ax.set_title(f"frame {i} -> tubelet t={i // pt}", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_position_table(table: torch.Tensor) -> Figure:
    """The fixed sinusoidal table (tokens x channels): each row is one token's position code."""
    fig, ax = plt.subplots(figsize=(6, 3))
    im = ax.imshow(table.detach().cpu().numpy(), aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
    ax.set_xlabel("channel j")
    ax.set_ylabel("token position (0 = [CLS])")
    fig.colorbar(im, ax=ax, label="value (sin / cos)")
    ax.set_title("sin/cos position table")
    fig.tight_layout()
    return fig


def plot_attention_matrix(attn: torch.Tensor, grid: Sequence[int] | None = None, head: int | str = "mean",
                          title: str = "attention", *, scale: str = "auto") -> Figure:
    """A block's attention (heads, N, N) or (N, N) as an image; rows are queries. With ``grid``
    (t, h, w), lines separate the tubelet time slices so space-time structure shows. Each row sums
    to 1 over its N keys; ``scale`` (`hsta_edu.viz.map_scale`): "absolute" the weights from 0,
    "deviation" attention x N - 1 on a diverging scale (0 = uniform 1/N, +1 = twice that), "auto"
    (default) deviation when the matrix is nearly uniform (max / min < 1.2), as in a fresh model."""
    a = attn.detach().float().cpu()
    if a.ndim == 3:
        a = a.mean(0) if head == "mean" else a[int(head)]
    n = a.shape[-1]
    ms = map_scale(a.numpy(), scale, label="attention")
    fig, ax = plt.subplots(figsize=(4.4, 3.8), layout="constrained")
    im = ax.imshow(ms.values, cmap=ms.cmap, vmin=ms.vmin, vmax=ms.vmax)
    if grid is not None:
        per_t = grid[1] * grid[2]
        for k in range(grid[0] + 1):
            ax.axhline(0.5 + k * per_t, color="white" if not ms.deviation else "black", lw=0.5)
            ax.axvline(0.5 + k * per_t, color="white" if not ms.deviation else "black", lw=0.5)
    ax.set_xlabel("key token (0 = [CLS])")
    ax.set_ylabel("query token")
    ax.set_title(f"{title} (head {head})", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046,
                 label=f"attention x N - 1 (N = {n} keys)" if ms.deviation else "attention weight")
    return fig


def plot_token_map(weights: torch.Tensor, grid: Sequence[int], title: str = "", *, scale: str = "auto") -> Figure:
    """A weight per patch token (N,) shown as ``grid[0]`` images of (h, w) tokens, on one colour
    scale with a colour bar. ``scale`` as in `plot_attention_matrix`: "deviation" shows weight /
    mean - 1 (0 = the uniform share, which "auto" picks for a nearly flat map)."""
    t, h, w = grid
    maps = weights.detach().float().cpu().reshape(t, h, w).numpy()
    ms = map_scale(maps, scale, cmap="magma", label="weight")
    fig, axes = plt.subplots(1, t, figsize=(2.2 * t + 0.9, 2.5), layout="constrained")
    axes = np.atleast_1d(axes)
    for i in range(t):
        im = axes[i].imshow(ms.values[i], cmap=ms.cmap, vmin=ms.vmin, vmax=ms.vmax)
        axes[i].set_title(f"tubelet t={i}", fontsize=8)
        axes[i].axis("off")
    fig.colorbar(im, ax=list(axes), shrink=0.85, label=ms.label)
    fig.suptitle(title or "weight per token", fontsize=9)
    return fig
