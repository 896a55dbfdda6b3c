"""SynthME: procedural micro-expressions with known ground truth.

The licensed corpora cannot be shipped, so SynthME draws its own faces and moves
them like a micro-expression: action units (AUs) are smooth, local displacement
fields in their facial regions, switched on with a realistic time course (onset ->
apex -> offset, 1/25 to 1/3 s at 200 fps) and a sub-pixel to few-pixel peak
amplitude. Distractors a real recording has (head drift and rotation, blinks,
lighting flicker, sensor noise, JPEG compression) are drawn independently of the
class. Every clip keeps its ground truth (timing, AUs, region masks, the apex
displacement field), so explanations can be *scored*, not only looked at.

`generate_synthme(out_dir, cfg)` writes a corpus in CASME II's layout and
annotation format (see shared/datasets.md), so it flows through the same loader and
preprocessing as real data; `render_clip(cfg, subject, label)` renders one clip in
memory for notebooks. ``python -m hsta_edu.data.synth --out data_samples`` rebuilds
the small set committed to the repository.

Coordinates: images are ``(H, W, 3)`` uint8 RGB; displacement fields are
``(2, H, W)`` float32 holding (dx, dy) in pixels; masks are ``(H, W)`` bool.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import ConfigError, DataError
from ..io import atomic_write_bytes, atomic_write_json, atomic_write_text

GENERATOR_VERSION = "1.0"
ANNOTATION_FILE = "CASME2-coding-20140508.xlsx"
OBJECTIVE_FILE = "CASME2-ObjectiveClasses.xlsx"
FRAMES_DIR = "CASME2_RAW_selected"
GROUNDTRUTH_DIR = "synthme_groundtruth"
MARKER_FILE = "synthme.json"

# ----------------------------------------------------------------------------- action units

#: The action units SynthME animates: code -> (FACS name, facial region).
ACTION_UNITS: dict[int, tuple[str, str]] = {
    1: ("inner brow raiser", "brows"),
    2: ("outer brow raiser", "brows"),
    4: ("brow lowerer", "brows"),
    5: ("upper lid raiser", "eyes"),
    6: ("cheek raiser", "cheeks"),
    7: ("lid tightener", "eyes"),
    9: ("nose wrinkler", "nose"),
    12: ("lip corner puller", "mouth"),
    14: ("dimpler (right side)", "mouth"),
    15: ("lip corner depressor", "mouth"),
    17: ("chin raiser", "chin"),
    20: ("lip stretcher", "mouth"),
}


@dataclass(frozen=True)
class Recipe:
    """One way to express a class: the native emotion word, the AUs moved and the objective class (1-7)."""
    emotion: str
    aus: tuple[int, ...]
    objective: int


MEGC3_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")
OBJECTIVE7_CLASSES: tuple[str, ...] = ("I", "II", "III", "IV", "V", "VI", "VII")

#: MEGC 3-class scheme. Negative always lowers the brows (plus nose or lip depressor),
#: positive pulls the lip corners up, surprise raises the brows: three distinct regions.
MEGC3_RECIPES: dict[str, tuple[Recipe, ...]] = {
    "negative": (Recipe("disgust", (4, 9), 4), Recipe("disgust", (4, 7, 9), 4),
                 Recipe("repression", (4, 15, 17), 5)),
    "positive": (Recipe("happiness", (12,), 1), Recipe("happiness", (6, 12), 1)),
    "surprise": (Recipe("surprise", (1, 2), 2), Recipe("surprise", (1, 2, 5), 2)),
}

#: A 7-class scheme in the spirit of the objective classes I-VII (Davison et al. 2018),
#: with the CASME II emotion word each would most often carry.
OBJECTIVE7_RECIPES: dict[str, tuple[Recipe, ...]] = {
    "I": (Recipe("happiness", (12,), 1), Recipe("happiness", (6, 12), 1)),
    "II": (Recipe("surprise", (1, 2), 2), Recipe("surprise", (1, 2, 5), 2)),
    "III": (Recipe("others", (4, 7), 3), Recipe("others", (4, 7, 17), 3)),
    "IV": (Recipe("disgust", (9,), 4), Recipe("disgust", (4, 9), 4)),
    "V": (Recipe("sadness", (1, 15), 5), Recipe("sadness", (15, 17), 5)),
    "VI": (Recipe("fear", (1, 2, 4), 6), Recipe("fear", (20,), 6)),
    "VII": (Recipe("repression", (14,), 7), Recipe("repression", (14, 17), 7)),
}

SCHEMES: dict[str, tuple[tuple[str, ...], dict[str, tuple[Recipe, ...]]]] = {
    "megc3": (MEGC3_CLASSES, MEGC3_RECIPES),
    "objective7": (OBJECTIVE7_CLASSES, OBJECTIVE7_RECIPES),
}


def format_aus(aus: Sequence[int]) -> str | int:
    """AUs as CASME II writes them: an int for a single AU, else '4+9' (AU14 here is unilateral: 'R14')."""
    parts = [f"R{a}" if a == 14 else str(a) for a in aus]
    if len(parts) == 1 and parts[0].isdigit():
        return int(parts[0])
    return "+".join(parts)


# ----------------------------------------------------------------------------- configuration

@dataclass(frozen=True)
class SynthConfig:
    """Everything that decides a SynthME corpus; the same config and seed give the same frames.

    Sizes are in pixels of the written frames; ``amplitude`` is the peak displacement
    at the apex (max over the face), ``duration`` the onset->offset time in seconds.
    """
    n_subjects: int = 12
    clips_per_class: int = 8              # per subject and class
    scheme: str = "megc3"                 # "megc3" | "objective7"
    seed: int = 0
    fps: int = 200
    frame_size: tuple[int, int] = (128, 128)   # (H, W)
    face_size: float = 100.0              # face height (forehead to chin) in px
    amplitude: tuple[float, float] = (0.5, 3.0)
    duration: tuple[float, float] = (1 / 25, 1 / 3)
    apex_fraction: tuple[float, float] = (0.3, 0.6)
    head_drift: float = 1.0               # max head translation over a clip, px
    head_rotation: float = 0.5            # max head rotation over a clip, degrees
    blink_prob: float = 0.3               # chance of a (class-independent) blink per clip
    flicker: float = 0.02                 # relative amplitude of lighting gain changes
    noise: float = 2.0                    # sensor noise, std in grey levels
    jpeg_quality: int = 90
    photo_subjects: int = 0               # the first k subjects use skimage's astronaut photo
    first_frame: tuple[int, int] = (20, 400)   # range of the absolute number of a clip's onset frame

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"SynthConfig.{name}={getattr(self, name)!r}: {why}")
        if self.scheme not in SCHEMES:
            raise bad("scheme", f"must be one of {sorted(SCHEMES)}")
        for name in ("n_subjects", "clips_per_class", "fps"):
            if int(getattr(self, name)) < 1:
                raise bad(name, "must be >= 1")
        if self.n_subjects > 99:
            raise bad("n_subjects", "at most 99 (folders are subNN)")
        if len(self.frame_size) != 2 or min(self.frame_size) < 48:
            raise bad("frame_size", "must be (H, W) with both >= 48")
        if not 0.4 * min(self.frame_size) <= self.face_size <= 0.95 * min(self.frame_size):
            raise bad("face_size", f"must be between 40% and 95% of the frame ({self.frame_size})")
        for name, lo in (("amplitude", 0.0), ("duration", 1e-6), ("apex_fraction", 0.0), ("first_frame", 0)):
            a, b = getattr(self, name)
            if not (lo <= a <= b):
                raise bad(name, f"must be a range (low, high) with {lo} <= low <= high")
        if self.apex_fraction[1] > 1.0:
            raise bad("apex_fraction", "must lie in [0, 1]")
        if self.duration[0] * self.fps < 2:
            raise bad("duration", f"shortest clip must span >= 2 frames at {self.fps} fps")
        for name in ("head_drift", "head_rotation", "flicker", "noise"):
            if getattr(self, name) < 0:
                raise bad(name, "must be >= 0")
        if not 0.0 <= self.blink_prob <= 1.0:
            raise bad("blink_prob", "must be in [0, 1]")
        if not 1 <= self.jpeg_quality <= 100:
            raise bad("jpeg_quality", "must be in [1, 100]")
        if not 0 <= self.photo_subjects <= self.n_subjects:
            raise bad("photo_subjects", f"must be in [0, n_subjects={self.n_subjects}]")

    @property
    def classes(self) -> tuple[str, ...]:
        return SCHEMES[self.scheme][0]

    def replace(self, **changes: Any) -> SynthConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SynthConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"SynthConfig: unknown fields {sorted(unknown)}")
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})


#: The small set committed as data_samples/ (4 subjects x 3 classes x 2 clips, one photo subject).
SAMPLES_CONFIG = SynthConfig(n_subjects=4, clips_per_class=2, seed=2024, frame_size=(112, 112),
                             face_size=88.0, amplitude=(1.5, 3.0), duration=(1 / 25, 1 / 6),
                             photo_subjects=1, jpeg_quality=88)

#: The benchmark of the toolkit: 12 subjects x 3 classes x 8 clips (288 clips). Amplitudes in the
#: upper half of the realistic range so the class signal survives face crop + resize to 48 px.
BENCHMARK_CONFIG = SynthConfig(n_subjects=12, clips_per_class=8, seed=7, amplitude=(1.5, 3.0),
                               head_drift=0.6, head_rotation=0.3, noise=1.5, flicker=0.015)


# ----------------------------------------------------------------------------- subjects

@dataclass
class Subject:
    """One identity: the neutral face, a closed-eye version (for blinks) and its landmarks (x, y) in px."""
    index: int
    kind: str                              # "procedural" | "photo"
    neutral: np.ndarray                    # (H, W, 3) float32, 0..255
    closed: np.ndarray                     # (H, W, 3) float32, eyes shut
    eye_mask: np.ndarray                   # (H, W) float32 in [0, 1], soft eye regions
    eyes: tuple[tuple[float, float, float, float], ...]   # (cx, cy, rx, ry) per eye
    landmarks: dict[str, tuple[float, float]]
    scale: float                           # face height / 100: unit of AU field sizes
    face_box: tuple[int, int, int, int]    # x, y, w, h of the face in the frame

    @property
    def subject_id(self) -> str:
        return f"sub{self.index + 1:02d}"


SKIN_TONES = np.array([(236, 200, 176), (226, 178, 146), (205, 150, 115), (176, 122, 88),
                       (140, 96, 68), (104, 70, 50), (80, 54, 40)], np.float32)
HAIR_COLOURS = np.array([(25, 20, 18), (55, 38, 28), (95, 65, 40), (150, 115, 70), (120, 120, 120)], np.float32)
IRIS_COLOURS = np.array([(70, 45, 30), (40, 28, 20), (70, 100, 140), (80, 110, 80), (110, 85, 50)], np.float32)

_SS = 4   # supersampling factor of the procedural drawing


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _SS)), int(round(y * _SS))


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    n = rng.standard_normal(shape).astype(np.float32)
    n = cv2.GaussianBlur(n, (0, 0), sigma)
    return n / (n.std() + 1e-6)


def _procedural_subject(index: int, cfg: SynthConfig, rng: np.random.Generator) -> Subject:
    H, W = cfg.frame_size
    F = cfg.face_size * rng.uniform(0.94, 1.04)
    a = F * rng.uniform(0.37, 0.42)           # face half-width
    b = F * 0.5                               # face half-height
    cx = W / 2 + rng.uniform(-0.03, 0.03) * W
    cy = H / 2 + 0.04 * F + rng.uniform(-0.02, 0.02) * H
    jaw = rng.uniform(0.82, 0.97)
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.95, 1.05, 3)
    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.85, 1.15, 3)
    iris = IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))]
    lip = skin * np.array([0.86, 0.62, 0.62]) + np.array([20, 0, 5])
    brow = np.minimum(hair * 0.6, skin * 0.3)
    bg_a, bg_b = rng.uniform(90, 200, 3), rng.uniform(90, 200, 3)

    # geometry
    ye = cy - b * rng.uniform(0.08, 0.16)
    ex = a * rng.uniform(0.40, 0.47)
    rx = a * rng.uniform(0.17, 0.20)
    ry = rx * rng.uniform(0.40, 0.50)
    yb = ye - ry - b * rng.uniform(0.10, 0.15)
    b_in, b_out = a * rng.uniform(0.12, 0.18), a * rng.uniform(0.70, 0.80)
    arch = b * rng.uniform(0.02, 0.06)
    brow_t = b * rng.uniform(0.05, 0.08)
    yn = cy + b * rng.uniform(0.18, 0.26)
    wn = a * rng.uniform(0.17, 0.22)
    ym = cy + b * rng.uniform(0.45, 0.52)
    wm = a * rng.uniform(0.33, 0.42)
    up_lip, lo_lip = b * rng.uniform(0.05, 0.07), b * rng.uniform(0.07, 0.09)
    hairline = cy - b * rng.uniform(0.55, 0.72)

    Hs, Ws = H * _SS, W * _SS
    yy, xx = np.mgrid[0:Hs, 0:Ws].astype(np.float32) / _SS
    img = np.empty((Hs, Ws, 3), np.float32)
    t = (yy / H)[..., None]
    img[:] = bg_a * (1 - t) + bg_b * t

    def fill(mask: np.ndarray, colour: np.ndarray, alpha: float = 1.0) -> None:
        m = mask[..., None].astype(np.float32) * alpha
        img[:] = img * (1 - m) + colour * m

    # neck and ears
    neck = ((np.abs(xx - cx) < a * 0.55) & (yy > cy)).astype(np.float32)
    fill(neck, skin * 0.8)
    ears = np.zeros((Hs, Ws), np.uint8)
    for s in (-1, 1):
        cv2.ellipse(ears, _pt(cx + s * a * 0.98, ye + b * 0.12), _pt(a * 0.13, b * 0.2), 0, 0, 360, 1, -1)
    fill(ears, skin * 0.9)
    # face outline: wider forehead, narrower jaw
    th = np.linspace(0, 2 * np.pi, 180)
    ax = np.where(np.sin(th) > 0, a * (1 - (1 - jaw) * np.sin(th)), a)
    poly = np.stack([cx + ax * np.cos(th), cy + b * np.sin(th)], 1) * _SS
    face = np.zeros((Hs, Ws), np.uint8)
    cv2.fillPoly(face, [poly.round().astype(np.int32)], 1)
    r2 = ((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2
    shade = np.clip(1.0 - 0.22 * r2 ** 2, 0.6, 1.0)[..., None]
    facef = cv2.GaussianBlur(face.astype(np.float32), (0, 0), _SS * 0.6)[..., None]
    img[:] = img * (1 - facef) + (skin * shade) * facef
    # hair above the hairline
    hl = hairline + (np.abs(xx - cx) / a) ** 2 * b * 0.45
    head = ((xx - cx) / (a * 1.12)) ** 2 + ((yy - cy + b * 0.08) / (b * 1.12)) ** 2 < 1
    hair_mask = (head & (yy < hl)).astype(np.float32)
    hair_tex = 1 + 0.12 * _smooth_noise(rng, (Hs, Ws), _SS * 0.8)[..., None]
    hm = cv2.GaussianBlur(hair_mask, (0, 0), _SS * 0.7)[..., None]
    img[:] = img * (1 - hm) + hair * hair_tex * hm
    # eye sockets, nose shading, chin shadow: soft multiplicative terms
    def blob(x0: float, y0: float, sx: float, sy: float) -> np.ndarray:
        return np.exp(-((xx - x0) ** 2 / (2 * sx ** 2) + (yy - y0) ** 2 / (2 * sy ** 2)))
    mult = np.ones((Hs, Ws), np.float32)
    for s in (-1, 1):
        mult -= 0.10 * blob(cx + s * ex, ye - ry * 0.3, rx * 1.3, ry * 2.0)
        mult -= 0.10 * blob(cx + s * wn * 0.9, (ye + yn) / 2, wn * 0.35, (yn - ye) * 0.35)
    mult += 0.07 * blob(cx, (ye + yn) / 2, wn * 0.3, (yn - ye) * 0.45)
    mult -= 0.10 * blob(cx, ym + lo_lip * 2.2, wm * 0.5, lo_lip * 0.7)
    img *= (mult * (facef[..., 0] > 0.5) + (facef[..., 0] <= 0.5))[..., None]

    layer = np.zeros((Hs, Ws), np.uint8)
    # brows: tapered thick arcs
    for s in (-1, 1):
        xs = np.linspace(b_in, b_out, 24)
        u = (xs - b_in) / (b_out - b_in)
        ys = yb - arch * np.sin(np.pi * np.clip(u * 1.2, 0, 1)) + 0.0 * u
        thick = brow_t * (1.1 - 0.5 * u)
        top = np.stack([cx + s * xs, ys - thick / 2], 1)
        bot = np.stack([cx + s * xs, ys + thick / 2], 1)[::-1]
        pts = (np.concatenate([top, bot]) * _SS).round().astype(np.int32)
        layer[:] = 0
        cv2.fillPoly(layer, [pts], 1, cv2.LINE_AA)
        fill(cv2.GaussianBlur(layer.astype(np.float32), (0, 0), _SS * 0.4), brow)
    # eyes
    eyes = []
    eye_layer = np.zeros((Hs, Ws), np.uint8)
    for s in (-1, 1):
        ecx = cx + s * ex
        eyes.append((ecx, ye, rx, ry))
        layer[:] = 0
        cv2.ellipse(layer, _pt(ecx, ye), _pt(rx, ry), 0, 0, 360, 1, -1, cv2.LINE_AA)
        cv2.ellipse(eye_layer, _pt(ecx, ye), _pt(rx * 1.05, ry * 1.15), 0, 0, 360, 1, -1)
        fill(layer.astype(np.float32), np.array([238, 236, 230], np.float32))
        iris_m = (((xx - ecx) ** 2 + (yy - ye) ** 2) < (ry * 0.95) ** 2) & (layer > 0)
        fill(iris_m.astype(np.float32), iris)
        pupil = (((xx - ecx) ** 2 + (yy - ye) ** 2) < (ry * 0.42) ** 2) & (layer > 0)
        fill(pupil.astype(np.float32), np.array([10, 10, 12], np.float32))
        spec = ((xx - ecx - ry * 0.3) ** 2 + (yy - ye + ry * 0.3) ** 2) < (ry * 0.18) ** 2
        fill(spec.astype(np.float32), np.array([250, 250, 250], np.float32))
        layer[:] = 0
        cv2.ellipse(layer, _pt(ecx, ye), _pt(rx, ry), 0, 180, 360, 1, max(1, int(_SS * 1.3)), cv2.LINE_AA)
        fill(layer.astype(np.float32), hair * 0.5)
        layer[:] = 0
        cv2.ellipse(layer, _pt(ecx, ye), _pt(rx, ry), 0, 0, 180, 1, max(1, int(_SS * 0.5)), cv2.LINE_AA)
        fill(layer.astype(np.float32), skin * 0.6, 0.8)
    # nostrils and nose tip
    for s in (-1, 1):
        layer[:] = 0
        cv2.ellipse(layer, _pt(cx + s * wn * 0.45, yn), _pt(wn * 0.28, wn * 0.14), s * 15, 0, 360, 1, -1,
                    cv2.LINE_AA)
        fill(cv2.GaussianBlur(layer.astype(np.float32), (0, 0), _SS * 0.5), skin * 0.35, 0.85)
        layer[:] = 0
        cv2.ellipse(layer, _pt(cx + s * wn * 0.9, yn - wn * 0.2), _pt(wn * 0.25, wn * 0.4), 0, 0, 360, 1, 2)
        fill(cv2.GaussianBlur(layer.astype(np.float32), (0, 0), _SS * 0.8), skin * 0.65, 0.6)
    # lips
    xs = np.linspace(-wm, wm, 40)
    uu = xs / wm
    mid = ym + 0.0 * xs
    upper = mid - up_lip * (1 - uu ** 2) * (1 + 0.25 * np.cos(np.pi * uu * 2.2))
    lower = mid + lo_lip * (1 - uu ** 2)
    for edge in (upper, lower):
        pts = np.concatenate([np.stack([cx + xs, mid], 1), np.stack([cx + xs, edge], 1)[::-1]])
        layer[:] = 0
        cv2.fillPoly(layer, [(pts * _SS).round().astype(np.int32)], 1, cv2.LINE_AA)
        fill(cv2.GaussianBlur(layer.astype(np.float32), (0, 0), _SS * 0.4), lip * (0.9 if edge is upper else 1.0))
    layer[:] = 0
    cv2.polylines(layer, [(np.stack([cx + xs, mid + up_lip * 0.1 * (1 - uu ** 2)], 1) * _SS).round()
                          .astype(np.int32)], False, 1, max(1, int(_SS * 0.8)), cv2.LINE_AA)
    fill(layer.astype(np.float32), lip * 0.35)

    # skin texture: low-frequency blotches and fine pores, fixed for the identity
    tex = 1 + 0.045 * _smooth_noise(rng, (Hs, Ws), _SS * 4) + 0.03 * _smooth_noise(rng, (Hs, Ws), _SS * 0.5)
    img *= np.where(facef[..., 0] > 0.5, tex, 1.0)[..., None]
    neutral = cv2.resize(img, (W, H), interpolation=cv2.INTER_AREA)

    # closed eyes: eye region painted with local skin and a lash line
    closed = neutral.copy()
    for ecx, ecy, erx, ery in eyes:
        x0, x1 = int(ecx - erx * 1.3), int(ecx + erx * 1.3) + 1
        y0, y1 = int(ecy + ery * 1.4), int(ecy + ery * 2.4) + 1
        local = neutral[max(0, y0):min(H, y1), max(0, x0):min(W, x1)].reshape(-1, 3).mean(0)
        m = np.zeros((H, W), np.uint8)
        cv2.ellipse(m, (int(round(ecx * 16)), int(round(ecy * 16))), (int(erx * 1.1 * 16), int(ery * 1.2 * 16)),
                    0, 0, 360, 1, -1, cv2.LINE_AA, 4)
        mf = cv2.GaussianBlur(m.astype(np.float32), (0, 0), 0.7)[..., None]
        closed = closed * (1 - mf) + local * 0.95 * mf
        lash = np.zeros((H, W), np.uint8)
        cv2.ellipse(lash, (int(round(ecx * 16)), int(round((ecy + ery * 0.2) * 16))),
                    (int(erx * 16), int(ery * 0.6 * 16)), 0, 10, 170, 1, 1, cv2.LINE_AA, 4)
        lf = lash.astype(np.float32)[..., None]
        closed = closed * (1 - 0.8 * lf) + hair * 0.4 * 0.8 * lf
    eye_mask = cv2.resize(eye_layer.astype(np.float32), (W, H), interpolation=cv2.INTER_AREA)

    lm = {
        "face_centre": (cx, cy),
        "nose_root": (cx, ye), "nose_tip": (cx, yn),
        "mouth_centre": (cx, ym), "chin": (cx, ym + (cy + b - ym) * 0.55),
    }
    for s, side in ((-1, "L"), (1, "R")):
        lm[f"eye_{side}"] = (cx + s * ex, ye)
        lm[f"brow_inner_{side}"] = (cx + s * b_in, yb)
        lm[f"brow_outer_{side}"] = (cx + s * b_out, yb - arch * 0.3)
        lm[f"nose_side_{side}"] = (cx + s * wn * 0.75, (ye + yn) / 2)
        lm[f"nose_wing_{side}"] = (cx + s * wn * 0.85, yn - wn * 0.2)
        lm[f"mouth_corner_{side}"] = (cx + s * wm, ym)
        lm[f"cheek_{side}"] = (cx + s * ex, ye + b * 0.24)
    box = (int(cx - a), int(cy - b), int(2 * a), int(2 * b))
    return Subject(index, "procedural", neutral.astype(np.float32), closed.astype(np.float32),
                   np.clip(eye_mask, 0, 1), tuple(eyes), lm, F / 100.0, box)


@lru_cache(maxsize=1)
def _astronaut() -> np.ndarray:
    from skimage import data
    return data.astronaut()


# landmarks of the face in skimage.data.astronaut() (512x512), read off the image
_ASTRO_LM = {
    "eye_L": (202.5, 101.0), "eye_R": (245.0, 103.5),
    "brow_inner_L": (211.0, 91.0), "brow_outer_L": (191.0, 92.0),
    "brow_inner_R": (236.0, 92.0), "brow_outer_R": (257.0, 94.0),
    "nose_root": (223.0, 102.0), "nose_tip": (224.0, 126.0),
    "nose_side_L": (216.0, 114.0), "nose_side_R": (232.0, 114.0),
    "nose_wing_L": (214.0, 124.0), "nose_wing_R": (234.0, 124.0),
    "mouth_corner_L": (201.0, 141.0), "mouth_corner_R": (245.0, 140.0),
    "mouth_centre": (222.0, 146.0), "chin": (222.0, 168.0),
    "cheek_L": (201.0, 121.0), "cheek_R": (247.0, 122.0), "face_centre": (224.0, 124.0),
}
_ASTRO_FACE_H = 108.0      # hairline (~76) to chin (~184)


def _photo_subject(index: int, cfg: SynthConfig, rng: np.random.Generator) -> Subject:
    H, W = cfg.frame_size
    photo = _astronaut().astype(np.float32)
    if index > 0 and rng.random() < 0.5:       # later photo subjects: mirrored identity
        photo = photo[:, ::-1].copy()
        lm0 = {}
        for k, (x, y) in _ASTRO_LM.items():
            k2 = k.replace("_L", "_X").replace("_R", "_L").replace("_X", "_R")
            lm0[k2] = (511.0 - x, y)
    else:
        lm0 = dict(_ASTRO_LM)
    k = cfg.face_size * rng.uniform(0.95, 1.03) / _ASTRO_FACE_H
    fx, fy = lm0["face_centre"]
    # affine: photo -> frame, face centre to frame centre (slightly low like the procedural faces)
    tx, ty = W / 2 - k * fx, H / 2 + 0.04 * cfg.face_size - k * fy
    M = np.array([[k, 0, tx], [0, k, ty]], np.float32)
    neutral = cv2.warpAffine(photo, M, (W, H), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    neutral *= rng.uniform(0.9, 1.08)
    lm = {n: (k * x + tx, k * y + ty) for n, (x, y) in lm0.items()}
    rx, ry = 7.5 * k, 3.5 * k
    eyes = tuple((lm[f"eye_{s}"][0], lm[f"eye_{s}"][1], rx, ry) for s in ("L", "R"))
    closed = neutral.copy()
    eye_mask = np.zeros((H, W), np.float32)
    for ecx, ecy, erx, ery in eyes:
        y0 = int(ecy + ery * 2.5)
        local = neutral[y0:y0 + 3, int(ecx - erx):int(ecx + erx) + 1].reshape(-1, 3).mean(0)
        m = np.zeros((H, W), np.uint8)
        cv2.ellipse(m, (int(round(ecx * 16)), int(round(ecy * 16))), (int(erx * 1.15 * 16), int(ery * 1.4 * 16)),
                    0, 0, 360, 1, -1, cv2.LINE_AA, 4)
        mf = cv2.GaussianBlur(m.astype(np.float32), (0, 0), 0.7)
        eye_mask = np.maximum(eye_mask, mf)
        closed = closed * (1 - mf[..., None]) + local * 0.93 * mf[..., None]
    box_h = _ASTRO_FACE_H * k
    cx, cy = lm["face_centre"]
    box = (int(cx - 0.42 * box_h), int(cy - 0.5 * box_h), int(0.84 * box_h), int(box_h))
    return Subject(index, "photo", np.clip(neutral, 0, 255), np.clip(closed, 0, 255), eye_mask, eyes, lm,
                   k * _ASTRO_FACE_H / 100.0, box)


@lru_cache(maxsize=8)
def make_subject(cfg: SynthConfig, index: int) -> Subject:
    """Identity ``index`` (0-based) of a corpus: the same cfg.seed and index always give the same face.

    Cached (the drawing takes ~0.2 s): treat the returned arrays as read-only.
    """
    if not 0 <= index < cfg.n_subjects:
        raise ConfigError(f"subject index {index} outside 0..{cfg.n_subjects - 1}")
    rng = np.random.default_rng([cfg.seed, 7919, index])
    if index < cfg.photo_subjects:
        return _photo_subject(index, cfg, rng)
    return _procedural_subject(index, cfg, rng)


# ----------------------------------------------------------------------------- action-unit fields

def _anchors(au: int, s: Subject) -> list[tuple[tuple[float, float], tuple[float, float], float, float]]:
    """(point, unit direction, sigma_x, sigma_y) Gaussians making the displacement field of one AU."""
    u = s.scale
    lm = s.landmarks
    rx = s.eyes[0][2]
    out = []
    for side, sgn in (("L", -1.0), ("R", 1.0)):     # sgn: +1 is the outward direction on this side
        bi, bo = lm[f"brow_inner_{side}"], lm[f"brow_outer_{side}"]
        ex, ey = lm[f"eye_{side}"]
        mc = lm[f"mouth_corner_{side}"]
        if au == 1:
            out.append(((bi[0] + sgn * 2 * u, bi[1] - 2 * u), (0.0, -1.0), 6 * u, 6 * u))
        elif au == 2:
            out.append(((bo[0] - sgn * 2 * u, bo[1] - 2 * u), (0.0, -1.0), 6.5 * u, 6 * u))
        elif au == 4:
            d = np.array([-sgn * 0.4, 1.0]) / math.hypot(0.4, 1.0)
            out.append(((bi[0] + sgn * 1.5 * u, bi[1]), tuple(d), 6.5 * u, 5 * u))
        elif au == 5:
            out.append(((ex, ey - s.eyes[0][3]), (0.0, -1.0), rx * 0.8, 2.5 * u))
        elif au == 6:
            out.append((lm[f"cheek_{side}"], (0.0, -1.0), 8 * u, 5.5 * u))
        elif au == 7:
            out.append(((ex, ey + s.eyes[0][3]), (0.0, -1.0), rx * 0.8, 2.5 * u))
        elif au == 9:
            out.append((lm[f"nose_side_{side}"], (0.0, -1.0), 4 * u, 6 * u))
            out.append((lm[f"nose_wing_{side}"], (-sgn * 0.3, -0.95), 4 * u, 4 * u))
        elif au == 12:
            d = np.array([sgn * 0.75, -0.66]) / math.hypot(0.75, 0.66)
            out.append((mc, tuple(d), 5.5 * u, 4.5 * u))
        elif au == 14 and side == "R":
            out.append((mc, (-sgn * 0.98, -0.2), 4 * u, 4 * u))
        elif au == 15:
            out.append((mc, (sgn * 0.15, 0.99), 5 * u, 5 * u))
        elif au == 17:
            if side == "L":
                out.append((lm["chin"], (0.0, -1.0), 9 * u, 6 * u))
        elif au == 20:
            out.append((mc, (sgn * 0.99, 0.15), 5 * u, 4 * u))
    if not out and au != 14:
        raise ConfigError(f"unknown action unit AU{au}; SynthME knows {sorted(ACTION_UNITS)}")
    return out


def au_field(au: int, subject: Subject, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Displacement field of one AU, peak magnitude 1: ``(field (2,H,W) float32, weight (H,W) float32)``.

    ``weight`` in [0, 1] is how strongly each pixel takes part (its region mask is weight >= 0.05).
    """
    H, W = shape
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    fld = np.zeros((2, H, W), np.float32)
    weight = np.zeros((H, W), np.float32)
    for (px, py), (dx, dy), sx, sy in _anchors(au, subject):
        g = np.exp(-((xx - px) ** 2 / (2 * sx ** 2) + (yy - py) ** 2 / (2 * sy ** 2)))
        fld[0] += dx * g
        fld[1] += dy * g
        weight = np.maximum(weight, g)
    peak = float(np.sqrt((fld ** 2).sum(0)).max())
    if peak > 0:
        fld /= peak
    return fld, weight


MASK_LEVEL = 0.05   # a pixel belongs to an AU's region where its weight is >= 5% of the peak


# ----------------------------------------------------------------------------- clips

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
    H, W = cfg.frame_size
    recipe = recipes[label][int(rng.integers(len(recipes[label])))]
    amp = float(rng.uniform(*cfg.amplitude))
    n = int(round(rng.uniform(*cfg.duration) * cfg.fps)) + 1
    apex = int(np.clip(round(rng.uniform(*cfg.apex_fraction) * (n - 1)), 1, n - 2)) if n >= 3 else n - 1
    first = int(rng.integers(cfg.first_frame[0], cfg.first_frame[1] + 1))
    # the apex displacement field: AUs with slightly different strengths, peak = amp
    fld = np.zeros((2, H, W), np.float32)
    masks: dict[int, np.ndarray] = {}
    for au in recipe.aus:
        f, w = au_field(au, subj, (H, W))
        fld += f * rng.uniform(0.8, 1.0)
        masks[au] = w >= MASK_LEVEL
    peak = float(np.sqrt((fld ** 2).sum(0)).max())
    fld *= amp / peak
    inten = _profile(n, apex)

    # distractors, drawn from their own stream so they carry no class information
    t = np.linspace(0, 1, n)
    if distractors:
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
        noise = cfg.noise
    else:
        drift, rot, blink, gain, noise = np.zeros((n, 2)), np.zeros(n), np.zeros(n), np.ones(n), 0.0

    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    fcx, fcy = subj.landmarks["face_centre"]
    fld_hw = np.ascontiguousarray(fld.transpose(1, 2, 0))
    frames = np.empty((n, H, W, 3), np.uint8)
    enc = [int(cv2.IMWRITE_JPEG_QUALITY), int(cfg.jpeg_quality)]
    for i in range(n):
        if blink[i] > 0:
            c = blink[i]
            alpha = np.zeros((H, W), np.float32)
            for ecx, ecy, erx, ery in subj.eyes:
                edge = ecy - ery * 1.2 + c * ery * 2.6
                alpha = np.maximum(alpha, np.clip(edge - yy + 0.5, 0, 1) * (np.abs(xx - ecx) < erx * 1.4))
            alpha = (alpha * subj.eye_mask)[..., None]
            src = subj.neutral * (1 - alpha) + subj.closed * alpha
        else:
            src = subj.neutral
        # output pixel -> head-frame pixel (inverse drift + rotation), then minus the AU displacement
        th = math.radians(rot[i])
        ct, st = math.cos(th), math.sin(th)
        qx, qy = xx - fcx - drift[i, 0], yy - fcy - drift[i, 1]
        gx = (ct * qx + st * qy + fcx).astype(np.float32)
        gy = (-st * qx + ct * qy + fcy).astype(np.float32)
        d = cv2.remap(fld_hw, gx, gy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT) * inten[i]
        mx, my = (gx - d[..., 0]).astype(np.float32), (gy - d[..., 1]).astype(np.float32)
        out = cv2.remap(src, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT) * gain[i]
        if noise > 0:
            out = out + drng.standard_normal(out.shape).astype(np.float32) * noise
        fr = np.clip(np.rint(out), 0, 255).astype(np.uint8)
        if compress:
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(fr, cv2.COLOR_RGB2BGR), enc)
            fr = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        frames[i] = fr
    numbers = np.arange(first, first + n, dtype=np.int64)
    return SynthClip(
        subject=subj.subject_id, clip_id=_clip_name(ci, clip_index, cfg), label=label, emotion=recipe.emotion,
        objective=recipe.objective, aus=recipe.aus, frames=frames, frame_numbers=numbers,
        onset=first, apex=first + apex, offset=first + n - 1, amplitude=amp, displacement=fld, masks=masks,
        intensity=inten,
        distractors={"drift": drift.astype(np.float32), "rotation": rot.astype(np.float32),
                     "blink": blink.astype(np.float32), "gain": gain.astype(np.float32),
                     "fps": np.array(float(cfg.fps))},
        face_box=subj.face_box)


def iter_clip_keys(cfg: SynthConfig) -> list[tuple[int, str, int]]:
    """(subject index, label, clip index) of every clip of a corpus, in writing order."""
    return [(s, label, k) for s in range(cfg.n_subjects) for label in cfg.classes
            for k in range(cfg.clips_per_class)]


# ----------------------------------------------------------------------------- writing to disk

def _groundtruth_bytes(clip: SynthClip) -> bytes:
    aus = sorted(clip.masks)
    buf = io.BytesIO()
    np.savez_compressed(
        buf, onset=np.int64(clip.onset), apex=np.int64(clip.apex), offset=np.int64(clip.offset),
        frame_numbers=clip.frame_numbers, aus=np.array(aus, np.int64), label=np.array(clip.label),
        emotion=np.array(clip.emotion), objective=np.int64(clip.objective), amplitude=np.float64(clip.amplitude),
        masks=np.stack([clip.masks[a] for a in aus]), mask=clip.mask,
        displacement=clip.displacement.astype(np.float16), intensity=clip.intensity,
        face_box=np.array(clip.face_box, np.int64),
        **{f"distractor_{k}": v for k, v in clip.distractors.items() if k != "fps"})
    return buf.getvalue()


def load_groundtruth(root: str | Path, subject: str, clip_id: str) -> dict[str, Any]:
    """Ground truth of one written clip: onset/apex/offset, aus, masks (n_aus, H, W), mask, displacement..."""
    path = Path(root) / GROUNDTRUTH_DIR / subject / f"{clip_id}.npz"
    if not path.is_file():
        raise DataError(f"no SynthME ground truth for {subject}/{clip_id}: {path} not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except Exception as exc:
        raise DataError(f"cannot read SynthME ground truth {path}: {exc}") from exc
    for k in ("onset", "apex", "offset", "objective"):
        out[k] = int(out[k])
    out["amplitude"] = float(out["amplitude"])
    out["label"], out["emotion"] = str(out["label"]), str(out["emotion"])
    out["displacement"] = out["displacement"].astype(np.float32)
    return out


def _write_xlsx(path: Path, sheet: str, header: list[str | None], rows: list[list[Any]],
                formats: dict[int, str] | None = None) -> None:
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(header)
    for r in rows:
        ws.append(r)
    for col, fmt in (formats or {}).items():
        for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
            cell.number_format = fmt
    if sheet == "Sheet1":            # CASME II's workbook also carries two empty sheets
        wb.create_sheet("Sheet2")
        wb.create_sheet("Sheet3")
    buf = io.BytesIO()
    wb.save(buf)
    atomic_write_bytes(path, buf.getvalue())


_OWNED = {ANNOTATION_FILE, OBJECTIVE_FILE, FRAMES_DIR, GROUNDTRUTH_DIR, MARKER_FILE, "README.md"}


def generate_synthme(out_dir: str | Path, cfg: SynthConfig = BENCHMARK_CONFIG, *, overwrite: bool = False,
                     progress: bool = True) -> Path:
    """Write a SynthME corpus in CASME II's layout; returns the folder.

    Layout: ``CASME2-coding-20140508.xlsx`` (Sheet1: Subject, Filename, blank, OnsetFrame,
    ApexFrame, OffsetFrame, blank, Action Units, Estimated Emotion), ``CASME2-ObjectiveClasses.xlsx``,
    ``CASME2_RAW_selected/subNN/EPxx_yy/img{n}.jpg`` (absolute frame numbers), ground truth
    ``synthme_groundtruth/subNN/EPxx_yy.npz`` and the ``synthme.json`` marker (written last).
    """
    from tqdm.auto import tqdm

    out = Path(out_dir)
    if out.exists():
        if not out.is_dir():
            raise DataError(f"SynthME output {out} exists and is not a folder")
        foreign = sorted(p.name for p in out.iterdir() if p.name not in _OWNED)
        if foreign:
            raise DataError(f"refusing to write SynthME into {out}: it holds other files {foreign[:5]}")
        if (out / MARKER_FILE).exists() and not overwrite:
            raise DataError(f"{out} already holds a SynthME corpus; pass overwrite=True to regenerate it")
        for name in (FRAMES_DIR, GROUNDTRUTH_DIR):
            if (out / name).exists():
                shutil.rmtree(out / name)
        if (out / MARKER_FILE).exists():
            (out / MARKER_FILE).unlink()
    out.mkdir(parents=True, exist_ok=True)

    keys = iter_clip_keys(cfg)
    coding, objective = [], []
    subjects: dict[int, Subject] = {}
    enc = [int(cv2.IMWRITE_JPEG_QUALITY), int(cfg.jpeg_quality)]
    for s, label, k in tqdm(keys, desc="SynthME", disable=not progress, unit="clip"):
        if s not in subjects:
            subjects = {s: make_subject(cfg, s)}
        clip = render_clip(cfg, subjects[s], label, k)
        folder = out / FRAMES_DIR / clip.subject / clip.clip_id
        folder.mkdir(parents=True, exist_ok=True)
        for num, fr in zip(clip.frame_numbers, clip.frames, strict=True):
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(fr, cv2.COLOR_RGB2BGR), enc)
            if not ok:
                raise DataError(f"JPEG encoding failed for {folder / f'img{num}.jpg'}")
            atomic_write_bytes(folder / f"img{num}.jpg", buf.tobytes())
        atomic_write_bytes(out / GROUNDTRUTH_DIR / clip.subject / f"{clip.clip_id}.npz", _groundtruth_bytes(clip))
        coding.append([s + 1, clip.clip_id, None, clip.onset, clip.apex, clip.offset, None,
                       format_aus(clip.aus), clip.emotion])
        objective.append([s + 1, clip.clip_id, clip.objective])
    _write_xlsx(out / ANNOTATION_FILE, "Sheet1",
                ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
                 "Estimated Emotion"], coding, {1: "00"})
    _write_xlsx(out / OBJECTIVE_FILE, "Sheet1", ["Subject", "Filename", "Objective Class"], objective, {1: "00"})
    marker = {
        "generator": "hsta_edu.data.synth (SynthME)", "version": GENERATOR_VERSION,
        "layout": "casme2", "scheme": cfg.scheme, "classes": list(cfg.classes),
        "emotion_to_class": {r.emotion: c for c, rs in SCHEMES[cfg.scheme][1].items() for r in rs},
        "n_clips": len(keys), "config": cfg.to_dict(),
        "annotation": ANNOTATION_FILE, "objective_classes": OBJECTIVE_FILE,
        "frames": FRAMES_DIR, "groundtruth": GROUNDTRUTH_DIR,
        "groundtruth_format": "npz per clip: onset, apex, offset, frame_numbers, aus, masks (n_aus,H,W) bool, "
                              "mask (H,W), displacement (2,H,W) px at the apex, intensity (N,), distractor_*",
    }
    atomic_write_json(out / MARKER_FILE, marker)
    return out


def read_marker(root: str | Path) -> dict[str, Any]:
    """The ``synthme.json`` of a corpus folder (DataError if absent or unreadable)."""
    path = Path(root) / MARKER_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{root} is not a SynthME folder: {path} not found") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read SynthME marker {path}: {exc}") from exc


SAMPLES_README = """# data_samples: a small SynthME corpus

Synthetic micro-expressions made by `hsta_edu.data.synth` (SynthME), in CASME II's layout and
annotation format, so the quickstart and the tests run without any licensed dataset.

- {n_subjects} subjects x 3 classes (negative, positive, surprise) x {clips_per_class} clips = {n_clips} clips,
  {H}x{W} px frames at {fps} fps; subject sub01 is skimage's astronaut photo, the others are procedural.
- `CASME2-coding-20140508.xlsx`, `CASME2-ObjectiveClasses.xlsx`, frames in
  `CASME2_RAW_selected/subNN/EPxx_yy/img{{n}}.jpg` (absolute frame numbers),
  ground truth (onset/apex/offset, AUs, region masks, apex displacement) in `synthme_groundtruth/`,
  generator settings in `synthme.json`.

Regenerate (deterministic; config `SAMPLES_CONFIG`):

    python -m hsta_edu.data.synth --out data_samples --preset samples --overwrite
"""


PRESETS = {"samples": SAMPLES_CONFIG, "benchmark": BENCHMARK_CONFIG}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hsta_edu.data.synth",
                                description="Generate a SynthME corpus in CASME II's layout.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--preset", choices=sorted(PRESETS), default="samples")
    p.add_argument("--subjects", type=int, help="override n_subjects")
    p.add_argument("--clips-per-class", type=int, help="override clips_per_class")
    p.add_argument("--scheme", choices=sorted(SCHEMES))
    p.add_argument("--seed", type=int)
    p.add_argument("--overwrite", action="store_true")
    args = p.parse_args(argv)
    cfg = PRESETS[args.preset]
    changes = {k: v for k, v in (("n_subjects", args.subjects), ("clips_per_class", args.clips_per_class),
                                 ("scheme", args.scheme), ("seed", args.seed)) if v is not None}
    cfg = cfg.replace(**changes) if changes else cfg
    out = generate_synthme(args.out, cfg, overwrite=args.overwrite)
    if args.preset == "samples":
        n = len(iter_clip_keys(cfg))
        atomic_write_text(out / "README.md", SAMPLES_README.format(
            n_subjects=cfg.n_subjects, clips_per_class=cfg.clips_per_class, n_clips=n,
            H=cfg.frame_size[0], W=cfg.frame_size[1], fps=cfg.fps))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
