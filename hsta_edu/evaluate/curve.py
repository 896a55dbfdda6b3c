"""The measured learning curve of hsta-tiny (`benchmarks/learning_curve.py`), shipped with the package so
that a notebook can draw it from an installed wheel: `measured_learning_curve` reads it,
`hsta_edu.viz.plot_learning_curve` draws it (`plot_measured_learning_curve` does both)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import DataError

#: Written by ``benchmarks/learning_curve.py --report`` (evaluation seeds only).
MEASURED = Path(__file__).with_name("learning_curve.json")
#: Clips of one LOSO run of the MEGC2019 3-class corpora (the composite's parts), for the figure.
REAL_CORPORA = {"SAMM": 133, "CASME II": 145, "SMIC-HS": 164}


def measured_learning_curve(path: str | Path = MEASURED) -> dict[str, Any]:
    """``{"rows": [...], "titles": {...}, "recipe": ..., ...}`` as the benchmark wrote it; a row per run
    (``level``, ``seed``, ``subjects``, ``per_class``, ``clips``, ``init``, ``branch``, ``uf1``, ``uar``;
    ``branch`` is "both", or "video" for the video-branch ablation)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a learning-curve file ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise DataError(f"{path}: not a learning-curve file (no 'rows' list)")
    return data


def plot_measured_learning_curve(path: str | Path = MEASURED):
    """The shipped curve as a Figure (`hsta_edu.viz.plot_learning_curve`), real corpora marked."""
    from ..viz import plot_learning_curve
    data = measured_learning_curve(path)
    rows = [r for r in data["rows"] if r.get("branch", "both") == "both"]     # the ablation rows: table only
    return plot_learning_curve(rows, marks=REAL_CORPORA, titles=data.get("titles"))
