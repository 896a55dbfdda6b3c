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
from .rows import display
from .sheets import UnsafePathError, cell_int, column_key

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
#: Default: any image whose stem ends in digits; the digits are the frame number.
ANY_NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<n>\d+)\.(jpe?g|png|bmp|tiff?)$", re.IGNORECASE)


def scan_frames(folder: Path, pattern: re.Pattern[str] = ANY_NUMBERED, *,
                root: Path | None = None) -> dict[int, Path]:
    """Frame number -> file for the files in ``folder`` whose name matches ``pattern`` (group ``n``).

    FrameError (naming the folder) if the folder is missing, unreadable, holds no
    matching file, or holds two files for one number (``img46.jpg`` and ``img046.jpg``).
    """
    shown = display(folder, root)
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


def read_phases(rec: dict, columns: tuple[str, str, str], *, file: str | None = None,
                row: int | None = None) -> tuple[int, int, int]:
    """Onset, apex and offset of an annotation row: its cells under ``columns`` (the header texts,
    e.g. ``("Onset Frame", "Apex Frame", "Offset Frame")``) read as integers, then `check_phases`."""
    onset, apex, offset = (cell_int(rec.get(column_key(c)), column=c, file=file, row=row) for c in columns)
    check_phases(onset, apex, offset, file=file, row=row)
    return onset, apex, offset


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
                         f"{display(folder, root)}, which holds frames {lo}..{hi} ({len(files)} files)")
    numbers = tuple(n for n in sorted(files) if onset <= n <= offset)
    missing = [n for n in range(onset, offset + 1) if n not in files] if offset - onset < 10**6 else []
    return tuple(files[n] for n in numbers), numbers, missing


def _check_part(part: str) -> None:
    # a name is looked up among a folder's children; it must never climb out of it
    if part in ("", ".", "..") or "/" in part or "\\" in part or "\x00" in part:
        raise UnsafePathError("folder name would build a path outside the dataset root "
                              "(only a plain folder name is allowed)", value=part)


def child_folder(parent: Path, name: str, children: list[str] | None = None, *,
                 root: Path | None = None) -> Path:
    """The sub-folder of ``parent`` called ``name``, matched case-insensitively.

    A folder named exactly ``name`` wins. Otherwise the one folder whose name equals
    ``name`` ignoring case is used (the label file writes ``J``, the folder is ``j``).
    Two or more such folders and no exact one: FrameError naming each candidate. None
    at all: ``parent / name`` (the caller then reports it missing). ``children`` are the
    names of ``parent``'s sub-folders when already listed. Only names listed in
    ``parent`` are returned, and ``name`` must be a plain name (`UnsafePathError` for
    '..', separators or NUL), so the result never leaves ``parent``.
    """
    _check_part(name)
    if children is None:
        children = list_folders(parent)
    if name in children:
        return parent / name
    key = name.casefold()
    matches = sorted(c for c in children if c.casefold() == key)
    if len(matches) == 1:
        return parent / matches[0]
    if matches:
        shown = ", ".join(repr(display(parent / m, root)) for m in matches)
        raise FrameError(f"folder {name!r} is ambiguous in {display(parent, root)}: no folder has exactly that "
                         f"name and {len(matches)} match it ignoring case ({shown}); rename or remove all but one")
    return parent / name


def list_folders(parent: Path) -> list[str]:
    """Names of the sub-folders of ``parent`` ([] when it is missing or unreadable)."""
    try:
        return sorted(p.name for p in parent.iterdir() if p.is_dir())
    except OSError:
        return []


class FrameFolders:
    """Frame folders under one base folder, scanned once each (several clips may share a video)."""

    def __init__(self, base: Path, pattern: re.Pattern[str] = ANY_NUMBERED, *, root: Path | None = None):
        self.base, self.pattern, self.root = base, pattern, root
        self._cache: dict[Path, dict[int, Path] | FrameError] = {}
        self._listing: dict[Path, list[str]] = {}

    def folder(self, *parts: str) -> Path:
        """``base/part/part...`` exactly as written (case-sensitive on most Linux file systems)."""
        return self.base.joinpath(*parts)

    def find(self, *parts: str) -> Path:
        """``base/part/part...`` with each part matched case-insensitively (see `child_folder`).

        An exact-case folder wins; FrameError when a part matches several folders ignoring
        case and none exactly. A part that matches nothing is kept as written, so the
        missing folder is what `files` then reports.
        """
        path = self.base
        for part in parts:
            if path not in self._listing:
                self._listing[path] = list_folders(path)
            path = child_folder(path, part, self._listing[path], root=self.root)
        return path

    def frames(self, folder: Path, onset: int, apex: int,
               offset: int) -> tuple[tuple[Path, ...], tuple[int, ...], list[int]]:
        """`clip_frames` of ``folder`` (scanned once): files, numbers and interior numbers missing."""
        return clip_frames(self.files(folder), onset, apex, offset, folder=folder, root=self.root)

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
    """The first child folder of ``parent`` named like one of ``names`` (case-insensitive).

    Exact-case names are tried first (all of ``names``), then case-insensitive matches,
    so the answer does not depend on the order the file system lists folders in.
    """
    if not parent.is_dir():
        return None
    found = list_folders(parent)
    for n in names:
        if n in found:
            return parent / n
    for n in names:
        for c in found:                     # sorted, so the pick is deterministic
            if c.casefold() == n.casefold():
                return parent / c
    return None
