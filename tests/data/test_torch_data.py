"""The torch Dataset and sampler (hsta_edu/data/torch_data.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from hsta_edu.data.clip import Clip, DatasetIndex
from hsta_edu.data.prep import PrepConfig
from hsta_edu.data.synth import SynthConfig, render_clip
from hsta_edu.data.torch_data import MERDataset, balanced_sampler
from hsta_edu.errors import DataError, FrameError

CFG = SynthConfig(n_subjects=2, clips_per_class=1, seed=11, frame_size=(64, 64), face_size=50.0,
                  duration=(0.04, 0.08))
PREP = PrepConfig(img_size=16, num_frames=4, face="none", pool_factor=4, flip=False, shift=0, photometric=0.0)


@pytest.fixture()
def index(tmp_path: Path) -> DatasetIndex:
    clips = []
    for s in range(2):
        for label in ("negative", "positive", "surprise"):
            sc = render_clip(CFG, s, label, 0)
            folder = tmp_path / sc.subject / sc.clip_id
            folder.mkdir(parents=True)
            paths = []
            for n, fr in zip(sc.frame_numbers, sc.frames, strict=True):
                paths.append(folder / f"img{n}.png")
                cv2.imwrite(str(paths[-1]), fr[..., ::-1])
            clips.append(Clip("synthme", sc.subject, sc.clip_id, tuple(paths),
                              tuple(int(n) for n in sc.frame_numbers), sc.onset, sc.apex, sc.offset, label))
    return DatasetIndex("synthme", clips, ["negative", "positive", "surprise"], root=tmp_path)


def test_items_and_attributes(index):
    ds = MERDataset(index, PREP)
    assert len(ds) == 6 and ds.classes == ["negative", "positive", "surprise"]
    assert ds.labels.dtype == np.int64 and ds.labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert ds.groups == ["synthme/sub01"] * 3 + ["synthme/sub02"] * 3 and ds.index is index
    video, special, label = ds[4]
    assert video.shape == (3, 4, 16, 16) and special.shape == (3, 2, 16, 16) and label.dtype == torch.int64
    assert int(label) == 1
    v2, s2, _ = ds[4]
    assert torch.equal(video, v2) and torch.equal(special, s2)
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch[0].shape == (4, 3, 4, 16, 16) and batch[1].shape == (4, 3, 2, 16, 16) and batch[2].shape == (4,)


def test_memory_cache_means_no_decoding_after_preload(index, tmp_path):
    ds = MERDataset(index, PREP).preload(progress=False)
    first = ds[0][0]
    for clip in index.clips:
        for p in clip.frames:
            Path(p).unlink()
    assert torch.equal(ds[0][0], first)                       # served from memory
    with pytest.raises(FrameError, match="not found"):
        MERDataset(index, PREP)[0]


def test_disk_cache_used_by_a_new_dataset(index, tmp_path):
    cache = tmp_path / "cache"
    a = MERDataset(index, PREP, cache_dir=cache).preload(progress=False)
    assert a.stats.misses == 6 and len(list(cache.glob("*.pt"))) == 6
    b = MERDataset(index, PREP, cache_dir=cache).preload(progress=False)
    assert b.stats.hits == 6 and b.stats.misses == 0
    assert torch.equal(a[2][1], b[2][1])


def test_train_jitter_varies_test_is_fixed(index):
    g = torch.Generator().manual_seed(0)
    train = MERDataset(index, PREP, train=True, generator=g)
    test = MERDataset(index, PREP, train=False)
    videos = {tuple(train[0][0].flatten()[::97].tolist()) for _ in range(20)}
    assert len(videos) > 1
    assert torch.equal(test[0][0], test[0][0])
    assert torch.equal(train[0][1], test[0][1])               # special data never jitters


def test_subset_shares_memory_and_keeps_classes(index):
    ds = MERDataset(index, PREP)
    sub = ds.subset([1, 4], train=True)
    assert len(sub) == 2 and sub.labels.tolist() == [1, 1] and sub.classes == ds.classes and sub.train
    sub[0]
    assert index.clips[1].uid in ds._memory
    with pytest.raises(DataError, match="out of range"):
        ds.subset([7])


def test_dataset_rejects_unknown_labels_and_duplicates(index):
    bad = DatasetIndex("x", index.clips, ["negative", "positive"])
    with pytest.raises(DataError, match="surprise"):
        MERDataset(bad, PREP)
    dup = DatasetIndex("x", index.clips + index.clips[:1], index.classes)
    with pytest.raises(DataError, match="duplicate"):
        MERDataset(dup, PREP)


def test_balanced_sampler_equalises_classes():
    labels = np.array([0] * 80 + [1] * 15 + [2] * 5)
    g = torch.Generator().manual_seed(0)
    sampler = balanced_sampler(labels, generator=g, num_samples=6000)
    drawn = labels[np.fromiter(iter(sampler), dtype=np.int64)]
    freq = np.bincount(drawn, minlength=3) / drawn.size
    assert np.allclose(freq, 1 / 3, atol=0.03)
    assert len(balanced_sampler(labels)) == 100
    with pytest.raises(DataError):
        balanced_sampler([])


def test_special_crop_for_hsta_base_sizes():
    import pytest
    import torch
    from torch.utils.data import TensorDataset

    from hsta_edu import create_model
    from hsta_edu.data.torch_data import SpecialCrop
    from hsta_edu.errors import DataError

    video, special = torch.randn(2, 3, 6, 224, 224), torch.randn(2, 3, 2, 224, 224)
    base = TensorDataset(video, special, torch.tensor([0, 1]))
    view = SpecialCrop(base, 216)
    v, s, y = view[1]
    assert v.shape == (3, 6, 224, 224) and s.shape == (3, 2, 216, 216) and int(y) == 1
    assert torch.equal(s, special[1, :, :, :216, :216]) and view.labels.tolist() == [0, 1] and len(view) == 2
    assert create_model("hsta-base").input_shape("special") == tuple(s.shape)
    with pytest.raises(DataError, match="smaller than the crop"):
        SpecialCrop(base, 232)[0]
