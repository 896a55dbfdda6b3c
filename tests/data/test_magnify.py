"""Linear Eulerian magnification (hsta_edu/data/prep/magnify.py): pyramid, gains, measured motion factor, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

import hsta_edu.data.prep.magnify as magnify_module
from hsta_edu.data.prep.magnify import collapse_pyramid, laplacian_pyramid, level_factors, magnify, max_levels
from hsta_edu.errors import ConfigError

WAVELENGTH = 32.0  # px; a 64 px wide image holds exactly 2 periods
DELTA = 0.2  # px; (1 + alpha) * DELTA = 1 px < WAVELENGTH / 8 = 4 px for alpha = 4


def _sine_clip(shift: float, channels: int | None) -> np.ndarray:
    """Frames (2, 64, 64[, C]) float64: I(x) = 128 + 60 sin(2 pi x / lambda) and I(x + shift), analytic."""
    x = np.arange(64, dtype=np.float64)
    rows = [128.0 + 60.0 * np.sin(2 * np.pi * (x + s) / WAVELENGTH) for s in (0.0, shift)]
    frames = np.stack([np.tile(r, (64, 1)) for r in rows])
    if channels is not None:
        frames = np.repeat(frames[..., None], channels, axis=-1)
    return frames


def _measured_shift(frames: np.ndarray) -> float:
    """Displacement (px) of frame 1 relative to frame 0 from the phase of the fundamental along x."""
    k = int(round(frames.shape[2] / WAVELENGTH))  # the fundamental's bin over the full, period-aligned width
    f0 = np.fft.rfft(frames[0], axis=1)[:, k]
    f1 = np.fft.rfft(frames[1], axis=1)[:, k]
    phase = np.angle(np.sum(f1 * np.conj(f0)))  # averaged over rows (and channels)
    return float(phase * WAVELENGTH / (2 * np.pi))


def test_pyramid_round_trip_odd_size():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, size=(37, 53, 3)).astype(np.float32)
    levels = max_levels(37, 53)
    pyr = laplacian_pyramid(image, levels)
    assert len(pyr) == levels + 1 and levels == 4
    assert [p.shape for p in pyr] == [(37, 53, 3), (19, 27, 3), (10, 14, 3), (5, 7, 3), (3, 4, 3)]
    assert np.max(np.abs(collapse_pyramid(pyr) - image)) < 1e-4
    # one channel keeps its axis, grey stays 2-D
    assert collapse_pyramid(laplacian_pyramid(image[..., :1], 3)).shape == (37, 53, 1)
    assert np.max(np.abs(collapse_pyramid(laplacian_pyramid(image[..., 0], 3)) - image[..., 0])) < 1e-4


@pytest.mark.parametrize("channels", [None, 3])
def test_magnification_multiplies_known_displacement(channels):
    frames = _sine_clip(DELTA, channels)
    assert _measured_shift(frames) == pytest.approx(DELTA, rel=1e-6)  # the measurement itself is exact
    alpha = 4.0
    levels = max_levels(64, 64)  # 5: the residual (2x2) holds almost none of the 32 px sine
    out = magnify(frames, alpha, levels=levels, cutoff=4.0)  # only level 0 (lambda 2 px) is attenuated
    assert out.shape == frames.shape and out.dtype == frames.dtype
    factor = _measured_shift(out) / DELTA
    assert factor == pytest.approx(1 + alpha, rel=0.10), factor
    np.testing.assert_array_equal(out[0], frames[0])  # the reference frame is untouched
    # restricted to the two finest levels, where the sine has little energy, the motion is barely amplified
    fine = _measured_shift(magnify(frames, alpha, levels=levels, cutoff=4.0, band=(0, 1))) / DELTA
    assert fine < 2.0, fine
    # alpha = 0 returns the input unchanged
    np.testing.assert_array_equal(magnify(frames, 0.0, levels=levels, cutoff=4.0), frames)


def test_reference_copy_unchanged_and_uint8_kept():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(4, 32, 40, 3), dtype=np.uint8)
    frames[2] = frames[0]
    out = magnify(frames, 10.0, levels=3, cutoff=4.0)
    assert out.dtype == np.uint8 and out.shape == frames.shape
    np.testing.assert_array_equal(out[0], frames[0])
    np.testing.assert_array_equal(out[2], frames[2])
    assert np.mean(out[1] != frames[1]) > 0.5  # the other frames are magnified
    assert out.min() == 0 and out.max() == 255  # uint8 output is clipped, not wrapped
    grey = magnify(frames[..., 0], 10.0, levels=3, cutoff=4.0, reference=2)
    assert grey.shape == frames.shape[:3] and grey.dtype == np.uint8
    np.testing.assert_array_equal(grey[2], frames[2, ..., 0])
    np.testing.assert_array_equal(grey[0], frames[0, ..., 0])


def test_level_factors_rule_and_band():
    gains = level_factors(4.0, 5, 8.0)  # wavelengths 2, 4, 8, 16, 32 px, then the residual
    np.testing.assert_allclose(gains, [1.0, 2.0, 4.0, 4.0, 4.0, 0.0])
    assert np.all(np.diff(gains[:-1]) >= 0)  # non-decreasing toward coarse levels
    assert np.all(gains[2:-1] == 4.0) and gains[-1] == 0.0
    np.testing.assert_allclose(level_factors(3.0, 4, 64.0), [3 / 32, 3 / 16, 3 / 8, 3 / 4, 0.0])
    np.testing.assert_allclose(level_factors(4.0, 5, 8.0, band=(1, 3)), [0.0, 2.0, 4.0, 4.0, 0.0, 0.0])
    # a band outside the levels holding the content leaves the frames as they are
    frames = _sine_clip(DELTA, None)
    np.testing.assert_allclose(magnify(frames, 4.0, levels=5, cutoff=4.0, band=(0, 0)), frames, atol=0.5)
    assert np.max(np.abs(magnify(frames, 4.0, levels=5, cutoff=4.0, band=(2, 4)) - frames)) > 5


def _spike_clip() -> np.ndarray:
    rng = np.random.default_rng(2)
    base = rng.uniform(60, 200, size=(48, 48)).astype(np.float32)
    frames = np.repeat(base[None], 5, axis=0)
    frames[2] += rng.normal(0, 10, size=(48, 48)).astype(np.float32)  # a single-frame noise spike
    return frames


def test_temporal_smoothing_damps_single_frame_spike():
    frames = _spike_clip()
    sharp = np.abs(magnify(frames, 5.0, levels=3, cutoff=4.0) - frames)[2].mean()
    smooth = np.abs(magnify(frames, 5.0, levels=3, cutoff=4.0, smooth=1.0) - frames)[2].mean()
    assert sharp > 1.0
    assert smooth < 0.6 * sharp, (smooth, sharp)


def test_numpy_smoothing_fallback_matches_scipy(monkeypatch):
    pytest.importorskip("scipy")
    frames = _spike_clip()
    with_scipy = magnify(frames, 5.0, levels=3, cutoff=4.0, smooth=1.5, reference=1)
    monkeypatch.setattr(magnify_module, "_scipy_gaussian_filter1d", None)
    with_numpy = magnify(frames, 5.0, levels=3, cutoff=4.0, smooth=1.5, reference=1)
    np.testing.assert_allclose(with_numpy, with_scipy, atol=1e-3)
    np.testing.assert_array_equal(with_numpy[1], frames[1])  # the reference stays unchanged with smoothing


CLIP = np.zeros((3, 32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize(("kwargs", "frames", "match"), [
    ({"alpha": -1.0}, CLIP, "got -1.0"),
    ({"alpha": float("nan")}, CLIP, "got nan"),
    ({"alpha": 2.0, "levels": 0}, CLIP, "got 0"),
    ({"alpha": 2.0, "cutoff": 0.0}, CLIP, "got 0.0"),
    ({"alpha": 2.0, "cutoff": -3.0}, CLIP, "got -3.0"),
    ({"alpha": 2.0, "band": (3, 1)}, CLIP, re.escape("got (3, 1)")),
    ({"alpha": 2.0, "levels": 3, "band": (0, 3)}, CLIP, re.escape("got (0, 3)")),
    ({"alpha": 2.0, "reference": 3}, CLIP, "0..2, got 3"),
    ({"alpha": 2.0, "reference": -1}, CLIP, "got -1"),
    ({"alpha": 2.0, "smooth": -0.5}, CLIP, "got -0.5"),
    ({"alpha": 2.0}, CLIP[0, ..., 0], "ndim=2"),
    ({"alpha": 2.0}, CLIP[None], "ndim=5"),
    ({"alpha": 2.0, "levels": 5}, CLIP, "levels=5 is too deep for a 32x32 image"),
    ({"alpha": 2.0}, CLIP.astype(np.int32), "dtype int32"),
])
def test_bad_inputs_raise_config_error(kwargs, frames, match):
    with pytest.raises(ConfigError, match=match):
        magnify(frames, **kwargs)


def test_bad_pyramid_inputs_raise_config_error():
    with pytest.raises(ConfigError, match="ndim=1"):
        laplacian_pyramid(np.zeros(16, np.float32), 1)
    with pytest.raises(ConfigError, match="levels=3 is too deep for a 15x40 image"):
        laplacian_pyramid(np.zeros((15, 40), np.float32), 3)
    assert max_levels(16, 100) == 3 and max_levels(15, 100) == 2 and max_levels(3, 3) == 0
    with pytest.raises(ConfigError, match="h=0"):
        max_levels(0, 10)
