"""The true head motion of a rendered clip as a warp, and the error of an estimated warp against it
(what `benchmarks/registration.py` and the registration tests measure).

SynthME renders frame ``i`` of a clip by rotating the subject's face about its centre by
``distractors["rotation"][i]`` degrees and then shifting it by ``distractors["drift"][i]`` px, so the map
from the onset frame to frame ``i`` is known exactly. In the preprocessing's crop coordinates (a face
box resized to ``size`` px) it is the warp a perfect registration of frame ``i`` to the onset returns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .faces import Subject
from .render import SynthClip


def _head_map(drift: np.ndarray, angle_deg: float, centre: Sequence[float]) -> np.ndarray:
    """(3, 3): the head's own frame -> the rendered frame (rotation about ``centre``, then ``drift``)."""
    th = np.radians(float(angle_deg))
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    m = np.eye(3)
    m[:2, :2] = rot
    m[:2, 2] = np.asarray(centre, float) + np.asarray(drift, float) - rot @ np.asarray(centre, float)
    return m


def head_warp(clip: SynthClip, subject: Subject, frame: int, box: Sequence[float] | None = None,
              size: int | None = None) -> np.ndarray:
    """(2, 3) float64 warp that maps onset-frame pixel coordinates (x, y, 1) to where the same point of
    the head is in frame ``frame`` (an index into ``clip.frames``): `register_image`'s convention.

    With ``box`` (x, y, w, h of a square crop, e.g. a `FaceBox`'s) and ``size``, the coordinates are those
    of the crop resized to ``size`` x ``size`` (pixel centres mapped as `cv2.resize` maps them)."""
    if not 0 <= frame < len(clip.frames):
        raise IndexError(f"frame {frame} outside the clip's {len(clip.frames)} frames")
    drift, rot = clip.distractors["drift"], clip.distractors["rotation"]
    centre = subject.landmarks["face_centre"]
    m = _head_map(drift[frame], rot[frame], centre) @ np.linalg.inv(_head_map(drift[0], rot[0], centre))
    if box is not None:
        if size is None:
            raise ValueError("head_warp: give size with box")
        x, y, w = float(box[0]), float(box[1]), float(box[2])
        s = size / w
        a = np.array([[s, 0, s * (0.5 - x) - 0.5], [0, s, s * (0.5 - y) - 0.5], [0, 0, 1]])
        m = a @ m @ np.linalg.inv(a)
    return m[:2]


def warp_error(warp: np.ndarray, true: np.ndarray, size: int | tuple[int, int]) -> float:
    """Mean distance (px) between where two (2, 3) warps send a 9 x 9 grid of points spread over the inner
    80 % of a ``size`` image (the face, not its border): the registration error of ``warp``."""
    h, w = (size, size) if isinstance(size, int) else size
    gx, gy = np.linspace(0.1 * (w - 1), 0.9 * (w - 1), 9), np.linspace(0.1 * (h - 1), 0.9 * (h - 1), 9)
    pts = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    pts = np.concatenate([pts, np.ones((len(pts), 1))], 1)
    a, b = np.asarray(warp, float)[:2], np.asarray(true, float)[:2]
    return float(np.linalg.norm(pts @ a.T - pts @ b.T, axis=1).mean())
