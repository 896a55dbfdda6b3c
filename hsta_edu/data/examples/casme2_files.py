"""Miniature CASME II: the coding sheet as distributed (numbers stored as numbers, blank columns,
the two quirky rows), the objective-class file and the frame folders the rows need."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from .images import write_frames

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
