"""CASME II (Yan et al. 2014), read from the files as distributed; also reads SynthME.

Files under ``root`` (the annotation may also sit one folder below):

* ``CASME2-coding-20140508.xlsx``, sheet ``Sheet1``: columns ``Subject``, ``Filename``,
  (blank), ``OnsetFrame``, ``ApexFrame``, ``OffsetFrame``, (blank), ``Action Units``,
  ``Estimated Emotion``. Subjects are stored as numbers (1 -> ``sub01``); frame numbers
  are absolute; ``ApexFrame`` may be ``/``; action units mix ints and text.
* frames ``CASME2_RAW_selected/sub01/EP02_01f/img46.jpg`` (``frames="raw"``) or
  ``Cropped/sub01/EP02_01f/reg_img46.jpg`` (``frames="cropped"``), numbers unpadded.
* ``CASME2-ObjectiveClasses.xlsx`` (``Subject``, ``Filename``, ``Objective Class``) for
  ``scheme="objective"``.

SynthME (hsta_edu.data.synth) writes this very layout plus a ``synthme.json`` marker.
With the marker, clips and the index are named ``"synthme"``, the native scheme takes
its class list from the marker's ``"classes"`` (else the sorted labels found) and maps
the emotion words through the marker's ``"emotion_to_class"``, and the
marker's content is in ``index.meta["synthme"]``; SynthME's extra ground truth (AUs,
masks) stays in its own files, found through ``clip.meta["folder"]``.

Rows become clips or recorded drops: see `load_casme2`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ...errors import AnnotationError, DataError, FrameError
from ..clip import Clip, DatasetIndex
from ..labels import LabelScheme, canonical_emotion, get_scheme
from .frames import FrameFolders, find_child, read_phases
from .rows import Candidate, LeftOut, RowLog, assign_label, dataset_root, display, row_clip
from .sheets import cell_text, numbered_id, path_component

ANNOTATION_PATTERNS = ("CASME2-coding-*.xlsx", "CASME2-coding*.xls*", "CASME2*coding*.xls*")
OBJECTIVE_PATTERNS = ("CASME2-ObjectiveClasses.xlsx", "CASME2*Objective*.xls*")
SHEET = "Sheet1"
COLUMNS = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion")
PHASE_COLUMNS = ("OnsetFrame", "ApexFrame", "OffsetFrame")
OBJECTIVE_COLUMNS = ("Subject", "Filename", "Objective Class")
SYNTH_MARKER = "synthme.json"   # SynthME's marker file (hsta_edu.data.synth writes it)
FRAME_LAYOUTS = {
    "raw": (("CASME2_RAW_selected", "CASME2_RAW", "CASME2-RAW", "RAW_selected"),
            re.compile(r"^img(?P<n>\d+)\.(jpe?g|png|bmp)$", re.IGNORECASE)),
    "cropped": (("Cropped", "CASME2_Cropped", "Cropped-CASME2"),
                re.compile(r"^reg_img(?P<n>\d+)\.(jpe?g|png|bmp)$", re.IGNORECASE)),
}


def _annotation(root: Path) -> Path:
    from .sheets import find_file
    return find_file(root, ANNOTATION_PATTERNS, "CASME II annotation CASME2-coding-20140508.xlsx")


def read_marker(folder: str | Path) -> dict | None:
    """The SynthME marker ``synthme.json`` of ``folder`` as a dict; None when the folder has none.

    The one reader of the marker (the loader, the CLI and SynthME use it). AnnotationError naming
    the file when it cannot be read, is not JSON, or is JSON but not an object.
    """
    path = Path(folder) / SYNTH_MARKER
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AnnotationError(f"unreadable SynthME marker ({exc})", file=str(path)) from exc
    if not isinstance(marker, dict):
        raise AnnotationError(f"SynthME marker is not a JSON object (got {type(marker).__name__})",
                              file=str(path))
    return marker


def casme2_subject(value: object, *, file: str | None = None, row: int | None = None) -> str:
    """1, 1.0, '01', 'sub01' -> 'sub01'."""
    return numbered_id(value, prefix="sub", width=2, column="Subject", file=file, row=row)


def load_casme2(root: str | Path, scheme: str = "native", frames: str = "raw", *,
                strict: bool = False, annotation: str | Path | None = None) -> DatasetIndex:
    """Index CASME II (or SynthME) at ``root`` under label ``scheme``.

    scheme: ``native`` (7 emotions); ``megc2019`` = ``megc3`` (the challenge's CASME II
    rule: negative = disgust + repression, rows with apex '/' or apex = onset left out:
    the official 145 clips, 88/32/25); ``broad3`` (every negative emotion counted as
    negative, fear and sadness included: 155 clips); ``objective`` (I-VII from
    CASME2-ObjectiveClasses.xlsx).

    Each row is dropped (``index.dropped``) or, with ``strict=True``, raises, when:
    the subject is not a number; the apex/onset/offset is empty, '/' or not an integer;
    onset > apex, apex > offset, a frame number < 1; the label is unknown (or left out by
    the scheme: always a drop, never an error); the frame folder is missing or empty;
    the onset/apex/offset frame file is missing; the clip id repeats. A ``Filename`` or
    ``Subject`` that would leave the root ('..', '/', absolute) always raises.
    """
    root = dataset_root(root, "CASME II")
    if frames not in FRAME_LAYOUTS:
        raise DataError(f"frames must be 'raw' or 'cropped', got {frames!r}")
    ann = Path(annotation) if annotation is not None else _annotation(root)
    synth = read_marker(root)
    name = "synthme" if synth is not None else "casme2"
    label_scheme = _label_scheme(name, scheme, synth)
    log = RowLog(ann.name, strict=strict)
    table = log.read(ann, COLUMNS, sheet=SHEET, header_row=1)
    objective = _objective_classes(root, log) if label_scheme.kind == "objective" else None
    rules = _Rows(name, ann.name, label_scheme, objective, _frame_folders(root, frames), frames, log)
    clips = log.collect(Candidate(row, row_clip(rec.get("subject"), rec.get("filename"), casme2_subject),
                                  partial(rules.clip, row, rec)) for row, rec in table.rows)
    extra = {"synthme": synth} if synth is not None else {}
    return log.index(name, clips, label_scheme, root, annotation=str(ann), frames=frames, sheet=table.sheet,
                     **extra)


def _label_scheme(name: str, scheme: str, synth: dict | None) -> LabelScheme:
    """The scheme ``scheme``; SynthME's native one takes the marker's classes and emotion words."""
    classes = synth.get("classes") if synth else None
    label_scheme = get_scheme(name, scheme, tuple(str(c) for c in classes) if isinstance(classes, list) else None)
    to_class = synth.get("emotion_to_class") if synth else None
    if label_scheme.name == "native" and isinstance(to_class, dict) and label_scheme.classes:
        # SynthME writes CASME II emotion words and says which of its classes each one stands for
        mapping = dict(label_scheme.mapping)
        mapping.update({canonical_emotion(k): str(v) for k, v in to_class.items() if str(v) in label_scheme.classes})
        label_scheme = LabelScheme("native", label_scheme.classes, mapping)
    return label_scheme


def _frame_folders(root: Path, frames: str) -> FrameFolders:
    dirs, pattern = FRAME_LAYOUTS[frames]
    base = find_child(root, dirs)
    if base is None:
        raise FrameError(f"CASME II frame folder not found in {root}: expected one of {list(dirs)} "
                         f"(frames={frames!r})")
    return FrameFolders(base, pattern, root=root)


@dataclass(frozen=True)
class _Rows:
    """CASME II's rules for one row of the coding sheet."""
    name: str                                             # 'casme2' or 'synthme'
    file: str
    scheme: LabelScheme
    objective: dict[tuple[str, str], object] | None       # (subject, clip) -> objective class, for 'objective'
    folders: FrameFolders
    frames: str
    log: RowLog

    def clip(self, row: int, rec: dict) -> Clip:
        file, megc2019 = self.file, self.scheme.megc2019_rows
        subject = casme2_subject(rec.get("subject"), file=file, row=row)
        clip_id = path_component(rec.get("filename"), column="Filename", file=file, row=row)
        label = self._label(rec, subject, clip_id, row)
        if megc2019 and cell_text(rec.get("apexframe")) == "/":
            raise LeftOut("apex '/' (not annotated): the MEGC2019 composite leaves this CASME II row out")
        onset, apex, offset = read_phases(rec, PHASE_COLUMNS, file=file, row=row)
        if megc2019 and apex == onset:
            raise LeftOut(f"apex = onset ({apex}): the MEGC2019 composite leaves this CASME II row out")
        folder = self.folders.folder(subject, clip_id)
        paths, numbers, missing = self.folders.frames(folder, onset, apex, offset)
        meta = {"row": row, "folder": display(folder, self.folders.root), "frames": self.frames}
        self.log.gaps(meta, missing, f"{subject}/{clip_id}: {len(missing)} frames missing inside {onset}..{offset} "
                                     f"(e.g. {missing[:5]}); clip kept")
        return self.log.checked(Clip(self.name, subject, clip_id, paths, numbers, onset, apex, offset, label,
                                     emotion=cell_text(rec.get("estimatedemotion")),
                                     aus=cell_text(rec.get("actionunits")), meta=meta), row=row)

    def _label(self, rec: dict, subject: str, clip_id: str, row: int) -> str:
        if self.objective is None:
            return assign_label(self.scheme, rec.get("estimatedemotion"), column="Estimated Emotion",
                                file=self.file, row=row)
        if (subject, clip_id) not in self.objective:
            raise AnnotationError(f"no objective class for {subject}/{clip_id} in the objective-class file",
                                  file=self.file, row=row)
        return assign_label(self.scheme, self.objective[(subject, clip_id)], column="Objective Class",
                            file=self.file, row=row)


def _objective_classes(root: Path, log: RowLog) -> dict[tuple[str, str], object]:
    from .sheets import find_file
    path = find_file(root, OBJECTIVE_PATTERNS, "CASME II objective classes CASME2-ObjectiveClasses.xlsx")
    table = log.read(path, OBJECTIVE_COLUMNS, sheet=0, header_row=1)
    out: dict[tuple[str, str], object] = {}
    for row, rec in table.rows:
        try:
            subject = casme2_subject(rec.get("subject"), file=path.name, row=row)
        except AnnotationError as exc:
            log.warn(f"{path.name} row {row} ignored: {exc}")
            continue
        out[(subject, cell_text(rec.get("filename")))] = rec.get("objectiveclass")
    return out
