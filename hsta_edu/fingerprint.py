"""What decides a result, as data: the fingerprints that run folders, training checkpoints and
trained models carry, and the check that refuses to resume or merge into another run's files.

A fingerprint is a flat dict of named parts (``model``, ``prep``, ``train_config``, ``data``,
``protocol``, ...), each plain JSON. Two fingerprints are compared part by part, and inside a part
field by field, so a refusal names what differs ("model.special_input: 'apex_diff' in the folder,
'flow' now") instead of saying only that something does. The data part is the clips' ids and
labels, reduced to a count and a digest: reordered, relabelled or other clips all change it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

from .errors import HSTAError

__all__ = ["digest", "data_identity", "model_identity", "differences", "describe_differences",
           "training_identity", "refuse_if_different"]

_ABSENT = object()


def digest(value: Any) -> str:
    """A short stable hash of a JSON-able value (sorted keys)."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def data_identity(uids: Sequence[str], labels: Sequence[int] | np.ndarray) -> dict[str, Any]:
    """``{"n_clips", "digest"}`` of the items' ids ``uids`` and their ``labels`` (one per item), in order
    (both from `hsta_edu.data.labelled.dataset_info`)."""
    pairs = [[str(uid), int(y)] for uid, y in zip(uids, np.asarray(labels).tolist(), strict=True)]
    return {"n_clips": len(pairs), "digest": digest(pairs)}


def model_identity(model: nn.Module) -> dict[str, Any]:
    """The model's class and configuration (``model.config.to_dict()``), or, for a model without
    one, its parameter names and shapes."""
    config = getattr(model, "config", None)
    if hasattr(config, "to_dict"):
        return {"class": type(model).__name__, **config.to_dict()}
    shapes = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    return {"class": type(model).__name__, "parameters": digest(shapes)}


def differences(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(field, old value, new value)`` for every field that differs, nested dicts as ``a.b``."""
    out: list[tuple[str, Any, Any]] = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key, _ABSENT), new.get(key, _ABSENT)
        if _same(a, b):
            continue
        name = f"{prefix}{key}"
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out.extend(differences(a, b, prefix=f"{name}."))
        else:
            out.append((name, a, b))
    return out


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _show(value: Any, limit: int = 60) -> str:
    if value is _ABSENT:
        return "(not set)"
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe_differences(diffs: list[tuple[str, Any, Any]], old_name: str = "stored",
                         new_name: str = "now", limit: int = 6) -> str:
    """``"model.special_input: 'apex_diff' stored, 'flow' now; ..."`` (the first ``limit``)."""
    parts = [f"{field}: {_show(a)} {old_name}, {_show(b)} {new_name}"
             + (" (other clips, or other labels)" if field.endswith("digest") else "") for field, a, b in diffs[:limit]]
    if len(diffs) > limit:
        parts.append(f"and {len(diffs) - limit} more")
    return "; ".join(parts)


def training_identity(model: nn.Module, uids: Sequence[str], labels: Sequence[int] | np.ndarray,
                      train_config: Mapping[str, Any]) -> dict[str, Any]:
    """What decides a training run's result: the model, the recipe (``train_config``, without its
    run-time-only fields) and the training clips' ids and labels."""
    return {"model": model_identity(model), "train_config": dict(train_config),
            "data": data_identity(uids, labels)}


def refuse_if_different(stored: Mapping[str, Any], current: Mapping[str, Any], what: str, fix: str,
                        error: type[HSTAError]) -> None:
    """Raise ``error`` ("``what`` (field: stored value there, this value now; ...); ``fix``") when
    the two fingerprints differ."""
    diffs = differences(stored, current)
    if diffs:
        raise error(f"{what} ({describe_differences(diffs, 'there', 'now')}); {fix}")
