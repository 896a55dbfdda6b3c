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
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError, WriteError

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
        refused = re.search(r"Unsupported global: ([^\n]+?)(?: was not an allowed global|\n|$)", text)
        if refused:
            raise CheckpointError(f"refused to load {path}: it holds a pickled object ({refused.group(1).strip()}), "
                                  "not only tensors; weights_only=True never unpickles arbitrary objects") from exc
        raise CheckpointError(f"cannot load {path} safely (weights_only=True): {text}") from exc
