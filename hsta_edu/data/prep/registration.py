"""The micro-expression steps on the crops: registration of every frame to the onset (OpenCV ECC,
robust to the expression's own motion) and Eulerian magnification relative to the onset
(`hsta_edu.data.prep.magnify`), with the record of what was done that goes into the prepared clip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ...errors import ConfigError, DataError
from .config import PrepConfig

_ECC_MOTION = {"translation": cv2.MOTION_TRANSLATION, "euclidean": cv2.MOTION_EUCLIDEAN,
               "affine": cv2.MOTION_AFFINE}


@dataclass(frozen=True)
class Registration:
    """The warp that aligns one image to a reference: ``warp`` (2, 3) float32 maps reference pixel
    coordinates (x, y, 1) to the image's (so ``cv2.warpAffine(image, warp, size, flags=INTER_LINEAR |
    WARP_INVERSE_MAP)`` is the aligned image); ``converged`` False when ECC failed (identity used);
    ``residual`` the RMS grey-level difference to the reference after alignment (inner 80%);
    ``source`` which estimate the warp is: "robust" or "plain" ECC, "identity" (ECC failed, or, with
    ``check=True``, no estimate explained the still face better than no motion), or, with ``check=True``,
    "flow-lmeds" / "flow-ransac" (a rigid fit to dense optical flow, see `register_image`); with
    ``check=True`` the warp may be that estimate shrunk towards no motion."""
    warp: np.ndarray
    converged: bool
    residual: float
    source: str = "robust"

    @property
    def shift(self) -> float:
        """Length of the translation part, px."""
        return float(np.hypot(self.warp[0, 2], self.warp[1, 2]))

    @property
    def angle(self) -> float:
        """Rotation part in degrees, OpenCV's convention (``getRotationMatrix2D``: counter-clockwise on screen)."""
        return float(np.degrees(np.arctan2(self.warp[0, 1], self.warp[0, 0])))


def _inner_rms(a: np.ndarray, b: np.ndarray) -> float:
    h, w = a.shape[:2]
    dy, dx = h // 10, w // 10
    d = a[dy:h - dy, dx:w - dx].astype(np.float32) - b[dy:h - dy, dx:w - dx].astype(np.float32)
    return float(np.sqrt(np.mean(d * d)))


# many parameters: the ECC and robustness knobs, each with a default, plus the one switch `check`
def register_image(reference: np.ndarray, image: np.ndarray, motion: str = "euclidean",
                   iterations: int = 100, eps: float = 1e-6, robust: int = 2, keep: float = 0.5,
                   threshold: float = 0.3, check: bool = False) -> Registration:
    """Align ``image`` to ``reference`` (both (H, W) grey or (H, W, 3) RGB, uint8 or float) with OpenCV's
    ECC maximisation (``findTransformECC``, Evangelidis & Psarakis 2008) under ``motion`` =
    "translation" | "euclidean" | "affine". Sub-pixel.

    A micro-expression is *local* motion; plain ECC over the whole face partly explains it by a global
    shift (a brow raise pulls the estimate upwards). With ``robust`` > 0 the alignment is re-estimated
    that many times without the pixels whose remaining displacement (|difference| / |gradient|, smoothed)
    exceeds ``threshold`` px after the previous alignment (never more than a fraction 1 - ``keep`` of
    them): the moving regions are left out, so the warp follows the head, not the expression. A failed
    optimisation returns the identity with ``converged=False`` instead of raising (a clip is never
    dropped for it).

    ``check=True`` never trusts one estimate. Candidates: no motion (identity), plain ECC, robust ECC,
    and two rigid fits (least median of squares; RANSAC with a 0.3 px threshold) to a dense DIS optical
    flow, which treat the expression's pixels as outliers of the head's motion. A candidate that failed or
    moves a point of the face by more than a tenth of the image (implausible between two frames of one
    micro-expression) is dropped; each of the others is also tried shrunk a quarter, a half and three
    quarters of the way towards no motion (an estimate is the head's motion plus the expression's pull and
    the noise, so it tends to overshoot); of all these the one kept best explains the *still* part of the
    face, seen two ways, each relative to no motion: the mean of the lower half of the smoothed absolute
    difference after alignment (a residual blind to the moving half), plus its mean over the pixels that
    are already still without alignment (a warp that disturbs them is implausible). So an estimate pulled
    by the expression, or one that ran off, loses to a better one, to less of itself or to no motion at
    all (chosen on development seeds, `benchmarks/registration.py --dev`); ``source`` records which
    estimate was kept (`benchmarks/registration.py` measures it against SynthME's true head motion)."""
    if motion not in _ECC_MOTION:
        raise ConfigError(f"registration motion {motion!r}: must be one of {tuple(_ECC_MOTION)}")

    def grey(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim == 3:
            x = cv2.cvtColor(x.astype(np.float32), cv2.COLOR_RGB2GRAY)
        return x.astype(np.float32)
    ref, img = grey(reference), grey(image)
    if ref.shape != img.shape:
        raise DataError(f"register_image: image {img.shape} and reference {ref.shape} differ in size")
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, eps)
    h, w = ref.shape
    border = np.zeros((h, w), np.uint8)          # ignore a border band: pixels there move out of / into view
    border[h // 16:h - h // 16, w // 16:w - w // 16] = 1

    def ecc(mask: np.ndarray, start: np.ndarray | None = None) -> np.ndarray | None:
        init = np.eye(2, 3, dtype=np.float32) if start is None else start.copy()
        try:
            _, warp = cv2.findTransformECC(ref, img, init, _ECC_MOTION[motion], criteria, mask, 3)
        except cv2.error:
            return None
        return warp if np.all(np.isfinite(warp)) else None

    def aligned(warp: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(img, warp, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
    warp = plain = ecc(border)
    if robust and warp is not None:
        sigma = max(w / 24, 1.0)
        gx, gy = cv2.Sobel(ref, cv2.CV_32F, 1, 0, ksize=3) / 8, cv2.Sobel(ref, cv2.CV_32F, 0, 1, ksize=3) / 8
        texture = cv2.GaussianBlur(np.hypot(gx, gy), (0, 0), sigma) + 1.0
        inside = border > 0
    for _ in range(robust if warp is not None else 0):
        # |difference| / |gradient| ~ the displacement left at each pixel: leave out where it is largest
        moved = cv2.GaussianBlur(np.abs(aligned(warp) - ref), (0, 0), sigma) / texture
        limit = max(threshold, float(np.quantile(moved[inside], keep)))
        mask = ((moved <= limit) & inside).astype(np.uint8)
        again = ecc(mask, warp)
        if again is None:
            break
        warp = again
    ok = warp is not None
    if check:
        return _checked(ref, img, motion, {"plain": plain, "robust": warp if robust else None})
    source = "robust" if robust else "plain"
    if not ok:
        warp, source = np.eye(2, 3, dtype=np.float32), "identity"
    return Registration(warp.astype(np.float32), ok, _inner_rms(aligned(warp), ref), source)


def _flow_fits(ref: np.ndarray, img: np.ndarray, motion: str) -> dict[str, np.ndarray | None]:
    """Rigid fits (``motion``) to a dense DIS optical flow from ``ref`` to ``img`` sampled every ~2 px on
    the inner face: least median of squares and RANSAC (0.3 px). Keys "flow-lmeds", "flow-ransac"."""
    h, w = ref.shape
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setFinestScale(0)                       # full resolution: sub-pixel motion needs it
    dis.setPatchStride(2)
    dis.setVariationalRefinementIterations(10)
    flow = dis.calc(np.clip(np.rint(ref), 0, 255).astype(np.uint8),
                    np.clip(np.rint(img), 0, 255).astype(np.uint8), None)
    step = max(1, round(min(h, w) / 48))
    ys, xs = np.mgrid[h // 16:h - h // 16:step, w // 16:w - w // 16:step]
    ys, xs = ys.ravel(), xs.ravel()
    src = np.stack([xs, ys], 1).astype(np.float32)
    dst = src + flow[ys, xs]
    fits: dict[str, np.ndarray | None] = {}
    for name, method in (("flow-lmeds", cv2.LMEDS), ("flow-ransac", cv2.RANSAC)):
        if motion == "translation":
            d = dst - src
            centre = np.median(d, 0)
            if method == cv2.RANSAC:
                near = np.linalg.norm(d - centre, axis=1) < 0.3
                centre = d[near].mean(0) if near.any() else centre
            m = np.float32([[1, 0, centre[0]], [0, 1, centre[1]]])
        else:
            fit = cv2.estimateAffine2D if motion == "affine" else cv2.estimateAffinePartial2D
            m, _ = fit(src, dst, method=method, ransacReprojThreshold=0.3)
            if m is not None and motion == "euclidean":       # similarity -> rotation + translation
                m[:, :2] /= np.hypot(m[0, 0], m[1, 0])
        fits[name] = None if m is None or not np.all(np.isfinite(m)) else m.astype(np.float32)
    return fits


def _residual_map(ref: np.ndarray, img: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """Smoothed |aligned - ref| over the inner 75 % of the image."""
    h, w = ref.shape
    moved = cv2.warpAffine(img, warp, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    return cv2.GaussianBlur(np.abs(moved - ref), (0, 0), max(w / 32, 1.0))[h // 8:h - h // 8, w // 8:w - w // 8]


_SHRINK = (0.25, 0.5, 0.75)     # fractions of each estimate also tried by `_checked` (besides all of it)


def _checked(ref: np.ndarray, img: np.ndarray, motion: str, ecc: dict[str, np.ndarray | None]) -> Registration:
    """`register_image(check=True)`: keep the plausible candidate that best explains the still face."""
    h, w = ref.shape
    identity = np.eye(2, 3, dtype=np.float32)
    candidates = {"identity": identity, **ecc, **_flow_fits(ref, img, motion)}
    corners = np.float32([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]])
    limit = 0.1 * min(h, w)
    plausible = {name: warp.astype(np.float32) for name, warp in candidates.items()
                 if warp is not None and np.abs(corners @ warp.T - corners[:, :2]).max() <= limit}
    # every estimate is the head's motion plus an error of the same order (the expression's pull, the noise),
    # so it overshoots: on the development seeds the true shift is ~0.65-0.9 of the flow fits' and ~0.25-0.55
    # of ECC's. Each is therefore also tried shrunk a quarter, a half and three quarters of the way towards
    # no motion (a blend of the matrices: the rotations are fractions of a degree, where it is a rotation to
    # 1e-4), and the same score decides how much of it the still face supports. Keys (name, fraction kept).
    shrunk = {(name, a): identity + a * (warp - identity)
              for name, warp in plausible.items() if name != "identity" for a in _SHRINK}
    warps = {(name, 1.0): warp for name, warp in plausible.items()} | shrunk
    maps = {key: _residual_map(ref, img, warp) for key, warp in warps.items()}
    # two views of "the still face": the half of the pixels each warp aligns best, and the half that is
    # already still without any warp; a candidate must explain both (each relative to no motion)
    none = maps[("identity", 1.0)]
    still = none <= np.median(none)
    eps = 1e-6

    def lower_half(m: np.ndarray) -> float:
        v = np.sort(m.ravel())
        return float(v[:max(1, v.size // 2)].mean())
    own0, still0 = lower_half(none) + eps, float(none[still].mean()) + eps
    scores = {key: (lower_half(m) + eps) / own0 + (float(m[still].mean()) + eps) / still0
              for key, m in maps.items()}
    best = min(scores, key=scores.__getitem__)      # identity (score 2) is always a candidate
    warp = warps[best]
    moved = cv2.warpAffine(img, warp, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    return Registration(warp, ecc["plain"] is not None, _inner_rms(moved, ref), best[0])


def warp_image(image: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """``image`` resampled onto the reference's grid by a `Registration` warp (bilinear, edges replicated)."""
    h, w = image.shape[:2]
    return cv2.warpAffine(image, warp, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def align(onset: np.ndarray, others: np.ndarray, motion: str, check: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """Register each of ``others`` (N, S, S, 3) uint8 to ``onset`` (S, S, 3) (`register_image`, robust;
    ``check``: with the fallbacks of `register_image(check=True)`); returns the aligned frames and a
    record (per-frame shift, angle and kept estimate, mean residual before/after)."""
    regs = [register_image(onset, f, motion, check=check) for f in others]
    out = np.stack([warp_image(f, r.warp) for f, r in zip(others, regs, strict=True)])
    g0 = cv2.cvtColor(onset, cv2.COLOR_RGB2GRAY)
    before = [_inner_rms(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), g0) for f in others]
    record = {"motion": motion,
              "shift_px": [round(r.shift, 3) for r in regs], "angle_deg": [round(r.angle, 3) for r in regs],
              "residual_before": round(float(np.mean(before)), 3),
              "residual": round(float(np.mean([r.residual for r in regs])), 3),
              "failed": int(sum(not r.converged for r in regs))}
    if check:
        record["source"] = [r.source for r in regs]
    return out, record


def align_and_magnify(onset: np.ndarray, others: np.ndarray, cfg: PrepConfig) -> tuple[np.ndarray, dict[str, Any]]:
    """The micro-expression steps on crops at ``cfg.work_size``: register each of ``others`` (N, S, S, 3)
    uint8 to ``onset`` (S, S, 3), then magnify the motion relative to the onset. Returns the processed
    ``others`` (uint8, same shape) and a record of what was done (per-frame shift, angle, residual)."""
    aligned, info = align_and_record(onset, others, cfg)
    return magnify_clip(onset, aligned, cfg, info), info


def align_and_record(onset: np.ndarray, others: np.ndarray, cfg: PrepConfig) -> tuple[np.ndarray, dict[str, Any]]:
    """`align` under ``cfg.register`` (unchanged frames and an empty record when it is "none"); the record
    goes into ``PreparedClip.info["registration"]``."""
    if cfg.register == "none":
        return others, {}
    out, reg = align(onset, others, cfg.register, check=cfg.register_check)
    reg["work_size"] = cfg.work_size
    return out, {"registration": reg}


def magnify_clip(onset: np.ndarray, others: np.ndarray, cfg: PrepConfig, info: dict[str, Any]) -> np.ndarray:
    """Eulerian magnification of ``others`` relative to ``onset`` (``cfg.magnify``; identity when 0)."""
    if cfg.magnify <= 0:
        return others
    from .magnify import magnify
    out = magnify(np.concatenate([onset[None], others]), cfg.magnify, levels=cfg.magnify_levels,
                  cutoff=cfg.magnify_cutoff, reference=0)[1:]
    info["magnification"] = {"alpha": cfg.magnify, "levels": cfg.magnify_levels, "cutoff": cfg.magnify_cutoff}
    return out
