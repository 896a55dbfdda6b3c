"""Which frames of a clip are used: its onset / apex / offset indices, the uniform pool positions
between onset and offset, and the T positions sampled from the pool (jittered at train time)."""

from __future__ import annotations

import numpy as np
import torch

from ...errors import ConfigError, DataError
from ..clip import Clip


def clip_span(clip: Clip) -> tuple[int, int, int]:
    """Indices into ``clip.frames`` of onset, apex and offset: the first and last existing frames inside
    onset..offset (so a gap at either end never pulls in a frame outside the clip), the apex the existing
    frame nearest it (the middle if it lies outside onset..offset). DataError names the clip when it
    cannot be used (no frames, unsorted or repeated frame numbers, offset before onset, no frame inside)."""
    values = (*clip.frame_numbers, clip.onset, clip.apex, clip.offset)
    if any(not isinstance(v, (int, np.integer)) or not -2**62 < int(v) < 2**62 for v in values):
        raise DataError(f"clip {clip.uid}: frame numbers and onset/apex/offset must be integers of "
                        f"reasonable size (onset {clip.onset!r}, apex {clip.apex!r}, offset {clip.offset!r})")
    nums = np.asarray(clip.frame_numbers, dtype=np.int64)
    if len(nums) == 0 or len(nums) != len(clip.frames):
        raise DataError(f"clip {clip.uid}: {len(clip.frames)} frame files for {len(nums)} frame numbers")
    if clip.offset < clip.onset:
        raise DataError(f"clip {clip.uid}: offset {clip.offset} before onset {clip.onset}")
    if np.any(np.diff(nums) <= 0):
        raise DataError(f"clip {clip.uid}: frame numbers not strictly increasing ({clip.frame_numbers[:5]}...)")
    inside = np.flatnonzero((nums >= clip.onset) & (nums <= clip.offset))
    if len(inside) == 0:
        raise DataError(f"clip {clip.uid}: no frame inside onset..offset {clip.onset}..{clip.offset} "
                        f"(frames {int(nums[0])}..{int(nums[-1])})")
    i_on, i_off = int(inside[0]), int(inside[-1])
    if clip.onset <= clip.apex <= clip.offset:
        i_ap = i_on + int(np.argmin(np.abs(nums[i_on:i_off + 1] - clip.apex)))
    else:
        i_ap = (i_on + i_off) // 2
    return i_on, i_ap, i_off


def uniform_positions(start: int, stop: int, count: int) -> np.ndarray:
    """``count`` indices spread uniformly over start..stop inclusive (rounded; repeats if the span is short)."""
    if count < 1:
        raise ConfigError(f"count={count}: need at least one position")
    if stop < start:
        raise DataError(f"empty span {start}..{stop}")
    return np.rint(np.linspace(start, stop, count)).astype(np.int64)


def sample_pool_positions(num_frames: int, pool_factor: int, generator: torch.Generator | None = None,
                          jitter: bool = False) -> np.ndarray:
    """Which of the pool's ``(T-1)*k+1`` frames make the video: every k-th (deterministic), or each moved
    by up to k//2 pool steps when ``jitter`` (train time). Sorted, within bounds. Shape (T,)."""
    if int(num_frames) < 1 or int(pool_factor) < 1:
        raise ConfigError(f"num_frames={num_frames}, pool_factor={pool_factor}: both must be >= 1")
    k = pool_factor
    base = np.arange(num_frames, dtype=np.int64) * k
    if not jitter or k < 2:
        return base
    half = k // 2
    off = torch.randint(-half, half + 1, (num_frames,), generator=generator).numpy()
    return np.sort(np.clip(base + off, 0, (num_frames - 1) * k))
