"""Pictures of the model's internals for the USTA/CSTA notebook: the inputs, the tubelet grid,
the sinusoidal position table, one block's attention matrix and token maps.

Unlike the other figure modules these figures are made with pyplot, on purpose: the notebooks
(00, 02, 06) call them as ``internals.plot_inputs(...);`` and rely on pyplot's inline backend to
show the figure at the end of the cell (a bare `Figure` would not be shown there). Frames are
drawn with `hsta_edu.viz.display_image` (grey, stretched per frame).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..viz import display_image

__all__ = ["plot_inputs", "plot_tubelets", "plot_position_table", "plot_attention_matrix", "plot_token_map"]


def plot_inputs(video: torch.Tensor, special: torch.Tensor, amplify: float = 5.0,
                representation: str = "auto") -> Figure:
    """The two modalities of one clip as the model receives them: T video frames (C,T,H,W), then the
    special pair. ``representation``: "frames" (images: onset, apex, and apex - onset drawn for
    reference), "difference" (video frames and the apex channel are frame - onset: drawn on a
    diverging scale with a colour bar) or "auto" (difference when the first video frame is all zero)."""
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
    fig.colorbar(im, ax=ax)
    ax.set_title("sin/cos position table")
    fig.tight_layout()
    return fig


def plot_attention_matrix(attn: torch.Tensor, grid: Sequence[int] | None = None, head: int | str = "mean",
                          title: str = "attention") -> Figure:
    """A block's attention (heads, N, N) or (N, N) as an image; rows are queries. With ``grid``
    (t, h, w), lines separate the tubelet time slices so space-time structure shows."""
    a = attn.detach().float().cpu()
    if a.ndim == 3:
        a = a.mean(0) if head == "mean" else a[int(head)]
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    im = ax.imshow(a.numpy(), cmap="viridis")
    if grid is not None:
        per_t = grid[1] * grid[2]
        for k in range(grid[0] + 1):
            ax.axhline(0.5 + k * per_t, color="white", lw=0.5)
            ax.axvline(0.5 + k * per_t, color="white", lw=0.5)
    ax.set_xlabel("key token (0 = [CLS])")
    ax.set_ylabel("query token")
    ax.set_title(f"{title} (head {head})", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def plot_token_map(weights: torch.Tensor, grid: Sequence[int], title: str = "") -> Figure:
    """A weight per patch token (N,) shown as ``grid[0]`` images of (h, w) tokens."""
    t, h, w = grid
    maps = weights.detach().float().cpu().reshape(t, h, w).numpy()
    fig, axes = plt.subplots(1, t, figsize=(2.2 * t, 2.3))
    axes = np.atleast_1d(axes)
    vmin, vmax = maps.min(), maps.max()
    for i in range(t):
        axes[i].imshow(maps[i], cmap="magma", vmin=vmin, vmax=vmax)
        axes[i].set_title(f"tubelet t={i}", fontsize=8)
        axes[i].axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
