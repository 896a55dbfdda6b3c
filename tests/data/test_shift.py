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


@pytest.mark.parametrize("size", [8, 13, 17, 48, 50, 64])
def test_the_kept_flow_magnitude_is_the_one_computed_after_each_move(size):
    """`assemble` computes |flow| once per clip; mirrored or shifted, it must equal, bit for bit,
    the norm of the mirrored or shifted flow (what it computed every time before)."""
    import numpy as np

    from hsta_edu.data.prep import PreparedClip
    from hsta_edu.data.prep.tensors import _apply_augment, _flow_channels

    rng = np.random.default_rng(size)
    prepared = PreparedClip(pool=np.zeros((3, size, size, 3), np.uint8), onset=np.zeros((size, size, 3), np.uint8),
                            apex=np.zeros((size, size, 3), np.uint8),
                            flow=(rng.standard_normal((size, size, 2)) * 3).astype(np.float32))
    scale = 100.0 / size
    for moved in (False, True):
        f, kept = _flow_channels(prepared, scale, moved)
        assert _flow_channels(prepared, scale, moved)[1] is kept      # computed once
        if not moved:
            assert torch.equal(kept, f.norm(dim=0, keepdim=True))
            continue
        for flip in (False, True):
            for dy, dx in ((0, 0), (1, -2), (-3, 3), (size // 2, 1)):
                if not flip and not (dy or dx):
                    continue   # not a move: the kept channels-last norm above
                aug = {"flip": flip, **({"dy": dy, "dx": dx} if dy or dx else {})}
                g = _apply_augment(f, aug, photometric=False)
                if flip:
                    g = torch.stack([-g[0], g[1]])
                assert torch.equal(_apply_augment(kept, aug, photometric=False), g.norm(dim=0, keepdim=True)), aug
