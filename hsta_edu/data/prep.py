"""Preprocessing: from a `Clip`'s frame files to the model's two inputs.

    frames on disk --(face box on the onset frame, same box for the whole clip)--> crops
    crops --(uniform sampling of T frames between onset and offset)--> video   (3, T, S, S)
    onset + apex crops (or onset + optical flow onset->apex)        --> special (3, 2, S, S)

Decoding and cropping are the slow part, so they happen once per clip: a
`PreparedClip` keeps uint8 crops of a *pool* of frames (``pool_factor`` times denser
than the T sampled positions, so training can jitter the positions without decoding
again), the onset and apex crops and, in flow mode, the flow. It is cached on disk
keyed by the clip and the settings that shape it; tensors are assembled from it
(normalisation, sampling) on every access, which is cheap.

Tensor contract (docs/interfaces.md): ``video`` float32 (C=3, T, H, W), ``special`` float32
(3, 2, H, W) with ``special[:, 0]`` the onset frame and ``special[:, 1]`` the apex frame, or in
flow mode the flow onset->apex as (u, v, magnitude) in percent of the image width.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from ..errors import CheckpointError, ConfigError, DataError, FrameError, check_fields
from ..io import atomic_torch_save, safe_torch_load
from .clip import Clip, DatasetIndex

PREP_VERSION = 2
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FACE_MODES = ("haar", "box", "none")
SPECIAL_MODES = ("frames", "flow")
FLOW_METHODS = ("dis", "tvl1", "farneback")
NORMALISATIONS = ("imagenet", "unit", "standard")
REGISTRATIONS = ("none", "translation", "euclidean", "affine")
REPRESENTATIONS = ("frames", "difference")


@dataclass(frozen=True)
class PrepConfig:
    """How clips become tensors. Validated on creation (ConfigError names the bad value).

    - ``img_size``: side of the square crops fed to the model (H = W).
    - ``num_frames``: T, frames sampled uniformly from onset to offset (even: tubelet 2).
    - ``face``: "haar" (OpenCV Haar cascade on the onset frame; falls back to ``box`` or a
      centre crop when no face is found, recorded in the clip's info), "box" (the fixed
      ``box`` = (x, y, w, h) in frame pixels), or "none" (the whole frame).
    - ``special``: "frames" (onset, apex) or "flow" (onset, flow onset->apex by ``flow``).
    - ``normalisation``: "imagenet" (mean/std), "unit" ([0, 1]) or "standard" ([-1, 1]).
    - ``pool_factor``: frames kept between two sampled positions for train-time jitter.
    - ``flow_clip``: flow values (percent of the image width) are clipped to +-this.

    Micro-expression steps (see docs/results/frames.md for what each one does to learning):

    - ``register``: align every pool frame and the apex to the onset frame before anything else
      (OpenCV ``findTransformECC`` on the face crop at ``work_size`` px): "none", "translation",
      "euclidean" (shift + rotation, the default: head drift is rigid) or "affine". The residual
      per clip is recorded in the prepared clip's ``info["registration"]``.
    - ``work_size``: side at which registration and magnification run (crops are then resized
      to ``img_size``); sub-pixel motion is better measured and magnified before downsampling.
    - ``magnify``: linear Eulerian magnification factor alpha (0 = off) with the onset frame as the
      temporal reference, on a ``magnify_levels``-level Laplacian pyramid; levels whose wavelength
      is below ``magnify_cutoff`` px are attenuated (Wu et al. 2012).
    - ``representation``: "frames" (the images themselves) or "difference": the video frames and the
      apex become (frame - onset) x ``difference_scale`` in normalised units; the onset stays an image.
    - ``clip_norm``: standardise each clip's images by the clip's own mean and std (per channel).
    - train-time augmentation, the same for every frame of a clip: ``flip`` (horizontal),
      ``shift`` (up to this many px, integer), ``photometric`` (gain and offset jitter, relative).
    - ``special_size``: side of the special tensor when it differs from ``img_size`` (None: the
      same). The special frames are prepared at ``img_size`` and their top-left ``special_size``
      px are kept, which is what the reference's strided special tubelet reads (``hsta-base``:
      216 of 224).

    `PrepConfig.for_model(model)` gives the preparation a model needs (sizes, frame count,
    special input; a pretrained model's own preprocessing) with any other option as override.
    """
    img_size: int = 224
    num_frames: int = 6
    face: str = "haar"
    box: tuple[int, int, int, int] | None = None
    face_margin: float = 0.1
    special: str = "frames"
    flow: str = "dis"
    normalisation: str = "imagenet"
    pool_factor: int = 2
    jitter: bool = True
    flow_clip: float = 20.0
    register: str = "euclidean"
    work_size: int = 96
    magnify: float = 8.0
    magnify_levels: int = 3
    magnify_cutoff: float = 16.0
    representation: str = "difference"
    difference_scale: float = 8.0
    clip_norm: bool = False
    flip: bool = True
    shift: int = 2
    photometric: float = 0.1
    special_size: int | None = None

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"PrepConfig.{name}={getattr(self, name)!r}: {why}")
        if not isinstance(self.img_size, (int, np.integer)) or self.img_size < 8:
            raise bad("img_size", "must be an int >= 8")
        if not isinstance(self.num_frames, (int, np.integer)) or self.num_frames < 1:
            raise bad("num_frames", "must be an int >= 1")
        if self.face not in FACE_MODES:
            raise bad("face", f"must be one of {FACE_MODES}")
        if self.box is not None:
            if len(self.box) != 4 or any(int(v) != v for v in self.box) or self.box[2] <= 0 or self.box[3] <= 0:
                raise bad("box", "must be (x, y, w, h) integers with w, h > 0")
            object.__setattr__(self, "box", tuple(int(v) for v in self.box))
        if self.face == "box" and self.box is None:
            raise bad("box", "face='box' needs a box (x, y, w, h)")
        if not 0.0 <= self.face_margin <= 1.0:
            raise bad("face_margin", "must be in [0, 1]")
        if self.special not in SPECIAL_MODES:
            raise bad("special", f"must be one of {SPECIAL_MODES}")
        if self.flow not in FLOW_METHODS:
            raise bad("flow", f"must be one of {FLOW_METHODS}")
        if self.normalisation not in NORMALISATIONS:
            raise bad("normalisation", f"must be one of {NORMALISATIONS}")
        if not isinstance(self.pool_factor, (int, np.integer)) or self.pool_factor < 1:
            raise bad("pool_factor", "must be an int >= 1")
        if not self.flow_clip > 0:
            raise bad("flow_clip", "must be > 0")
        if self.register not in REGISTRATIONS:
            raise bad("register", f"must be one of {REGISTRATIONS}")
        if not isinstance(self.work_size, (int, np.integer)) or self.work_size < 8:
            raise bad("work_size", "must be an int >= 8")
        if not isinstance(self.magnify, (int, float)) or not 0 <= self.magnify <= 100:
            raise bad("magnify", "must be a factor in [0, 100] (0 = off)")
        if not isinstance(self.magnify_levels, (int, np.integer)) or self.magnify_levels < 1:
            raise bad("magnify_levels", "must be an int >= 1")
        if self.magnify and max(self.work_size, self.img_size) < 2 ** (self.magnify_levels + 1):
            raise bad("magnify_levels", f"too many pyramid levels for {max(self.work_size, self.img_size)} px")
        if not self.magnify_cutoff > 0:
            raise bad("magnify_cutoff", "must be > 0 (px)")
        if self.representation not in REPRESENTATIONS:
            raise bad("representation", f"must be one of {REPRESENTATIONS}")
        if not isinstance(self.difference_scale, (int, float)) or not self.difference_scale > 0:
            raise bad("difference_scale", "must be > 0")
        if not isinstance(self.shift, (int, np.integer)) or self.shift < 0:
            raise bad("shift", "must be an int >= 0 (px)")
        if not 0 <= self.photometric < 1:
            raise bad("photometric", "must be in [0, 1)")
        if self.special_size is not None:
            if not isinstance(self.special_size, (int, np.integer)) or not 8 <= self.special_size <= self.img_size:
                raise bad("special_size", f"must be None or an int in 8..img_size ({self.img_size})")
            if self.special_size == self.img_size:
                object.__setattr__(self, "special_size", None)

    #: the fields that follow the model's configuration (see `for_model`)
    MODEL_FIELDS = ("img_size", "num_frames", "special", "special_size")

    @classmethod
    def for_model(cls, model_or_config: Any, **overrides: Any) -> PrepConfig:
        """The preparation ``model_or_config`` (an HSTA model or its HSTAConfig) takes.

        Sizes, frame count and special input come from the configuration's ``img_size``,
        ``special_img_size``, ``num_frames`` and ``special_input`` (read as attributes: the data
        layer never imports the model). A model that carries its own ``prep_config`` (a
        pretrained one) starts from it; any other PrepConfig option is an override
        (ConfigError for unknown names, or for one that would contradict the model)."""
        config = getattr(model_or_config, "config", model_or_config)
        missing = [a for a in ("img_size", "special_img_size", "num_frames", "special_input")
                   if not hasattr(config, a)]
        if missing:
            raise ConfigError(f"PrepConfig.for_model needs a model or model configuration; "
                              f"{type(config).__name__} has no {missing}")
        check_fields(cls, overrides, "PrepConfig option(s)")
        clash = sorted(set(overrides) & set(cls.MODEL_FIELDS))
        if clash:
            raise ConfigError(f"PrepConfig.for_model: {clash} follow the model (change the model's "
                              "img_size, special_img_size, num_frames or special_input instead)")
        if config.special_img_size > config.img_size:
            raise ConfigError(f"special_img_size {config.special_img_size} > img_size {config.img_size}: "
                              "the special frames are cut from frames prepared at img_size")
        base = getattr(model_or_config, "prep_config", None)
        start = base.to_dict() if isinstance(base, PrepConfig) else {}
        follow = {"img_size": int(config.img_size), "num_frames": int(config.num_frames),
                  "special": str(config.special_input), "special_size": int(config.special_img_size)}
        return cls.from_dict({**start, **follow, **overrides})

    def replace(self, **changes: Any) -> PrepConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-friendly values (tuples as lists); `from_dict` inverts it."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PrepConfig:
        """A PrepConfig from `to_dict` output; ConfigError naming unknown fields or bad values."""
        if not isinstance(d, dict):
            raise ConfigError(f"PrepConfig.from_dict needs a dict, got {type(d).__name__}")
        check_fields(cls, d, "PrepConfig field(s)")
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})

    @property
    def pool_size(self) -> int:
        """Frames decoded per clip: (T - 1) * pool_factor + 1; every pool_factor-th is a test position."""
        return (self.num_frames - 1) * self.pool_factor + 1

    @property
    def uses_work_size(self) -> bool:
        """Whether crops are processed at ``work_size`` (registration or magnification on)."""
        return self.register != "none" or self.magnify > 0

    def shape_settings(self) -> dict[str, Any]:
        """The settings that decide a `PreparedClip` (the cache key). Assemble-time settings
        (normalisation, representation, clip_norm, jitter and augmentation) do not: they are applied
        to the cached uint8 crops on every access."""
        keys = ("img_size", "num_frames", "face", "box", "face_margin", "special", "flow", "pool_factor",
                "register", "work_size", "magnify", "magnify_levels", "magnify_cutoff")
        d = {k: getattr(self, k) for k in keys}
        if self.special != "flow":
            d.pop("flow")
        if not self.uses_work_size:
            d.pop("work_size")
        if not self.magnify:
            for k in ("magnify", "magnify_levels", "magnify_cutoff"):
                d.pop(k)
        return d


# ----------------------------------------------------------------------------- frames

def read_frame(path: str | Path) -> np.ndarray:
    """Decode one frame as (H, W, 3) uint8 RGB (grey replicated); FrameError naming the file otherwise."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FrameError(f"frame file not found: {path}") from None
    except OSError as exc:
        raise FrameError(f"cannot read frame file {path}: {exc}") from exc
    if not data:
        raise FrameError(f"frame file is empty: {path}")
    if data[:2] == b"\xff\xd8" and not data.rstrip(b"\x00\r\n").endswith(b"\xff\xd9"):
        raise FrameError(f"corrupt frame file {path}: truncated JPEG (no end-of-image marker)")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise FrameError(f"corrupt or unsupported frame file {path}: OpenCV cannot decode it")
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise FrameError(f"frame file {path}: unsupported pixel type {img.dtype}")
    if img.ndim == 2:
        return np.repeat(img[..., None], 3, axis=2)
    if img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    if img.shape[2] == 4:
        img = img[..., :3]
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


# ----------------------------------------------------------------------------- faces

@dataclass(frozen=True)
class FaceBox:
    """A crop box (x, y, w, h) in frame pixels and where it came from: "haar", "box", "centre" or "full"."""
    x: int
    y: int
    w: int
    h: int
    source: str

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.y:self.y + self.h, self.x:self.x + self.w]


@lru_cache(maxsize=1)
def _haar() -> cv2.CascadeClassifier:
    base = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if base is None:
        raise DataError("this OpenCV has no Haar cascades (cv2.data.haarcascades missing): "
                        "install opencv-contrib-python-headless>=4.10,<5, or use PrepConfig(face='box'|'none')")
    path = Path(base) / "haarcascade_frontalface_default.xml"
    clf = cv2.CascadeClassifier(str(path))
    if clf.empty():
        raise DataError(f"cannot load the Haar face cascade {path}")
    return clf


def _fit_box(x: float, y: float, w: float, h: float, H: int, W: int, source: str) -> FaceBox:
    """Clamp a box into an H x W image (shift first, shrink only if larger than the image)."""
    w, h = min(int(round(w)), W), min(int(round(h)), H)
    x = int(round(min(max(x, 0), W - w)))
    y = int(round(min(max(y, 0), H - h)))
    return FaceBox(x, y, max(w, 1), max(h, 1), source)


def detect_face(image: np.ndarray, cfg: PrepConfig) -> FaceBox:
    """The crop box for a clip, found on its onset frame ``image`` (H, W, 3) uint8.

    "haar": the largest Haar detection, grown by ``face_margin`` and squared; when none is found,
    ``cfg.box`` if set else a centre square of 80% of the short side (``source`` says which).
    """
    H, W = image.shape[:2]
    if cfg.face == "none":
        return FaceBox(0, 0, W, H, "full")
    if cfg.face == "haar":
        grey = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        min_side = max(24, min(H, W) // 5)
        faces = _haar().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=4, minSize=(min_side, min_side))
        if len(faces):
            x, y, w, h = max(faces, key=lambda f: int(f[2]) * int(f[3]))
            side = max(w, h) * (1 + 2 * cfg.face_margin)
            return _fit_box(x + w / 2 - side / 2, y + h / 2 - side / 2, side, side, H, W, "haar")
    if cfg.box is not None:
        return _fit_box(*cfg.box, H, W, "box")
    side = 0.8 * min(H, W)
    return _fit_box((W - side) / 2, (H - side) / 2, side, side, H, W, "centre")


# ----------------------------------------------------------------------------- sampling

def clip_span(clip: Clip) -> tuple[int, int, int]:
    """Indices into ``clip.frames`` of onset, apex and offset: the first and last existing frames inside
    onset..offset (so a gap at either end never pulls in a frame outside the clip), the apex the existing
    frame nearest it (the middle if it lies outside onset..offset). DataError names the clip when it
    cannot be used (no frames, unsorted or repeated frame numbers, offset before onset, no frame inside)."""
    values = (*clip.frame_numbers, clip.onset, clip.apex, clip.offset)
    if any(not isinstance(v, (int, np.integer)) or not -2**62 < int(v) < 2**62 for v in values):
        raise DataError(f"clip {clip.uid}: frame numbers and onset/apex/offset must be integers of "
                        f"reasonable size (onset {clip.onset!r}, apex {clip.apex!r}, offset {clip.offset!r})")
    nums = np.asarray(clip.frame_numbers, dtype=np.int64)
    if len(nums) == 0 or len(nums) != len(clip.frames):
        raise DataError(f"clip {clip.uid}: {len(clip.frames)} frame files for {len(nums)} frame numbers")
    if clip.offset < clip.onset:
        raise DataError(f"clip {clip.uid}: offset {clip.offset} before onset {clip.onset}")
    if np.any(np.diff(nums) <= 0):
        raise DataError(f"clip {clip.uid}: frame numbers not strictly increasing ({clip.frame_numbers[:5]}...)")
    inside = np.flatnonzero((nums >= clip.onset) & (nums <= clip.offset))
    if len(inside) == 0:
        raise DataError(f"clip {clip.uid}: no frame inside onset..offset {clip.onset}..{clip.offset} "
                        f"(frames {int(nums[0])}..{int(nums[-1])})")
    i_on, i_off = int(inside[0]), int(inside[-1])
    if clip.onset <= clip.apex <= clip.offset:
        i_ap = i_on + int(np.argmin(np.abs(nums[i_on:i_off + 1] - clip.apex)))
    else:
        i_ap = (i_on + i_off) // 2
    return i_on, i_ap, i_off


def uniform_positions(start: int, stop: int, count: int) -> np.ndarray:
    """``count`` indices spread uniformly over start..stop inclusive (rounded; repeats if the span is short)."""
    if count < 1:
        raise ConfigError(f"count={count}: need at least one position")
    if stop < start:
        raise DataError(f"empty span {start}..{stop}")
    return np.rint(np.linspace(start, stop, count)).astype(np.int64)


def sample_pool_positions(num_frames: int, pool_factor: int, generator: torch.Generator | None = None,
                          jitter: bool = False) -> np.ndarray:
    """Which of the pool's ``(T-1)*k+1`` frames make the video: every k-th (deterministic), or each moved
    by up to k//2 pool steps when ``jitter`` (train time). Sorted, within bounds. Shape (T,)."""
    if int(num_frames) < 1 or int(pool_factor) < 1:
        raise ConfigError(f"num_frames={num_frames}, pool_factor={pool_factor}: both must be >= 1")
    k = pool_factor
    base = np.arange(num_frames, dtype=np.int64) * k
    if not jitter or k < 2:
        return base
    half = k // 2
    off = torch.randint(-half, half + 1, (num_frames,), generator=generator).numpy()
    return np.sort(np.clip(base + off, 0, (num_frames - 1) * k))


# ----------------------------------------------------------------------------- flow

def compute_flow(onset: np.ndarray, apex: np.ndarray, method: str = "dis") -> np.ndarray:
    """Optical flow onset -> apex between two (H, W) uint8 grey images: (H, W, 2) float32 (u, v) in px."""
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        flow = dis.calc(onset, apex, None)
    elif method == "tvl1":
        optflow = getattr(cv2, "optflow", None)
        if optflow is None:
            raise DataError("TV-L1 flow needs cv2.optflow: install opencv-contrib-python-headless>=4.10,<5")
        flow = optflow.DualTVL1OpticalFlow_create().calc(onset, apex, None)
    elif method == "farneback":
        flow = cv2.calcOpticalFlowFarneback(onset, apex, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    else:
        raise ConfigError(f"flow method {method!r}: must be one of {FLOW_METHODS}")
    return np.asarray(flow, np.float32)


def _flow_at(onset: np.ndarray, apex: np.ndarray, size: int, method: str) -> np.ndarray:
    """Flow between two (size, size, 3) uint8 crops, computed at >= 112 px and returned at ``size``
    in pixels of ``size``: (size, size, 2) float32."""
    work = max(size, 112)
    g0 = cv2.cvtColor(onset, cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(apex, cv2.COLOR_RGB2GRAY)
    if work != size:
        g0 = cv2.resize(g0, (work, work), interpolation=cv2.INTER_CUBIC)
        g1 = cv2.resize(g1, (work, work), interpolation=cv2.INTER_CUBIC)
    flow = compute_flow(g0, g1, method)
    if work != size:
        flow = cv2.resize(flow, (size, size), interpolation=cv2.INTER_AREA) * (size / work)
    return flow


# ----------------------------------------------------------------------------- registration

_ECC_MOTION = {"translation": cv2.MOTION_TRANSLATION, "euclidean": cv2.MOTION_EUCLIDEAN,
               "affine": cv2.MOTION_AFFINE}


@dataclass(frozen=True)
class Registration:
    """The warp that aligns one image to a reference: ``warp`` (2, 3) float32 maps reference pixel
    coordinates (x, y, 1) to the image's (so ``cv2.warpAffine(image, warp, size, flags=INTER_LINEAR |
    WARP_INVERSE_MAP)`` is the aligned image); ``converged`` False when ECC failed (identity used);
    ``residual`` the RMS grey-level difference to the reference after alignment (inner 80%)."""
    warp: np.ndarray
    converged: bool
    residual: float

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


def register_image(reference: np.ndarray, image: np.ndarray, motion: str = "euclidean",
                   iterations: int = 100, eps: float = 1e-6, robust: int = 2, keep: float = 0.5,
                   threshold: float = 0.3) -> Registration:
    """Align ``image`` to ``reference`` (both (H, W) grey or (H, W, 3) RGB, uint8 or float) with OpenCV's
    ECC maximisation (``findTransformECC``, Evangelidis & Psarakis 2008) under ``motion`` =
    "translation" | "euclidean" | "affine". Sub-pixel.

    A micro-expression is *local* motion; plain ECC over the whole face partly explains it by a global
    shift (a brow raise pulls the estimate upwards). With ``robust`` > 0 the alignment is re-estimated
    that many times without the pixels whose remaining displacement (|difference| / |gradient|, smoothed)
    exceeds ``threshold`` px after the previous alignment (never more than a fraction 1 - ``keep`` of
    them): the moving regions are left out, so the warp follows the head, not the expression. A failed
    optimisation returns the identity with ``converged=False`` instead of raising (a clip is never
    dropped for it)."""
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
    warp = ecc(border)
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
    if not ok:
        warp = np.eye(2, 3, dtype=np.float32)
    return Registration(warp.astype(np.float32), ok, _inner_rms(aligned(warp), ref))


def warp_image(image: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """``image`` resampled onto the reference's grid by a `Registration` warp (bilinear, edges replicated)."""
    h, w = image.shape[:2]
    return cv2.warpAffine(image, warp, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


# ----------------------------------------------------------------------------- prepared clips

@dataclass
class PreparedClip:
    """What decoding a clip yields, before normalisation: the cacheable part of preprocessing.

    ``pool`` (P, S, S, 3) uint8 crops at P = (T-1)*pool_factor+1 uniform positions onset..offset;
    ``onset``/``apex`` (S, S, 3) uint8; ``flow`` (S, S, 2) float32 px (flow mode) or None;
    ``info``: face box, its source ("haar"/"box"/"centre"/"full"), frame numbers used.
    """
    pool: np.ndarray
    onset: np.ndarray
    apex: np.ndarray
    flow: np.ndarray | None
    info: dict[str, Any] = field(default_factory=dict)


def _crop_resize(image: np.ndarray, box: FaceBox, size: int, path: Path, shape: tuple[int, ...]) -> np.ndarray:
    if image.shape != shape:
        raise FrameError(f"frame {path} has shape {image.shape}, the clip's onset frame has {shape}")
    return _resize(box.crop(image), size)


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    """Resize to size x size: area averaging when shrinking, cubic when growing."""
    if img.shape[0] == size and img.shape[1] == size:
        return img
    interp = cv2.INTER_AREA if img.shape[0] >= size else cv2.INTER_CUBIC
    return cv2.resize(img, (size, size), interpolation=interp)


def align(onset: np.ndarray, others: np.ndarray, motion: str) -> tuple[np.ndarray, dict[str, Any]]:
    """Register each of ``others`` (N, S, S, 3) uint8 to ``onset`` (S, S, 3) (`register_image`, robust);
    returns the aligned frames and a record (per-frame shift and angle, mean residual before/after)."""
    regs = [register_image(onset, f, motion) for f in others]
    out = np.stack([warp_image(f, r.warp) for f, r in zip(others, regs, strict=True)])
    g0 = cv2.cvtColor(onset, cv2.COLOR_RGB2GRAY)
    before = [_inner_rms(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), g0) for f in others]
    return out, {"motion": motion,
                 "shift_px": [round(r.shift, 3) for r in regs], "angle_deg": [round(r.angle, 3) for r in regs],
                 "residual_before": round(float(np.mean(before)), 3),
                 "residual": round(float(np.mean([r.residual for r in regs])), 3),
                 "failed": int(sum(not r.converged for r in regs))}


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
    out, reg = align(onset, others, cfg.register)
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


def load_prepared(clip: Clip, cfg: PrepConfig) -> PreparedClip:
    """Decode, crop and resize what a clip needs (no cache): see `PreparedClip`.

    With registration or magnification on, the crops are first made at ``cfg.work_size``, aligned to
    the onset and magnified there, then resized to ``cfg.img_size`` (flow, if asked for, is computed
    on the aligned crops)."""
    i_on, i_ap, i_off = clip_span(clip)
    pool_idx = uniform_positions(i_on, i_off, cfg.pool_size)
    first = read_frame(clip.frames[i_on])
    box = detect_face(first, cfg)
    size = cfg.work_size if cfg.uses_work_size else cfg.img_size
    decoded: dict[int, np.ndarray] = {}

    def get(i: int) -> np.ndarray:
        if i not in decoded:
            img = first if i == i_on else read_frame(clip.frames[i])
            decoded[i] = _crop_resize(img, box, size, Path(clip.frames[i]), first.shape)
        return decoded[i]
    pool = np.stack([get(int(i)) for i in pool_idx])
    onset, apex = get(i_on), get(i_ap)
    info: dict[str, Any] = {}
    flow = None
    if cfg.uses_work_size:
        aligned, info = align_and_record(onset, np.concatenate([pool, apex[None]]), cfg)
        if cfg.special == "flow":   # flow measures the true (registered, unmagnified) motion
            flow = _flow_at(_resize(onset, cfg.img_size), _resize(aligned[-1], cfg.img_size), cfg.img_size,
                            cfg.flow)
        processed = magnify_clip(onset, aligned, cfg, info)
        pool = np.stack([_resize(f, cfg.img_size) for f in processed[:-1]])
        onset, apex = _resize(onset, cfg.img_size), _resize(processed[-1], cfg.img_size)
    elif cfg.special == "flow":
        flow = _flow_at(onset, apex, cfg.img_size, cfg.flow)
    info = {"box": [box.x, box.y, box.w, box.h], "face_source": box.source,
            "onset": int(clip.frame_numbers[i_on]), "apex": int(clip.frame_numbers[i_ap]),
            "offset": int(clip.frame_numbers[i_off]),
            "pool_frames": [int(clip.frame_numbers[i]) for i in pool_idx], **info}
    return PreparedClip(pool, onset, apex, flow, info)


@lru_cache(maxsize=8)
def _norm_affine(mode: str, dims: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (scale, bias) with normalised = uint8 * scale + bias; shaped (3, 1, ...) for ``dims`` dims."""
    if mode == "imagenet":
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    elif mode == "standard":
        mean, std = torch.full((3,), 0.5), torch.full((3,), 0.5)
    else:
        mean, std = torch.zeros(3), torch.ones(3)
    shape = (3,) + (1,) * (dims - 1)
    return (1.0 / (255.0 * std)).view(shape), (-mean / std).view(shape)


def _normalise(x: torch.Tensor, mode: str) -> torch.Tensor:
    """uint8 channels-first tensor (3, ...) -> float32 normalised: one fused multiply-add."""
    scale, bias = _norm_affine(mode, x.dim())
    return torch.addcmul(bias, x.float(), scale)


def check_tensors(video: torch.Tensor, special: torch.Tensor, cfg: PrepConfig, where: str,
                  finite: bool = True) -> None:
    """DataError naming ``where`` unless video is (3, T, S, S) and special (3, 2, S, S), float32 and
    (with ``finite``) free of NaN/inf."""
    S, T = cfg.img_size, cfg.num_frames
    P = cfg.special_size or S
    for name, t, shape in (("video", video, (3, T, S, S)), ("special", special, (3, 2, P, P))):
        if tuple(t.shape) != shape:
            raise DataError(f"{where}: {name} has shape {tuple(t.shape)}, expected {shape}")
        if t.dtype != torch.float32:
            raise DataError(f"{where}: {name} has dtype {t.dtype}, expected float32")
        if finite and not torch.isfinite(t).all():
            raise DataError(f"{where}: {name} holds NaN or infinite values")


def augment_params(cfg: PrepConfig, generator: torch.Generator | None = None) -> dict[str, Any]:
    """One draw of the clip-level augmentation (the same for every frame of the clip), as `assemble`
    makes it at train time: keys ``flip``, ``dy``/``dx`` (px), ``gain``/``offset`` when drawn."""
    def u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=generator))
    out: dict[str, Any] = {}
    if cfg.flip and u(0, 1) < 0.5:
        out["flip"] = True
    if cfg.shift:
        dy, dx = (int(v) for v in torch.randint(-cfg.shift, cfg.shift + 1, (2,), generator=generator))
        if dy or dx:
            out["dy"], out["dx"] = dy, dx
    if cfg.photometric:
        out["gain"], out["offset"] = u(1 - cfg.photometric, 1 + cfg.photometric), u(-1, 1) * cfg.photometric * 255
    return out


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate the last two axes by (dy, dx) integer px, edges replicated."""
    if dy == 0 and dx == 0:
        return x
    h, w = x.shape[-2:]
    iy = (torch.arange(h) - dy).clamp_(0, h - 1)
    ix = (torch.arange(w) - dx).clamp_(0, w - 1)
    return x[..., iy, :][..., ix]


def _apply_augment(x: torch.Tensor, aug: dict[str, Any], photometric: bool = True) -> torch.Tensor:
    """Apply one augmentation draw to a channels-first float tensor (3, ..., S, S) in grey levels."""
    if aug.get("flip"):
        x = x.flip(-1)
    if "dy" in aug:
        x = _shift(x, aug["dy"], aug["dx"])
    if photometric and "gain" in aug:
        x = x * aug["gain"] + aug["offset"]
    return x


def assemble(prepared: PreparedClip, cfg: PrepConfig, *, train: bool = False,
             generator: torch.Generator | None = None, where: str = "clip") -> tuple[torch.Tensor, torch.Tensor]:
    """Tensors from a `PreparedClip`: ``video`` (3, T, S, S) and ``special`` (3, 2, S', S'), float32
    (S' = ``special_size`` or S).

    Test time (``train=False``) is deterministic; train time jitters the T positions when
    ``cfg.jitter`` and applies the clip-level augmentation (``flip``, ``shift``, ``photometric``).
    Images are normalised (``cfg.normalisation``, or per clip with ``cfg.clip_norm``); with
    ``representation="difference"`` the video frames and the apex become
    (frame - onset) x ``difference_scale``. Flow channels are (u, v, |flow|) in percent of the width.
    """
    pos = sample_pool_positions(cfg.num_frames, cfg.pool_factor, generator, jitter=train and cfg.jitter)
    if prepared.pool.shape[0] != cfg.pool_size:
        raise DataError(f"{where}: prepared pool has {prepared.pool.shape[0]} frames, expected {cfg.pool_size}")
    aug = augment_params(cfg, generator) if train else {}
    frames = torch.from_numpy(np.ascontiguousarray(prepared.pool[pos])).permute(3, 0, 1, 2)   # 3, T, S, S
    onset = torch.from_numpy(np.ascontiguousarray(prepared.onset)).permute(2, 0, 1)            # 3, S, S
    apex = torch.from_numpy(np.ascontiguousarray(prepared.apex)).permute(2, 0, 1)
    plain = not aug and not cfg.clip_norm
    if plain:
        video, onset_n, apex_n = (_normalise(x, cfg.normalisation) for x in (frames, onset, apex))
    else:
        images = torch.cat([frames, onset[:, None], apex[:, None]], dim=1).float()               # 3, T+2, S, S
        images = _apply_augment(images, aug)
        if cfg.clip_norm:
            mean = images.mean(dim=(1, 2, 3), keepdim=True)
            std = images.std(dim=(1, 2, 3), keepdim=True).clamp_min(1.0)
            images = (images - mean) / std
        else:
            scale, bias = _norm_affine(cfg.normalisation, 4)
            images = images * scale + bias
        video, onset_n, apex_n = images[:, :-2], images[:, -2], images[:, -1]
    if cfg.representation == "difference":
        video = (video - onset_n[:, None]) * cfg.difference_scale
        apex_n = (apex_n - onset_n) * cfg.difference_scale
    if cfg.special == "flow":
        if prepared.flow is None:
            raise DataError(f"{where}: flow mode but the prepared clip has no flow")
        f = torch.from_numpy(np.ascontiguousarray(prepared.flow)).permute(2, 0, 1) * (100.0 / cfg.img_size)
        if aug:
            f = _apply_augment(f, aug, photometric=False)
            if aug.get("flip"):
                f = torch.stack([-f[0], f[1]])
        second = torch.cat([f, f.norm(dim=0, keepdim=True)]).clamp_(-cfg.flow_clip, cfg.flow_clip)
        if not torch.isfinite(second).all():
            raise DataError(f"{where}: optical flow holds NaN or infinite values")
    else:
        second = apex_n
    special = torch.stack([onset_n, second], dim=1)
    if cfg.special_size:   # the top-left square the model's strided special tubelet reads
        special = special[..., : cfg.special_size, : cfg.special_size]
    special, video = special.contiguous(), video.contiguous()
    check_tensors(video, special, cfg, where, finite=False)   # built from uint8 (+ checked flow): finite
    return video, special


def prepare_clip(clip: Clip, cfg: PrepConfig, *, train: bool = False,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One clip to the model's inputs: ``(video (3, T, S, S), special (3, 2, S, S))`` float32, no cache."""
    return assemble(load_prepared(clip, cfg), cfg, train=train, generator=generator, where=clip.uid)


# ----------------------------------------------------------------------------- cache

@dataclass
class CacheStats:
    """Counts of a cache's use: hits, misses (built), rebuilt (corrupt or stale entries replaced)."""
    hits: int = 0
    misses: int = 0
    rebuilt: int = 0


def cache_key(clip: Clip, cfg: PrepConfig) -> str:
    """Hash of the clip (uid, span, frame files with size and mtime) and the shaping settings."""
    i_on, i_ap, i_off = clip_span(clip)
    files = []
    for p in clip.frames[i_on:i_off + 1]:
        try:
            st = Path(p).stat()
            files.append([Path(p).name, st.st_size, st.st_mtime_ns])
        except OSError:
            files.append([Path(p).name, -1, -1])
    payload = {"v": PREP_VERSION, "uid": clip.uid, "span": [clip.onset, clip.apex, clip.offset],
               "files": files, "settings": cfg.shape_settings()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def cache_path(cache_dir: str | Path, clip: Clip, key: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", clip.uid)
    return Path(cache_dir) / f"{safe}-{key[:16]}.pt"


def _to_entry(p: PreparedClip, key: str) -> dict[str, Any]:
    return {"version": PREP_VERSION, "key": key, "pool": torch.from_numpy(p.pool),
            "onset": torch.from_numpy(p.onset), "apex": torch.from_numpy(p.apex),
            "flow": torch.from_numpy(p.flow) if p.flow is not None else torch.empty(0),
            "info": json.dumps(p.info)}


def _from_entry(entry: Any, key: str, cfg: PrepConfig, path: Path) -> PreparedClip:
    """Validate a loaded cache entry (DataError if anything is off: it is then rebuilt, not trusted)."""
    if not isinstance(entry, dict) or entry.get("key") != key or entry.get("version") != PREP_VERSION:
        raise DataError(f"cache entry {path}: wrong key or version")
    S, P = cfg.img_size, cfg.pool_size
    checks = (("pool", (P, S, S, 3), torch.uint8), ("onset", (S, S, 3), torch.uint8),
              ("apex", (S, S, 3), torch.uint8))
    for name, shape, dtype in checks:
        t = entry.get(name)
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape or t.dtype != dtype:
            raise DataError(f"cache entry {path}: {name} is not a {dtype} tensor of shape {shape}")
    flow = entry.get("flow")
    if cfg.special == "flow":
        if (not isinstance(flow, torch.Tensor) or tuple(flow.shape) != (S, S, 2) or flow.dtype != torch.float32
                or not torch.isfinite(flow).all()):
            raise DataError(f"cache entry {path}: flow missing, of the wrong shape or not finite")
    info = json.loads(entry.get("info", "{}"))
    return PreparedClip(entry["pool"].numpy(), entry["onset"].numpy(), entry["apex"].numpy(),
                        flow.numpy() if cfg.special == "flow" else None, info)


def load_or_prepare(clip: Clip, cfg: PrepConfig, cache_dir: str | Path | None = None,
                    stats: CacheStats | None = None) -> PreparedClip:
    """The `PreparedClip` of ``clip`` from the cache when a valid entry exists, else built (and cached).

    Entries are written atomically and loaded with ``weights_only=True``; an unreadable, stale or
    malformed entry is rebuilt (with a warning), never trusted.
    """
    if cache_dir is None:
        if stats is not None:
            stats.misses += 1
        return load_prepared(clip, cfg)
    key = cache_key(clip, cfg)
    path = cache_path(cache_dir, clip, key)
    if path.exists():
        try:
            prepared = _from_entry(safe_torch_load(path), key, cfg, path)
            if stats is not None:
                stats.hits += 1
            return prepared
        except (CheckpointError, DataError, ValueError, KeyError, TypeError) as exc:
            warnings.warn(f"rebuilding cache entry {path}: {exc}", stacklevel=2)
            if stats is not None:
                stats.rebuilt += 1
    elif stats is not None:
        stats.misses += 1
    prepared = load_prepared(clip, cfg)
    atomic_torch_save(_to_entry(prepared, key), path)
    return prepared


def prepare_index(index: DatasetIndex | Sequence[Clip], cfg: PrepConfig, cache_dir: str | Path | None = None,
                  *, progress: bool = True, stats: CacheStats | None = None) -> list[PreparedClip]:
    """Prepare (or load from the cache) every clip of an index, with a progress bar; in index order."""
    from tqdm.auto import tqdm

    clips = index.clips if isinstance(index, DatasetIndex) else list(index)
    return [load_or_prepare(c, cfg, cache_dir, stats)
            for c in tqdm(clips, desc="preprocessing", unit="clip", disable=not progress)]
