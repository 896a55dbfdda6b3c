"""Registration to the onset frame (hsta_edu/data/prep/: register_image, warp_image, align_and_magnify)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage

from hsta_edu.data.prep import PrepConfig, align_and_magnify, register_image, warp_image
from hsta_edu.data.synth import SynthConfig, render_clip
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
def brow_raise_shifts() -> tuple[np.ndarray, np.ndarray]:
    """(plain, robust) estimated shift (px) of the onset -> apex registration of each `_BROW_FACES` face."""
    plain, robust = [], []
    for seed, subject in _BROW_FACES:
        cfg = SynthConfig(n_subjects=2, clips_per_class=1, seed=seed, frame_size=(112, 112), face_size=88.0,
                          amplitude=(3.0, 3.0))
        sc = render_clip(cfg, subject, "surprise", 0, distractors=False)
        apex = sc.frames[int(np.argmax(sc.intensity))]
        plain.append(register_image(sc.frames[0], apex, "euclidean", robust=0).shift)
        robust.append(register_image(sc.frames[0], apex, "euclidean").shift)
    return np.asarray(plain), np.asarray(robust)


def test_robust_registration_follows_the_head_not_the_expression(brow_raise_shifts):
    """The head is still, so the true shift is 0. Margins from the method, not one machine's bits: plain
    ECC is pulled by a third of the 3 px raise (median about 1 px on every dispatch level tried); the
    robust estimate, with the moving regions left out, stays at a tenth of a pixel on the typical face
    (median about 0.03 px) and is at least twice as close to the truth as plain ECC on two faces of
    three. The estimates of single faces are not asserted: on some faces the robust estimate fails and
    which ones changes with the CPU's kernels (the test below)."""
    plain, robust = brow_raise_shifts
    assert np.median(plain) > 0.5, plain
    assert np.median(robust) < 0.1, robust
    assert np.mean(robust < plain / 2) >= 2 / 3, np.c_[plain, robust]


@pytest.mark.xfail(strict=True, reason="issue 26: on about 1 face in 5 the robust estimate is off by 0.5-3.3 px, "
                                       "worse than plain ECC; registration that never hurts is that issue's work")
def test_robust_registration_is_never_worse_than_plain(brow_raise_shifts):
    """What registration should promise and does not yet: never worse than plain ECC by more than 0.1 px."""
    plain, robust = brow_raise_shifts
    assert np.all(robust <= plain + 0.1), np.c_[plain, robust]
