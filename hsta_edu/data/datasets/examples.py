"""Miniature copies of the micro-expression corpora, for teaching and for tests.

The real corpora are licensed, so notebooks and tests cannot ship them. Each ``build_*``
writes, under a folder it is given, the annotation files exactly as the owners distribute
them (sheet names, preamble rows, blank columns, numbers stored as numbers or as text, the
documented quirky rows of shared/datasets.md) and frame folders holding 4x4 images for only
the frames the annotations need. Row counts, emotions and subjects are the real ones, so
the loaders report the real class counts and the MEGC2019 composite built from them has
the official 442 clips from 68 subjects. The pictures are not faces: use the miniatures to
learn the layouts and the loaders, SynthME (`hsta_edu.data.synth`) to train.

    >>> from hsta_edu.data.datasets import examples, load_dataset
    >>> paths = examples.build_examples("/tmp/mini")           # {'casme2': Path, 'samm': ..., ...}
    >>> print(examples.tree(paths["casme2"]))
    >>> load_dataset(paths["composite"]).summary()
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from ...errors import DataError

__all__ = ["build_examples", "tree", "build_casme2", "build_samm", "build_smic", "build_composite",
           "build_casme3", "build_folder", "write_frames", "CORPORA"]

#: What `build_examples` can build, each into a sub-folder of that name.
CORPORA = ("casme2", "samm", "smic", "casme3", "composite", "folder")

# ----------------------------------------------------------------------------- images


@cache
def _image_bytes(ext: str) -> bytes:
    img = (np.arange(16, dtype=np.uint8).reshape(4, 4) * 15)
    ok, buf = cv2.imencode(ext, img)
    if not ok:
        raise DataError(f"OpenCV cannot encode a {ext!r} image")
    return buf.tobytes()


def write_frames(folder: Path, names: list[str]) -> None:
    """A 4x4 grey image under each file name in ``names`` (the format follows the extension)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(_image_bytes(Path(n).suffix.lower()))


# ----------------------------------------------------------------------------- CASME II

CASME2_EMOTIONS = {"others": 99, "disgust": 63, "happiness": 32, "repression": 27, "surprise": 25,
                   "sadness": 7, "fear": 2}
CASME2_SUBJECTS = list(range(1, 27))
CASME2_COMPOSITE_SUBJECTS = [s for s in CASME2_SUBJECTS if s not in (18, 21)]   # 24 subjects
CASME2_QUIRKS = {(4, "EP12_01f"): "apex '/'", (5, "EP09_05f"): "apex = onset"}


def casme2_rows() -> list[dict]:
    """The 255 rows: real emotion counts; disgust/repression/happiness/surprise on 24 subjects."""
    rows: list[dict] = []
    per_subject: Counter = Counter()

    def add(subject: int, emotion: str, filename: str | None = None, apex_rule: str = "") -> None:
        per_subject[subject] += 1
        k = per_subject[subject]
        name = filename or (f"EP{k:02d}_{k % 7 + 1:02d}f" if k % 3 else f"EP{k:02d}_{k % 5 + 1}")
        onset = 40 + 7 * k + subject          # absolute numbers, never 1
        apex: object = onset + 1
        if apex_rule == "slash":
            apex = "/"
        elif apex_rule == "onset":
            apex = onset
        aus = [4, "4+L10", "R12", 12, "1+2", 14][len(rows) % 6]
        rows.append({"Subject": subject, "Filename": name, "OnsetFrame": onset, "ApexFrame": apex,
                     "OffsetFrame": onset + 2, "Action Units": aus, "Estimated Emotion": emotion})

    add(4, "disgust", "EP12_01f", "slash")
    add(5, "disgust", "EP09_05f", "onset")
    main = (["disgust"] * 61 + ["repression"] * 27 + ["happiness"] * 32 + ["surprise"] * 25)
    for i, emo in enumerate(main):
        add(CASME2_COMPOSITE_SUBJECTS[i % 24], emo)
    rest = ["others"] * 99 + ["sadness"] * 7 + ["fear"] * 2
    for i, emo in enumerate(rest):
        add(CASME2_SUBJECTS[i % 26], emo)
    assert len(rows) == 255
    return rows


def write_casme2_xlsx(path: Path, rows: list[dict], sheet: str = "Sheet1") -> None:
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    header = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
              "Estimated Emotion"]
    ws.append(header)
    for r in rows:
        ws.append([r["Subject"], r["Filename"], None, r["OnsetFrame"], r["ApexFrame"], r["OffsetFrame"], None,
                   r["Action Units"], r["Estimated Emotion"]])
        ws.cell(ws.max_row, 1).number_format = "00"        # shown '01', stored as the number 1
    wb.create_sheet("Sheet2")
    wb.create_sheet("Sheet3")
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def build_casme2(root: Path, rows: list[dict] | None = None, *, cropped: bool = False,
                 synth_marker: dict | None = None, objective: bool = True) -> list[dict]:
    """CASME2-coding-20140508.xlsx, CASME2-ObjectiveClasses.xlsx, CASME2_RAW_selected/ (and Cropped/).

    ``rows`` (default `casme2_rows`: the 255 real-count rows with the two quirky ones) may be
    edited to try the loader on other mistakes; ``synth_marker`` adds a SynthME ``synthme.json``.
    """
    from openpyxl import Workbook
    root = Path(root)
    rows = casme2_rows() if rows is None else rows
    root.mkdir(parents=True, exist_ok=True)
    write_casme2_xlsx(root / "CASME2-coding-20140508.xlsx", rows)
    if objective:
        wb = Workbook()
        ws = wb.active
        ws.append(["Subject", "Filename", "Objective Class"])
        for i, r in enumerate(rows):
            ws.append([r["Subject"], r["Filename"], i % 7 + 1])
        wb.save(root / "CASME2-ObjectiveClasses.xlsx")
    (root / "CASME2_RAW_selected").mkdir(exist_ok=True)
    for r in rows:
        try:
            lo, hi = int(r["OnsetFrame"]), int(r["OffsetFrame"])
            sub = f"sub{int(r['Subject']):02d}"
        except (TypeError, ValueError):
            continue
        numbers = range(lo, hi + 1)
        write_frames(root / "CASME2_RAW_selected" / sub / str(r["Filename"]), [f"img{n}.jpg" for n in numbers])
        if cropped:
            write_frames(root / "Cropped" / sub / str(r["Filename"]), [f"reg_img{n}.jpg" for n in numbers])
    if synth_marker is not None:
        (root / "synthme.json").write_text(json.dumps(synth_marker))
    return rows


# ----------------------------------------------------------------------------- SAMM

SAMM_EMOTIONS = {"Anger": 57, "Other": 26, "Happiness": 26, "Surprise": 15, "Contempt": 12, "Disgust": 9,
                 "Fear": 8, "Sadness": 6}
SAMM_SUBJECTS = [s for s in range(6, 38) if s not in (8, 27, 29)]            # 29 subjects
SAMM_COMPOSITE_SUBJECTS = [s for s in SAMM_SUBJECTS if s != 37]              # 28: '037' has only 'Other'
SAMM_COLUMNS = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
                "Duration", "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"]


def samm_rows() -> list[dict]:
    """The 159 rows (real emotion counts, 29 subjects), sorted; frame-number padding alternates 5/4."""
    rows: list[dict] = []
    per: Counter = Counter()

    def add(subject: int, emotion: str) -> None:
        per[subject] += 1
        k = per[subject]
        width = 5 if len(rows) % 2 == 0 else 4
        onset = (1000 if width == 5 else 100) + 11 * k + subject      # '01117' / '0128': padded
        rows.append({"Subject": subject, "Filename": f"{subject:03d}_{k % 7 + 1}_{k}", "Inducement Code": k % 7 + 1,
                     "Onset Frame": onset, "Apex Frame": onset + 1, "Offset Frame": onset + 2, "Duration": 3,
                     "Micro": "Micro", "Action Units": ["A14C", 4, "T23", "R12+14", 7][len(rows) % 5],
                     "Estimated Emotion": emotion, "Objective Classes": len(rows) % 7 + 1, "Notes": None,
                     "_width": width})

    non_other = [e for e, n in SAMM_EMOTIONS.items() if e != "Other" for _ in range(n)]
    for i, emo in enumerate(non_other):
        add(SAMM_COMPOSITE_SUBJECTS[i % 28], emo)
    for i in range(26):
        add(SAMM_SUBJECTS[i % 29] if i < 25 else 37, "Other")
    add_sorted = sorted(rows, key=lambda r: (r["Subject"], r["Filename"]))
    assert len(add_sorted) == 159
    return add_sorted


def write_samm_xlsx(path: Path, rows: list[dict], *, sheet: str = "MICRO_ONLY", preamble: int = 13) -> None:
    """The SAMM workbook: a first sheet, then ``sheet`` with ``preamble`` note rows above the header."""
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = "FACS_CODES"          # the file has other sheets before MICRO_ONLY
    ws.append(["all movements"])
    ws2 = wb.create_sheet(sheet)
    notes = ["SAMM micro-expression FACS codes, version 2", None, "Key:", "A = asymmetric", "T = tight",
             "R = right", "L = left", "B = bilateral", None, "Onset/Apex/Offset are frame numbers",
             "Objective classes: Davison et al. 2018", None, None]
    for i in range(preamble):
        ws2.append([notes[i % len(notes)]])
    ws2.append(SAMM_COLUMNS)
    for r in rows:
        ws2.append([r.get(c) for c in SAMM_COLUMNS])
        ws2.cell(ws2.max_row, 1).number_format = "000"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def build_samm(root: Path, rows: list[dict] | None = None) -> list[dict]:
    """SAMM_Micro_FACS_Codes_v2.xlsx and SAMM/006/006_1_2/006_01117.jpg frame folders."""
    root = Path(root)
    rows = samm_rows() if rows is None else rows
    write_samm_xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", rows)
    for r in rows:
        s = f"{int(r['Subject']):03d}"
        w = r.get("_width", 5)
        write_frames(root / "SAMM" / s / r["Filename"],
                     [f"{s}_{n:0{w}d}.jpg" for n in range(int(r["Onset Frame"]), int(r["Offset Frame"]) + 1)])
    return rows


# ----------------------------------------------------------------------------- SMIC

SMIC_HS_SUBJECTS = [1, 2, 3, 4, 5, 6, 8, 9, 11, 12, 13, 14, 15, 18, 19, 20]
#: VIS and NIR were recorded for the last 10 subjects only (s11..s20).
SMIC_VIS_NIR_SUBJECTS = [s for s in SMIC_HS_SUBJECTS if s >= 11]
SMIC_HS_COUNTS = {"negative": 70, "positive": 51, "surprise": 43}
_SMIC_ABBR = {"negative": "ne", "positive": "po", "surprise": "sur"}


def smic_clips() -> list[tuple[int, str, str]]:
    """(subject number, label, folder name 's1_ne_01') for the 164 HS clips."""
    out = []
    per: Counter = Counter()
    i = 0
    for label, n in SMIC_HS_COUNTS.items():
        for _ in range(n):
            s = SMIC_HS_SUBJECTS[i % 16]
            i += 1
            per[(s, label)] += 1
            out.append((s, label, f"s{s}_{_SMIC_ABBR[label]}_{per[(s, label)]:02d}"))
    return out


def build_smic(root: Path, clips: list[tuple[int, str, str]] | None = None, *, release: str = "cropped",
               gap_clip: str | None = "s3_po_01", variants: tuple[str, ...] = ("HS",)) -> list[tuple[int, str, str]]:
    """SMIC_all_cropped/HS/s1/micro/negative/s1_ne_01/reg_image036237.bmp, plus non_micro/ and s7 without micro/.

    HS has the real 164 clips (70/51/43, 16 subjects), one of them (``gap_clip``) missing a
    frame. ``variants`` may add "VIS" and "NIR": the HS clips of subjects s11..s20 (the
    subjects those cameras recorded); their counts are illustrative, not the real ones.
    """
    root = Path(root)
    clips = smic_clips() if clips is None else clips
    for variant in variants:
        if variant.upper() not in ("HS", "VIS", "NIR"):
            raise DataError(f"SMIC variant must be HS, VIS or NIR, got {variant!r}")
        if variant.upper() != "HS":
            _build_smic_variant(root, [c for c in clips if c[0] in SMIC_VIS_NIR_SUBJECTS], release,
                                variant.upper())
    if "HS" not in (v.upper() for v in variants):
        return clips
    top = root / ("SMIC_all_cropped" if release == "cropped" else "SMIC_all_raw") / "HS"
    prefix = "reg_image" if release == "cropped" else "image"
    for j, (s, label, name) in enumerate(clips):
        start = 36000 + 50 * j
        numbers = [start, start + 1, start + 2, start + 3]
        if name == gap_clip:
            numbers.remove(start + 2)          # "a few clips missing one or two frames"
        write_frames(top / f"s{s}" / "micro" / label / name, [f"{prefix}{n:06d}.bmp" for n in numbers])
    write_frames(top / "s1" / "non_micro" / "s1_nm_01", [f"{prefix}000001.bmp"])
    write_frames(top / "s7" / "non_micro" / "s7_nm_01", [f"{prefix}000001.bmp"])
    return clips


def _build_smic_variant(root: Path, clips: list[tuple[int, str, str]], release: str, variant: str) -> None:
    top = root / ("SMIC_all_cropped" if release == "cropped" else "SMIC_all_raw") / variant
    prefix = "reg_image" if release == "cropped" else "image"
    for j, (s, label, name) in enumerate(clips):
        start = 9000 + 20 * j                                   # 25 fps: fewer frames per clip
        write_frames(top / f"s{s}" / "micro" / label / name, [f"{prefix}{n:06d}.bmp" for n in range(start, start + 3)])


# ----------------------------------------------------------------------------- composite

def build_composite(root: Path, *, casme2_cropped: bool = False,
                    smic_variants: tuple[str, ...] = ("HS",)) -> dict:
    """The three corpora under root/CASME2, root/SAMM_v2, root/SMIC and combined_3class_gt.csv.

    The ground truth is written as the challenge distributes it (no header, CRLF, subjects
    ``sub01`` / ``6`` / ``s01``), from the challenge's own rule, independently of the loaders.
    ``casme2_cropped`` and ``smic_variants`` are passed to `build_casme2` and `build_smic`.
    """
    root = Path(root)
    c2 = build_casme2(root / "CASME2", cropped=casme2_cropped)
    sm = build_samm(root / "SAMM_v2")
    sc = build_smic(root / "SMIC", variants=smic_variants)
    lab = {"negative": 0, "positive": 1, "surprise": 2}
    neg_c2 = {"disgust", "repression"}
    neg = {"anger", "contempt", "disgust", "fear", "sadness", "repression"}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    for r in c2:
        e = r["Estimated Emotion"]
        if (r["Subject"], r["Filename"]) in CASME2_QUIRKS:
            continue
        cls = "negative" if e in neg_c2 else "positive" if e == "happiness" else "surprise" if e == "surprise" else None
        if cls:
            w.writerow(["casme2", f"sub{r['Subject']:02d}", r["Filename"], lab[cls]])
    for r in sm:
        e = r["Estimated Emotion"].lower()
        cls = "negative" if e in neg else "positive" if e == "happiness" else "surprise" if e == "surprise" else None
        if cls:
            w.writerow(["samm", str(r["Subject"]), r["Filename"], lab[cls]])
    for s, label, name in sc:
        num = name.split("_", 1)[1]
        w.writerow(["smic", f"s{s:02d}", f"s{s:02d}_{num}", lab[label]])
    (root / "combined_3class_gt.csv").write_bytes(out.getvalue().encode())
    return {"casme2": c2, "samm": sm, "smic": sc}


# ----------------------------------------------------------------------------- CAS(ME)^3

CASME3_EMOTIONS = {"disgust": 250, "surprise": 187, "others": 158, "Others": 3, "fear": 86, "anger": 64,
                   "sad": 57, "happy": 55}
_ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII"]


def casme3_subjects() -> list[int]:
    """94 subject numbers between 1 and 217, not contiguous, including 40, 149 and 216 (the quirky rows)."""
    picks = sorted({1 + (i * 216) // 93 for i in range(94)} - {40, 149, 216})
    chosen = sorted(set(picks[:91]) | {40, 149, 216})
    assert len(chosen) == 94 and chosen[-1] <= 217
    return chosen


def casme3_rows() -> tuple[list[dict], list[dict]]:
    """(label-file rows as written, the same rows as the full file corrects them): 860 each."""
    subjects = casme3_subjects()
    emotions = [e for e, n in CASME3_EMOTIONS.items() for _ in range(n)]
    rows, fixed = [], []
    per: Counter = Counter()
    apex_eq = 0
    for i, emo in enumerate(emotions):
        s = subjects[i % 94]
        video = "abcdefghijklm"[(i // 94) % 13]
        per[(s, video)] += 1
        k = per[(s, video)]
        onset = 100 + 10 * k
        apex = onset + 1
        if apex_eq < 55 and i % 15 == 7:
            apex, apex_eq = onset, apex_eq + 1
        r = {"Subject": f"spNO.{s}", "Filename": video, "Onset": onset, "Apex": apex, "Offset": onset + 3,
             "AU": ["L4+R4", "12", "1+2", "AU14", "R10"][i % 5], "Objective class": _ROMAN[i % 7], "emotion": emo}
        rows.append(r)
        fixed.append(dict(r))
    assert apex_eq == 55

    def set_row(idx: int, subject: str, video: str, bad: dict) -> None:
        rows[idx].update({"Subject": subject, "Filename": video, **bad})
        fixed[idx].update({"Subject": subject, "Filename": video})
    # the documented bad rows (their subject/video slots are made unique below)
    set_row(0, "spNO.40", "e", {"Offset": 0})
    set_row(1, "spNO.40", "e", {"Offset": 0})
    set_row(2, "spNO.149", "d", {"Onset": 112, "Apex": 83, "Offset": 140})
    set_row(3, "spNO.216", "d", {"Onset": 3647, "Apex": 2668, "Offset": 3700})
    set_row(4, "spNO.216", "e", {"Onset": 0, "Apex": 0})
    for idx, (on, ap, off) in enumerate([(500, 502, 505), (600, 601, 604), (80, 83, 90), (2600, 2668, 2700),
                                         (700, 702, 705)]):
        fixed[idx].update({"Onset": on, "Apex": ap, "Offset": off})
    rows[4]["Offset"] = 705
    # the label file writes one video letter upper-case, 'J', while its folder on disk is 'j'
    jdx = next(i for i, r in enumerate(rows) if i > 4 and r["Filename"] == "j")
    rows[jdx]["Filename"] = fixed[jdx]["Filename"] = "J"
    # renumber nothing else: ordinal ids are per (subject, video) in file order
    return rows, fixed


CASME3_LABEL_COLUMNS = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]


def write_casme3_label_xlsx(path: Path, rows: list[dict], sheet: str = "label") -> None:
    """The CAS(ME)^3 label workbook: sheet ``label``, every cell stored as text (as distributed)."""
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(CASME3_LABEL_COLUMNS)
    for r in rows:
        ws.append([str(r[c]) for c in CASME3_LABEL_COLUMNS])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def build_casme3(root: Path, *, n_macro: int = 3346, full_file: bool = True) -> tuple[list[dict], list[dict], list[dict]]:
    """cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx (all text), CAS(ME)3_part_A_v2.xls, RGB/ frames.

    Returns (label rows as written, the same rows as the full file corrects them, macro rows).
    As in the real file one row writes its video letter as ``J`` while the folder on disk
    is ``RGB/spNO.x/j`` (every frame folder is lower-case). The full file is written as
    .xls with ``xlwt`` when it is installed (as distributed), otherwise as
    ``CAS(ME)3_part_A_v2.xlsx`` with the same sheet (the loader reads both).
    """
    root = Path(root)
    rows, fixed = casme3_rows()
    write_casme3_label_xlsx(root / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", rows)
    subjects = casme3_subjects()
    macro = []
    for i in range(n_macro):
        s = subjects[i % 94]
        # macro rows reuse frames the micro rows already need (videos b..i hold frames 110..113 for every subject)
        macro.append({"Subject": f"spNO.{s}", "Filename": "bcdefghi"[i % 8], "Onset": 110,
                      "Apex": 111, "Offset": 113, "AU": "6+12",
                      "Expression type": "macro-expression", "Objective class": _ROMAN[i % 7]})
    if full_file:
        fcols = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type", "Objective class"]
        allrows = macro[: n_macro // 2] + [dict(f, **{"Expression type": "micro-expression"}) for f in fixed] \
            + macro[n_macro // 2:]
        table = [fcols] + [[float(r[c]) if c in ("Onset", "Apex", "Offset") else str(r[c]) for c in fcols]
                           for r in allrows]
        _write_full_casme3(root, table)
    need: dict[tuple[str, str], set[int]] = {}
    for r in fixed:
        need.setdefault((r["Subject"], r["Filename"].lower()), set()).update(
            range(int(r["Onset"]), int(r["Offset"]) + 1))
    for (s, v), numbers in need.items():          # folders lower-case: 'J' in the file, RGB/spNO.x/j on disk
        write_frames(root / "RGB" / s / v / "color", [f"{n}.jpg" for n in sorted(numbers)])
    return rows, fixed, macro


# ----------------------------------------------------------------------------- your own folder

def _write_full_casme3(root: Path, table: list[list]) -> Path:
    try:
        import xlwt
    except ImportError:
        from openpyxl import Workbook
        wb = Workbook()
        ws = wb.active
        ws.title = "AU+Emotion"
        for line in table:
            ws.append(line)
        path = root / "CAS(ME)3_part_A_v2.xlsx"
        wb.save(path)
        return path
    book = xlwt.Workbook()
    sh = book.add_sheet("AU+Emotion")
    for i, line in enumerate(table):
        for j, v in enumerate(line):
            sh.write(i, j, v)
    path = root / "CAS(ME)3_part_A_v2.xls"
    book.save(str(path))
    return path


def build_folder(root: Path) -> str:
    """annotations.csv + frame folders numbered from 0 and from 120 (not from 1); returns the CSV text."""
    root = Path(root)
    write_frames(root / "alice" / "clip01", [f"frame_{n:04d}.png" for n in range(0, 6)])
    write_frames(root / "alice" / "clip02", [f"frame_{n:04d}.png" for n in range(0, 4)])
    write_frames(root / "bob" / "take3", [f"{n:06d}.jpg" for n in range(120, 126)])
    text = ("subject,clip,label,onset,apex,offset,folder,aus\n"
            "alice,clip01,happy,0,2,5,,12\n"
            "alice,clip02,sad,,,,,\n"
            "bob,take3,happy,121,123,125,bob/take3,6+12\n")
    (root / "annotations.csv").write_text(text)
    return text


# ----------------------------------------------------------------------------- all of them, and a tree view

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
