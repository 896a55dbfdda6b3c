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

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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


# --------------------------------------------------------------------------- all methods over clips
#: per-method options: enough steps to be accurate, few enough for a CPU
SCORE_OPTIONS: dict[str, dict[str, Any]] = {
    "integrated_gradients": {"n_steps": 32, "internal_batch_size": 32},
    "smoothgrad_ig": {"n_steps": 8, "nt_samples": 4, "internal_batch_size": 32},
    "occlusion": {"perturbations_per_eval": 64},
    "feature_ablation": {"perturbations_per_eval": 32},
    "rollout": {"head": "mean"},
}


def movement_map(special, prep_cfg) -> np.ndarray:
    """A model-free map of where the face moved, from one special tensor (3, 2, S, S): the flow
    magnitude (flow input), or |apex - onset| summed over channels (frames; the apex channel already
    is apex - onset in the difference representation)."""
    s = _np(special)
    if prep_cfg.special == "flow":
        return np.abs(s[2, 1])
    if prep_cfg.representation == "difference":
        return np.abs(s[:, 1]).sum(0)
    return np.abs(s[:, 1] - s[:, 0]).sum(0)


def score_explanations(model, dataset, indices: Sequence[int], methods: Sequence[str], *,
                       tolerance: int = 2, options: Mapping[str, Mapping[str, Any]] | None = None,
                       progress: bool = False) -> dict[str, dict[str, float]]:
    """Score every method in ``methods`` on the SynthME clips ``indices`` of ``dataset``.

    Each method's map is the mean of its video and special-data maps (each summed over time and
    normalised), scored in the image plane against `synthme_mask` with `score_method`; the result
    also holds each modality's mass share and the seconds per clip. Attributions target the true
    class. The entry ``"movement"`` is `movement_map`: the movement itself, a model-free reference.
    """
    import time

    from ..progress import progress_bar
    from .methods import METHODS, explain_maps

    opts = {**SCORE_OPTIONS, **(options or {})}
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"unknown explanation method(s) {unknown}; choose from {list(METHODS)}")
    indices = list(indices)
    masks = [synthme_mask(dataset, i) for i in indices]
    heats: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    per_mod: dict[str, dict[str, list[np.ndarray]]] = {m: {} for m in methods}
    seconds = dict.fromkeys(methods, 0.0)
    movement = []
    for i in progress_bar(indices, desc="scoring explanations", enabled=progress, unit="clip"):
        video, special, label = dataset[i][:3]
        movement.append(movement_map(special, dataset.prep_cfg))
        for m in methods:
            t0 = time.perf_counter()
            target = None if METHODS[m][0] == "attention" else int(label)
            maps = explain_maps(model, video[None], special[None], m, target, **opts.get(m, {}))
            seconds[m] += time.perf_counter() - t0
            planes = {k: x[0].sum(0).numpy() for k, x in maps.items()}
            for k, p in planes.items():
                per_mod[m].setdefault(k, []).append(p)
            heats[m].append(np.mean([p / max(p.sum(), 1e-12) for p in planes.values()], axis=0))
    scores: dict[str, dict[str, float]] = {}
    for m in methods:
        sc = score_method(heats[m], masks, tolerance)
        for k, planes in per_mod[m].items():
            sc[f"{k}_mass_share"] = score_method(planes, masks, tolerance)["mass_share"]
        sc["seconds_per_clip"] = seconds[m] / max(len(indices), 1)
        scores[m] = sc
    scores["movement"] = score_method(movement, masks, tolerance)
    return scores
