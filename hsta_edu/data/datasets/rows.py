"""The row log every loader keeps: each annotation row ends as a clip or as a recorded drop.

Loaders turn one row into one `Clip` in a function that raises a package error
(`AnnotationError`, `FrameError`) for anything wrong with that row. `RowLog.attempt`
runs it: in the default mode the error becomes a `DroppedRow` naming the file, row,
clip and reason; in strict mode it propagates. Errors that must never be skipped
(`UnsafePathError`: an annotation that points outside the dataset root) always propagate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ...errors import AnnotationError, DataError
from ..clip import Clip, DroppedRow

T = TypeVar("T")


class UnsafePathError(AnnotationError):
    """An annotation cell that would build a path outside the dataset root ('..', '/', absolute)."""


class LeftOut(Exception):
    """Raised inside a row function for a row the chosen scheme leaves out on purpose (not an error).

    Strict mode does not turn it into an error: ``others`` in a 3-class scheme is by design.
    """


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


def display(path: Path | str, root: Path | None = None) -> str:
    """A path as shown in reports: relative to the dataset root when it lies inside it."""
    path = Path(path)
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)
