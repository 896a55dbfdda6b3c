"""Linear Eulerian video magnification (Wu et al., SIGGRAPH 2012) with the onset frame as reference.

Micro-expressions move the face by a fraction of a pixel, so pipelines often amplify the motion
before they look at it. Linear Eulerian magnification does that without tracking anything: split
every frame into a Laplacian pyramid, take the temporal "delta" of every level relative to a
reference frame (here the ONSET frame, index ``reference``), scale it and add it back::

    B_t,l = L_t,l - L_ref,l                  temporal band of frame t, level l (reference = high-pass)
    B_t,l <- gauss_t(B)_t,l - gauss_t(B)_ref,l  optional temporal smoothing (``smooth`` > 0, the low-pass)
    out_t = collapse(L_t,l + alpha_l * B_t,l)

For a small displacement ``delta(x, t)`` the band is ``B ~ delta * dI/dx``, so the output is
``I(x + (1 + alpha_l) * delta)`` as long as ``(1 + alpha_l) * delta < lambda / 8`` for the
spatial wavelength ``lambda`` of that level (the first-order Taylor bound of the paper). Fine
levels have short wavelengths, so their gain is attenuated linearly below ``cutoff``
(`level_factors`); the low-pass residual gets no gain at all, so colour/DC changes are not
amplified.

Because every step is linear, `magnify` computes the pyramid of the difference ``I_t - I_ref``
(which equals ``L_t - L_ref`` level by level), scales it and adds the collapsed result to the
input frame; this is the formula above up to float rounding, and it returns the reference frame,
frames equal to it, and everything at ``alpha = 0`` exactly unchanged.

Pyramid depth: ``levels`` band-pass levels plus one low-pass residual. The residual must keep at
least 2 pixels on the smallest side, i.e. ``min(H, W) >= 2 ** (levels + 1)``; `max_levels` gives
the deepest allowed pyramid and deeper requests raise `ConfigError`.

Shapes: images ``(H, W)`` or ``(H, W, C)``; clips ``(N, H, W)`` or ``(N, H, W, C)`` (C = 3 for
RGB). Computation is in float32.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import cv2
import numpy as np

from ...errors import ConfigError

try:  # scipy is optional; the numpy fallback below gives the same result
    from scipy.ndimage import gaussian_filter1d as _scipy_gaussian_filter1d
except ImportError:  # pragma: no cover - depends on the environment
    _scipy_gaussian_filter1d = None

__all__ = ["collapse_pyramid", "laplacian_pyramid", "level_factors", "magnify", "max_levels"]

_TRUNCATE = 4.0  # Gaussian kernel radius in standard deviations (scipy's default)


# ---------------------------------------------------------------------------------------------
# validation helpers


def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _check_levels(levels: object) -> int:
    if not _is_int(levels) or levels < 1:
        raise ConfigError(f"levels must be an integer >= 1, got {levels!r}")
    return int(levels)


def _check_depth(h: int, w: int, levels: int) -> None:
    deepest = max_levels(h, w)
    if levels > deepest:
        raise ConfigError(
            f"levels={levels} is too deep for a {h}x{w} image: the low-pass residual needs "
            f"min(H, W) >= 2**(levels+1) = {2 ** (levels + 1)}; at most {deepest} level(s) fit"
        )


def max_levels(h: int, w: int) -> int:
    """Deepest pyramid (number of band-pass levels) for an ``h`` x ``w`` image.

    The rule is ``min(h, w) >= 2 ** (levels + 1)``, so that the low-pass residual keeps at least
    2 pixels on its smallest side. Returns 0 when not even one level fits (``min(h, w) < 4``).
    """
    if not _is_int(h) or not _is_int(w) or h < 1 or w < 1:
        raise ConfigError(f"image size must be positive integers, got h={h!r}, w={w!r}")
    return max(0, int(math.floor(math.log2(min(int(h), int(w))))) - 1)


# ---------------------------------------------------------------------------------------------
# Laplacian pyramid


def _size(img: np.ndarray) -> tuple[int, int]:
    """cv2's (width, height) of an image."""
    return img.shape[1], img.shape[0]


def _keep_channels(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    """cv2 drops a trailing channel axis of length 1; put it back."""
    if like.ndim == 3 and out.ndim == 2:
        out = out[:, :, None]
    return out


def _down(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    return _keep_channels(cv2.pyrDown(img, dstsize=((w + 1) // 2, (h + 1) // 2)), img)


def _up(img: np.ndarray, like: np.ndarray) -> np.ndarray:
    return _keep_channels(cv2.pyrUp(img, dstsize=_size(like)), like)


def laplacian_pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    """Laplacian pyramid of an ``(H, W)`` or ``(H, W, C)`` image, finest level first.

    Returns ``levels + 1`` float32 arrays: ``levels`` band-pass levels (level ``l`` has size
    about ``(H / 2**l, W / 2**l)``, odd sizes included) and, last, the low-pass residual. Raises
    `ConfigError` for a wrong ``ndim`` or a pyramid deeper than `max_levels` allows.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ConfigError(f"image must be (H, W) or (H, W, C), got ndim={image.ndim} (shape {image.shape})")
    levels = _check_levels(levels)
    _check_depth(image.shape[0], image.shape[1], levels)
    current = np.ascontiguousarray(image, dtype=np.float32)
    pyramid = []
    for _ in range(levels):
        smaller = _down(current)
        pyramid.append(current - _up(smaller, current))
        current = smaller
    pyramid.append(current)
    return pyramid


def collapse_pyramid(pyr: list[np.ndarray]) -> np.ndarray:
    """Image (float32, shape of ``pyr[0]``) from a Laplacian pyramid; the inverse of `laplacian_pyramid`."""
    if len(pyr) < 1:
        raise ConfigError("cannot collapse an empty pyramid")
    current = np.asarray(pyr[-1], dtype=np.float32)
    for band in reversed(pyr[:-1]):
        band = np.asarray(band, dtype=np.float32)
        current = band + _up(current, band)
    return current


# ---------------------------------------------------------------------------------------------
# gains


def _check_band(band: object, levels: int) -> tuple[int, int] | None:
    if band is None:
        return None
    ok = (isinstance(band, (tuple, list)) and len(band) == 2 and all(_is_int(b) for b in band)
          and 0 <= band[0] <= band[1] < levels)
    if not ok:
        raise ConfigError(f"band must be (lo, hi) with 0 <= lo <= hi < levels={levels}, got {band!r}")
    return int(band[0]), int(band[1])


def _check_alpha(alpha: object) -> float:
    if not isinstance(alpha, Real) or isinstance(alpha, bool) or not math.isfinite(alpha) or alpha < 0:
        raise ConfigError(f"alpha must be a finite number >= 0, got {alpha!r}")
    return float(alpha)


def level_factors(alpha: float, levels: int, cutoff: float, *, band: tuple[int, int] | None = None) -> np.ndarray:
    """Gain of every pyramid level, shape ``(levels + 1,)``, finest level first, residual last.

    Band level ``l`` (0 = finest) holds spatial wavelengths of about ``lambda_l = 2 ** (l + 1)``
    pixels. Following Wu et al., it gets the full ``alpha`` where ``lambda_l >= cutoff`` and
    ``alpha * lambda_l / cutoff`` below, a linear attenuation toward fine levels where
    ``(1 + alpha) * displacement`` would break the ``lambda / 8`` bound of the linear
    approximation (for a known displacement ``delta`` choose ``cutoff ~ 8 * (1 + alpha) * delta``).
    The low-pass residual gets 0. ``band=(lo, hi)`` keeps levels ``lo..hi`` (inclusive) and sets
    the gain of every other level to 0.
    """
    alpha = _check_alpha(alpha)
    levels = _check_levels(levels)
    if not isinstance(cutoff, Real) or isinstance(cutoff, bool) or not math.isfinite(cutoff) or cutoff <= 0:
        raise ConfigError(f"cutoff must be a finite number > 0 (pixels), got {cutoff!r}")
    band = _check_band(band, levels)
    wavelengths = 2.0 ** (np.arange(levels) + 1)
    gains = np.zeros(levels + 1, dtype=np.float64)
    gains[:levels] = alpha * np.minimum(1.0, wavelengths / float(cutoff))
    if band is not None:
        keep = np.zeros(levels + 1, dtype=bool)
        keep[band[0]:band[1] + 1] = True
        gains[~keep] = 0.0
    return gains


# ---------------------------------------------------------------------------------------------
# temporal smoothing


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = int(_TRUNCATE * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def _smooth_numpy(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 with edge replication (scipy's ``mode='nearest'``)."""
    kernel = _gaussian_kernel(sigma)
    radius = len(kernel) // 2
    n = x.shape[0]
    out = np.zeros_like(x, dtype=np.float32)
    for k, weight in enumerate(kernel):
        idx = np.clip(np.arange(n) + k - radius, 0, n - 1)
        out += np.float32(weight) * x[idx]
    return out


def _smooth_time(x: np.ndarray, sigma: float) -> np.ndarray:
    if _scipy_gaussian_filter1d is not None:
        return _scipy_gaussian_filter1d(x, sigma, axis=0, mode="nearest", truncate=_TRUNCATE).astype(np.float32)
    return _smooth_numpy(x, sigma)


# ---------------------------------------------------------------------------------------------
# magnification


def magnify(frames: np.ndarray, alpha: float, *, levels: int = 4, cutoff: float = 16.0,
            band: tuple[int, int] | None = None, smooth: float = 0.0, reference: int = 0) -> np.ndarray:
    """Magnify the motion of a clip relative to its reference (onset) frame.

    ``frames``: ``(N, H, W, C)`` (C = 3 for RGB) or ``(N, H, W)``, uint8 or float. Returns an
    array of the same shape and dtype: uint8 is rounded and clipped to 0..255, float is not
    clipped. Per frame ``t`` and level ``l``, ``out = collapse(L_t,l + alpha_l * (L_t,l - L_ref,l))``
    with ``alpha_l`` from `level_factors` (``band`` restricts the gain to levels ``lo..hi``).

    ``smooth`` > 0 smooths the temporal band with a Gaussian of that standard deviation in frames
    (edges replicated), then subtracts the smoothed band of the reference frame again, so the
    reference frame stays unchanged. ``reference`` is the index of the onset frame,
    ``0 <= reference < N``. ``levels`` must fit the image (`max_levels`). Invalid values raise
    `ConfigError` naming them.
    """
    frames = np.asarray(frames)
    if frames.ndim not in (3, 4):
        raise ConfigError(f"frames must be (N, H, W) or (N, H, W, C), got ndim={frames.ndim} (shape {frames.shape})")
    if frames.dtype != np.uint8 and not np.issubdtype(frames.dtype, np.floating):
        raise ConfigError(f"frames must be uint8 or float, got dtype {frames.dtype}")
    n, h, w = frames.shape[:3]
    if min(frames.shape) < 1:
        raise ConfigError(f"frames must not be empty, got shape {frames.shape}")
    gains = level_factors(alpha, levels, cutoff, band=band)
    levels = int(levels)
    _check_depth(h, w, levels)
    if not isinstance(smooth, Real) or isinstance(smooth, bool) or not math.isfinite(smooth) or smooth < 0:
        raise ConfigError(f"smooth must be a finite number >= 0 (frames), got {smooth!r}")
    if not _is_int(reference) or not 0 <= reference < n:
        raise ConfigError(f"reference must be a frame index in 0..{n - 1}, got {reference!r}")

    if not np.any(gains):
        return frames.copy()
    data = frames.astype(np.float32)
    delta = data - data[reference]  # pyramid(delta) == L_t - L_ref level by level (linearity)
    if smooth > 0 and n > 1:
        delta = _smooth_time(delta, float(smooth))
        delta -= delta[reference]
    boost = np.empty_like(delta)
    for t in range(n):
        pyr = laplacian_pyramid(delta[t], levels)
        boost[t] = collapse_pyramid([np.float32(g) * level for g, level in zip(gains, pyr, strict=True)])
    if frames.dtype == np.uint8:
        return np.clip(np.rint(data + boost), 0, 255).astype(np.uint8)
    return frames + boost.astype(frames.dtype)
