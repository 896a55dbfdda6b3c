"""USTA: unimodal space-time attention, cascaded self-attention blocks over all the
space-time tokens of one modality (Eq. 3-6 of the paper): every facial region can
attend to itself at other moments and to every other region."""

from __future__ import annotations

import torch
from torch import nn

from .layers import Block


class USTA(nn.Module):
    """``depth`` pre-norm blocks on one modality's tokens (B, 1 + N, D)."""

    def __init__(self, dim: int, depth: int, num_heads: int, mlp_ratio: float, qkv_bias: bool = True,
                 drop: float = 0.0, attn_drop: float = 0.0, drop_path: list[float] | None = None) -> None:
        super().__init__()
        rates = drop_path or [0.0] * depth
        self.blocks = nn.ModuleList(
            Block(dim, num_heads, mlp_ratio, qkv_bias, drop, attn_drop, rates[i]) for i in range(depth))

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """x: (B, 1 + N, D) -> same shape [, list of per-block maps (B, heads, 1 + N, 1 + N)]."""
        maps = []
        for block in self.blocks:
            if return_attention:
                x, attn = block(x, return_attention=True)
                maps.append(attn)
            else:
                x = block(x)
        return (x, maps) if return_attention else x
