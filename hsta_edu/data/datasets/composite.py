"""The MEGC2019 composite (3 classes): CASME II + SAMM + SMIC-HS, subjects namespaced by corpus.

Classes negative/positive/surprise (label 0/1/2 as in the challenge's ground truth).
Every corpus is read under the same scheme as it is alone: ``megc2019`` (= ``megc3``) by
default, so CASME II uses the challenge's rule (negative = disgust + repression, apex '/'
and apex = onset left out), SAMM and SMIC-HS the six-negative rule. With the real files this gives 442 clips from 68 subjects:
CASME II 145 (88/32/25), SAMM 133 (92/26/15), SMIC-HS 164 (70/51/43). Clips keep their
corpus as ``clip.dataset`` so ``clip.group`` (the LOSO group) never collides;
``index.meta["per_dataset"]`` holds the per-corpus class counts.

``combined_3class_gt.csv`` (no header, CRLF, 4 columns: database, subject, video,
label 0 neg / 1 pos / 2 sur; subjects ``sub01``, ``6``, ``s01``) is checked when given
or found: every difference (a clip missing, extra, or labelled differently) is listed in
``index.warnings`` and ``index.meta["gt_differences"]``, or raises in strict mode.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ...errors import AnnotationError, DataError
from ..clip import DatasetIndex
from ..labels import BROAD3, MEGC3_CLASSES, MEGC2019_NAMES
from .casme2 import ANNOTATION_PATTERNS as CASME2_FILES
from .casme2 import casme2_subject, load_casme2
from .samm import ANNOTATION_PATTERNS as SAMM_FILES
from .samm import load_samm, samm_subject
from .sheets import cell_text, find_file
from .smic import load_smic, smic_clip_id, smic_subject

GT_NAME = "combined_3class_gt.csv"
_DB_ALIASES = {"casme2": "casme2", "casmeii": "casme2", "casme_2": "casme2", "casme-2": "casme2",
               "samm": "samm", "smic": "smic-hs", "smic-hs": "smic-hs", "smic_hs": "smic-hs", "smichs": "smic-hs"}


def read_gt(path: str | Path) -> list[tuple[str, str, str, str, int]]:
    """Rows of combined_3class_gt.csv as (dataset, subject, clip id, class, csv line), ids normalised."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError("MEGC2019 ground truth not found", file=str(path))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"cannot read ground truth ({exc})", file=str(path)) from exc
    out = []
    for line, cells in enumerate(csv.reader(text.splitlines()), start=1):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != 4:
            raise AnnotationError(f"expected 4 columns (database, subject, video, label), got {len(cells)}",
                                  file=path.name, row=line, value=",".join(cells))
        db, subj, video, lab = (c.strip() for c in cells)
        dataset = _DB_ALIASES.get(db.lower())
        if dataset is None:
            raise AnnotationError("unknown database", file=path.name, row=line, column="database", value=db)
        if lab not in ("0", "1", "2"):
            raise AnnotationError("label is not 0, 1 or 2", file=path.name, row=line, column="label", value=lab)
        try:
            if dataset == "casme2":
                subject, clip = casme2_subject(subj), video
            elif dataset == "samm":
                subject, clip = samm_subject(subj), video
            else:
                subject, clip = smic_subject(subj), smic_clip_id(video)
        except AnnotationError as exc:
            raise AnnotationError(f"bad id ({exc})", file=path.name, row=line, value=f"{subj},{video}") from exc
        out.append((dataset, subject, cell_text(clip), MEGC3_CLASSES[int(lab)], line))
    return out


def _annotation_dir(root: Path, patterns) -> Path | None:
    """The folder holding a corpus's annotation file (root or one level below)."""
    try:
        return find_file(root, patterns, "").parent
    except AnnotationError:
        return None


def _smic_dir(root: Path) -> Path | None:
    for p in (root, *sorted(c for c in root.iterdir() if c.is_dir())):
        if {c.name.lower() for c in p.iterdir() if c.is_dir()} & {"smic_all_cropped", "smic_all_raw"}:
            return p
    return None


# many parameters: one keyword-only path per corpus and each corpus's release options
def load_composite(root: str | Path | None = None, *, casme2: str | Path | None = None,
                   samm: str | Path | None = None, smic: str | Path | None = None,
                   gt: str | Path | None = None, smic_release: str = "cropped", casme2_frames: str = "raw",
                   scheme: str = "megc2019", strict: bool = False) -> DatasetIndex:
    """The MEGC2019 composite from the three corpus folders (found under ``root`` or given one by one).

    ``scheme``: ``megc2019`` (= ``megc3``, the challenge's sets: 442 clips) or ``broad3`` (every
    negative emotion counted as negative in every corpus; not the challenge's sets, and the
    ground truth is then not compared).
    """
    if scheme not in (*MEGC2019_NAMES, BROAD3):
        raise DataError(f"the MEGC2019 composite has the 3-class schemes {[*MEGC2019_NAMES, BROAD3]}, "
                        f"not {scheme!r}")
    roots = {"casme2": casme2, "samm": samm, "smic": smic}
    if root is not None:
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"composite folder not found: {root}")
        found = {"casme2": _annotation_dir(root, CASME2_FILES), "samm": _annotation_dir(root, SAMM_FILES),
                 "smic": _smic_dir(root)}
        roots = {k: v if v is not None else found[k] for k, v in roots.items()}
        if gt is None and (root / GT_NAME).is_file():
            gt = root / GT_NAME
    missing = [k for k, v in roots.items() if v is None]
    if missing:
        raise DataError(f"MEGC2019 composite needs CASME II, SAMM and SMIC folders; not found: {missing}"
                        + (f" under {root}" if root is not None else ""))
    parts = [load_casme2(roots["casme2"], scheme=scheme, frames=casme2_frames, strict=strict),
             load_samm(roots["samm"], scheme=scheme, strict=strict),
             load_smic(roots["smic"], variant="HS", release=smic_release, scheme=scheme, strict=strict)]
    clips = [c for p in parts for c in p.clips]
    dropped = [d for p in parts for d in p.dropped]
    warnings = [f"{p.name}: {w}" for p in parts for w in p.warnings]
    index = DatasetIndex("megc2019", clips, list(MEGC3_CLASSES), dropped, Path(root) if root else None,
                         warnings=warnings, meta={"parts": {p.name: str(p.root) for p in parts}})
    index.meta["scheme"] = scheme
    index.meta["scheme_rule"] = "\n".join(f"{p.name}: {p.meta.get('scheme_rule')}" for p in parts)
    index.meta["per_dataset"] = index.counts_by_dataset()
    if gt is not None and scheme == BROAD3:
        index.warnings.append(f"{Path(gt).name} not compared: scheme {BROAD3!r} is not the challenge's rule")
        gt = None
    if gt is not None:
        diffs = compare_gt(index, gt)
        index.meta["gt"] = str(gt)
        index.meta["gt_differences"] = diffs
        if diffs and strict:
            raise AnnotationError(f"{len(diffs)} differences from the ground truth, e.g. {diffs[:3]}",
                                  file=str(gt))
        index.warnings.extend(f"{Path(gt).name}: {d}" for d in diffs)
    return index


def compare_gt(index: DatasetIndex, gt: str | Path) -> list[str]:
    """Differences between the loaded clips and combined_3class_gt.csv (empty list when they agree)."""
    ours = {(c.dataset, c.subject, c.clip_id): c.label for c in index.clips}
    theirs: dict[tuple[str, str, str], tuple[str, int]] = {}
    diffs = []
    for dataset, subject, clip, label, line in read_gt(gt):
        key = (dataset, subject, clip)
        if key in theirs:
            diffs.append(f"line {line}: {'/'.join(key)} listed twice")
        theirs[key] = (label, line)
    for key, (label, line) in theirs.items():
        if key not in ours:
            diffs.append(f"line {line}: {'/'.join(key)} ({label}) not loaded (missing or dropped)")
        elif ours[key] != label:
            diffs.append(f"line {line}: {'/'.join(key)} is {label} in the ground truth, {ours[key]} here")
    for key, label in ours.items():
        if key not in theirs:
            diffs.append(f"{'/'.join(key)} ({label}) loaded but not in the ground truth")
    return diffs
