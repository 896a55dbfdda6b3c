"""CAS(ME)^3 part A (Li et al. 2022): micro-expression labels, objective classes, macro-expressions.

Files under ``root``:

* ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx``, sheet ``label``: columns ``Subject``
  (``spNO.1``..), ``Filename`` (video letter a-m; one is written ``J``), ``Onset``,
  ``Apex``, ``Offset``, ``AU``, ``Objective class`` (I-VII), ``emotion``; every cell is
  text. A video holds several micro-expressions, so clip ids are ``{video}_{k}`` (k-th
  row of that video in file order, 1-based): ``a_1``, ``a_2``.
* optional ``CAS(ME)3_part_A_v2.xls``, sheet ``AU+Emotion``: every macro- and
  micro-expression (``Expression type``), no emotion column.
* frames ``RGB/spNO.1/a/color/{n}.jpg`` (unpadded).

Folder names are matched case-insensitively, because the label file writes one video
letter as ``J`` while the folders on disk may be ``j`` (or the other way round): a
folder spelled exactly as the file writes it wins, otherwise the single folder equal to
it ignoring case is used, and two or more such folders (``spno.1`` and ``SPNO.1``) make
that row a recorded drop (a `FrameError` in strict mode) naming every candidate. Clip ids
and ``clip.meta["video"]`` use the video letter lower-cased (``J`` -> ``j_3``), whatever
case the file or the disk uses; ``clip.meta["folder"]`` is the folder actually read.

Known bad rows of the label file (offset 0, apex before onset, onset after apex,
onset = apex = 0) are dropped, unless ``correct=True`` and the full file's matching
micro row (same subject, video and k; same AU) has valid onset/apex/offset: then they
are used and the change is listed in ``index.warnings``. ``macro=True`` adds the full
file's macro-expressions (``clip.meta["expression"] == "macro"``, label = objective
class, as macro rows have no emotion) for the paper's extra-training-data experiment
(its Table 7). They are marked ``clip.meta["train_only"]``, so `hsta_edu.evaluate.run_protocol`
trains on them and never tests on them.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import AnnotationError, ConfigError, DataError
from ..clip import Clip, DatasetIndex
from ..labels import get_scheme
from .frames import FrameFolders, check_phases, clip_frames, find_child
from .rows import LeftOut, RowLog, display
from .sheets import cell_int, cell_text, find_file, path_component, read_table

LABEL_PATTERNS = ("cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", "cas(me)*3*part*A*ME*label*.xls*")
FULL_PATTERNS = ("CAS(ME)3_part_A_v2.xls", "cas(me)*3*part*A*v2.xls*")
LABEL_SHEET, FULL_SHEET = "label", "AU+Emotion"
LABEL_COLUMNS = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion")
FULL_COLUMNS = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type", "Objective class")
FRAME_PATTERN = re.compile(r"^(?P<n>\d+)\.(jpe?g|png)$", re.IGNORECASE)


def casme3_subject(value: object, *, file: str | None = None, row: int | None = None) -> str:
    """'spNO.1', 'spno.1', ' spNO.1 ', '1' -> 'spNO.1'."""
    text = cell_text(value)
    m = re.fullmatch(r"(?:sp\s*no\.?\s*)?(\d{1,4})", text, re.IGNORECASE)
    if not m:
        raise AnnotationError("not a CAS(ME)^3 subject (spNO.1)", file=file, row=row, column="Subject",
                              value=value)
    return f"spNO.{int(m.group(1))}"


def _video(value: object, *, file: str, row: int) -> str:
    """The video letter as the file writes it (stripped; 'J' stays 'J': folders are matched ignoring case)."""
    text = path_component(value, column="Filename", file=file, row=row)
    if not re.fullmatch(r"[A-Za-z]", text):
        raise AnnotationError("video is not a single letter a-m", file=file, row=row, column="Filename",
                              value=value)
    return text


def _phases(rec: dict, file: str, row: int) -> tuple[int, int, int]:
    onset = cell_int(rec.get("onset"), column="Onset", file=file, row=row)
    apex = cell_int(rec.get("apex"), column="Apex", file=file, row=row)
    offset = cell_int(rec.get("offset"), column="Offset", file=file, row=row)
    check_phases(onset, apex, offset, file=file, row=row)
    return onset, apex, offset


def _au_key(value: object) -> str:
    return re.sub(r"\s+", "", cell_text(value).upper())


def load_casme3(root: str | Path, scheme: str = "emotion7", *, correct: bool = False, macro: bool = False,
                strict: bool = False) -> DatasetIndex:
    """Index CAS(ME)^3 part A under ``scheme``: ``emotion7`` (= ``native``), ``megc3``, ``objective``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"CAS(ME)^3 folder not found: {root}")
    label_scheme = get_scheme("casme3", scheme)
    if macro and label_scheme.kind != "objective":
        raise ConfigError("macro=True needs scheme='objective': CAS(ME)3_part_A_v2.xls gives macro-expressions "
                          "objective classes but no emotion")
    ann = find_file(root, LABEL_PATTERNS, "CAS(ME)^3 label file cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx")
    table, warning = read_table(ann, LABEL_COLUMNS, sheet=LABEL_SHEET, header_row=1)
    log = RowLog(ann.name, strict=strict)
    if warning:
        log.warn(warning)
    full_micro: dict[tuple[str, str, int], tuple[int, dict]] = {}
    full_macro: list[tuple[int, dict]] = []
    full_name = None
    if correct or macro:
        full = find_file(root, FULL_PATTERNS, "CAS(ME)^3 full annotation CAS(ME)3_part_A_v2.xls")
        full_name = full.name
        ftable, fwarn = read_table(full, FULL_COLUMNS, sheet=FULL_SHEET, header_row=1)
        if fwarn:
            log.warn(fwarn)
        counter: dict[tuple[str, str], int] = {}
        for row, rec in ftable.rows:
            kind = cell_text(rec.get("expressiontype")).lower()
            if "micro" in kind:
                try:
                    key = (casme3_subject(rec.get("subject")), cell_text(rec.get("filename")).lower())
                except AnnotationError as exc:
                    log.warn(f"{full.name} row {row} ignored: {exc}")
                    continue
                counter[key] = counter.get(key, 0) + 1
                full_micro[(*key, counter[key])] = (row, rec)
            elif "macro" in kind:
                full_macro.append((row, rec))
            else:
                log.drop(row, None, f"unknown Expression type {cell_text(rec.get('expressiontype'))!r}",
                         source=full.name)

    base = find_child(root, ("RGB", "rgb")) or root
    folders = FrameFolders(base, FRAME_PATTERN, root=root)
    file = ann.name
    clips: list[Clip] = []
    ordinal: dict[tuple[str, str], int] = {}

    def frames_of(subject: str, video: str, onset: int, apex: int, offset: int):
        # ``video`` as written: an exact-case folder wins, else the one matching it ignoring case
        folder = folders.find(subject, video, "color")
        return folder, clip_frames(folders.files(folder), onset, apex, offset, folder=folder, root=root)

    for row, rec in table.rows:
        # the ordinal is taken before anything can fail, so ids do not shift when a row is dropped
        key = None
        try:
            key = (casme3_subject(rec.get("subject")), cell_text(rec.get("filename")).lower())
            ordinal[key] = ordinal.get(key, 0) + 1
        except AnnotationError:
            pass
        k = ordinal.get(key, 0) if key else 0

        def make(row=row, rec=rec, k=k) -> Clip:
            subject = casme3_subject(rec.get("subject"), file=file, row=row)
            path_component(rec.get("subject"), column="Subject", file=file, row=row)
            written = _video(rec.get("filename"), file=file, row=row)
            video = written.lower()
            column = "Objective class" if label_scheme.kind == "objective" else "emotion"
            raw_label = rec.get("objectiveclass" if label_scheme.kind == "objective" else "emotion")
            label = label_scheme.assign(raw_label, column=column, file=file, row=row)
            if label is None:
                raise LeftOut(f"label {cell_text(raw_label)!r} is not in scheme {label_scheme.name!r}")
            meta = {"row": row, "video": video, "expression": "micro"}
            try:
                onset, apex, offset = _phases(rec, file, row)
            except AnnotationError as exc:
                fixed = full_micro.get((subject, video, k)) if correct else None
                if fixed is None or _au_key(fixed[1].get("au")) != _au_key(rec.get("au")):
                    raise
                onset, apex, offset = _phases(fixed[1], full_name or "", fixed[0])
                log.warn(f"{file} row {row} ({subject}/{video}_{k}) corrected from {full_name} row "
                         f"{fixed[0]}: {cell_text(rec.get('onset'))}/{cell_text(rec.get('apex'))}/"
                         f"{cell_text(rec.get('offset'))} -> {onset}/{apex}/{offset} ({exc})")
                meta["corrected_from"] = f"{full_name}:{fixed[0]}"
            folder, (paths, numbers, missing) = frames_of(subject, written, onset, apex, offset)
            meta["folder"] = display(folder, root)
            if missing:
                meta["missing_frames"] = missing
                log.warn(f"{subject}/{video}_{k}: {len(missing)} frames missing inside {onset}..{offset}; kept")
            return Clip("casme3", subject, f"{video}_{k}", paths, numbers, onset, apex, offset, label,
                        emotion=cell_text(rec.get("emotion")), aus=cell_text(rec.get("au")), meta=meta)

        clip = log.attempt(row, f"{key[0]}/{key[1]}_{k}" if key else None, make)
        if clip is not None and log.accept_unique(clip, row):
            clips.append(clip)

    if macro:
        objective = get_scheme("casme3", "objective")
        macro_ord: dict[tuple[str, str], int] = {}
        for row, rec in full_macro:
            def make_macro(row=row, rec=rec) -> Clip:
                f = full_name or ""
                subject = casme3_subject(rec.get("subject"), file=f, row=row)
                written = _video(rec.get("filename"), file=f, row=row)
                video = written.lower()
                macro_ord[(subject, video)] = k = macro_ord.get((subject, video), 0) + 1
                label = objective.assign(rec.get("objectiveclass"), column="Objective class", file=f, row=row)
                onset, apex, offset = _phases(rec, f, row)
                folder, (paths, numbers, missing) = frames_of(subject, written, onset, apex, offset)
                return Clip("casme3", subject, f"{video}_macro{k}", paths, numbers, onset, apex, offset,
                            label or "", aus=cell_text(rec.get("au")),
                            meta={"row": row, "video": video, "expression": "macro", "train_only": True,
                                  "folder": display(folder, root), **({"missing_frames": missing} if missing else {})})

            clip = log.attempt(row, None, make_macro, source=full_name)
            if clip is not None and log.accept_unique(clip, row, source=full_name):
                clips.append(clip)

    meta = {"scheme": label_scheme.name, "scheme_rule": label_scheme.describe(), "annotation": str(ann),
            "corrected": correct, "macro": macro}
    return DatasetIndex("casme3", clips, list(label_scheme.classes), log.dropped, root,
                        warnings=log.warnings, meta=meta)

