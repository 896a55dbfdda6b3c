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

from ..errors import CheckpointError, ConfigError, DataError, FrameError
from ..io import atomic_torch_save, safe_torch_load
from .clip import Clip, DatasetIndex

PREP_VERSION = 1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FACE_MODES = ("haar", "box", "none")
SPECIAL_MODES = ("frames", "flow")
FLOW_METHODS = ("dis", "tvl1", "farneback")
NORMALISATIONS = ("imagenet", "unit", "standard")


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

    def replace(self, **changes: Any) -> PrepConfig:
        return dataclasses.replace(self, **changes)

    @property
    def pool_size(self) -> int:
        """Frames decoded per clip: (T - 1) * pool_factor + 1; every pool_factor-th is a test position."""
        return (self.num_frames - 1) * self.pool_factor + 1

    def shape_settings(self) -> dict[str, Any]:
        """The settings that decide a `PreparedClip` (the cache key); normalisation and jitter do not."""
        keys = ("img_size", "num_frames", "face", "box", "face_margin", "special", "flow", "pool_factor")
        d = {k: getattr(self, k) for k in keys}
        if self.special != "flow":
            d.pop("flow")
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
    crop = box.crop(image)
    interp = cv2.INTER_AREA if crop.shape[0] >= size else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interp)


def load_prepared(clip: Clip, cfg: PrepConfig) -> PreparedClip:
    """Decode, crop and resize what a clip needs (no cache): see `PreparedClip`."""
    i_on, i_ap, i_off = clip_span(clip)
    pool_idx = uniform_positions(i_on, i_off, cfg.pool_size)
    first = read_frame(clip.frames[i_on])
    box = detect_face(first, cfg)
    decoded: dict[int, np.ndarray] = {}

    def get(i: int) -> np.ndarray:
        if i not in decoded:
            img = first if i == i_on else read_frame(clip.frames[i])
            decoded[i] = _crop_resize(img, box, cfg.img_size, Path(clip.frames[i]), first.shape)
        return decoded[i]
    pool = np.stack([get(int(i)) for i in pool_idx])
    onset, apex = get(i_on), get(i_ap)
    flow = _flow_at(onset, apex, cfg.img_size, cfg.flow) if cfg.special == "flow" else None
    info = {"box": [box.x, box.y, box.w, box.h], "face_source": box.source,
            "onset": int(clip.frame_numbers[i_on]), "apex": int(clip.frame_numbers[i_ap]),
            "offset": int(clip.frame_numbers[i_off]),
            "pool_frames": [int(clip.frame_numbers[i]) for i in pool_idx]}
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
    for name, t, shape in (("video", video, (3, T, S, S)), ("special", special, (3, 2, S, S))):
        if tuple(t.shape) != shape:
            raise DataError(f"{where}: {name} has shape {tuple(t.shape)}, expected {shape}")
        if t.dtype != torch.float32:
            raise DataError(f"{where}: {name} has dtype {t.dtype}, expected float32")
        if finite and not torch.isfinite(t).all():
            raise DataError(f"{where}: {name} holds NaN or infinite values")


def assemble(prepared: PreparedClip, cfg: PrepConfig, *, train: bool = False,
             generator: torch.Generator | None = None, where: str = "clip") -> tuple[torch.Tensor, torch.Tensor]:
    """Tensors from a `PreparedClip`: ``video`` (3, T, S, S) and ``special`` (3, 2, S, S), float32.

    Test time (``train=False``) is deterministic; train time jitters the T positions when
    ``cfg.jitter``. Flow channels are (u, v, |flow|) in percent of the image width.
    """
    pos = sample_pool_positions(cfg.num_frames, cfg.pool_factor, generator, jitter=train and cfg.jitter)
    if prepared.pool.shape[0] != cfg.pool_size:
        raise DataError(f"{where}: prepared pool has {prepared.pool.shape[0]} frames, expected {cfg.pool_size}")
    frames = torch.from_numpy(np.ascontiguousarray(prepared.pool[pos])).permute(3, 0, 1, 2)   # 3, T, S, S
    video = _normalise(frames, cfg.normalisation)
    onset = _normalise(torch.from_numpy(np.ascontiguousarray(prepared.onset)).permute(2, 0, 1), cfg.normalisation)
    if cfg.special == "flow":
        if prepared.flow is None:
            raise DataError(f"{where}: flow mode but the prepared clip has no flow")
        f = torch.from_numpy(np.ascontiguousarray(prepared.flow)).permute(2, 0, 1) * (100.0 / cfg.img_size)
        second = torch.cat([f, f.norm(dim=0, keepdim=True)]).clamp_(-cfg.flow_clip, cfg.flow_clip)
        if not torch.isfinite(second).all():
            raise DataError(f"{where}: optical flow holds NaN or infinite values")
    else:
        second = _normalise(torch.from_numpy(np.ascontiguousarray(prepared.apex)).permute(2, 0, 1),
                            cfg.normalisation)
    special = torch.stack([onset, second], dim=1).contiguous()
    video = video.contiguous()
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
