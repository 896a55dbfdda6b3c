"""The train-time shift: crop + replicate padding gives exactly the edge-replicating gather."""

from __future__ import annotations

import pytest
import torch

from hsta_edu.data.prep.tensors import _shift


def _gather(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    iy = (torch.arange(h) - dy).clamp_(0, h - 1)
    ix = (torch.arange(w) - dx).clamp_(0, w - 1)
    return x[..., iy, :][..., ix]


@pytest.mark.parametrize("shape", [(3, 8, 48, 48), (3, 2, 16, 16), (2, 5, 7), (4, 4)])
def test_shift_equals_the_gather_for_every_offset(shape):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    h, w = shape[-2:]
    for dy in range(-h - 1, h + 2):
        for dx in range(-w - 1, w + 2, max(1, w // 5)):
            assert torch.equal(_shift(x, dy, dx), _gather(x, dy, dx)), (dy, dx)
