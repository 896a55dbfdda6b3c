"""Transformer building blocks shared by USTA: attention (fused and inspectable), MLP, block.

Shapes: tokens are ``(B, N, D)``; attention maps are ``(B, heads, N_query, N_key)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: drop the whole residual branch of a sample with probability ``p``."""
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class DropPath(nn.Module):
    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, dropout_p: float, explicit: bool,
           ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """softmax(q k^T / sqrt(d)) v on ``(B, h, N, d)`` tensors.

    ``explicit=False`` uses the fused ``scaled_dot_product_attention`` (training and inference);
    ``explicit=True`` computes the same thing step by step and also returns the map
    ``(B, h, N_q, N_k)`` (before dropout, rows summing to 1).
    """
    if not explicit:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p), None
    scale = q.shape[-1] ** -0.5
    attn = ((q * scale) @ k.transpose(-2, -1)).softmax(dim=-1)
    weights = F.dropout(attn, dropout_p) if dropout_p > 0 else attn
    return weights @ v, attn


class Attention(nn.Module):
    """Multi-head self-attention as in the reference: one bias-free ``qkv`` Linear plus
    separate ``q_bias`` and ``v_bias`` (the key has no bias), scale ``head_dim**-0.5``.

    Implements Eq. (USTA attention): Attn(X) = softmax(Q K^T / sqrt(d_h)) V, per head.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(dim))
            self.v_bias = nn.Parameter(torch.zeros(dim))
        else:
            self.q_bias = self.v_bias = None
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """x: (B, N, D) -> (B, N, D) [, attention (B, heads, N, N)]."""
        bias = None
        if self.q_bias is not None:
            bias = torch.cat([self.q_bias, torch.zeros_like(self.q_bias), self.v_bias])
        qkv = F.linear(x, self.qkv.weight, bias)
        q, k, v = rearrange(qkv, "b n (three h d) -> three b h n d", three=3, h=self.num_heads)
        out, attn = attend(q, k, v, dropout_p=self.attn_drop if self.training else 0.0,
                           explicit=return_attention)
        out = self.proj_drop(self.proj(rearrange(out, "b h n d -> b n (h d)")))
        return (out, attn) if return_attention else out


class Mlp(nn.Module):
    """fc1 -> GELU (exact) -> dropout -> fc2 -> dropout."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Block(nn.Module):
    """Pre-norm transformer block: x = x + Attn(LN(x)); x = x + MLP(LN(x)). LayerNorm eps 1e-6."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop: float = 0.0, attn_drop: float = 0.0, drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=drop)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """x: (B, N, D) -> (B, N, D) [, attention (B, heads, N, N)]."""
        if return_attention:
            y, attn = self.attn(self.norm1(x), return_attention=True)
        else:
            y, attn = self.attn(self.norm1(x)), None
        x = x + self.drop_path(y)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return (x, attn) if return_attention else x
