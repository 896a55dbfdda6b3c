"""Registration to the onset frame (hsta_edu/data/prep/: register_image, warp_image, align_and_magnify)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage

from hsta_edu.data.prep import PrepConfig, align, align_and_magnify, detect_face, register_image, warp_image
from hsta_edu.data.prep.crops import resize_crop
from hsta_edu.data.synth import (
    BENCHMARK_CONFIG,
    SynthConfig,
    head_warp,
    make_subject,
    render_clip,
    warp_error,
)
from hsta_edu.errors import ConfigError, DataError

CFG = SynthConfig(n_subjects=2, clips_per_class=1, seed=5, frame_size=(112, 112), face_size=88.0)


def _face() -> np.ndarray:
    return render_clip(CFG, 0, "positive", 0, distractors=False).frames[0]


def _known_warp(shift: tuple[float, float], angle_deg: float, centre: tuple[float, float]) -> np.ndarray:
    """Forward map reference -> moved image: rotation about ``centre`` then translation."""
    m = cv2.getRotationMatrix2D(centre, angle_deg, 1.0)
    m[:, 2] += shift
    return m.astype(np.float32)


def _move(image: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """``image`` moved by the affine ``forward`` map with exact float positions (cubic spline), uint8.

    (cv2.warpAffine quantises sub-pixel positions to 1/32 px, too coarse for a 0.1 px ground truth.)"""
    h, w = image.shape[:2]
    inv = np.linalg.inv(np.vstack([forward, [0, 0, 1]]))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    src = inv @ np.stack([xx.ravel(), yy.ravel(), np.ones(h * w)])
    out = np.stack([ndimage.map_coordinates(image[..., c].astype(np.float64), [src[1], src[0]], order=3,
                                            mode="reflect").reshape(h, w) for c in range(image.shape[2])], -1)
    return out.round().clip(0, 255).astype(np.uint8)


def _points_error(est: np.ndarray, true: np.ndarray, size: int) -> float:
    """Largest distance (px) between where the two warps send a grid over the inner 80% of the face."""
    g = np.linspace(0.1 * size, 0.9 * size, 9)
    pts = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    ph = np.concatenate([pts, np.ones((len(pts), 1))], 1)
    return float(np.abs(ph @ est.T - ph @ true.T).max())


@pytest.mark.parametrize("shift,angle", [((1.3, -0.7), 0.0), ((0.4, 0.9), 0.8), ((-2.2, 1.6), -1.5)])
def test_registration_recovers_known_shift_and_rotation(shift, angle):
    face = _face()
    h, w = face.shape[:2]
    true = _known_warp(shift, angle, (w / 2 - 3.0, h / 2 + 2.0))
    moved = _move(face, true)
    reg = register_image(face, moved, "euclidean")
    assert reg.converged
    assert _points_error(reg.warp, true, w) < 0.1          # the bound: within 0.1 px
    assert abs(reg.angle - angle) < 0.1                     # 0.1 deg moves a point 50 px away by 0.09 px
    # aligning removes the motion: the residual drops well below the unaligned difference
    before = np.sqrt(np.mean((cv2.cvtColor(moved, cv2.COLOR_RGB2GRAY).astype(float)
                              - cv2.cvtColor(face, cv2.COLOR_RGB2GRAY).astype(float)) ** 2))
    assert reg.residual < 0.35 * before
    back = warp_image(moved, reg.warp)
    assert back.shape == face.shape and back.dtype == face.dtype


def test_translation_model_and_failure_is_identity_not_an_error():
    face = _face()
    moved = np.roll(face, (1, 2), axis=(0, 1))
    reg = register_image(face, moved, "translation")
    assert reg.converged and abs(reg.warp[0, 2] - 2) < 0.1 and abs(reg.warp[1, 2] - 1) < 0.1
    flat = np.full_like(face, 128)
    bad = register_image(flat, flat, "affine")        # no texture: ECC cannot converge
    assert not bad.converged and np.array_equal(bad.warp, np.eye(2, 3, dtype=np.float32))
    with pytest.raises(ConfigError, match="homography"):
        register_image(face, moved, "homography")
    with pytest.raises(DataError, match="differ in size"):
        register_image(face, face[:50], "euclidean")


def test_align_records_residual_per_clip():
    sc = render_clip(CFG, 1, "surprise", 0, distractors=True)
    frames = np.stack([cv2.resize(f, (96, 96), interpolation=cv2.INTER_AREA) for f in sc.frames])
    out, info = align_and_magnify(frames[0], frames[1:], PrepConfig(register="euclidean", work_size=96, magnify=0.0))
    reg = info["registration"]
    assert out.shape == frames[1:].shape and out.dtype == np.uint8
    assert len(reg["shift_px"]) == len(frames) - 1 and reg["failed"] == 0
    assert reg["residual"] <= reg["residual_before"]
    out2, info2 = align_and_magnify(frames[0], frames[1:], PrepConfig(register="none", magnify=0.0))
    assert info2 == {} and np.array_equal(out2, frames[1:])


#: 24 still faces (seeds 1-12, two subjects each), each with a 3 px brow raise at the apex. Plain ECC
#: explains part of the raise as a head shift (about 1 px); the robust re-estimation should not.
_BROW_FACES = [(seed, subject) for seed in range(1, 13) for subject in range(2)]


@pytest.fixture(scope="module")
def brow_raise_shifts() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(plain, robust, checked) estimated shift (px) of the onset -> apex registration of each `_BROW_FACES`
    face (checked: `register_image(check=True)`)."""
    plain, robust, checked = [], [], []
    for seed, subject in _BROW_FACES:
        cfg = SynthConfig(n_subjects=2, clips_per_class=1, seed=seed, frame_size=(112, 112), face_size=88.0,
                          amplitude=(3.0, 3.0))
        sc = render_clip(cfg, subject, "surprise", 0, distractors=False)
        apex = sc.frames[int(np.argmax(sc.intensity))]
        plain.append(register_image(sc.frames[0], apex, "euclidean", robust=0).shift)
        robust.append(register_image(sc.frames[0], apex, "euclidean").shift)
        checked.append(register_image(sc.frames[0], apex, "euclidean", check=True).shift)
    return np.asarray(plain), np.asarray(robust), np.asarray(checked)


def test_robust_registration_follows_the_head_not_the_expression(brow_raise_shifts):
    """The head is still, so the true shift is 0. Margins from the method, not one machine's bits: plain
    ECC is pulled by a third of the 3 px raise (median about 1 px on every dispatch level tried); the
    robust estimate, with the moving regions left out, stays at a tenth of a pixel on the typical face
    (median about 0.03 px) and is at least twice as close to the truth as plain ECC on two faces of
    three. The estimates of single faces are not asserted: on some faces the robust estimate fails and
    which ones changes with the CPU's kernels (the test below)."""
    plain, robust, _ = brow_raise_shifts
    assert np.median(plain) > 0.5, plain
    assert np.median(robust) < 0.1, robust
    assert np.mean(robust < plain / 2) >= 2 / 3, np.c_[plain, robust]


def test_checked_registration_is_never_worse_than_plain(brow_raise_shifts):
    """What registration promises with ``check=True``: on every face, never worse than plain ECC by more
    than 0.1 px, and, the head being still (true shift 0), within the issue's 0.1 px of the truth,
    including the faces where the robust estimate runs off by 0.5-3.3 px."""
    plain, robust, checked = brow_raise_shifts
    assert np.all(checked <= plain + 0.1), np.c_[plain, robust, checked]
    assert np.all(checked < 0.1), np.c_[plain, robust, checked]


#: A few clips of the benchmark's stronger distractor level (head drift 0.8 px, rotation 0.4 deg, noise
#: 1.8, flicker 0.02), seeds used by neither the benchmark nor its development.
_MOVING = BENCHMARK_CONFIG.replace(seed=6161, n_subjects=3, clips_per_class=1, head_drift=0.8, head_rotation=0.4,
                                   noise=1.8, flicker=0.02)


@pytest.fixture(scope="module")
def moving_head_errors() -> dict[str, np.ndarray]:
    """Error (px, `warp_error` against `head_warp`) of each registered frame of 9 `_MOVING` clips, taken
    through the pipeline's crop at the work size, for no registration, plain, robust and checked ECC."""
    prep = PrepConfig()
    out: dict[str, list[float]] = {"none": [], "plain": [], "robust": [], "checked": []}
    for s in range(_MOVING.n_subjects):
        subject = make_subject(_MOVING, s)
        for label in _MOVING.classes:
            sc = render_clip(_MOVING, subject, label, 0)
            box = detect_face(sc.frames[0], prep)
            crop = [resize_crop(box.crop(f), prep.work_size) for f in sc.frames]
            frames = sorted({int(i) for i in np.linspace(1, len(crop) - 1, 5).round()} | {sc.apex - sc.onset})
            for i in frames:
                true = head_warp(sc, subject, i, (box.x, box.y, box.w, box.h), prep.work_size)
                out["none"].append(warp_error(np.eye(2, 3), true, prep.work_size))
                for name, kw in (("plain", dict(robust=0)), ("robust", {}), ("checked", dict(check=True))):
                    warp = register_image(crop[0], crop[i], "euclidean", **kw).warp
                    out[name].append(warp_error(warp, true, prep.work_size))
    return {k: np.asarray(v) for k, v in out.items()}


def test_checked_registration_follows_the_true_head_motion(moving_head_errors):
    """Against SynthME's true head motion: with ``check=True`` no frame is worse than no registration by
    more than the issue's 0.1 px, and the typical error is under half the head motion itself (the
    benchmark, `benchmarks/registration.py`, measures about a quarter over 324 clips). Plain ECC, pulled
    by the expression, does worse than no registration on some frames: the check is needed."""
    e = moving_head_errors
    assert np.median(e["none"]) > 0.15, e["none"]          # the clips do move: the test can fail
    assert np.all(e["checked"] <= e["none"] + 0.1), np.c_[e["none"], e["checked"]]
    assert np.median(e["checked"]) < 0.5 * np.median(e["none"]), np.c_[e["none"], e["checked"]]
    assert np.max(e["plain"] - e["none"]) > 0.1 or np.max(e["robust"] - e["none"]) > 0.1


def test_head_warp_is_the_motion_registration_recovers():
    """`head_warp` against an expression-free clip: plain ECC (nothing but the head moves) recovers it
    within 0.1 px, while the motion itself is several times that."""
    cfg = SynthConfig(n_subjects=1, clips_per_class=1, seed=3, amplitude=(0.01, 0.01), head_drift=1.0,
                      head_rotation=0.5, noise=0.0, flicker=0.0)
    subject = make_subject(cfg, 0)
    sc = render_clip(cfg, subject, "surprise", 0)
    last = len(sc.frames) - 1
    true = head_warp(sc, subject, last)
    h, w = sc.frames[0].shape[:2]
    assert warp_error(np.eye(2, 3), true, (h, w)) > 0.3
    est = register_image(sc.frames[0], sc.frames[last], "euclidean", robust=0).warp
    assert warp_error(est, true, (h, w)) < 0.1
    assert np.allclose(head_warp(sc, subject, 0), np.eye(2, 3))
    with pytest.raises(IndexError, match="outside"):
        head_warp(sc, subject, last + 1)
    with pytest.raises(ValueError, match="size"):
        head_warp(sc, subject, last, box=(0, 0, 10, 10))


def test_align_records_the_estimate_kept_per_frame():
    sc = render_clip(CFG, 1, "surprise", 0, distractors=True)
    frames = np.stack([cv2.resize(f, (96, 96), interpolation=cv2.INTER_AREA) for f in sc.frames[:4]])
    _, reg = align(frames[0], frames[1:], "euclidean", check=True)
    assert len(reg["source"]) == 3
    assert set(reg["source"]) <= {"identity", "plain", "robust", "flow-lmeds", "flow-ransac"}
    _, plain = align(frames[0], frames[1:], "euclidean")
    assert "source" not in plain


def test_register_check_option_reaches_the_registration_and_the_cache_key():
    sc = render_clip(CFG, 1, "surprise", 0, distractors=True)
    frames = np.stack([cv2.resize(f, (96, 96), interpolation=cv2.INTER_AREA) for f in sc.frames[:4]])
    cfg = PrepConfig(register="euclidean", register_check=True, work_size=96, magnify=0.0)
    _, info = align_and_magnify(frames[0], frames[1:], cfg)
    assert len(info["registration"]["source"]) == 3                      # the checked path ran
    _, plain = align_and_magnify(frames[0], frames[1:], cfg.replace(register_check=False))
    assert "source" not in plain["registration"]
    # checked crops are other crops: their cache key differs; off, the key is what it was before the option
    assert cfg.shape_settings()["register_check"] is True
    assert "register_check" not in cfg.replace(register_check=False).shape_settings()
    assert "register_check" not in cfg.replace(register="none").shape_settings()
    with pytest.raises(ConfigError, match="register_check"):
        PrepConfig(register_check="yes")
