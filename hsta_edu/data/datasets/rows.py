"""The row log every loader keeps: each annotation row ends as a clip or as a recorded drop.

Loaders turn one row into one `Clip` in a function that raises a package error
(`AnnotationError`, `FrameError`) for anything wrong with that row. `RowLog.attempt`
runs it: in the default mode the error becomes a `DroppedRow` naming the file, row,
clip and reason; in strict mode it propagates. Errors that must never be skipped
(`UnsafePathError`: an annotation that points outside the dataset root) always propagate.

The skeleton every loader shares lives here, so a loader supplies only its corpus rules:
`RowLog.read` reads its table (a reader's warning kept in the log), `RowLog.collect` turns
its `Candidate` rows into the kept clips (`attempt`, then `accept_unique`, for each), and
`RowLog.index` hands back the `DatasetIndex` with the drops, the warnings and the meta.

Three rules hold for every loader here. One person is one subject: `collect` gives every spelling
of a subject that `subject_key` equates (``sub01``, ``SUB01``, `` sub01 ``, ``sub1``) the one seen
first, with a warning naming both spellings (ids with no such clash stay exactly as the loader
spelled them). A clip must show motion: `RowLog.checked` drops onset == apex == offset (a single
frame) and keeps, with a warning, a clip whose apex is its onset or its offset. A frame folder is
one subject's: rows of two subjects reading the same folder (a copied row, a wrong ``folder`` cell)
raise an AnnotationError naming both rows, strict or not, since the same frames in two LOSO
groups would score a model on faces it trained on (clips of one subject may share a folder).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from ...errors import AnnotationError, DataError
from ..clip import Clip, DatasetIndex, DroppedRow
from .sheets import Table, UnsafePathError, cell_text, read_table

if TYPE_CHECKING:
    from ..labels import LabelScheme

__all__ = ["RowLog", "Candidate", "LeftOut", "UnsafePathError", "assign_label", "row_clip", "dataset_root",
           "display", "subject_key"]

T = TypeVar("T")


class LeftOut(Exception):
    """Raised inside a row function for a row the chosen scheme leaves out on purpose (not an error).

    Strict mode does not turn it into an error: ``others`` in a 3-class scheme is by design.
    """


class Candidate(NamedTuple):
    """One annotation row (or clip folder) on its way to becoming a clip."""
    row: int | None              # spreadsheet row; None where the corpus is a folder tree
    clip: str | None             # 'subject/clip' as far as it can be read, for the drop report
    make: Callable[[], Clip]     # the corpus rules: the clip, or a package error saying what is wrong
    source: str | None = None    # the file or folder it comes from, when not the log's own


@dataclass
class RowLog:
    source: str
    strict: bool = False
    dropped: list[DroppedRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _seen: dict[str, int | None] = field(default_factory=dict)
    _warnings_before_row: int = 0
    _subjects: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # key -> (kept, where)
    _respelled: set[tuple[str, str]] = field(default_factory=set)
    _folders: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # frame folder -> (group, clip, where)
    _ranges: dict[tuple[str, ...], tuple[str, str]] = field(default_factory=dict)  # frame files -> (clip, where)

    def drop(self, row: int | None, clip: str | None, reason: str, source: str | None = None) -> None:
        self.dropped.append(DroppedRow(source or self.source, row, clip, reason))

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def attempt(self, row: int | None, clip: str | None, fn: Callable[[], T],
                source: str | None = None) -> T | None:
        """Run ``fn``; a package error becomes a drop (or propagates in strict mode)."""
        self._warnings_before_row = len(self.warnings)
        try:
            return fn()
        except LeftOut as exc:
            self.drop(row, clip, str(exc), source)
        except UnsafePathError:
            raise
        except DataError as exc:
            if self.strict:
                raise
            self.drop(row, clip, str(exc), source)
        return None

    def accept_unique(self, clip: Clip, row: int | None, source: str | None = None) -> bool:
        """True the first time ``clip.uid`` is seen; a duplicate is dropped (AnnotationError if strict)."""
        if clip.uid in self._seen:
            first = self._seen[clip.uid]
            msg = f"duplicate clip id {clip.subject}/{clip.clip_id} (first seen at row {first})"
            if self.strict:
                raise AnnotationError(msg, file=source or self.source, row=row)
            self.drop(row, f"{clip.subject}/{clip.clip_id}", msg, source)
            # warnings raised while building this (dropped) duplicate describe no kept clip
            del self.warnings[self._warnings_before_row:]
            return False
        self._seen[clip.uid] = row
        return True

    def read(self, path: Path, columns: Iterable[str], *, sheet: str | int | None, header_row: int) -> Table:
        """`read_table` of ``path``; its warning (a header found elsewhere, ...) is kept in the log."""
        table, warning = read_table(path, columns, sheet=sheet, header_row=header_row)
        if warning:
            self.warn(warning)
        return table

    def collect(self, candidates: Iterable[Candidate]) -> list[Clip]:
        """The kept clips of ``candidates``, in order: each made through `attempt`, kept if `accept_unique`.

        ``candidates`` is consumed lazily, so a loader's generator may log as it walks.
        """
        clips: list[Clip] = []
        for c in candidates:
            clip = self.attempt(c.row, c.clip, c.make, c.source)
            if clip is None:
                continue
            clip, note = self._one_person(clip, c.row, c.source)
            if self.accept_unique(clip, c.row, c.source):
                self._one_subject_per_folder(clip, c.row, c.source)
                clips.append(clip)
            if note:
                self.warn(note)
        return clips

    def _one_person(self, clip: Clip, row: int | None, source: str | None) -> tuple[Clip, str | None]:
        """``clip`` with the subject spelling first seen for its `subject_key`, and the warning to give
        the first time another spelling of that subject turns up (None otherwise)."""
        where = f"row {row}" if row is not None else (source or self.source)
        key = (clip.dataset, subject_key(clip.subject))
        kept, first = self._subjects.setdefault(key, (clip.subject, where))
        if kept == clip.subject:
            return clip, None
        written = clip.subject
        clip = replace(clip, subject=kept)
        clip.meta["subject_as_written"] = written
        if (kept, written) in self._respelled:
            return clip, None
        self._respelled.add((kept, written))
        return clip, (f"subject {written!r} ({where}) taken as {kept!r} (first written so at {first}): the "
                      f"spellings differ only in case, spaces or zero-padding, so they are one person (one "
                      f"LOSO group)")

    def _one_subject_per_folder(self, clip: Clip, row: int | None, source: str | None) -> None:
        """AnnotationError naming both rows when ``clip`` reads its frames from a folder that a kept
        clip of another subject reads: the same frames would sit in two LOSO groups, so a subject's
        face would be trained on and tested at once. Always raised (strict or not): which row is
        wrong cannot be guessed. Clips of one subject may share a folder (one video, several clips)."""
        where = f"{source or self.source} row {row}" if row is not None else (source or self.source)
        name = f"{clip.subject}/{clip.clip_id}"
        for folder in dict.fromkeys(p.parent for p in clip.frames):
            group, first, first_where = self._folders.setdefault(os.path.realpath(folder), (clip.group, name, where))
            if group != clip.group:
                shown = clip.meta.get("folder") or str(folder)
                err = AnnotationError(f"frame folder {shown} belongs to two subjects: {first} ({first_where}) and "
                                      f"{name} ({where}); the same frames would be in two LOSO subjects: fix the "
                                      "subject or folder of one of these rows")
                err.file, err.row, err.value = source or self.source, row, shown
                raise err
        files = tuple(os.path.realpath(p) for p in clip.frames)
        first, first_where = self._ranges.setdefault(files, (name, where))
        if first != name:
            self.warn(f"{name} ({where}) reads the very frames of {first} ({first_where}): "
                      f"{clip.meta.get('folder') or clip.frames[0].parent}, frames {clip.onset}..{clip.offset}; "
                      "kept, but the one sample counts twice (in one subject, so no clip leaks between folds)")

    def checked(self, clip: Clip, *, row: int | None = None, file: str | None = None,
                flat_ok: bool = False) -> Clip:
        """``clip`` when it can show motion; the one place every loader checks its onset, apex and offset.

        onset == apex == offset (a single frame): AnnotationError, so the row is a drop (strict mode:
        raised). The apex at the onset or at the offset (onset == apex < offset, onset < apex ==
        offset): kept, with a warning, unless ``flat_ok`` (a corpus that annotates it so by design).
        """
        name, (onset, apex, offset) = f"{clip.subject}/{clip.clip_id}", (clip.onset, clip.apex, clip.offset)
        if onset == apex == offset:
            raise AnnotationError(f"onset == apex == offset (frame {onset}): only 1 frame, no motion to measure",
                                  file=file or self.source, row=row)
        if len(clip.frames) < 2:
            raise AnnotationError(f"only {len(clip.frames)} frame in {onset}..{offset}: no motion to measure",
                                  file=file or self.source, row=row)
        if not flat_ok and onset == apex:
            self.warn(f"{name}: onset == apex (frame {onset}, offset {offset}): no rise to the apex; kept")
        elif not flat_ok and apex == offset:
            self.warn(f"{name}: apex == offset (frame {apex}, onset {onset}): the apex is the last frame; kept")
        return clip

    def gaps(self, meta: dict[str, Any], missing: list[int], message: str) -> None:
        """A kept clip missing frames inside its range: ``missing`` into its ``meta`` and ``message`` warned."""
        if missing:
            meta["missing_frames"] = missing
            self.warn(message)

    def index(self, name: str, clips: list[Clip], scheme: LabelScheme, root: Path | None,
              **meta: Any) -> DatasetIndex:
        """The loader's answer: ``clips`` with the scheme's classes (the sorted labels found when it
        fixes none), this log's drops and warnings, and ``meta`` after the scheme and its rule."""
        classes = list(scheme.classes) or sorted({c.label for c in clips})
        meta = {"scheme": scheme.name, "scheme_rule": scheme.describe(), **meta}
        return DatasetIndex(name, clips, classes, self.dropped, root, warnings=self.warnings, meta=meta)


def assign_label(scheme: LabelScheme, raw: object, *, column: str, file: str | None = None,
                 row: int | None = None) -> str:
    """``scheme``'s class for the cell ``raw``; `LeftOut` when the scheme leaves it out on purpose,
    `AnnotationError` (from the scheme) when it is unknown."""
    label = scheme.assign(raw, column=column, file=file, row=row)
    if label is None:
        raise LeftOut(f"label {cell_text(raw)!r} is not in scheme {scheme.name!r}")
    return label


def subject_key(value: object) -> str:
    """What makes two subject spellings one person: the text without spaces, case-folded, each run of
    digits without its leading zeros. ``'sub01'``, ``'SUB01'``, ``' sub01 '``, ``'sub1'`` -> ``'sub1'``;
    ``'006'``, ``6`` -> ``'6'``; ``'spNO.1'`` -> ``'spno.1'`` (never ``'spno.10'``)."""
    text = "".join(cell_text(value).split()).casefold()
    return re.sub(r"\d+", lambda m: str(int(m.group())), text)


def row_clip(subject: object, clip: object, normalise: Callable[[object], str]) -> str | None:
    """'subject/clip' of a row for its drop report, the subject normalised where it can be
    ('sub04/EP12_01f') and as written where it cannot; None when both cells are empty."""
    s, f = cell_text(subject), cell_text(clip)
    try:
        s = normalise(subject)
    except AnnotationError:
        pass
    return f"{s}/{f}" if s or f else None


def dataset_root(root: str | Path, what: str) -> Path:
    """``root`` as a Path (``~`` expanded); DataError '{what} folder not found' when it is not a folder."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{what} folder not found: {root}")
    return root


def display(path: Path | str, root: Path | None = None) -> str:
    """A path as shown in reports: relative to the dataset root when it lies inside it."""
    path = Path(path)
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)
