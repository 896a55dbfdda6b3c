"""Attention as an explanation: capture the USTA and CSTA maps, map tokens back to
(frame, row, column), roll attention out through the blocks, and upsample any token
map to the input frames.

Conventions (docs/interfaces.md): a USTA map is ``(B, heads, 1 + N, 1 + N)`` with token 0
the [CLS] and tokens ``1..N`` the tubelets in (t, h, w) raster order; a CSTA map is
``(B, heads_other, 1, 1 + N_other)``: what this modality's projected [CLS] takes from
[itself, the other modality's patch tokens]. A token covers ``tubelet`` frames and a
``ph x pw`` pixel square, so a token map upsampled to the input is piecewise constant.

Attention weights say where information was *mixed*, not why the logit changed: treat
these maps as one view among several (see ``hsta_edu.explain.attribution``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange, repeat

from ..errors import ConfigError
from ..model.hsta import check_modality, other

HEAD_FUSIONS = ("mean", "max", "min")


# --------------------------------------------------------------------------- token <-> grid
@dataclass(frozen=True)
class TokenLayout:
    """How one modality's patch tokens tile its input clip.

    ``grid = (t, h, w)`` tokens, ``patch = (tubelet, ph, pw)`` frames/pixels per token; the
    input is ``(T, H, W) = (t*tubelet, h*ph, w*pw)``. Token indices here count the [CLS] as
    0, so patch token ``k >= 1`` sits at cell ``divmod`` of ``k - 1`` in (t, h, w) raster order.
    """

    grid: tuple[int, int, int]
    patch: tuple[int, int, int]

    def __post_init__(self) -> None:
        if len(self.grid) != 3 or len(self.patch) != 3 or min(*self.grid, *self.patch) < 1:
            raise ConfigError(f"TokenLayout needs positive (t, h, w) grid and (tubelet, ph, pw) patch; "
                              f"got grid={self.grid}, patch={self.patch}")

    @classmethod
    def from_input(cls, grid: Sequence[int], input_size: Sequence[int]) -> TokenLayout:
        """Layout from a token grid and the input's (T, H, W) (each must divide exactly)."""
        grid = tuple(int(g) for g in grid)
        size = tuple(int(s) for s in input_size[-3:])
        if any(s % g for s, g in zip(size, grid, strict=True)):
            raise ConfigError(f"input size {size} is not a whole number of tokens of grid {grid}")
        return cls(grid, tuple(s // g for s, g in zip(size, grid, strict=True)))  # type: ignore[arg-type]

    @property
    def num_tokens(self) -> int:
        """Number of patch tokens N (the [CLS] not counted)."""
        t, h, w = self.grid
        return t * h * w

    @property
    def input_size(self) -> tuple[int, int, int]:
        """(T, H, W) of the input this layout tiles."""
        return tuple(g * p for g, p in zip(self.grid, self.patch, strict=True))  # type: ignore[return-value]

    # single-token conversions (plain ints; vectorised versions accept tensors too)
    def token_to_cell(self, token: Any) -> tuple[Any, Any, Any]:
        """Token index (1..N; 0 is [CLS]) -> grid cell (ti, hi, wi)."""
        self._check_token(token)
        _, h, w = self.grid
        k = token - 1
        return k // (h * w), (k // w) % h, k % w

    def cell_to_token(self, ti: Any, hi: Any, wi: Any) -> Any:
        """Grid cell (ti, hi, wi) -> token index (1..N)."""
        _, h, w = self.grid
        return 1 + (ti * h + hi) * w + wi

    def token_to_position(self, token: int) -> tuple[slice, slice, slice]:
        """Token -> the (frames, rows, columns) slices of the input it covers."""
        ti, hi, wi = self.token_to_cell(int(token))
        pt, ph, pw = self.patch
        return (slice(ti * pt, (ti + 1) * pt), slice(hi * ph, (hi + 1) * ph), slice(wi * pw, (wi + 1) * pw))

    def position_to_token(self, frame: Any, row: Any, col: Any) -> Any:
        """Input position (frame, row, column) -> the token that covers it."""
        T, H, W = self.input_size
        for name, v, n in (("frame", frame, T), ("row", row, H), ("column", col, W)):
            bad = (v < 0) | (v >= n)
            if bool(bad.any() if torch.is_tensor(bad) else bad):
                raise ConfigError(f"{name} {v} outside the input's range 0..{n - 1}")
        pt, ph, pw = self.patch
        return self.cell_to_token(frame // pt, row // ph, col // pw)

    def _check_token(self, token: Any) -> None:
        bad = (token < 1) | (token > self.num_tokens)
        if bool(bad.any() if torch.is_tensor(bad) else bad):
            raise ConfigError(f"token {token} is not a patch token (1..{self.num_tokens}; 0 is [CLS])")

    # maps
    def to_grid(self, values: torch.Tensor) -> torch.Tensor:
        """(..., N) values per patch token -> (..., t, h, w)."""
        if values.shape[-1] != self.num_tokens:
            raise ConfigError(f"expected {self.num_tokens} patch-token values in the last axis, "
                              f"got shape {tuple(values.shape)}")
        t, h, w = self.grid
        return values.reshape(*values.shape[:-1], t, h, w)

    def to_frames(self, values: torch.Tensor, smooth: bool = False) -> torch.Tensor:
        """(..., N) token values -> (..., T, H, W) map aligned with the input frames.

        Nearest (each token's value over its whole tubelet: exact footprint) by default;
        ``smooth=True`` interpolates trilinearly in space-time for nicer pictures.
        """
        g = self.to_grid(values)
        lead = g.shape[:-3]
        g = g.reshape(-1, *self.grid)
        pt, ph, pw = self.patch
        if smooth:
            out = F.interpolate(g[:, None].float(), size=self.input_size, mode="trilinear",
                                align_corners=False)[:, 0]
        else:
            out = repeat(g, "b t h w -> b (t pt) (h ph) (w pw)", pt=pt, ph=ph, pw=pw)
        return out.reshape(*lead, *self.input_size)

    def pool_frames(self, frames_map: torch.Tensor) -> torch.Tensor:
        """(..., T, H, W) pixel map -> (..., N) token values (sum over each token's footprint).

        The inverse of ``to_frames`` up to the footprint size (to_frames repeats, this sums)."""
        pt, ph, pw = self.patch
        return rearrange(frames_map, "... (t pt) (h ph) (w pw) -> ... (t h w) (pt ph pw)",
                         pt=pt, ph=ph, pw=pw).sum(-1)


def layout(att: Any, modality: str) -> TokenLayout:
    """The TokenLayout of ``modality`` from an ``AttentionMaps`` (its ``grids`` and ``patch``)."""
    check_modality(modality)
    if modality not in att.grids:
        raise ConfigError(f"the model has no {modality!r} modality (has {sorted(att.grids)})")
    return TokenLayout(tuple(att.grids[modality]), tuple(att.patch[modality]))


# --------------------------------------------------------------------------- capture
@torch.no_grad()
def capture_attention(model: torch.nn.Module, video: torch.Tensor, special: torch.Tensor):
    """Run ``model`` in eval mode and return ``(logits, AttentionMaps)`` (every USTA and CSTA map).

    The model's train/eval state is restored afterwards. Inputs ``(B, C, T, H, W)`` and
    ``(B, C, 2, H', W')`` (a single clip without batch axis is accepted too).
    """
    if video.ndim == 4:
        video, special = video[None], special[None]
    was_training = model.training
    model.eval()
    try:
        dev = next(model.parameters()).device
        return model(video.to(dev), special.to(dev), return_attention=True)
    finally:
        model.train(was_training)


def usta_maps(att: Any, modality: str, stages: Sequence[int] | None = None) -> list[torch.Tensor]:
    """Every USTA map of ``modality`` in forward order (stage 0 block 0 first), each (B, heads, 1+N, 1+N)."""
    check_modality(modality)
    chosen = range(len(att.usta)) if stages is None else stages
    out: list[torch.Tensor] = []
    for s in chosen:
        out.extend(_get(att.usta[s], modality) or [])
    return out


def _get(per_modality: Any, modality: str) -> Any:
    if per_modality is None:
        return None
    if isinstance(per_modality, dict):
        return per_modality.get(modality)
    return getattr(per_modality, modality, None)


def num_blocks(att: Any, modality: str) -> list[int]:
    """Blocks per stage of ``modality``'s USTA, e.g. [2, 2]."""
    return [len(_get(st, modality) or []) for st in att.usta]


# --------------------------------------------------------------------------- heads and rollout
def fuse_heads(attn: torch.Tensor, head: str | int = "mean") -> torch.Tensor:
    """(B, heads, Q, K) -> (B, Q, K): one head by index, or the heads' mean / max / min."""
    if attn.ndim != 4:
        raise ConfigError(f"attention map must be (B, heads, Q, K), got shape {tuple(attn.shape)}")
    if isinstance(head, int) and not isinstance(head, bool):
        if not -attn.shape[1] <= head < attn.shape[1]:
            raise ConfigError(f"head {head} out of range: the map has {attn.shape[1]} heads")
        return attn[:, head]
    if head == "mean":
        return attn.mean(1)
    if head == "max":
        return attn.amax(1)
    if head == "min":
        return attn.amin(1)
    raise ConfigError(f"unknown head fusion {head!r}; use an int or one of {HEAD_FUSIONS}")


def discard_lowest(a: torch.Tensor, ratio: float) -> torch.Tensor:
    """Zero the ``ratio`` share of smallest weights in every query row of (B, Q, K).

    The key [CLS] column (0) is never discarded, so every row keeps some mass (the usual
    guard of attention rollout: dropping [CLS] would make some rows empty)."""
    if not 0.0 <= ratio < 1.0:
        raise ConfigError(f"discard_ratio must be in [0, 1), got {ratio}")
    k = int(ratio * (a.shape[-1] - 1))
    if k == 0:
        return a
    body = a[..., 1:]
    idx = body.topk(k, dim=-1, largest=False).indices
    body = body.scatter(-1, idx, 0.0)
    return torch.cat([a[..., :1], body], dim=-1)


def normalise_rows(a: torch.Tensor) -> torch.Tensor:
    """Rows of (..., Q, K) divided by their sums (rows that sum to 0 stay 0)."""
    s = a.sum(-1, keepdim=True)
    return torch.where(s > 0, a / s.clamp_min(torch.finfo(a.dtype).tiny), torch.zeros_like(a))


def rollout(maps: Sequence[torch.Tensor], head_fusion: str | int = "mean", discard_ratio: float = 0.0,
            add_identity: bool = True) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020) through a list of (B, heads, n, n) maps -> (B, n, n).

    Per block: fuse the heads, discard the smallest weights (optional), renormalise rows to
    sum to 1 (max/min fusion and discarding break that), then model the residual connection
    as ``A' = (A + I) / 2`` (rows still sum to 1); finally ``R = A'_L ... A'_2 A'_1``.
    Row ``i`` of R says how much of output token ``i`` comes from each input token.
    """
    if len(maps) == 0:
        raise ConfigError("rollout needs at least one attention map (this modality has no USTA blocks)")
    result = None
    for a in maps:
        a = fuse_heads(a.float(), head_fusion)
        if discard_ratio > 0:
            a = discard_lowest(a, discard_ratio)
        a = normalise_rows(a)
        if add_identity:
            eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
            a = 0.5 * (a + eye)
        result = a if result is None else a @ result
    return result


def _cls_row(matrix: torch.Tensor) -> torch.Tensor:
    """Row 0 (the [CLS] query) restricted to the patch tokens, renormalised: (B, n, n) -> (B, N)."""
    row = matrix[:, 0, 1:]
    return row / row.sum(-1, keepdim=True).clamp_min(1e-12)


def rollout_tokens(att: Any, modality: str, head_fusion: str | int = "mean", discard_ratio: float = 0.0,
                   stages: Sequence[int] | None = None) -> torch.Tensor:
    """How much the final [CLS] of ``modality`` draws from each of its patch tokens: (B, N), sums to 1.

    Multiplies through every USTA block of every stage of that modality (CSTA only changes
    the [CLS], so between stages the patch tokens carry on unchanged)."""
    return _cls_row(rollout(usta_maps(att, modality, stages), head_fusion, discard_ratio))


def cls_attention_tokens(att: Any, modality: str, stage: int = -1, block: int = -1,
                         head: str | int = "mean", query: int = 0) -> torch.Tensor:
    """One USTA block's raw map, row ``query`` (0 = [CLS]) over the patch tokens: (B, N), renormalised."""
    blocks = _get(att.usta[stage], modality) or []
    if not blocks:
        raise ConfigError(f"stage {stage} has no USTA blocks for {modality!r}")
    if not -len(blocks) <= block < len(blocks):
        raise ConfigError(f"block {block} out of range: stage {stage} of {modality!r} has {len(blocks)} blocks")
    a = fuse_heads(blocks[block].float(), head)
    row = a[:, query, 1:]
    return row / row.sum(-1, keepdim=True).clamp_min(1e-12)


def csta_tokens(att: Any, modality: str, stage: int | None = None,
                head: str | int = "mean") -> tuple[torch.Tensor, torch.Tensor]:
    """What ``modality``'s [CLS] takes from the OTHER modality in CSTA.

    Returns ``(weights (B, N_other), self_weight (B,))``: the share given to each of the other
    modality's patch tokens (renormalised to sum to 1) and the share the projected [CLS]
    kept for itself. ``stage=None`` averages the stages. Draw the weights on
    ``layout(att, other(modality))``.
    """
    check_modality(modality)
    stages = range(len(att.csta)) if stage is None else [stage]
    rows = [fuse_heads(m.float(), head)[:, 0] for s in stages if (m := _get(att.csta[s], modality)) is not None]
    if not rows:
        raise ConfigError(f"no CSTA maps for {modality!r} (single-modality model or use_csta=False?)")
    row = torch.stack(rows).mean(0)
    return row[:, 1:] / row[:, 1:].sum(-1, keepdim=True).clamp_min(1e-12), row[:, 0]


# --------------------------------------------------------------------------- maps on the frames
ATTENTION_METHODS = ("rollout", "attention", "csta")


def attention_map(att: Any, modality: str, method: str = "rollout", *, stage: int = -1, block: int = -1,
                  head: str | int = "mean", discard_ratio: float = 0.0, smooth: bool = False) -> torch.Tensor:
    """An attention view upsampled to the input frames of ``modality``: (B, T, H, W), sums to 1.

    - ``"rollout"``: rollout of all of ``modality``'s USTA blocks (``head`` = fusion), [CLS] row.
    - ``"attention"``: the raw [CLS] row of one block (``stage``, ``block``, ``head``).
    - ``"csta"``: what the OTHER modality's [CLS] takes from ``modality``'s patches in CSTA
      (``stage``; -1 = last, None = mean). So the map is always drawn on ``modality``'s frames.
    """
    lay = layout(att, modality)
    if method == "rollout":
        tokens = rollout_tokens(att, modality, head, discard_ratio)
    elif method == "attention":
        tokens = cls_attention_tokens(att, modality, stage, block, head)
    elif method == "csta":
        tokens, _ = csta_tokens(att, other(modality), stage, head)
    else:
        raise ConfigError(f"unknown attention method {method!r}; expected one of {ATTENTION_METHODS}")
    m = lay.to_frames(tokens, smooth=smooth)
    return m / m.sum((-3, -2, -1), keepdim=True).clamp_min(1e-12)
