"""The pictures of the miniature corpora: one 4x4 grey image, written under any frame file name."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np

from ...errors import DataError


@cache
def _image_bytes(ext: str) -> bytes:
    img = (np.arange(16, dtype=np.uint8).reshape(4, 4) * 15)
    ok, buf = cv2.imencode(ext, img)
    if not ok:
        raise DataError(f"OpenCV cannot encode a {ext!r} image")
    return buf.tobytes()


def write_frames(folder: Path, names: list[str]) -> None:
    """A 4x4 grey image under each file name in ``names`` (the format follows the extension)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(_image_bytes(Path(n).suffix.lower()))
