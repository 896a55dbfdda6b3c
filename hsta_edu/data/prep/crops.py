"""Frame files to face crops: decoding one frame, the face box of a clip (Haar cascade on the onset
frame, a fixed box or the whole frame) and the crop-and-resize every frame of the clip goes through."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ...errors import DataError, FrameError
from .config import PrepConfig


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


def crop_resize(image: np.ndarray, box: FaceBox, size: int, path: Path, shape: tuple[int, ...]) -> np.ndarray:
    if image.shape != shape:
        raise FrameError(f"frame {path} has shape {image.shape}, the clip's onset frame has {shape}")
    return resize_crop(box.crop(image), size)


def resize_crop(img: np.ndarray, size: int) -> np.ndarray:
    """Resize to size x size: area averaging when shrinking, cubic when growing."""
    if img.shape[0] == size and img.shape[1] == size:
        return img
    interp = cv2.INTER_AREA if img.shape[0] >= size else cv2.INTER_CUBIC
    return cv2.resize(img, (size, size), interpolation=interp)
