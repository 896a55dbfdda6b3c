"""Dataset loaders: one per corpus behind one interface, and `load_dataset` that picks one.

Every loader returns a `DatasetIndex` (clips, classes, dropped rows with reasons,
warnings) and takes ``strict=True`` to raise on the first bad row instead of dropping it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...errors import DataError
from ..clip import DatasetIndex
from .casme2 import load_casme2
from .casme3 import load_casme3
from .composite import GT_NAME, load_composite
from .folder import CSV_NAME, load_folder
from .samm import load_samm
from .smic import load_smic

__all__ = ["load_dataset", "detect_dataset", "load_casme2", "load_samm", "load_smic", "load_casme3",
           "load_composite", "load_folder"]

LOADERS = {"casme2": load_casme2, "synthme": load_casme2, "samm": load_samm, "smic": load_smic,
           "casme3": load_casme3, "composite": load_composite, "folder": load_folder}


def _match(folder: Path, patterns: tuple[str, ...]) -> bool:
    from ...errors import AnnotationError
    from .sheets import find_file
    try:
        find_file(folder, patterns, "")
        return True
    except AnnotationError:
        return False


def detect_dataset(path: str | Path) -> str:
    """Which corpus a folder holds, from its files: 'synthme', 'casme2', 'samm', 'smic', 'casme3',
    'composite' or 'folder'. DataError listing what was looked for when none matches."""
    from . import casme2, casme3, samm
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"dataset folder not found: {root}")
    names = {p.name.lower() for p in root.iterdir()}
    if (root / GT_NAME).is_file():
        return "composite"
    kids = [c for c in root.iterdir() if c.is_dir()]
    in_kids = sum(1 for c in kids if _match(c, casme2.ANNOTATION_PATTERNS) or _match(c, samm.ANNOTATION_PATTERNS)
                  or {g.name.lower() for g in c.iterdir() if g.is_dir()} & {"smic_all_cropped", "smic_all_raw"})
    if in_kids >= 2:
        return "composite"
    if casme2.SYNTH_MARKER in names and _match(root, casme2.ANNOTATION_PATTERNS):
        return "synthme"
    if _match(root, casme2.ANNOTATION_PATTERNS):
        return "casme2"
    if _match(root, samm.ANNOTATION_PATTERNS):
        return "samm"
    if _match(root, casme3.LABEL_PATTERNS):
        return "casme3"
    if names & {"smic_all_cropped", "smic_all_raw", "hs", "vis", "nir"} or root.name.upper() in ("HS", "VIS", "NIR"):
        return "smic"
    if CSV_NAME in names:
        return "folder"
    raise DataError(f"cannot tell which dataset {root} holds: looked for {GT_NAME}, CASME2-coding-*.xlsx "
                    f"(+ synthme.json), SAMM_Micro_FACS_Codes_v2.xlsx, cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx, "
                    f"SMIC_all_cropped/ or HS/, {CSV_NAME}")


def resolve_data_path(path_or_name: str | Path) -> Path:
    """The folder of ``path_or_name``: a path (``~`` expanded), else a dataset name set up through
    $HSTA_EDU_<NAME> or $HSTA_EDU_DATA (each ``~`` expanded), or ``sample(s)``; DataError otherwise."""
    p = Path(path_or_name).expanduser()
    if p.exists():
        return p
    name = str(path_or_name).lower()
    env = os.environ.get(f"HSTA_EDU_{name.upper()}")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("HSTA_EDU_DATA")
    if base and (Path(base).expanduser() / name).exists():
        return Path(base).expanduser() / name
    if name in ("sample", "samples", "data_samples"):
        repo = Path(__file__).resolve().parents[3] / "data_samples"
        if repo.is_dir():
            return repo
    raise DataError(f"{path_or_name!r} is neither a folder nor a dataset name set up on this machine "
                    f"(set HSTA_EDU_{name.upper()} or HSTA_EDU_DATA=<folder holding {name}/>)")


def load_dataset(path_or_name: str | Path, scheme: str | None = None, **kw: Any) -> DatasetIndex:
    """Load the corpus at ``path_or_name`` (a folder, or a name such as 'casme2' found through
    $HSTA_EDU_CASME2 / $HSTA_EDU_DATA), detecting which corpus it is from its files.

    ``scheme`` defaults to each loader's own (native; negative/positive/surprise for SMIC and the
    composite). To reproduce the paper's 3-class results use ``megc2019`` (= ``megc3``): the
    MEGC2019 sets, alone and in the composite alike (CASME II 145, SAMM 133, SMIC-HS 164,
    composite 442). ``broad3`` counts every negative emotion as negative (CASME II 155).
    """
    root = resolve_data_path(path_or_name)
    kind = detect_dataset(root)
    loader = LOADERS[kind]
    if scheme is not None:
        kw["scheme"] = scheme
    return loader(root, **kw)
