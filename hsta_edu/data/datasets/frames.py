"""Frame folders: find the numbered image files of a clip and check they cover its annotation.

Corpora name frames differently (`img46.jpg`, `reg_img46.jpg`, `006_05562.jpg`,
`reg_image036237.bmp`, `46.jpg`), pad numbers or not, and start numbering anywhere
(absolute frame numbers). `scan_frames` reads the number out of each file name with a
per-corpus pattern, so zero-padding is detected from the files, never assumed.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import AnnotationError, FrameError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
#: Default: any image whose stem ends in digits; the digits are the frame number.
ANY_NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<n>\d+)\.(jpe?g|png|bmp|tiff?)$", re.IGNORECASE)


def scan_frames(folder: Path, pattern: re.Pattern[str] = ANY_NUMBERED, *,
                root: Path | None = None) -> dict[int, Path]:
    """Frame number -> file for the files in ``folder`` whose name matches ``pattern`` (group ``n``).

    FrameError (naming the folder) if the folder is missing, unreadable, holds no
    matching file, or holds two files for one number (``img46.jpg`` and ``img046.jpg``).
    """
    shown = _show(folder, root)
    if not folder.is_dir():
        raise FrameError(f"frame folder not found: {shown}")
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise FrameError(f"cannot list frame folder {shown}: {exc}") from exc
    numbers: dict[int, Path] = {}
    for p in entries:
        m = pattern.match(p.name)
        if not m or not p.is_file():
            continue
        n = int(m.group("n"))
        if n in numbers:
            raise FrameError(f"two files for frame {n} in {shown}: {numbers[n].name} and {p.name}")
        numbers[n] = p
    if not numbers:
        others = [p.name for p in entries[:3]]
        raise FrameError(f"no frame files in {shown} (expected names like {pattern.pattern!r}; "
                         f"found {len(entries)} entries{', e.g. ' + ', '.join(others) if others else ''})")
    return numbers


def pad_width(files: dict[int, Path], pattern: re.Pattern[str] = ANY_NUMBERED) -> int:
    """Zero-pad width of the frame numbers in the file names (0 when unpadded or mixed)."""
    lengths = {len(m.group("n")) for p in files.values() if (m := pattern.match(p.name))}
    padded = any(m.group("n").startswith("0") for p in files.values() if (m := pattern.match(p.name)))
    return lengths.pop() if padded and len(lengths) == 1 else 0


def check_phases(onset: int, apex: int, offset: int, *, file: str | None = None, row: int | None = None,
                 min_frame: int = 1) -> None:
    """Onset <= apex <= offset with every number >= ``min_frame``; AnnotationError naming what is wrong."""
    for name, v in (("offset", offset), ("onset", onset), ("apex", apex)):
        if v < min_frame:
            raise AnnotationError(f"{name} frame {v} is below {min_frame} (0 means not annotated)",
                                  file=file, row=row, column=name, value=v)
    if onset > offset:
        raise AnnotationError(f"onset {onset} after offset {offset}", file=file, row=row, column="onset",
                              value=onset)
    if apex < onset:
        raise AnnotationError(f"onset {onset} after apex {apex} (apex outside onset..offset)", file=file,
                              row=row, column="apex", value=apex)
    if apex > offset:
        raise AnnotationError(f"apex {apex} after offset {offset} (apex outside onset..offset)", file=file,
                              row=row, column="apex", value=apex)


def clip_frames(files: dict[int, Path], onset: int, apex: int, offset: int, *, folder: Path,
                root: Path | None = None) -> tuple[tuple[Path, ...], tuple[int, ...], list[int]]:
    """The files of frames onset..offset, their numbers, and the interior numbers missing.

    FrameError (naming the folder and the numbers) if the onset, apex or offset frame
    itself is missing: the clip's range is then not covered by the folder.
    """
    need = sorted({onset, apex, offset})
    absent = [n for n in need if n not in files]
    if absent:
        lo, hi = min(files), max(files)
        raise FrameError(f"frames {absent} (onset/apex/offset {onset}/{apex}/{offset}) not in "
                         f"{_show(folder, root)}, which holds frames {lo}..{hi} ({len(files)} files)")
    numbers = tuple(n for n in sorted(files) if onset <= n <= offset)
    missing = [n for n in range(onset, offset + 1) if n not in files] if offset - onset < 10**6 else []
    return tuple(files[n] for n in numbers), numbers, missing


def _show(folder: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(folder.relative_to(root))
        except ValueError:
            pass
    return str(folder)


class FrameFolders:
    """Frame folders under one base folder, scanned once each (several clips may share a video)."""

    def __init__(self, base: Path, pattern: re.Pattern[str] = ANY_NUMBERED, *, root: Path | None = None):
        self.base, self.pattern, self.root = base, pattern, root
        self._cache: dict[Path, dict[int, Path] | FrameError] = {}

    def folder(self, *parts: str) -> Path:
        return self.base.joinpath(*parts)

    def files(self, folder: Path) -> dict[int, Path]:
        if folder not in self._cache:
            try:
                self._cache[folder] = scan_frames(folder, self.pattern, root=self.root)
            except FrameError as exc:
                self._cache[folder] = exc
        got = self._cache[folder]
        if isinstance(got, FrameError):
            raise FrameError(str(got))
        return got


def find_child(parent: Path, names: tuple[str, ...]) -> Path | None:
    """The first child folder of ``parent`` named like one of ``names`` (case-insensitive)."""
    if not parent.is_dir():
        return None
    children = {p.name.lower(): p for p in parent.iterdir() if p.is_dir()}
    for n in names:
        if n.lower() in children:
            return children[n.lower()]
    return None
