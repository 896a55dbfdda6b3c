"""Scoring explanations against known moving regions (SynthME ground truth).

- **Mass share**: the share of a map's (non-negative) mass inside the true region. A uniform
  map scores the region's area share: that is the chance level.
- **Pointing game** (Zhang et al. 2016): a hit when the map's maximum falls inside the true
  region (optionally grown by ``tolerance`` pixels). Chance = the (grown) region's area share,
  the hit rate of a point drawn uniformly at random.

Maps are summed over time and scored in the image plane by default, because the SynthME masks
are the (static) regions of the moving action units; pass a (T, H, W) mask to score in space-time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError


def _np(x) -> np.ndarray:
    if torch.is_tensor(x):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x)


def _align(heat, mask) -> tuple[np.ndarray, np.ndarray]:
    h = np.abs(_np(heat).astype(np.float64))
    m = _np(mask).astype(bool)
    if m.ndim == 2 and h.ndim == 3:
        h = h.sum(0)
    if h.shape != m.shape:
        raise ConfigError(f"map shape {h.shape} does not match mask shape {m.shape}")
    return h, m


def dilate(mask, tolerance: int) -> np.ndarray:
    """Grow a boolean (H, W) or (T, H, W) mask by ``tolerance`` pixels in the image plane (square)."""
    m = _np(mask).astype(bool)
    if tolerance <= 0:
        return m
    t = torch.from_numpy(m.astype(np.float32)).reshape(-1, 1, *m.shape[-2:])
    k = 2 * tolerance + 1
    return (F.max_pool2d(t, k, stride=1, padding=tolerance) > 0).reshape(m.shape).numpy()


def mass_share(heat, mask) -> float:
    """Share of |heat| inside ``mask`` (NaN for an all-zero map)."""
    h, m = _align(heat, mask)
    total = h.sum()
    return float(h[m].sum() / total) if total > 0 else float("nan")


def chance_mass(mask) -> float:
    """Mass share of a uniform map: the mask's area share."""
    return float(_np(mask).astype(bool).mean())


def pointing_hit(heat, mask, tolerance: int = 0) -> bool:
    """Whether the maximum of |heat| lies inside ``mask`` grown by ``tolerance`` px (ties: any maximum)."""
    h, m = _align(heat, mask)
    m = dilate(m, tolerance)
    peak = h.max()
    if peak <= 0:
        return False
    return bool(m[h >= peak * (1 - 1e-6)].any())


def pointing_chance(mask, tolerance: int = 0) -> float:
    """Hit rate of a uniformly random point: the grown mask's area share."""
    return float(dilate(mask, tolerance).mean())


def score_method(heats: Iterable, masks: Iterable, tolerance: int = 0) -> dict[str, float]:
    """Average scores over clips: {'mass_share', 'chance', 'pointing_game', 'pointing_chance', 'n'}."""
    ms, ch, hit, pch = [], [], [], []
    for h, m in zip(heats, masks, strict=True):
        if not _np(m).any():
            continue  # a clip without a moving region cannot be scored
        ms.append(mass_share(h, m))
        ch.append(chance_mass(m))
        hit.append(pointing_hit(h, m, tolerance))
        pch.append(pointing_chance(m, tolerance))
    if not ms:
        raise ConfigError("no clip with a non-empty ground-truth mask to score")
    return {"mass_share": float(np.nanmean(ms)), "chance": float(np.mean(ch)),
            "pointing_game": float(np.mean(hit)), "pointing_chance": float(np.mean(pch)), "n": len(ms)}


def score_table(scores: Mapping[str, Mapping[str, float]]) -> str:
    """A plain-text table of `score_method` results per method, best mass share first."""
    rows = sorted(scores.items(), key=lambda kv: -kv[1]["mass_share"])
    lines = [f"{'method':<22} {'mass share':>10} {'chance':>7} {'x chance':>8} {'pointing':>9} {'chance':>7}"]
    for name, s in rows:
        lines.append(f"{name:<22} {s['mass_share']:>10.3f} {s['chance']:>7.3f} "
                     f"{s['mass_share'] / max(s['chance'], 1e-12):>8.2f} {s['pointing_game']:>9.3f} "
                     f"{s.get('pointing_chance', s['chance']):>7.3f}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- SynthME ground truth
def mask_on_input(mask, box: tuple[int, int, int, int] | None, size: int | tuple[int, int]) -> np.ndarray:
    """A region mask (H, W) in frame pixels -> the model input's pixels: the same crop ``box``
    (x, y, w, h) and resize as preprocessing applies to the frames (area-weighted, kept where at
    least half of an input pixel is inside)."""
    import cv2

    m = _np(mask).astype(np.float32)
    if box is not None:
        x, y, w, h = (int(v) for v in box)
        m = m[y:y + h, x:x + w]
    sz = (size, size) if isinstance(size, int) else tuple(size)
    out = cv2.resize(m, (sz[1], sz[0]), interpolation=cv2.INTER_AREA)
    return out >= 0.5


def synthme_mask(dataset, i: int) -> np.ndarray:
    """The union of the moving AU regions of clip ``i`` of a SynthME `MERDataset`, on the input (S, S).

    Reads ``synthme_groundtruth/`` next to the corpus and the crop box preprocessing used for
    that clip (``dataset.prepared(i).info['box']``)."""
    from ..data.synth import load_groundtruth

    clip = dataset.index.clips[i]
    root = dataset.index.root
    if root is None:
        raise ConfigError(f"{clip.uid}: the dataset index has no root folder to find SynthME ground truth in")
    gt = load_groundtruth(root, clip.subject, clip.clip_id)
    info = dataset.prepared(i).info
    return mask_on_input(gt["mask"], info.get("box"), dataset.prep_cfg.img_size)
