"""Exceptions of hsta_edu: every bad input ends in one of these, naming what was wrong and where."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable


def check_fields(cls: type, names: Iterable[str], what: str) -> None:
    """ConfigError naming every name in ``names`` that is not a field of the dataclass ``cls``."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ConfigError(f"unknown {what} {unknown}; valid: {sorted(known)}")


class HSTAError(Exception):
    """Base class of every error hsta_edu raises on purpose."""


class ConfigError(HSTAError, ValueError):
    """A model, preprocessing or training configuration that cannot work (e.g. image not divisible by patch)."""


class DataError(HSTAError):
    """A dataset folder, frame or tensor that cannot be used."""


class FrameError(DataError):
    """A missing, unreadable or corrupt frame file; the message names the file."""


class AnnotationError(DataError):
    """A bad annotation file or row; the message names the file, row, column and value."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None, value: object = None) -> None:
        where = []
        if file is not None:
            where.append(f"file {file!s}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        if value is not None:
            where.append(f"value {value!r}")
        full = message if not where else f"{message} ({', '.join(where)})"
        super().__init__(full)
        self.file, self.row, self.column, self.value = file, row, column, value


class CheckpointError(HSTAError):
    """A checkpoint that does not match the model it is loaded into, or cannot be read safely."""


class WriteError(HSTAError, OSError):
    """A result, cache or checkpoint file that could not be written (full disk, no permission); the
    message names the file, and the previous version of it, if any, is left as it was."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training, with where it stopped ("at epoch 3 of 30 of fold sub05"); the last
    epoch checkpoint and every finished fold are saved, so the same command resumes."""
