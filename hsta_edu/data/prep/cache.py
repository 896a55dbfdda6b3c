"""The disk cache of prepared clips: one entry per clip, keyed by the clip's frame files and the
settings that shape it (`PrepConfig.shape_settings`), written atomically and validated on load."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ...errors import CheckpointError, DataError
from ...io import atomic_torch_save, safe_torch_load
from ..clip import Clip, DatasetIndex
from .config import PrepConfig
from .prepared import PreparedClip, load_prepared
from .sampling import clip_span

PREP_VERSION = 2


@dataclass
class CacheStats:
    """Counts of a cache's use: hits, misses (built), rebuilt (corrupt or stale entries replaced)."""
    hits: int = 0
    misses: int = 0
    rebuilt: int = 0


def cache_key(clip: Clip, cfg: PrepConfig) -> str:
    """Hash of the clip (uid, span, frame files with size and mtime) and the shaping settings."""
    i_on, i_ap, i_off = clip_span(clip)
    files = []
    for p in clip.frames[i_on:i_off + 1]:
        try:
            st = Path(p).stat()
            files.append([Path(p).name, st.st_size, st.st_mtime_ns])
        except OSError:
            files.append([Path(p).name, -1, -1])
    payload = {"v": PREP_VERSION, "uid": clip.uid, "span": [clip.onset, clip.apex, clip.offset],
               "files": files, "settings": cfg.shape_settings()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def cache_path(cache_dir: str | Path, clip: Clip, key: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", clip.uid)
    return Path(cache_dir) / f"{safe}-{key[:16]}.pt"


def _to_entry(p: PreparedClip, key: str) -> dict[str, Any]:
    return {"version": PREP_VERSION, "key": key, "pool": torch.from_numpy(p.pool),
            "onset": torch.from_numpy(p.onset), "apex": torch.from_numpy(p.apex),
            "flow": torch.from_numpy(p.flow) if p.flow is not None else torch.empty(0),
            "info": json.dumps(p.info)}


def _from_entry(entry: Any, key: str, cfg: PrepConfig, path: Path) -> PreparedClip:
    """Validate a loaded cache entry (DataError if anything is off: it is then rebuilt, not trusted)."""
    if not isinstance(entry, dict) or entry.get("key") != key or entry.get("version") != PREP_VERSION:
        raise DataError(f"cache entry {path}: wrong key or version")
    S, P = cfg.img_size, cfg.pool_size
    checks = (("pool", (P, S, S, 3), torch.uint8), ("onset", (S, S, 3), torch.uint8),
              ("apex", (S, S, 3), torch.uint8))
    for name, shape, dtype in checks:
        t = entry.get(name)
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape or t.dtype != dtype:
            raise DataError(f"cache entry {path}: {name} is not a {dtype} tensor of shape {shape}")
    flow = entry.get("flow")
    if cfg.special == "flow":
        if (not isinstance(flow, torch.Tensor) or tuple(flow.shape) != (S, S, 2) or flow.dtype != torch.float32
                or not torch.isfinite(flow).all()):
            raise DataError(f"cache entry {path}: flow missing, of the wrong shape or not finite")
    info = json.loads(entry.get("info", "{}"))
    return PreparedClip(entry["pool"].numpy(), entry["onset"].numpy(), entry["apex"].numpy(),
                        flow.numpy() if cfg.special == "flow" else None, info)


def load_or_prepare(clip: Clip, cfg: PrepConfig, cache_dir: str | Path | None = None,
                    stats: CacheStats | None = None) -> PreparedClip:
    """The `PreparedClip` of ``clip`` from the cache when a valid entry exists, else built (and cached).

    Entries are written atomically and loaded with ``weights_only=True``; an unreadable, stale or
    malformed entry is rebuilt (with a warning), never trusted.
    """
    if cache_dir is None:
        if stats is not None:
            stats.misses += 1
        return load_prepared(clip, cfg)
    key = cache_key(clip, cfg)
    path = cache_path(cache_dir, clip, key)
    if path.exists():
        try:
            prepared = _from_entry(safe_torch_load(path), key, cfg, path)
            if stats is not None:
                stats.hits += 1
            return prepared
        except (CheckpointError, DataError, ValueError, KeyError, TypeError) as exc:
            warnings.warn(f"rebuilding cache entry {path}: {exc}", stacklevel=2)
            if stats is not None:
                stats.rebuilt += 1
    elif stats is not None:
        stats.misses += 1
    prepared = load_prepared(clip, cfg)
    atomic_torch_save(_to_entry(prepared, key), path)
    return prepared


def prepare_index(index: DatasetIndex | Sequence[Clip], cfg: PrepConfig, cache_dir: str | Path | None = None,
                  *, progress: bool = True, stats: CacheStats | None = None) -> list[PreparedClip]:
    """Prepare (or load from the cache) every clip of an index, with a progress bar; in index order."""
    from ...progress import progress_bar

    clips = index.clips if isinstance(index, DatasetIndex) else list(index)
    return [load_or_prepare(c, cfg, cache_dir, stats)
            for c in progress_bar(clips, desc="preprocessing", unit="clip", enabled=progress)]
