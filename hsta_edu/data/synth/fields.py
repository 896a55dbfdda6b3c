"""Action-unit displacement fields: each AU is a sum of Gaussian pushes anchored at a face's landmarks.

A field is ``(2, H, W)`` float32 (dx, dy) in pixels with peak magnitude 1; its weight map
says how strongly each pixel takes part, and ``weight >= MASK_LEVEL`` is the AU's region mask.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import ConfigError
from .aus import ACTION_UNITS
from .faces import Subject

MASK_LEVEL = 0.05   # a pixel belongs to an AU's region where its weight is >= 5% of the peak


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
