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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from ...errors import AnnotationError, DataError
from ..clip import Clip, DatasetIndex, DroppedRow
from .sheets import Table, UnsafePathError, cell_text, read_table

if TYPE_CHECKING:
    from ..labels import LabelScheme

__all__ = ["RowLog", "Candidate", "LeftOut", "UnsafePathError", "assign_label", "row_clip", "dataset_root",
           "display"]

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
            if clip is not None and self.accept_unique(clip, c.row, c.source):
                clips.append(clip)
        return clips

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
    """``root`` as a Path; DataError '{what} folder not found' when it is not a folder."""
    root = Path(root)
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
