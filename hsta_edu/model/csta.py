"""CSTA: crossmodal space-time attention, the [CLS] exchange between modalities (Eq. 7-11).

Modality i's [CLS] is projected to modality j's width (LayerNorm -> GELU -> Linear), attends
to j's patch tokens with a residual (no MLP), and is projected back. Only [CLS] tokens carry
information across modalities; the patch tokens keep their own modality.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from .layers import attend


class CrossAttention(nn.Module):
    """Single-query cross attention: the first token queries all tokens of ``z`` (B, 1 + N, D)."""

    def __init__(self, dim: int, num_heads: int, attn_drop: float = 0.0, proj_drop: float = 0.0) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.wq = nn.Linear(dim, dim)
        self.wk = nn.Linear(dim, dim)
        self.wv = nn.Linear(dim, dim)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, z: torch.Tensor, return_attention: bool = False):
        """z: (B, 1 + N, D) -> (B, 1, D) [, map (B, heads, 1, 1 + N)]."""
        split = "b n (h d) -> b h n d"
        q = rearrange(self.wq(z[:, :1]), split, h=self.num_heads)
        k = rearrange(self.wk(z), split, h=self.num_heads)
        v = rearrange(self.wv(z), split, h=self.num_heads)
        out, attn = attend(q, k, v, dropout_p=self.attn_drop if self.training else 0.0,
                           explicit=return_attention)
        out = self.proj_drop(self.proj(rearrange(out, "b h n d -> b n (h d)")))
        return (out, attn) if return_attention else out


def _projection(dim_in: int, dim_out: int) -> nn.Sequential:
    """LayerNorm -> GELU -> Linear, the MLP that changes a [CLS] token's width."""
    return nn.Sequential(nn.LayerNorm(dim_in, eps=1e-6), nn.GELU(), nn.Linear(dim_in, dim_out))


class CSTA(nn.Module):
    """One direction of the exchange: [CLS] of modality i (width ``dim_from``) reads the patch
    tokens of modality j (width ``dim_to``, ``heads_to`` heads).

    cls_j' = f_i(cls_i);  z = [cls_j', P_j];  cls'' = cls_j' + CA(LN(z));  cls_i_new = g_i(cls'')
    """

    def __init__(self, dim_from: int, dim_to: int, heads_to: int, attn_drop: float = 0.0,
                 proj_drop: float = 0.0) -> None:
        super().__init__()
        self.proj_in = _projection(dim_from, dim_to)
        self.norm = nn.LayerNorm(dim_to, eps=1e-6)
        self.attn = CrossAttention(dim_to, heads_to, attn_drop, proj_drop)
        self.proj_out = _projection(dim_to, dim_from)

    def forward(self, cls: torch.Tensor, other_patches: torch.Tensor, return_attention: bool = False):
        """cls: (B, 1, D_i); other_patches: (B, N_j, D_j) -> new cls (B, 1, D_i)
        [, map (B, heads_j, 1, 1 + N_j): weight on itself, then on each of j's patches]."""
        z = torch.cat([self.proj_in(cls), other_patches], dim=1)
        if return_attention:
            y, attn = self.attn(self.norm(z), return_attention=True)
        else:
            y, attn = self.attn(self.norm(z)), None
        out = self.proj_out(z[:, :1] + y)
        return (out, attn) if return_attention else out
