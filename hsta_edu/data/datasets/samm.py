"""SAMM (Davison et al. 2018), micro-expressions, read from the files as distributed.

Files under ``root``:

* ``SAMM_Micro_FACS_Codes_v2.xlsx``, sheet ``MICRO_ONLY``: rows 1-13 are a preamble
  (notes, symbol key), the header is row 14. Columns ``Subject``, ``Filename``,
  ``Inducement Code``, ``Onset Frame``, ``Apex Frame``, ``Offset Frame``, ``Duration``,
  ``Micro``, ``Action Units``, ``Estimated Emotion``, ``Objective Classes``, ``Notes``.
  Subjects are numbers (6 -> ``006``); emotions capitalised; AUs mix ints and text.
* frames ``SAMM/006/006_1_2/006_05562.jpg``: absolute numbers zero-padded to a width
  (4 or 5) that varies per clip; the width is read from the files (``clip.meta["pad_width"]``).
"""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import AnnotationError, DataError, FrameError
from ..clip import Clip, DatasetIndex
from ..labels import get_scheme
from .frames import FrameFolders, check_phases, clip_frames, find_child, pad_width
from .rows import LeftOut, RowLog, display
from .sheets import cell_int, cell_text, find_file, numbered_id, path_component, read_table

ANNOTATION_PATTERNS = ("SAMM_Micro_FACS_Codes_v2.xlsx", "SAMM_Micro_FACS_Codes*.xls*")
SHEET = "MICRO_ONLY"
HEADER_ROW = 14
COLUMNS = ("Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame", "Action Units",
           "Estimated Emotion")
FRAME_PATTERN = re.compile(r"^(?P<subject>\d+)_(?P<n>\d+)\.(jpe?g|png|bmp)$", re.IGNORECASE)


def samm_subject(value: object, *, file: str | None = None, row: int | None = None) -> str:
    """6, 6.0, '006' -> '006'."""
    return numbered_id(value, prefix="", width=3, column="Subject", file=file, row=row)


def load_samm(root: str | Path, scheme: str = "native", *, strict: bool = False,
              annotation: str | Path | None = None) -> DatasetIndex:
    """Index SAMM at ``root`` under ``scheme`` (``native``, ``megc2019`` = ``megc3``, ``broad3``, ``objective``).

    Rows are dropped (or raise in strict mode) for the same reasons as CASME II's (see
    `load_casme2`); the header is searched if it is not at row 14 (with a warning) and
    an AnnotationError names the sheets found if ``MICRO_ONLY`` is missing.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"SAMM folder not found: {root}")
    ann = Path(annotation) if annotation is not None else find_file(
        root, ANNOTATION_PATTERNS, "SAMM annotation SAMM_Micro_FACS_Codes_v2.xlsx")
    label_scheme = get_scheme("samm", scheme)
    columns = COLUMNS + (("Objective Classes",) if label_scheme.kind == "objective" else ())
    table, warning = read_table(ann, columns, sheet=SHEET, header_row=HEADER_ROW)
    log = RowLog(ann.name, strict=strict)
    if warning:
        log.warn(warning)
    base = find_child(root, ("SAMM",)) or root
    folders = FrameFolders(base, FRAME_PATTERN, root=root)
    file = ann.name
    clips: list[Clip] = []
    for row, rec in table.rows:
        def make(row=row, rec=rec) -> Clip:
            subject = samm_subject(rec.get("subject"), file=file, row=row)
            clip_id = path_component(rec.get("filename"), column="Filename", file=file, row=row)
            column = "Objective Classes" if label_scheme.kind == "objective" else "Estimated Emotion"
            raw_label = rec.get(column.lower().replace(" ", ""))
            label = label_scheme.assign(raw_label, column=column, file=file, row=row)
            if label is None:
                raise LeftOut(f"label {cell_text(raw_label)!r} is not in scheme {label_scheme.name!r}")
            onset = cell_int(rec.get("onsetframe"), column="Onset Frame", file=file, row=row)
            apex = cell_int(rec.get("apexframe"), column="Apex Frame", file=file, row=row)
            offset = cell_int(rec.get("offsetframe"), column="Offset Frame", file=file, row=row)
            check_phases(onset, apex, offset, file=file, row=row)
            folder = folders.folder(subject, clip_id)
            files = folders.files(folder)
            paths, numbers, missing = clip_frames(files, onset, apex, offset, folder=folder, root=root)
            meta = {"row": row, "folder": display(folder, root), "pad_width": pad_width(files, FRAME_PATTERN),
                    "inducement": cell_text(rec.get("inducementcode"))}
            if missing:
                meta["missing_frames"] = missing
                log.warn(f"{subject}/{clip_id}: {len(missing)} frames missing inside {onset}..{offset}; clip kept")
            return Clip("samm", subject, clip_id, paths, numbers, onset, apex, offset, label,
                        emotion=cell_text(rec.get("estimatedemotion")), aus=cell_text(rec.get("actionunits")),
                        meta=meta)

        clip = log.attempt(row, _guess_id(rec), make)
        if clip is not None and log.accept_unique(clip, row):
            clips.append(clip)
    if not clips and table.rows and all("frame folder not found" in d.reason for d in log.dropped[:5]):
        raise FrameError(f"no SAMM frame folders found under {base} (expected SAMM/006/006_1_2/006_05562.jpg)")
    meta = {"scheme": label_scheme.name, "scheme_rule": label_scheme.describe(), "annotation": str(ann), "sheet": table.sheet,
            "header_row": table.header_row}
    return DatasetIndex("samm", clips, list(label_scheme.classes), log.dropped, root,
                        warnings=log.warnings, meta=meta)


def _guess_id(rec: dict) -> str | None:
    s, f = cell_text(rec.get("subject")), cell_text(rec.get("filename"))
    try:
        s = samm_subject(rec.get("subject"))
    except AnnotationError:
        pass
    return f"{s}/{f}" if s or f else None
