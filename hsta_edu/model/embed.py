"""Tubelet embedding (VideoMAE style) with a [CLS] token and fixed sinusoidal positions."""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import nn


def sinusoid_table(n_positions: int, dim: int) -> torch.Tensor:
    """The Transformer's fixed table, shape (n_positions, dim):
    angle(pos, j) = pos / 10000^(2*(j//2)/dim); sin on even j, cos on odd j."""
    pos = torch.arange(n_positions, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(10000.0, 2 * torch.div(j, 2, rounding_mode="floor") / dim)
    table = torch.where(j.long() % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.float()


class TubeletEmbedding(nn.Module):
    """(B, C, T, H, W) -> tokens (B, 1 + N, D) with N = (T/t) (H/p) (W/p).

    A Conv3d with kernel = stride = (tubelet, p, p) cuts the clip into space-time tubelets;
    tokens are ordered (t, h, w); a learnable [CLS] token is prepended and the sinusoidal
    table (row 0 for [CLS]) is added to every token.
    """

    def __init__(self, in_chans: int, dim: int, img_size: int, patch_size: int, num_frames: int,
                 tubelet_size: int = 2) -> None:
        super().__init__()
        self.grid = (num_frames // tubelet_size, img_size // patch_size, img_size // patch_size)
        self.patch = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, dim, kernel_size=self.patch, stride=self.patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.register_buffer("pos_embed", sinusoid_table(self.num_patches + 1, dim)[None], persistent=False)

    @property
    def num_patches(self) -> int:
        return math.prod(self.grid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = rearrange(self.proj(x), "b d t h w -> b (t h w) d")
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        return torch.cat([cls, tokens], dim=1) + self.pos_embed.to(tokens.dtype)


@torch.no_grad()
def init_temporal_difference(embedding: TubeletEmbedding) -> TubeletEmbedding:
    """Re-initialise a tubelet embedding so that it starts as a *temporal difference*: each filter's
    frames get +w and -w (w the filter's current spatial kernel, summed to zero over the tubelet's
    frames), so a still tubelet embeds to the bias alone and only change between its frames
    reaches the tokens. Training is free to move away from it. Needs ``tubelet_size`` >= 2."""
    w = embedding.proj.weight                    # (D, C, t, p, p)
    t = w.shape[2]
    if t < 2:
        raise ValueError("init_temporal_difference needs a tubelet of at least 2 frames")
    sign = torch.linspace(-1.0, 1.0, t, dtype=w.dtype, device=w.device)
    sign = sign / sign.abs().sum() * 2                       # t=2: (-1, +1)
    spatial = w.mean(dim=2, keepdim=True) * t ** 0.5         # keep the filters' scale
    w.copy_(spatial * sign.view(1, 1, t, 1, 1))
    return embedding
