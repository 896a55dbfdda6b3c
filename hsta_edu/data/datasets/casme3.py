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
(its Table 7). They are marked ``clip.meta["train_only"]``, so `hsta_edu.runs.run_protocol`
trains on them and never tests on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ...errors import AnnotationError, ConfigError
from ..clip import Clip, DatasetIndex
from ..labels import LabelScheme, get_scheme
from .frames import FrameFolders, find_child, read_phases
from .rows import Candidate, RowLog, assign_label, dataset_root, display
from .sheets import cell_text, find_file, path_component

LABEL_PATTERNS = ("cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", "cas(me)*3*part*A*ME*label*.xls*")
FULL_PATTERNS = ("CAS(ME)3_part_A_v2.xls", "cas(me)*3*part*A*v2.xls*")
LABEL_SHEET, FULL_SHEET = "label", "AU+Emotion"
LABEL_COLUMNS = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion")
FULL_COLUMNS = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type", "Objective class")
PHASE_COLUMNS = ("Onset", "Apex", "Offset")
FRAME_PATTERN = re.compile(r"^(?P<n>\d+)\.(jpe?g|png)$", re.IGNORECASE)
MACRO_SCHEME = get_scheme("casme3", "objective")      # macro rows have objective classes, no emotion


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


def _au_key(value: object) -> str:
    return re.sub(r"\s+", "", cell_text(value).upper())


def load_casme3(root: str | Path, scheme: str = "emotion7", *, correct: bool = False, macro: bool = False,
                strict: bool = False) -> DatasetIndex:
    """Index CAS(ME)^3 part A under ``scheme``: ``emotion7`` (= ``native``), ``megc3``, ``objective``."""
    root = dataset_root(root, "CAS(ME)^3")
    label_scheme = get_scheme("casme3", scheme)
    if macro and label_scheme.kind != "objective":
        raise ConfigError("macro=True needs scheme='objective': CAS(ME)3_part_A_v2.xls gives macro-expressions "
                          "objective classes but no emotion")
    ann = find_file(root, LABEL_PATTERNS, "CAS(ME)^3 label file cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx")
    log = RowLog(ann.name, strict=strict)
    table = log.read(ann, LABEL_COLUMNS, sheet=LABEL_SHEET, header_row=1)
    full = _read_full(root, log) if correct or macro else _Full()
    folders = FrameFolders(find_child(root, ("RGB", "rgb")) or root, FRAME_PATTERN, root=root)
    rules = _Rows(ann.name, label_scheme, full if correct else _Full(full.name), folders, log)
    clips = log.collect(_micro_candidates(table.rows, rules))
    if macro:
        clips += log.collect(Candidate(row, None, partial(rules.macro_clip, row, rec), full.name)
                             for row, rec in full.macro)
    return log.index("casme3", clips, label_scheme, root, annotation=str(ann), corrected=correct, macro=macro)


@dataclass(frozen=True)
class _Full:
    """What the full file CAS(ME)3_part_A_v2.xls adds: its micro rows by (subject, video, k), its macro rows."""
    name: str | None = None
    micro: dict[tuple[str, str, int], tuple[int, dict]] = field(default_factory=dict)
    macro: list[tuple[int, dict]] = field(default_factory=list)


def _read_full(root: Path, log: RowLog) -> _Full:
    path = find_file(root, FULL_PATTERNS, "CAS(ME)^3 full annotation CAS(ME)3_part_A_v2.xls")
    full = _Full(path.name)
    counter: dict[tuple[str, str], int] = {}
    for row, rec in log.read(path, FULL_COLUMNS, sheet=FULL_SHEET, header_row=1).rows:
        kind = cell_text(rec.get("expressiontype")).lower()
        if "micro" in kind:
            try:
                key = (casme3_subject(rec.get("subject")), cell_text(rec.get("filename")).lower())
            except AnnotationError as exc:
                log.warn(f"{path.name} row {row} ignored: {exc}")
                continue
            counter[key] = counter.get(key, 0) + 1
            full.micro[(*key, counter[key])] = (row, rec)
        elif "macro" in kind:
            full.macro.append((row, rec))
        else:
            log.drop(row, None, f"unknown Expression type {cell_text(rec.get('expressiontype'))!r}",
                     source=path.name)
    return full


def _micro_candidates(rows: list[tuple[int, dict]], rules: _Rows) -> Iterator[Candidate]:
    """The label file's rows, each with its ordinal k among the rows of its (subject, video)."""
    ordinal: dict[tuple[str, str], int] = {}
    for row, rec in rows:
        # the ordinal is taken before anything can fail, so ids do not shift when a row is dropped
        key = None
        try:
            key = (casme3_subject(rec.get("subject")), cell_text(rec.get("filename")).lower())
            ordinal[key] = ordinal.get(key, 0) + 1
        except AnnotationError:
            pass
        k = ordinal.get(key, 0) if key else 0
        yield Candidate(row, f"{key[0]}/{key[1]}_{k}" if key else None, partial(rules.micro_clip, row, rec, k))


@dataclass(frozen=True)
class _Rows:
    """CAS(ME)^3's rules for one row of the label file (micro) or of the full file (macro)."""
    file: str
    scheme: LabelScheme
    full: _Full                       # its micro rows are the corrections (none unless correct=True)
    folders: FrameFolders
    log: RowLog
    macro_ordinal: dict[tuple[str, str], int] = field(default_factory=dict)

    def micro_clip(self, row: int, rec: dict, k: int) -> Clip:
        file, objective = self.file, self.scheme.kind == "objective"
        subject = casme3_subject(rec.get("subject"), file=file, row=row)
        path_component(rec.get("subject"), column="Subject", file=file, row=row)
        written = _video(rec.get("filename"), file=file, row=row)
        video = written.lower()
        label = assign_label(self.scheme, rec.get("objectiveclass" if objective else "emotion"),
                             column="Objective class" if objective else "emotion", file=file, row=row)
        meta = {"row": row, "video": video, "expression": "micro"}
        try:
            onset, apex, offset = read_phases(rec, PHASE_COLUMNS, file=file, row=row)
        except AnnotationError as exc:
            fixed = self.full.micro.get((subject, video, k))
            if fixed is None or _au_key(fixed[1].get("au")) != _au_key(rec.get("au")):
                raise
            onset, apex, offset = read_phases(fixed[1], PHASE_COLUMNS, file=self.full.name or "", row=fixed[0])
            self.log.warn(f"{file} row {row} ({subject}/{video}_{k}) corrected from {self.full.name} row "
                          f"{fixed[0]}: {cell_text(rec.get('onset'))}/{cell_text(rec.get('apex'))}/"
                          f"{cell_text(rec.get('offset'))} -> {onset}/{apex}/{offset} ({exc})")
            meta["corrected_from"] = f"{self.full.name}:{fixed[0]}"
        folder, (paths, numbers, missing) = self._frames(subject, written, onset, apex, offset)
        meta["folder"] = display(folder, self.folders.root)
        self.log.gaps(meta, missing, f"{subject}/{video}_{k}: {len(missing)} frames missing inside "
                                     f"{onset}..{offset}; kept")
        # apex = onset is how this corpus annotates some clips (55 of 860): kept without a warning
        return self.log.checked(Clip("casme3", subject, f"{video}_{k}", paths, numbers, onset, apex, offset, label,
                                     emotion=cell_text(rec.get("emotion")), aus=cell_text(rec.get("au")),
                                     meta=meta), row=row, flat_ok=True)

    def macro_clip(self, row: int, rec: dict) -> Clip:
        f = self.full.name or ""
        subject = casme3_subject(rec.get("subject"), file=f, row=row)
        written = _video(rec.get("filename"), file=f, row=row)
        video = written.lower()
        self.macro_ordinal[(subject, video)] = k = self.macro_ordinal.get((subject, video), 0) + 1
        label = MACRO_SCHEME.assign(rec.get("objectiveclass"), column="Objective class", file=f, row=row)
        onset, apex, offset = read_phases(rec, PHASE_COLUMNS, file=f, row=row)
        folder, (paths, numbers, missing) = self._frames(subject, written, onset, apex, offset)
        return self.log.checked(Clip("casme3", subject, f"{video}_macro{k}", paths, numbers, onset, apex, offset,
                                     label or "", aus=cell_text(rec.get("au")),
                                     meta={"row": row, "video": video, "expression": "macro", "train_only": True,
                                           "folder": display(folder, self.folders.root),
                                           **({"missing_frames": missing} if missing else {})}),
                                row=row, file=f, flat_ok=True)

    def _frames(self, subject: str, video: str, onset: int, apex: int, offset: int):
        # ``video`` as written: an exact-case folder wins, else the one matching it ignoring case
        folder = self.folders.find(subject, video, "color")
        return folder, self.folders.frames(folder, onset, apex, offset)
