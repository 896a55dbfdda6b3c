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
from pathlib import Path

from ...errors import AnnotationError, DataError, FrameError
from ..clip import Clip, DatasetIndex
from ..labels import LabelScheme, canonical_emotion, get_scheme
from .frames import FrameFolders, check_phases, clip_frames, find_child
from .rows import LeftOut, RowLog, display
from .sheets import cell_int, cell_text, numbered_id, path_component, read_table

ANNOTATION_PATTERNS = ("CASME2-coding-*.xlsx", "CASME2-coding*.xls*", "CASME2*coding*.xls*")
OBJECTIVE_PATTERNS = ("CASME2-ObjectiveClasses.xlsx", "CASME2*Objective*.xls*")
SHEET = "Sheet1"
COLUMNS = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion")
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
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"CASME II folder not found: {root}")
    if frames not in FRAME_LAYOUTS:
        raise DataError(f"frames must be 'raw' or 'cropped', got {frames!r}")
    ann = Path(annotation) if annotation is not None else _annotation(root)
    synth = read_marker(root)
    name = "synthme" if synth is not None else "casme2"
    classes = synth.get("classes") if synth else None
    label_scheme = get_scheme(name, scheme, tuple(str(c) for c in classes) if isinstance(classes, list) else None)
    to_class = synth.get("emotion_to_class") if synth else None
    if label_scheme.name == "native" and isinstance(to_class, dict) and label_scheme.classes:
        # SynthME writes CASME II emotion words and says which of its classes each one stands for
        mapping = dict(label_scheme.mapping)
        mapping.update({canonical_emotion(k): str(v) for k, v in to_class.items() if str(v) in label_scheme.classes})
        label_scheme = LabelScheme("native", label_scheme.classes, mapping)

    table, warning = read_table(ann, COLUMNS, sheet=SHEET, header_row=1)
    log = RowLog(ann.name, strict=strict)
    if warning:
        log.warn(warning)
    objective: dict[tuple[str, str], object] = {}
    if label_scheme.kind == "objective":
        objective = _objective_classes(root, log)

    dirs, pattern = FRAME_LAYOUTS[frames]
    base = find_child(root, dirs)
    if base is None:
        raise FrameError(f"CASME II frame folder not found in {root}: expected one of {list(dirs)} "
                         f"(frames={frames!r})")
    folders = FrameFolders(base, pattern, root=root)
    file = ann.name
    clips: list[Clip] = []

    for row, rec in table.rows:
        def make(row=row, rec=rec) -> Clip:
            subject = casme2_subject(rec.get("subject"), file=file, row=row)
            clip_id = path_component(rec.get("filename"), column="Filename", file=file, row=row)
            raw_label = objective.get((subject, clip_id)) if label_scheme.kind == "objective" \
                else rec.get("estimatedemotion")
            if label_scheme.kind == "objective" and (subject, clip_id) not in objective:
                raise AnnotationError(f"no objective class for {subject}/{clip_id} in the objective-class file",
                                      file=file, row=row)
            column = "Objective Class" if label_scheme.kind == "objective" else "Estimated Emotion"
            label = label_scheme.assign(raw_label, column=column, file=file, row=row)
            if label is None:
                raise LeftOut(f"label {cell_text(raw_label)!r} is not in scheme {label_scheme.name!r}")
            if label_scheme.megc2019_rows and cell_text(rec.get("apexframe")) == "/":
                raise LeftOut("apex '/' (not annotated): the MEGC2019 composite leaves this CASME II row out")
            onset = cell_int(rec.get("onsetframe"), column="OnsetFrame", file=file, row=row)
            apex = cell_int(rec.get("apexframe"), column="ApexFrame", file=file, row=row)
            offset = cell_int(rec.get("offsetframe"), column="OffsetFrame", file=file, row=row)
            check_phases(onset, apex, offset, file=file, row=row)
            if label_scheme.megc2019_rows and apex == onset:
                raise LeftOut(f"apex = onset ({apex}): the MEGC2019 composite leaves this CASME II row out")
            folder = folders.folder(subject, clip_id)
            paths, numbers, missing = clip_frames(folders.files(folder), onset, apex, offset,
                                                  folder=folder, root=root)
            meta = {"row": row, "folder": display(folder, root), "frames": frames}
            if missing:
                meta["missing_frames"] = missing
                log.warn(f"{subject}/{clip_id}: {len(missing)} frames missing inside {onset}..{offset} "
                         f"(e.g. {missing[:5]}); clip kept")
            return Clip(name, subject, clip_id, paths, numbers, onset, apex, offset, label,
                        emotion=cell_text(rec.get("estimatedemotion")), aus=cell_text(rec.get("actionunits")),
                        meta=meta)

        clip = log.attempt(row, _guess_id(rec), make)
        if clip is not None and log.accept_unique(clip, row):
            clips.append(clip)

    out_classes = list(label_scheme.classes) or sorted({c.label for c in clips})
    meta = {"scheme": label_scheme.name, "scheme_rule": label_scheme.describe(), "annotation": str(ann),
            "frames": frames, "sheet": table.sheet}
    if synth is not None:
        meta["synthme"] = synth
    return DatasetIndex(name, clips, out_classes, log.dropped, root, warnings=log.warnings, meta=meta)


def _objective_classes(root: Path, log: RowLog) -> dict[tuple[str, str], object]:
    from .sheets import find_file
    path = find_file(root, OBJECTIVE_PATTERNS, "CASME II objective classes CASME2-ObjectiveClasses.xlsx")
    table, warning = read_table(path, OBJECTIVE_COLUMNS, sheet=0, header_row=1)
    if warning:
        log.warn(warning)
    out: dict[tuple[str, str], object] = {}
    for row, rec in table.rows:
        try:
            subject = casme2_subject(rec.get("subject"), file=path.name, row=row)
        except AnnotationError as exc:
            log.warn(f"{path.name} row {row} ignored: {exc}")
            continue
        out[(subject, cell_text(rec.get("filename")))] = rec.get("objectiveclass")
    return out


def _guess_id(rec: dict) -> str | None:
    """subject/clip for drop reports ('sub04/EP12_01f'), as written where the subject cannot be parsed."""
    s, f = cell_text(rec.get("subject")), cell_text(rec.get("filename"))
    try:
        s = casme2_subject(rec.get("subject"))
    except AnnotationError:
        pass
    return f"{s}/{f}" if s or f else None
