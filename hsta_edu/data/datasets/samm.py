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
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ...errors import FrameError
from ..clip import Clip, DatasetIndex
from ..labels import LabelScheme, get_scheme
from .frames import FrameFolders, find_child, pad_width, read_phases
from .rows import Candidate, RowLog, assign_label, dataset_root, display, row_clip
from .sheets import cell_text, column_key, find_file, numbered_id, path_component

ANNOTATION_PATTERNS = ("SAMM_Micro_FACS_Codes_v2.xlsx", "SAMM_Micro_FACS_Codes*.xls*")
SHEET = "MICRO_ONLY"
HEADER_ROW = 14
COLUMNS = ("Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame", "Action Units",
           "Estimated Emotion")
PHASE_COLUMNS = ("Onset Frame", "Apex Frame", "Offset Frame")
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
    root = dataset_root(root, "SAMM")
    ann = Path(annotation) if annotation is not None else find_file(
        root, ANNOTATION_PATTERNS, "SAMM annotation SAMM_Micro_FACS_Codes_v2.xlsx")
    label_scheme = get_scheme("samm", scheme)
    label_column = "Objective Classes" if label_scheme.kind == "objective" else "Estimated Emotion"
    log = RowLog(ann.name, strict=strict)
    table = log.read(ann, COLUMNS + (("Objective Classes",) if label_scheme.kind == "objective" else ()),
                     sheet=SHEET, header_row=HEADER_ROW)
    base = find_child(root, ("SAMM",)) or root
    rules = _Rows(ann.name, label_scheme, label_column, FrameFolders(base, FRAME_PATTERN, root=root), log)
    clips = log.collect(Candidate(row, row_clip(rec.get("subject"), rec.get("filename"), samm_subject),
                                  partial(rules.clip, row, rec)) for row, rec in table.rows)
    if not clips and table.rows and all("frame folder not found" in d.reason for d in log.dropped[:5]):
        raise FrameError(f"no SAMM frame folders found under {base} (expected SAMM/006/006_1_2/006_05562.jpg)")
    return log.index("samm", clips, label_scheme, root, annotation=str(ann), sheet=table.sheet,
                     header_row=table.header_row)


@dataclass(frozen=True)
class _Rows:
    """SAMM's rules for one row of the MICRO_ONLY sheet."""
    file: str
    scheme: LabelScheme
    label_column: str                   # 'Estimated Emotion', or 'Objective Classes' for scheme 'objective'
    folders: FrameFolders
    log: RowLog

    def clip(self, row: int, rec: dict) -> Clip:
        file = self.file
        subject = samm_subject(rec.get("subject"), file=file, row=row)
        clip_id = path_component(rec.get("filename"), column="Filename", file=file, row=row)
        label = assign_label(self.scheme, rec.get(column_key(self.label_column)), column=self.label_column,
                             file=file, row=row)
        onset, apex, offset = read_phases(rec, PHASE_COLUMNS, file=file, row=row)
        folder = self.folders.folder(subject, clip_id)
        paths, numbers, missing = self.folders.frames(folder, onset, apex, offset)
        meta = {"row": row, "folder": display(folder, self.folders.root),
                "pad_width": pad_width(self.folders.files(folder), FRAME_PATTERN),
                "inducement": cell_text(rec.get("inducementcode"))}
        self.log.gaps(meta, missing, f"{subject}/{clip_id}: {len(missing)} frames missing inside {onset}..{offset}; "
                                     f"clip kept")
        return self.log.checked(Clip("samm", subject, clip_id, paths, numbers, onset, apex, offset, label,
                                     emotion=cell_text(rec.get("estimatedemotion")),
                                     aus=cell_text(rec.get("actionunits")), meta=meta), row=row)
