"""Preprocessing (hsta_edu/data/prep/): sampling, crops, flow, cache, frame errors, tensor checks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from hsta_edu.data.clip import Clip
from hsta_edu.data.prep import (
    CacheStats,
    PrepConfig,
    assemble,
    cache_key,
    check_tensors,
    clip_span,
    detect_face,
    load_or_prepare,
    load_prepared,
    prepare_clip,
    prepare_index,
    read_frame,
    sample_pool_positions,
    uniform_positions,
)
from hsta_edu.data.synth import SynthConfig, render_clip
from hsta_edu.errors import ConfigError, DataError, FrameError

#: the images as they are: no registration, no magnification, no difference representation
RAW = {"register": "none", "magnify": 0.0, "representation": "frames", "flip": False, "shift": 0, "photometric": 0.0}

CFG = SynthConfig(n_subjects=2, clips_per_class=1, seed=5, frame_size=(96, 96), face_size=76.0,
                  duration=(0.05, 0.1))


def write_clip(folder: Path, label: str = "surprise", subject: int = 0, ext: str = "png",
               distractors: bool = False, cfg: SynthConfig = CFG) -> tuple[Clip, object]:
    """A SynthME clip written as frame files, and its in-memory render (ground truth)."""
    sc = render_clip(cfg, subject, label, 0, distractors=distractors)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, fr in zip(sc.frame_numbers, sc.frames, strict=True):
        p = folder / f"img{n}.{ext}"
        cv2.imwrite(str(p), cv2.cvtColor(fr, cv2.COLOR_RGB2BGR))
        paths.append(p)
    clip = Clip("synthme", sc.subject, f"{label}_{subject}", tuple(paths), tuple(int(n) for n in sc.frame_numbers),
                sc.onset, sc.apex, sc.offset, label)
    return clip, sc


def test_uniform_positions_deterministic_and_bounded():
    p = uniform_positions(3, 40, 6)
    assert p[0] == 3 and p[-1] == 40 and np.all(np.diff(p) >= 0) and len(p) == 6
    assert np.array_equal(p, uniform_positions(3, 40, 6))
    short = uniform_positions(0, 2, 6)             # fewer frames than T: repeats, stays in range
    assert short.min() == 0 and short.max() == 2 and len(short) == 6


def test_pool_positions_test_time_vs_jitter():
    assert np.array_equal(sample_pool_positions(6, 4), np.arange(6) * 4)
    g = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(50):
        p = sample_pool_positions(6, 4, g, jitter=True)
        assert p.min() >= 0 and p.max() <= 20 and np.all(np.diff(p) >= 0)
        assert np.all(np.abs(p - np.arange(6) * 4) <= 2)
        seen.add(tuple(p))
    assert len(seen) > 5


def test_clip_span_apex_outside_uses_middle(tmp_path):
    clip, _ = write_clip(tmp_path / "c")
    i_on, i_ap, i_off = clip_span(clip)
    assert (i_on, i_off) == (0, len(clip.frames) - 1) and clip.frame_numbers[i_ap] == clip.apex
    bad = Clip(**{**clip.__dict__, "apex": clip.offset + 50})
    assert clip_span(bad)[1] == (i_on + i_off) // 2


def test_prepare_clip_shapes_and_special_frames(tmp_path):
    clip, sc = write_clip(tmp_path / "c")
    cfg = PrepConfig(img_size=32, num_frames=4, face="none", normalisation="unit", **RAW)
    video, special = prepare_clip(clip, cfg)
    assert video.shape == (3, 4, 32, 32) and special.shape == (3, 2, 32, 32)
    assert video.dtype == special.dtype == torch.float32 and 0 <= video.min() and video.max() <= 1
    assert torch.equal(special[:, 0], video[:, 0])           # onset = first sampled frame
    apex = cv2.resize(sc.frames[sc.apex - sc.onset], (32, 32), interpolation=cv2.INTER_AREA)
    assert torch.allclose(special[:, 1], torch.from_numpy(apex).permute(2, 0, 1).float() / 255, atol=2 / 255)
    v2, s2 = prepare_clip(clip, cfg)
    assert torch.equal(video, v2) and torch.equal(special, s2)   # deterministic at test time


def test_grey_frames_replicated(tmp_path):
    img = (np.arange(40 * 50) % 256).astype(np.uint8).reshape(40, 50)
    cv2.imwrite(str(tmp_path / "g.png"), img)
    out = read_frame(tmp_path / "g.png")
    assert out.shape == (40, 50, 3) and np.array_equal(out[..., 0], img) and np.array_equal(out[..., 2], img)


def test_face_box_modes_and_fallback():
    img = np.full((120, 160, 3), 128, np.uint8)              # no face: fallback
    b = detect_face(img, PrepConfig(face="haar"))
    assert b.source == "centre" and b.w == b.h == 96 and b.x == 32 and b.y == 12
    b = detect_face(img, PrepConfig(face="haar", box=(10, 20, 50, 60)))
    assert (b.source, b.x, b.y, b.w, b.h) == ("box", 10, 20, 50, 60)
    b = detect_face(img, PrepConfig(face="box", box=(150, 100, 50, 50)))   # clamped inside the image
    assert b.x + b.w <= 160 and b.y + b.h <= 120 and b.w == 50
    assert detect_face(img, PrepConfig(face="none")).source == "full"


def test_haar_finds_a_synthme_face():
    sources = [detect_face(render_clip(CFG, s, "positive", 0).frames[0], PrepConfig()).source for s in range(2)]
    assert "haar" in sources


def test_same_box_for_whole_clip_and_crop_shape(tmp_path):
    clip, _ = write_clip(tmp_path / "c", distractors=True)
    p = load_prepared(clip, PrepConfig(img_size=40, num_frames=6, face="box", box=(8, 4, 80, 80)))
    assert p.pool.shape == (11, 40, 40, 3) and p.info["box"] == [8, 4, 80, 80] and p.info["face_source"] == "box"
    assert p.info["pool_frames"][0] == clip.onset and p.info["pool_frames"][-1] == clip.offset


@pytest.mark.parametrize("method", ["dis", "farneback", "tvl1"])
def test_flow_shapes_and_larger_inside_moving_region(tmp_path, method):
    """The flow of a brow raise is where the brows are. Four clips (two seeds, two subjects) with a peak
    displacement of 1.5-3 px (0.75-1.5 px at the 48 px input, well above the sub-0.1 px flow of a still
    face), no registration or magnification (the flow itself is tested; registration's failures are
    tests/data/test_registration.py's). Margin: the mean |flow| inside the moving region is 15-460x the
    mean outside on every clip and every dispatch level tried, so 5x leaves a wide margin for other CPUs."""
    for seed in (5, 6):
        synth = SynthConfig(n_subjects=2, clips_per_class=1, seed=seed, frame_size=(96, 96), face_size=76.0,
                            duration=(0.05, 0.1), amplitude=(1.5, 3.0))
        for subject in range(2):
            clip, sc = write_clip(tmp_path / f"c{seed}-{subject}", label="surprise", subject=subject, cfg=synth)
            cfg = PrepConfig(img_size=48, num_frames=2, face="none", special="flow", flow=method,
                             register="none", magnify=0.0)
            video, special = prepare_clip(clip, cfg)
            assert special.shape == (3, 2, 48, 48) and torch.isfinite(special).all()
            flow = special[:, 1]
            assert torch.allclose(flow[2], flow[:2].norm(dim=0).clamp(max=cfg.flow_clip), atol=1e-4)
            mask = cv2.resize(sc.mask.astype(np.uint8), (48, 48), interpolation=cv2.INTER_NEAREST).astype(bool)
            mag = flow[2].numpy()
            assert mag[mask].mean() > 5 * mag[~mask].mean(), (seed, subject)
            assert flow[1][torch.from_numpy(mask)].mean() < -0.2, (seed, subject)   # brows move up: v < 0


def test_cache_hit_miss_and_corruption(tmp_path):
    clip, _ = write_clip(tmp_path / "c")
    cfg = PrepConfig(img_size=24, num_frames=4, face="none")
    cache = tmp_path / "cache"
    stats = CacheStats()
    a = load_or_prepare(clip, cfg, cache, stats)
    assert (stats.hits, stats.misses) == (0, 1)
    files = list(cache.glob("*.pt"))
    assert len(files) == 1
    b = load_or_prepare(clip, cfg, cache, stats)
    assert (stats.hits, stats.misses) == (1, 1) and np.array_equal(a.pool, b.pool)
    files[0].write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="rebuilding"):
        c = load_or_prepare(clip, cfg, cache, stats)
    assert stats.rebuilt == 1 and np.array_equal(a.pool, c.pool)
    d = load_or_prepare(clip, cfg, cache, stats)              # the rebuilt entry is good again
    assert stats.hits == 2 and np.array_equal(a.pool, d.pool)
    # other settings -> other key; normalisation does not change the key
    assert cache_key(clip, cfg) != cache_key(clip, cfg.replace(img_size=32))
    assert cache_key(clip, cfg) == cache_key(clip, cfg.replace(normalisation="unit"))
    out = prepare_index([clip], cfg, cache, progress=False, stats=stats)
    assert stats.hits == 3 and np.array_equal(out[0].pool, a.pool)


def test_cache_entry_with_wrong_shape_is_rebuilt(tmp_path):
    clip, _ = write_clip(tmp_path / "c")
    cfg = PrepConfig(img_size=24, num_frames=4, face="none")
    cache = tmp_path / "cache"
    load_or_prepare(clip, cfg, cache)
    path = next(cache.glob("*.pt"))
    entry = torch.load(path, weights_only=True)
    entry["pool"] = entry["pool"][:2]
    torch.save(entry, path)
    stats = CacheStats()
    with pytest.warns(UserWarning, match="pool"):
        p = load_or_prepare(clip, cfg, cache, stats)
    assert stats.rebuilt == 1 and p.pool.shape[0] == cfg.pool_size


def test_frame_error_for_missing_and_corrupt_jpg(tmp_path):
    clip, _ = write_clip(tmp_path / "c", ext="jpg")
    cfg = PrepConfig(img_size=24, num_frames=4, face="none")
    victim = clip.frames[len(clip.frames) // 2]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])                 # truncated JPEG
    with pytest.raises(FrameError, match=str(victim)):
        prepare_clip(clip, cfg)
    victim.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(FrameError, match=victim.name):
        prepare_clip(clip, cfg)
    victim.unlink()
    with pytest.raises(FrameError, match="not found.*" + victim.name):
        prepare_clip(clip, cfg)


def test_tensor_checks_reject_nan_and_wrong_shape():
    cfg = PrepConfig(img_size=8, num_frames=2)
    v, s = torch.zeros(3, 2, 8, 8), torch.zeros(3, 2, 8, 8)
    check_tensors(v, s, cfg, "x")
    v[0, 0, 0, 0] = float("nan")
    with pytest.raises(DataError, match="NaN"):
        check_tensors(v, s, cfg, "clipA")
    with pytest.raises(DataError, match="shape"):
        check_tensors(torch.zeros(3, 4, 8, 8), s, cfg, "clipA")


def test_assemble_rejects_wrong_pool(tmp_path):
    clip, _ = write_clip(tmp_path / "c")
    cfg = PrepConfig(img_size=16, num_frames=4, face="none")
    p = load_prepared(clip, cfg)
    p.pool = p.pool[:3]
    with pytest.raises(DataError, match="pool"):
        assemble(p, cfg, where=clip.uid)


@pytest.mark.parametrize("field,value", [("face", "dlib"), ("special", "depth"), ("flow", "lk"),
                                         ("normalisation", "z"), ("img_size", 0), ("num_frames", 0),
                                         ("box", (1, 2, 3))])
def test_prep_config_validation_names_value(field, value):
    with pytest.raises(ConfigError, match=field):
        PrepConfig(**{field: value})
    with pytest.raises(ConfigError, match="box"):
        PrepConfig(face="box")


# ----------------------------------------------------------------------------- micro-expression options

def test_cache_key_changes_with_each_cache_shaping_option(tmp_path):
    clip, _ = write_clip(tmp_path / "c")
    base = PrepConfig(img_size=24, num_frames=4, face="none", register="none", magnify=0.0)
    keys = {cache_key(clip, base)}
    for change in ({"register": "euclidean"}, {"register": "translation"}, {"register": "affine"},
                   {"register": "euclidean", "work_size": 64}, {"magnify": 8.0}, {"magnify": 8.0, "magnify_levels": 2},
                   {"magnify": 8.0, "magnify_cutoff": 8.0}, {"magnify": 12.0}):
        keys.add(cache_key(clip, base.replace(**change)))
    assert len(keys) == 9                                    # every option gives its own entry
    # options applied when tensors are assembled from the cached uint8 crops share the entry
    for change in ({"representation": "frames"}, {"difference_scale": 3.0}, {"clip_norm": True}, {"flip": True},
                   {"shift": 2}, {"photometric": 0.1}, {"work_size": 64}):
        assert cache_key(clip, base.replace(**change)) == cache_key(clip, base)


def test_registered_and_magnified_entries_round_trip_through_the_cache(tmp_path):
    clip, _ = write_clip(tmp_path / "c", distractors=True)
    cfg = PrepConfig(img_size=24, num_frames=4, face="none", register="euclidean", work_size=64, magnify=6.0,
                     magnify_levels=2)
    a = load_or_prepare(clip, cfg, tmp_path / "cache")
    b = load_or_prepare(clip, cfg, tmp_path / "cache")
    assert np.array_equal(a.pool, b.pool) and a.pool.shape == (cfg.pool_size, 24, 24, 3)
    assert b.info["registration"]["motion"] == "euclidean" and b.info["magnification"]["alpha"] == 6.0
    plain = load_prepared(clip, cfg.replace(register="none", magnify=0.0))
    assert not np.array_equal(plain.pool, a.pool)


def test_difference_representation_is_frame_minus_onset(tmp_path):
    clip, _ = write_clip(tmp_path / "c")
    cfg = PrepConfig(img_size=24, num_frames=4, face="none", register="none", representation="difference",
                     difference_scale=5.0, normalisation="unit")
    p = load_prepared(clip, cfg)
    video, special = assemble(p, cfg)
    on = torch.from_numpy(p.onset).permute(2, 0, 1).float() / 255
    ap = torch.from_numpy(p.apex).permute(2, 0, 1).float() / 255
    assert torch.allclose(special[:, 0], on)                              # the onset stays an image
    assert torch.allclose(special[:, 1], (ap - on) * 5.0, atol=1e-5)
    assert torch.count_nonzero(video[:, 0]) == 0                          # the first video frame is the onset
    last = torch.from_numpy(p.pool[-1]).permute(2, 0, 1).float() / 255
    assert torch.allclose(video[:, -1], (last - on) * 5.0, atol=1e-5)
    frames_v, frames_s = assemble(p, cfg.replace(representation="frames"))
    assert torch.allclose(frames_s[:, 1], ap) and torch.allclose(frames_v[:, 0], on)


def test_clip_norm_standardises_each_clip(tmp_path):
    clip, _ = write_clip(tmp_path / "c")
    cfg = PrepConfig(img_size=24, num_frames=4, face="none", register="none", representation="frames",
                     clip_norm=True)
    video, special = assemble(load_prepared(clip, cfg), cfg)
    allx = torch.cat([video, special], dim=1)
    assert allx.mean(dim=(1, 2, 3)).abs().max() < 0.15
    assert (allx.std(dim=(1, 2, 3)) - 1).abs().max() < 0.15


def test_augmentation_moves_all_frames_of_a_clip_together(tmp_path):
    clip, _ = write_clip(tmp_path / "c")
    cfg = PrepConfig(img_size=24, num_frames=4, face="none", normalisation="unit", jitter=False,
                     **{**RAW, "flip": True})
    p = load_prepared(clip, cfg)
    v0, s0 = assemble(p, cfg)
    assert torch.equal(v0, assemble(p, cfg)[0])                           # test time: deterministic, no flip
    g = torch.Generator().manual_seed(0)
    flips = 0
    for _ in range(12):
        v, s = assemble(p, cfg, train=True, generator=g)
        flipped = torch.equal(v, v0.flip(-1))
        assert flipped or torch.equal(v, v0)
        assert torch.equal(s, s0.flip(-1) if flipped else s0)             # special frames follow the video
        flips += flipped
    assert 0 < flips < 12
    cfg2 = cfg.replace(flip=False, shift=2, photometric=0.2)
    v, s = assemble(p, cfg2, train=True, generator=torch.Generator().manual_seed(3))
    ratio = (v[:, 1:] - v[:, :1]).abs().sum() / (v0[:, 1:] - v0[:, :1]).abs().sum().clamp_min(1e-6)
    assert 0.5 < ratio < 1.5                                              # the same motion, moved and re-lit
    assert not torch.equal(v, v0)


@pytest.mark.parametrize("field,value", [("register", "homography"), ("work_size", 4), ("magnify", -1.0),
                                         ("magnify_levels", 0), ("magnify_cutoff", 0.0),
                                         ("representation", "flowish"), ("difference_scale", 0.0),
                                         ("shift", -1), ("photometric", 1.5)])
def test_new_prep_options_are_validated(field, value):
    with pytest.raises(ConfigError, match=field):
        PrepConfig(**{field: value})


def test_prep_config_dict_round_trip():
    cfg = PrepConfig(img_size=48, box=(1, 2, 30, 30), face="box", magnify=4.0, flip=True)
    assert PrepConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="bogus"):
        PrepConfig.from_dict({"bogus": 1})


def test_a_stored_record_keeps_the_values_of_the_version_that_wrote_it():
    """A record (a model's or a manifest's prep) written before ``register_check`` existed meant
    unchecked registration; `from_record` reads it so, while a new configuration and a record that
    names the field get what they say."""
    old = PrepConfig().to_dict()
    del old["register_check"]
    assert PrepConfig.from_dict(old).register_check is True           # today's default for a new config
    assert PrepConfig.from_record(old).register_check is False        # what that record meant
    for value in (True, False):
        cfg = PrepConfig(register_check=value)
        assert PrepConfig.from_record(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="bogus"):
        PrepConfig.from_record({**old, "bogus": 1})


def test_for_model_reads_the_model_and_keeps_overrides():
    import hsta_edu
    from hsta_edu.errors import ConfigError

    model = hsta_edu.create_model("hsta-tiny", num_classes=3, special_input="flow", num_frames=4)
    prep = PrepConfig.for_model(model, magnify=0, face="none")
    assert (prep.img_size, prep.num_frames, prep.special, prep.special_size) == (48, 4, "flow", None)
    assert prep.magnify == 0 and prep.face == "none"
    assert PrepConfig.for_model(model.config) == PrepConfig.for_model(model)       # model or its config
    base = hsta_edu.model.hsta.preset_config("hsta-base")
    assert PrepConfig.for_model(base).special_size == 216 and PrepConfig.for_model(base).img_size == 224
    model.prep_config = PrepConfig(img_size=48, num_frames=4, special="flow", shift=0)   # a pretrained model's own
    assert PrepConfig.for_model(model).shift == 0
    with pytest.raises(ConfigError, match="follow the model"):
        PrepConfig.for_model(model, img_size=64)
    with pytest.raises(ConfigError, match="unknown PrepConfig option"):
        PrepConfig.for_model(model, nope=1)
    with pytest.raises(ConfigError, match="needs a model or model configuration"):
        PrepConfig.for_model(object())


def test_special_size_crops_the_special_tensor_top_left(tmp_path):
    from hsta_edu.data.clip import DatasetIndex
    from hsta_edu.data.torch_data import MERDataset

    clip, _ = write_clip(tmp_path / "c")
    index = DatasetIndex("synthme", [clip], ["surprise"])
    full = MERDataset(index, PrepConfig(img_size=24, num_frames=2, face="none"))
    cut = MERDataset(index, PrepConfig(img_size=24, num_frames=2, face="none", special_size=18))
    v, s, _ = full[0]
    v2, s2, _ = cut[0]
    assert s2.shape == (3, 2, 18, 18) and torch.equal(s2, s[..., :18, :18]) and torch.equal(v, v2)
    assert cut.train_view().train and not cut.train_view().test_view().train
    assert PrepConfig(img_size=24, special_size=24).special_size is None
    with pytest.raises(ConfigError, match="special_size"):
        PrepConfig(img_size=24, special_size=32)
