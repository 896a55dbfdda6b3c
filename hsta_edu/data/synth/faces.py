"""The faces of SynthME: one `Subject` per identity, drawn procedurally or taken from a photo.

A procedural face is drawn at 4x supersampling, part by part (contour and hair, shading,
brows, eyes, nose, mouth, skin texture), then reduced to the frame size; a closed-eye
copy serves the blinks. Every random draw comes from one generator seeded by
``(cfg.seed, 7919, index)``, in a fixed order: the same config and index give the same face.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ...errors import ConfigError
from .config import SynthConfig


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


# ----------------------------------------------------------------------------- procedural faces

@dataclass
class _Face:
    """Colours and geometry (frame px) of one procedural face, drawn from its generator."""
    H: int
    W: int
    F: float            # face height
    a: float            # face half-width
    b: float            # face half-height
    cx: float
    cy: float
    jaw: float
    skin: np.ndarray
    hair: np.ndarray
    iris: np.ndarray
    lip: np.ndarray
    brow: np.ndarray
    bg_a: np.ndarray
    bg_b: np.ndarray
    ye: float           # eye line
    ex: float           # eye offset from the centre line
    rx: float           # eye radii
    ry: float
    yb: float           # brow line
    b_in: float
    b_out: float
    arch: float
    brow_t: float
    yn: float           # nose tip line
    wn: float           # nose half-width
    ym: float           # mouth line
    wm: float           # mouth half-width
    up_lip: float
    lo_lip: float
    hairline: float


def _plan_face(cfg: SynthConfig, rng: np.random.Generator) -> _Face:
    # the order of the draws is part of the corpus: reordering them changes every face
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
    return _Face(H, W, F, a, b, cx, cy, jaw, skin, hair, iris, lip, brow, bg_a, bg_b, ye, ex, rx, ry, yb,
                 b_in, b_out, arch, brow_t, yn, wn, ym, wm, up_lip, lo_lip, hairline)


class _Canvas:
    """The supersampled image being drawn, with its pixel coordinates in frame px."""

    def __init__(self, f: _Face) -> None:
        self.Hs, self.Ws = f.H * _SS, f.W * _SS
        self.yy, self.xx = np.mgrid[0:self.Hs, 0:self.Ws].astype(np.float32) / _SS
        self.img = np.empty((self.Hs, self.Ws, 3), np.float32)
        t = (self.yy / f.H)[..., None]
        self.img[:] = f.bg_a * (1 - t) + f.bg_b * t       # background: vertical gradient

    def layer(self) -> np.ndarray:
        return np.zeros((self.Hs, self.Ws), np.uint8)

    def fill(self, mask: np.ndarray, colour: np.ndarray, alpha: float = 1.0) -> None:
        m = mask[..., None].astype(np.float32) * alpha
        self.img[:] = self.img * (1 - m) + colour * m

    def blob(self, x0: float, y0: float, sx: float, sy: float) -> np.ndarray:
        return np.exp(-((self.xx - x0) ** 2 / (2 * sx ** 2) + (self.yy - y0) ** 2 / (2 * sy ** 2)))


def _draw_contour(c: _Canvas, f: _Face, rng: np.random.Generator) -> np.ndarray:
    """Neck, ears, the face outline (wider forehead, narrower jaw) and the hair; returns the soft face mask."""
    xx, yy, img, a, b, cx, cy = c.xx, c.yy, c.img, f.a, f.b, f.cx, f.cy
    neck = ((np.abs(xx - cx) < a * 0.55) & (yy > cy)).astype(np.float32)
    c.fill(neck, f.skin * 0.8)
    ears = c.layer()
    for s in (-1, 1):
        cv2.ellipse(ears, _pt(cx + s * a * 0.98, f.ye + b * 0.12), _pt(a * 0.13, b * 0.2), 0, 0, 360, 1, -1)
    c.fill(ears, f.skin * 0.9)
    th = np.linspace(0, 2 * np.pi, 180)
    ax = np.where(np.sin(th) > 0, a * (1 - (1 - f.jaw) * np.sin(th)), a)
    poly = np.stack([cx + ax * np.cos(th), cy + b * np.sin(th)], 1) * _SS
    face = c.layer()
    cv2.fillPoly(face, [poly.round().astype(np.int32)], 1)
    r2 = ((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2
    shade = np.clip(1.0 - 0.22 * r2 ** 2, 0.6, 1.0)[..., None]
    facef = cv2.GaussianBlur(face.astype(np.float32), (0, 0), _SS * 0.6)[..., None]
    img[:] = img * (1 - facef) + (f.skin * shade) * facef
    # hair above the hairline
    hl = f.hairline + (np.abs(xx - cx) / a) ** 2 * b * 0.45
    head = ((xx - cx) / (a * 1.12)) ** 2 + ((yy - cy + b * 0.08) / (b * 1.12)) ** 2 < 1
    hair_mask = (head & (yy < hl)).astype(np.float32)
    hair_tex = 1 + 0.12 * _smooth_noise(rng, (c.Hs, c.Ws), _SS * 0.8)[..., None]
    hm = cv2.GaussianBlur(hair_mask, (0, 0), _SS * 0.7)[..., None]
    img[:] = img * (1 - hm) + f.hair * hair_tex * hm
    return facef


def _draw_shading(c: _Canvas, f: _Face, facef: np.ndarray) -> None:
    """Eye sockets, nose shading, chin shadow: soft multiplicative terms inside the face."""
    ye, yn, wn = f.ye, f.yn, f.wn
    mult = np.ones((c.Hs, c.Ws), np.float32)
    for s in (-1, 1):
        mult -= 0.10 * c.blob(f.cx + s * f.ex, ye - f.ry * 0.3, f.rx * 1.3, f.ry * 2.0)
        mult -= 0.10 * c.blob(f.cx + s * wn * 0.9, (ye + yn) / 2, wn * 0.35, (yn - ye) * 0.35)
    mult += 0.07 * c.blob(f.cx, (ye + yn) / 2, wn * 0.3, (yn - ye) * 0.45)
    mult -= 0.10 * c.blob(f.cx, f.ym + f.lo_lip * 2.2, f.wm * 0.5, f.lo_lip * 0.7)
    c.img *= (mult * (facef[..., 0] > 0.5) + (facef[..., 0] <= 0.5))[..., None]


def _draw_brows(c: _Canvas, f: _Face) -> None:
    """Brows: tapered thick arcs."""
    layer = c.layer()
    for s in (-1, 1):
        xs = np.linspace(f.b_in, f.b_out, 24)
        u = (xs - f.b_in) / (f.b_out - f.b_in)
        ys = f.yb - f.arch * np.sin(np.pi * np.clip(u * 1.2, 0, 1)) + 0.0 * u
        thick = f.brow_t * (1.1 - 0.5 * u)
        top = np.stack([f.cx + s * xs, ys - thick / 2], 1)
        bot = np.stack([f.cx + s * xs, ys + thick / 2], 1)[::-1]
        pts = (np.concatenate([top, bot]) * _SS).round().astype(np.int32)
        layer[:] = 0
        cv2.fillPoly(layer, [pts], 1, cv2.LINE_AA)
        c.fill(cv2.GaussianBlur(layer.astype(np.float32), (0, 0), _SS * 0.4), f.brow)


def _draw_eyes(c: _Canvas, f: _Face) -> tuple[list[tuple[float, float, float, float]], np.ndarray]:
    """Eyeballs, irises, pupils, highlights, lids; returns the eyes (cx, cy, rx, ry) and their layer."""
    xx, yy, ye, rx, ry = c.xx, c.yy, f.ye, f.rx, f.ry
    eyes = []
    eye_layer, layer = c.layer(), c.layer()
    for s in (-1, 1):
        ecx = f.cx + s * f.ex
        eyes.append((ecx, ye, rx, ry))
        layer[:] = 0
        cv2.ellipse(layer, _pt(ecx, ye), _pt(rx, ry), 0, 0, 360, 1, -1, cv2.LINE_AA)
        cv2.ellipse(eye_layer, _pt(ecx, ye), _pt(rx * 1.05, ry * 1.15), 0, 0, 360, 1, -1)
        c.fill(layer.astype(np.float32), np.array([238, 236, 230], np.float32))
        iris_m = (((xx - ecx) ** 2 + (yy - ye) ** 2) < (ry * 0.95) ** 2) & (layer > 0)
        c.fill(iris_m.astype(np.float32), f.iris)
        pupil = (((xx - ecx) ** 2 + (yy - ye) ** 2) < (ry * 0.42) ** 2) & (layer > 0)
        c.fill(pupil.astype(np.float32), np.array([10, 10, 12], np.float32))
        spec = ((xx - ecx - ry * 0.3) ** 2 + (yy - ye + ry * 0.3) ** 2) < (ry * 0.18) ** 2
        c.fill(spec.astype(np.float32), np.array([250, 250, 250], np.float32))
        layer[:] = 0
        cv2.ellipse(layer, _pt(ecx, ye), _pt(rx, ry), 0, 180, 360, 1, max(1, int(_SS * 1.3)), cv2.LINE_AA)
        c.fill(layer.astype(np.float32), f.hair * 0.5)
        layer[:] = 0
        cv2.ellipse(layer, _pt(ecx, ye), _pt(rx, ry), 0, 0, 180, 1, max(1, int(_SS * 0.5)), cv2.LINE_AA)
        c.fill(layer.astype(np.float32), f.skin * 0.6, 0.8)
    return eyes, eye_layer


def _draw_nose(c: _Canvas, f: _Face) -> None:
    """Nostrils and the wings of the nose."""
    cx, yn, wn = f.cx, f.yn, f.wn
    layer = c.layer()
    for s in (-1, 1):
        layer[:] = 0
        cv2.ellipse(layer, _pt(cx + s * wn * 0.45, yn), _pt(wn * 0.28, wn * 0.14), s * 15, 0, 360, 1, -1,
                    cv2.LINE_AA)
        c.fill(cv2.GaussianBlur(layer.astype(np.float32), (0, 0), _SS * 0.5), f.skin * 0.35, 0.85)
        layer[:] = 0
        cv2.ellipse(layer, _pt(cx + s * wn * 0.9, yn - wn * 0.2), _pt(wn * 0.25, wn * 0.4), 0, 0, 360, 1, 2)
        c.fill(cv2.GaussianBlur(layer.astype(np.float32), (0, 0), _SS * 0.8), f.skin * 0.65, 0.6)


def _draw_mouth(c: _Canvas, f: _Face) -> None:
    """Upper and lower lip and the line between them."""
    cx, wm, up_lip, lip = f.cx, f.wm, f.up_lip, f.lip
    xs = np.linspace(-wm, wm, 40)
    uu = xs / wm
    mid = f.ym + 0.0 * xs
    upper = mid - up_lip * (1 - uu ** 2) * (1 + 0.25 * np.cos(np.pi * uu * 2.2))
    lower = mid + f.lo_lip * (1 - uu ** 2)
    layer = c.layer()
    for edge in (upper, lower):
        pts = np.concatenate([np.stack([cx + xs, mid], 1), np.stack([cx + xs, edge], 1)[::-1]])
        layer[:] = 0
        cv2.fillPoly(layer, [(pts * _SS).round().astype(np.int32)], 1, cv2.LINE_AA)
        c.fill(cv2.GaussianBlur(layer.astype(np.float32), (0, 0), _SS * 0.4), lip * (0.9 if edge is upper else 1.0))
    layer[:] = 0
    cv2.polylines(layer, [(np.stack([cx + xs, mid + up_lip * 0.1 * (1 - uu ** 2)], 1) * _SS).round()
                          .astype(np.int32)], False, 1, max(1, int(_SS * 0.8)), cv2.LINE_AA)
    c.fill(layer.astype(np.float32), lip * 0.35)


def _draw_skin(c: _Canvas, facef: np.ndarray, rng: np.random.Generator) -> None:
    """Skin texture: low-frequency blotches and fine pores, fixed for the identity."""
    shape = (c.Hs, c.Ws)
    tex = 1 + 0.045 * _smooth_noise(rng, shape, _SS * 4) + 0.03 * _smooth_noise(rng, shape, _SS * 0.5)
    c.img *= np.where(facef[..., 0] > 0.5, tex, 1.0)[..., None]


def _close_eyes(neutral: np.ndarray, eyes: list[tuple[float, float, float, float]], hair: np.ndarray) -> np.ndarray:
    """The closed-eye face: each eye painted with the skin just below it, plus a lash line."""
    H, W = neutral.shape[:2]
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
    return closed


def _face_landmarks(f: _Face) -> dict[str, tuple[float, float]]:
    cx, ye, yn, ym = f.cx, f.ye, f.yn, f.ym
    lm = {
        "face_centre": (cx, f.cy),
        "nose_root": (cx, ye), "nose_tip": (cx, yn),
        "mouth_centre": (cx, ym), "chin": (cx, ym + (f.cy + f.b - ym) * 0.55),
    }
    for s, side in ((-1, "L"), (1, "R")):
        lm[f"eye_{side}"] = (cx + s * f.ex, ye)
        lm[f"brow_inner_{side}"] = (cx + s * f.b_in, f.yb)
        lm[f"brow_outer_{side}"] = (cx + s * f.b_out, f.yb - f.arch * 0.3)
        lm[f"nose_side_{side}"] = (cx + s * f.wn * 0.75, (ye + yn) / 2)
        lm[f"nose_wing_{side}"] = (cx + s * f.wn * 0.85, yn - f.wn * 0.2)
        lm[f"mouth_corner_{side}"] = (cx + s * f.wm, ym)
        lm[f"cheek_{side}"] = (cx + s * f.ex, ye + f.b * 0.24)
    return lm


def _procedural_subject(index: int, cfg: SynthConfig, rng: np.random.Generator) -> Subject:
    f = _plan_face(cfg, rng)
    c = _Canvas(f)
    facef = _draw_contour(c, f, rng)
    _draw_shading(c, f, facef)
    _draw_brows(c, f)
    eyes, eye_layer = _draw_eyes(c, f)
    _draw_nose(c, f)
    _draw_mouth(c, f)
    _draw_skin(c, facef, rng)
    neutral = cv2.resize(c.img, (f.W, f.H), interpolation=cv2.INTER_AREA)
    closed = _close_eyes(neutral, eyes, f.hair)
    eye_mask = cv2.resize(eye_layer.astype(np.float32), (f.W, f.H), interpolation=cv2.INTER_AREA)
    box = (int(f.cx - f.a), int(f.cy - f.b), int(2 * f.a), int(2 * f.b))
    return Subject(index, "procedural", neutral.astype(np.float32), closed.astype(np.float32),
                   np.clip(eye_mask, 0, 1), tuple(eyes), _face_landmarks(f), f.F / 100.0, box)


# ----------------------------------------------------------------------------- photo faces

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


