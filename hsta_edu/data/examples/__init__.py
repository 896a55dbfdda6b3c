"""Miniature copies of the micro-expression corpora, for teaching and for tests.

The real corpora are licensed, so notebooks and tests cannot ship them. Each ``build_*``
writes, under a folder it is given, the annotation files exactly as the owners distribute
them (sheet names, preamble rows, blank columns, numbers stored as numbers or as text, the
documented quirky rows of shared/datasets.md) and frame folders holding 4x4 images for only
the frames the annotations need. Row counts, emotions and subjects are the real ones, so
the loaders report the real class counts and the MEGC2019 composite built from them has
the official 442 clips from 68 subjects. The pictures are not faces: use the miniatures to
learn the layouts and the loaders, SynthME (`hsta_edu.data.synth`) to train.

One module per corpus writes its miniature (`casme2`, `samm`, `smic`, `casme3`, `composite`,
`folder`; `images` the pictures); this package gathers them.

    >>> from hsta_edu.data import examples
    >>> from hsta_edu.data.datasets import load_dataset
    >>> paths = examples.build_examples("/tmp/mini")           # {'casme2': Path, 'samm': ..., ...}
    >>> print(examples.tree(paths["casme2"]))
    >>> load_dataset(paths["composite"]).summary()
"""

from __future__ import annotations

from pathlib import Path

from ...errors import DataError
from .casme2_files import (
    CASME2_COMPOSITE_SUBJECTS,
    CASME2_EMOTIONS,
    CASME2_QUIRKS,
    CASME2_SUBJECTS,
    build_casme2,
    casme2_rows,
    write_casme2_xlsx,
)
from .casme3_files import (
    CASME3_EMOTIONS,
    CASME3_LABEL_COLUMNS,
    build_casme3,
    casme3_rows,
    casme3_subjects,
    write_casme3_label_xlsx,
)
from .composite_files import build_composite
from .folder_files import build_folder
from .images import write_frames
from .samm_files import (
    SAMM_COLUMNS,
    SAMM_COMPOSITE_SUBJECTS,
    SAMM_EMOTIONS,
    SAMM_SUBJECTS,
    build_samm,
    samm_rows,
    write_samm_xlsx,
)
from .smic_files import SMIC_HS_COUNTS, SMIC_HS_SUBJECTS, SMIC_VIS_NIR_SUBJECTS, build_smic, smic_clips

__all__ = ["build_examples", "tree", "CORPORA", "write_frames",
           "build_casme2", "casme2_rows", "write_casme2_xlsx", "CASME2_EMOTIONS", "CASME2_SUBJECTS",
           "CASME2_COMPOSITE_SUBJECTS", "CASME2_QUIRKS",
           "build_samm", "samm_rows", "write_samm_xlsx", "SAMM_EMOTIONS", "SAMM_SUBJECTS", "SAMM_COMPOSITE_SUBJECTS",
           "SAMM_COLUMNS",
           "build_smic", "smic_clips", "SMIC_HS_SUBJECTS", "SMIC_VIS_NIR_SUBJECTS", "SMIC_HS_COUNTS",
           "build_casme3", "casme3_rows", "casme3_subjects", "write_casme3_label_xlsx", "CASME3_EMOTIONS",
           "CASME3_LABEL_COLUMNS",
           "build_composite", "build_folder"]

#: What `build_examples` can build, each into a sub-folder of that name.
CORPORA = ("casme2", "samm", "smic", "casme3", "composite", "folder")

_IN_COMPOSITE = {"casme2": "CASME2", "samm": "SAMM_v2", "smic": "SMIC"}


def build_examples(root: str | Path, corpora: tuple[str, ...] = CORPORA, *,
                   casme2_cropped: bool = False) -> dict[str, Path]:
    """Build miniature copies of ``corpora`` under ``root`` and return {name: folder}.

    The composite is the CASME II, SAMM and SMIC folders side by side: when "composite" is asked
    for, those three are built once, inside ``root/composite``, and their paths point there;
    otherwise each corpus goes to ``root/<name>``. SMIC gets VIS and NIR too, CASME II its ``Cropped/``
    release when ``casme2_cropped``. About 8000 small files; a few seconds (more on slow disks).
    """
    root = Path(root)
    unknown = [c for c in corpora if c not in CORPORA]
    if unknown:
        raise DataError(f"no miniature for {unknown}; choose from {', '.join(CORPORA)}")
    out: dict[str, Path] = {}
    shared = root / "composite"
    if "composite" in corpora:
        build_composite(shared, casme2_cropped=casme2_cropped, smic_variants=("HS", "VIS", "NIR"))
        out["composite"] = shared
    for name in corpora:
        inside = name in _IN_COMPOSITE and "composite" in corpora
        folder = shared / _IN_COMPOSITE[name] if inside else root / name
        if name == "casme2" and "composite" not in corpora:
            build_casme2(folder, cropped=casme2_cropped)
        elif name == "samm" and "composite" not in corpora:
            build_samm(folder)
        elif name == "smic" and "composite" not in corpora:
            build_smic(folder, variants=("HS", "VIS", "NIR"))
        elif name == "casme3":
            build_casme3(folder)
        elif name == "folder":
            folder.mkdir(parents=True, exist_ok=True)
            build_folder(folder)
        if name != "composite":
            out[name] = folder
    return {name: out[name] for name in corpora}


def tree(root: str | Path, max_entries: int = 3, max_depth: int = 6) -> str:
    """The folder ``root`` as an indented tree: sub-folders first, then files, at most ``max_entries``
    of each per folder (then '... N more'), at most ``max_depth`` levels below ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"not a folder: {root}")
    lines = [f"{root.name}/"]

    def walk(folder: Path, prefix: str, depth: int) -> None:
        kids = sorted(folder.iterdir(), key=lambda p: p.name.lower())
        entries: list[tuple[str, Path | None]] = []
        for group, noun in (([k for k in kids if k.is_dir()], "folder"), ([k for k in kids if not k.is_dir()], "file")):
            entries += [(k.name + ("/" if k.is_dir() else ""), k) for k in group[:max_entries]]
            more = len(group) - max_entries
            if more > 0:
                entries.append((f"... {more} more {noun}{'s' if more > 1 else ''}", None))
        for i, (text, path) in enumerate(entries):
            last = i == len(entries) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{text}")
            if path is not None and path.is_dir():
                inner = prefix + ("    " if last else "│   ")
                if depth + 1 < max_depth:
                    walk(path, inner, depth + 1)
                else:
                    lines.append(f"{inner}└── ... {sum(1 for _ in path.iterdir())} entries")

    walk(root, "", 0)
    return "\n".join(lines)
