"""Train-time batches assembled at once (`assemble_batch`, `MERDataset.__getitems__`) equal, bit for
bit and draw for draw, the clip-by-clip `assemble` they replace in the training loader."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from hsta_edu.data.clip import Clip, DatasetIndex
from hsta_edu.data.prep import PreparedClip, PrepConfig, assemble
from hsta_edu.data.prep.tensors import _apply_augment, _move_into, assemble_batch
from hsta_edu.data.torch_data import MERDataset
from hsta_edu.errors import DataError

BASE = PrepConfig(img_size=20, num_frames=4, pool_factor=2, face="none")


def _clips(cfg: PrepConfig, n: int, seed: int = 0) -> list[PreparedClip]:
    rng = np.random.default_rng(seed)
    S = cfg.img_size
    return [PreparedClip(pool=rng.integers(0, 256, (cfg.pool_size, S, S, 3), dtype=np.uint8),
                         onset=rng.integers(0, 256, (S, S, 3), dtype=np.uint8),
                         apex=rng.integers(0, 256, (S, S, 3), dtype=np.uint8),
                         flow=(rng.standard_normal((S, S, 2)) * 8).astype(np.float32)) for _ in range(n)]


def _one_by_one(clips, cfg, train, generator):
    pairs = [assemble(c, cfg, train=train, generator=generator) for c in clips]
    return torch.stack([v for v, _ in pairs]), torch.stack([s for _, s in pairs])


SETTINGS = list(itertools.product(("frames", "flow"), ("difference", "frames"), (True, False), (0, 2, 25),
                                  (0.0, 0.2), ("imagenet", "standard")))


@pytest.mark.parametrize(("special", "representation", "flip", "shift", "photometric", "normalisation"), SETTINGS)
def test_a_batch_equals_its_clips_assembled_one_by_one(special, representation, flip, shift, photometric,
                                                       normalisation):
    cfg = replace(BASE, special=special, representation=representation, flip=flip, shift=shift,
                  photometric=photometric, normalisation=normalisation)
    clips = _clips(cfg, 7)
    for train in (True, False):
        g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        ref_video, ref_special = _one_by_one(clips, cfg, train, g1)
        video, special_t = assemble_batch(clips, cfg, train=train, generator=g2)
        assert torch.equal(video, ref_video) and torch.equal(special_t, ref_special)
        assert video.is_contiguous() and special_t.is_contiguous()
        assert torch.equal(g1.get_state(), g2.get_state())   # the same draws, in the same order


def test_special_crop_and_clip_norm_follow_assemble():
    for cfg in (replace(BASE, special_size=12), replace(BASE, clip_norm=True, special="flow")):
        clips = _clips(cfg, 5, seed=1)
        g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
        ref = _one_by_one(clips, cfg, True, g1)
        got = assemble_batch(clips, cfg, train=True, generator=g2)
        assert all(torch.equal(a, b) for a, b in zip(got, ref, strict=True))


def test_moving_while_copying_equals_the_augmentation_it_replaces():
    x = np.random.default_rng(2).integers(0, 256, (3, 5, 9, 11), dtype=np.uint8)
    for flip in (False, True):
        for dy in range(-10, 11, 3):
            for dx in range(-12, 13, 4):
                aug = {"flip": flip, "dy": dy, "dx": dx}
                dst = np.empty_like(x)
                _move_into(dst, x, aug)
                assert np.array_equal(dst, _apply_augment(torch.from_numpy(x), aug, photometric=False).numpy()), aug


def test_a_bad_clip_in_a_batch_is_named():
    cfg = replace(BASE, special="flow")
    clips = _clips(cfg, 3)
    clips[1].flow[2, 3, 0] = np.nan
    with pytest.raises(DataError, match="b/2: optical flow holds NaN"):
        assemble_batch(clips, cfg, train=True, where=["b/1", "b/2", "b/3"])
    short = _clips(cfg, 2)
    short[1] = replace(short[1], pool=short[1].pool[:-1])
    with pytest.raises(DataError, match="b/2: prepared pool has shape"):
        assemble_batch(short, cfg, where=["b/1", "b/2"])
    with pytest.raises(DataError, match="no clips"):
        assemble_batch([], cfg)


def test_the_training_loader_gives_what_items_one_by_one_give():
    cfg = replace(BASE, special="flow")
    clips = _clips(cfg, 6, seed=4)
    index = DatasetIndex("toy", [Clip("toy", f"s{i % 2}", f"c{i}", ("x.png",), (0,), 0, 0, 0, "a")
                                 for i in range(6)], ["a"])
    memory = {c.uid: p for c, p in zip(index.clips, clips, strict=True)}
    ds = MERDataset(index, cfg, train=True, _memory=memory)
    torch.manual_seed(5)
    batches = list(DataLoader(ds, batch_size=4, generator=torch.Generator()))   # __getitems__, then collate
    torch.manual_seed(5)
    items = [ds[i] for i in range(6)]                                   # __getitem__, one by one
    for part, got in zip(range(3), zip(*batches, strict=True), strict=True):
        assert torch.equal(torch.cat(got), torch.stack([it[part] for it in items]))
    with pytest.raises(IndexError, match="out of range"):
        ds.__getitems__([0, 6])
