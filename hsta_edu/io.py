"""Safe files: atomic writes (temporary file + rename) and weights-only loading.

A crash while writing never leaves a half-written file under the final name, so a
later run never reads a truncated result, cache entry or checkpoint as good.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError, ConfigError, WriteError

_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process's umask (read by setting and restoring it, under a lock)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename. The file
    gets the mode ``open`` would give it (0666 less the umask), not the temporary file's 0600. A
    failed write (full disk, no permission) raises `WriteError` naming the file and leaves any
    previous version of it intact."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        if isinstance(exc, OSError):
            kept = " (its previous version is unchanged)" if path.exists() else ""
            raise WriteError(f"could not write {path}{kept}: {exc.strerror or exc}; free some space or "
                             "choose a folder you can write to") from exc
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, **kwargs: Any) -> Path:
    kwargs.setdefault("indent", 2)
    return atomic_write_text(path, json.dumps(obj, **kwargs) + "\n")


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to memory, then an atomic write."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def safe_torch_load(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load(weights_only=True)``; errors name the file instead of failing deep inside."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint or cache file not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt/unsafe files
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
        # torch >= 2.4: "Unsupported global: GLOBAL x.y was not an allowed global"; 2.3: "Unsupported class x.y"
        refused = re.search(r"Unsupported (?:global:|class) ([^\n]+?)(?: was not an allowed global|\n|$)", text)
        if refused:
            raise CheckpointError(f"refused to load {path}: it holds a pickled object ({refused.group(1).strip()}), "
                                  "not only tensors; weights_only=True never unpickles arbitrary objects") from exc
        raise CheckpointError(f"cannot load {path} safely (weights_only=True): {text}") from exc


# ----------------------------------------------------------------------------- output folders

_TEMP = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")   # what atomic_write_bytes leaves if killed (mkstemp)


@dataclass(frozen=True)
class OutputFolder:
    """What one kind of run writes into its output folder, and the rule every such folder obeys.

    A run writes only into a folder that is missing, empty, or its own: one holding its ``records[0]``
    (written first, by the caller, as soon as the folder is claimed; later ``records`` are accepted
    from older versions). ``patterns`` are regular expressions of every file the run writes, as
    paths relative to the folder with ``/`` between parts (one expression per part, none holding a
    ``/``). ``overwrite`` deletes only those files (and the temporary files of an interrupted atomic
    write of them), then the run's own sub-folders left empty: a user's file is never touched, nor
    the folder holding it.
    """
    kind: str                     # "run folder", "training output folder": the messages' word for it
    records: tuple[str, ...]      # file names that mark the folder as this kind of run's; [0] is written now
    patterns: tuple[str, ...]     # every file the run writes (regular expressions of relative paths)

    def _parts(self) -> list[list[re.Pattern[str]]]:
        return [[re.compile(p) for p in pattern.split("/")] for pattern in self.patterns]

    def owns(self, rel: str) -> bool:
        """True when the file at ``rel`` (relative to the folder, ``/`` between parts) is one the run
        writes, or the temporary file of an unfinished atomic write of one."""
        parts = rel.split("/")
        temp = _TEMP.match(parts[-1])
        names = [parts] + ([parts[:-1] + [temp.group("name")]] if temp else [])
        return any(len(p) == len(name) and all(r.fullmatch(s) for r, s in zip(p, name, strict=True))
                   for p in self._parts() for name in names)

    def owns_folder(self, rel: str) -> bool:
        """True when ``rel`` is one of the sub-folders the run's files go into."""
        parts = rel.split("/")
        return any(len(p) > len(parts) and all(r.fullmatch(s) for r, s in zip(p, parts, strict=False))
                   for p in self._parts())

    def claim(self, folder: str | os.PathLike, *, overwrite: bool = False,
              read_record: Callable[[Path], Any]) -> Any:
        """Check that this run may write into ``folder``; returns the record found there (what
        ``read_record(path)`` makes of it: it raises for a record that is not this kind of run's), or
        None when the folder is new or empty, or was cleared by ``overwrite``: the caller then writes
        ``records[0]`` before anything else. A folder holding other things and none of ``records`` is
        refused with a ConfigError naming it and some of what it holds, ``overwrite`` or not."""
        folder = Path(folder)
        entries = self._entries(folder)
        if not entries:
            return None
        record = next((folder / r for r in self.records if (folder / r).is_file()), None)
        if record is None:
            shown = ", ".join(entries[:4]) + (f" and {len(entries) - 4} more" if len(entries) > 4 else "")
            raise ConfigError(f"{folder} is not empty and is not a {self.kind} of hsta_edu (it has no "
                              f"{self.records[0]}): it holds {shown}; a run writes only into an empty folder or "
                              "its own, and --overwrite deletes only a run's own files: choose another folder")
        found = read_record(record)
        if overwrite:
            self.clear(folder)
            return None
        return found

    def _entries(self, folder: Path) -> list[str]:
        """The names in ``folder``, sorted ([] when it is missing), less the temporary file of a record
        being written (another shard claiming the same new folder at this moment)."""
        if not folder.exists():
            return []
        if not folder.is_dir():
            raise ConfigError(f"{folder} is a file, not a folder: choose a folder for the run's output")
        try:
            names = sorted(p.name for p in folder.iterdir())
        except OSError as exc:
            raise WriteError(f"cannot list {folder}: {exc.strerror or exc}") from exc
        temp = [_TEMP.match(n) for n in names]
        return [n for n, t in zip(names, temp, strict=True) if not (t and t.group("name") in self.records)]

    def clear(self, folder: str | os.PathLike) -> list[str]:
        """Delete the run's files in ``folder`` (see the class doc); returns what is left there, each
        path relative to the folder. WriteError naming a file that cannot be deleted."""
        folder = Path(folder)
        for here, dirs, files in os.walk(folder, topdown=False):
            base = Path(here).relative_to(folder)
            rel_dir = base.as_posix() if base != Path(".") else ""
            links = [d for d in dirs if (Path(here) / d).is_symlink()]
            for name in [*files, *links]:
                rel = f"{rel_dir}/{name}" if rel_dir else name
                if self.owns(rel):
                    try:
                        (Path(here) / name).unlink()
                    except FileNotFoundError:
                        pass
                    except OSError as exc:
                        raise WriteError(f"cannot delete {Path(here) / name} for --overwrite: "
                                         f"{exc.strerror or exc}") from exc
            if rel_dir and self.owns_folder(rel_dir):
                try:
                    Path(here).rmdir()    # only when empty: a folder still holding a user's file stays
                except OSError:
                    pass
        return [Path(h, f).relative_to(folder).as_posix() for h, _, fs in os.walk(folder) for f in fs]

