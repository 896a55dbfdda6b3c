"""Rendering one SynthME clip in memory: the expression, the distractors and the frames.

Two generators per clip: ``rng`` (seeded by ``(seed, 104729, subject, class, clip)``) draws
the recipe, timing, amplitude and AU strengths; ``drng`` (``(seed, 15485863, ...)``) draws
the distractors (drift, rotation, blink, flicker, sensor noise), so they carry no class
information. The draws happen in a fixed order, which is part of every written corpus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from ...errors import ConfigError
from .aus import SCHEMES, Recipe
from .config import SynthConfig
from .faces import Subject, make_subject
from .fields import MASK_LEVEL, au_field


@dataclass
class SynthClip:
    """One rendered clip and its ground truth (all frame numbers absolute)."""
    subject: str
    clip_id: str
    label: str
    emotion: str
    objective: int
    aus: tuple[int, ...]
    frames: np.ndarray                     # (N, H, W, 3) uint8 RGB
    frame_numbers: np.ndarray              # (N,) int64, onset .. offset
    onset: int
    apex: int
    offset: int
    amplitude: float                       # peak displacement at the apex, px
    displacement: np.ndarray               # (2, H, W) float32: apex displacement field (dx, dy), px
    masks: dict[int, np.ndarray]           # AU -> (H, W) bool region mask
    intensity: np.ndarray                  # (N,) expression intensity in [0, 1] (1 at the apex)
    distractors: dict[str, np.ndarray] = field(default_factory=dict)   # drift (N,2), rotation (N,), blink (N,), gain (N,)
    face_box: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def mask(self) -> np.ndarray:
        """Union of the AU region masks, (H, W) bool."""
        return np.any(np.stack(list(self.masks.values())), 0)

    @property
    def fps(self) -> float:
        return float(self.distractors.get("fps", np.array(200.0)))


@dataclass
class _Motion:
    """Per-frame distractors of one clip: head drift (N, 2) px, rotation (N,) degrees, blink (N,), gain (N,)."""
    drift: np.ndarray
    rotation: np.ndarray
    blink: np.ndarray
    gain: np.ndarray
    noise: float                           # sensor noise std, grey levels


def _clip_name(class_index: int, clip_index: int, cfg: SynthConfig) -> str:
    ep = class_index * cfg.clips_per_class + clip_index + 1
    return f"EP{ep:02d}_{clip_index % 3 + 1:02d}{'f' if ep % 3 == 0 else ''}"


def _profile(n: int, apex: int) -> np.ndarray:
    """Intensity: 0 at onset, smooth rise to 1 at the apex, smooth fall to 0 at the offset."""
    i = np.arange(n, dtype=np.float64)
    rise = np.clip(i / max(apex, 1), 0, 1)
    fall = np.clip((i - apex) / max(n - 1 - apex, 1), 0, 1)
    ss = lambda x: x * x * (3 - 2 * x)  # noqa: E731
    return np.where(i <= apex, ss(rise), 1 - ss(fall)).astype(np.float32)


def _apex_field(recipe: Recipe, subj: Subject, shape: tuple[int, int], amp: float,
                rng: np.random.Generator) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The apex displacement field: the recipe's AUs with slightly different strengths, peak = amp."""
    H, W = shape
    fld = np.zeros((2, H, W), np.float32)
    masks: dict[int, np.ndarray] = {}
    for au in recipe.aus:
        f, w = au_field(au, subj, (H, W))
        fld += f * rng.uniform(0.8, 1.0)
        masks[au] = w >= MASK_LEVEL
    peak = float(np.sqrt((fld ** 2).sum(0)).max())
    fld *= amp / peak
    return fld, masks


def _draw_motion(cfg: SynthConfig, n: int, drng: np.random.Generator) -> _Motion:
    """Head drift and rotation, an optional blink and lighting flicker, from the class-blind stream."""
    t = np.linspace(0, 1, n)
    ang = drng.uniform(0, 2 * np.pi)
    dmag = drng.uniform(0, cfg.head_drift)
    wob = 0.15 * cfg.head_drift * np.sin(2 * np.pi * drng.uniform(0.5, 2) * t + drng.uniform(0, 6.3))
    drift = np.stack([dmag * np.cos(ang) * t + wob, dmag * np.sin(ang) * t - wob], 1)
    rot = drng.uniform(-cfg.head_rotation, cfg.head_rotation) * t
    blink = np.zeros(n)
    if drng.random() < cfg.blink_prob:
        bl = int(round(drng.uniform(0.1, 0.2) * cfg.fps))
        start = int(drng.integers(-bl // 2, max(n - bl // 2, 1)))
        tau = (np.arange(n) - start) / bl
        blink = np.where((tau > 0) & (tau < 1), np.sin(np.pi * np.clip(tau, 0, 1)) ** 1.5, 0.0)
        blink *= drng.uniform(0.7, 1.0)
    gain = 1 + cfg.flicker * (0.6 * np.sin(2 * np.pi * drng.uniform(1, 8) * t * n / cfg.fps
                                          + drng.uniform(0, 6.3)) + 0.4 * drng.standard_normal(n))
    return _Motion(drift, rot, blink, gain, cfg.noise)


def _blinked(subj: Subject, c: float, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """The face with the lids closed a fraction ``c`` of the way."""
    alpha = np.zeros(yy.shape, np.float32)
    for ecx, ecy, erx, ery in subj.eyes:
        edge = ecy - ery * 1.2 + c * ery * 2.6
        alpha = np.maximum(alpha, np.clip(edge - yy + 0.5, 0, 1) * (np.abs(xx - ecx) < erx * 1.4))
    alpha = (alpha * subj.eye_mask)[..., None]
    return subj.neutral * (1 - alpha) + subj.closed * alpha


def _render_frames(cfg: SynthConfig, subj: Subject, fld: np.ndarray, inten: np.ndarray, motion: _Motion,
                   drng: np.random.Generator, compress: bool) -> np.ndarray:
    """Warp the subject's face frame by frame: expression at ``inten[i]``, then head motion, gain, noise."""
    n, (H, W) = len(inten), cfg.frame_size
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    fcx, fcy = subj.landmarks["face_centre"]
    fld_hw = np.ascontiguousarray(fld.transpose(1, 2, 0))
    frames = np.empty((n, H, W, 3), np.uint8)
    enc = [int(cv2.IMWRITE_JPEG_QUALITY), int(cfg.jpeg_quality)]
    for i in range(n):
        src = _blinked(subj, motion.blink[i], xx, yy) if motion.blink[i] > 0 else subj.neutral
        # output pixel -> head-frame pixel (inverse drift + rotation), then minus the AU displacement
        th = math.radians(motion.rotation[i])
        ct, st = math.cos(th), math.sin(th)
        qx, qy = xx - fcx - motion.drift[i, 0], yy - fcy - motion.drift[i, 1]
        gx = (ct * qx + st * qy + fcx).astype(np.float32)
        gy = (-st * qx + ct * qy + fcy).astype(np.float32)
        d = cv2.remap(fld_hw, gx, gy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT) * inten[i]
        mx, my = (gx - d[..., 0]).astype(np.float32), (gy - d[..., 1]).astype(np.float32)
        out = cv2.remap(src, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT) * motion.gain[i]
        if motion.noise > 0:
            out = out + drng.standard_normal(out.shape).astype(np.float32) * motion.noise
        fr = np.clip(np.rint(out), 0, 255).astype(np.uint8)
        if compress:
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(fr, cv2.COLOR_RGB2BGR), enc)
            fr = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        frames[i] = fr
    return frames


def render_clip(cfg: SynthConfig, subject: int | Subject, label: str, clip_index: int = 0, *,
                distractors: bool = True, compress: bool = False) -> SynthClip:
    """Render one clip in memory: frames (N, H, W, 3) uint8 plus its ground truth; writes nothing.

    ``distractors=False`` gives a clean clip (no drift, blink, flicker, noise) for teaching and
    tests; ``compress=True`` passes every frame through JPEG at ``cfg.jpeg_quality``.
    """
    classes, recipes = SCHEMES[cfg.scheme]
    if label not in classes:
        raise ConfigError(f"label {label!r} not in the {cfg.scheme} classes {list(classes)}")
    subj = subject if isinstance(subject, Subject) else make_subject(cfg, subject)
    ci = classes.index(label)
    rng = np.random.default_rng([cfg.seed, 104729, subj.index, ci, clip_index])
    drng = np.random.default_rng([cfg.seed, 15485863, subj.index, ci, clip_index])   # distractors: class-blind
    recipe = recipes[label][int(rng.integers(len(recipes[label])))]
    amp = float(rng.uniform(*cfg.amplitude))
    n = int(round(rng.uniform(*cfg.duration) * cfg.fps)) + 1
    apex = int(np.clip(round(rng.uniform(*cfg.apex_fraction) * (n - 1)), 1, n - 2)) if n >= 3 else n - 1
    first = int(rng.integers(cfg.first_frame[0], cfg.first_frame[1] + 1))
    fld, masks = _apex_field(recipe, subj, cfg.frame_size, amp, rng)
    inten = _profile(n, apex)
    motion = _draw_motion(cfg, n, drng) if distractors else \
        _Motion(np.zeros((n, 2)), np.zeros(n), np.zeros(n), np.ones(n), 0.0)
    frames = _render_frames(cfg, subj, fld, inten, motion, drng, compress)
    numbers = np.arange(first, first + n, dtype=np.int64)
    return SynthClip(
        subject=subj.subject_id, clip_id=_clip_name(ci, clip_index, cfg), label=label, emotion=recipe.emotion,
        objective=recipe.objective, aus=recipe.aus, frames=frames, frame_numbers=numbers,
        onset=first, apex=first + apex, offset=first + n - 1, amplitude=amp, displacement=fld, masks=masks,
        intensity=inten,
        distractors={"drift": motion.drift.astype(np.float32), "rotation": motion.rotation.astype(np.float32),
                     "blink": motion.blink.astype(np.float32), "gain": motion.gain.astype(np.float32),
                     "fps": np.array(float(cfg.fps))},
        face_box=subj.face_box)


def iter_clip_keys(cfg: SynthConfig) -> list[tuple[int, str, int]]:
    """(subject index, label, clip index) of every clip of a corpus, in writing order."""
    return [(s, label, k) for s in range(cfg.n_subjects) for label in cfg.classes
            for k in range(cfg.clips_per_class)]
