"""Miniature SAMM: the MICRO_ONLY sheet below its 13-row preamble, and frame folders whose numbers
are zero-padded to a width that alternates between clips (5 and 4)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .images import write_frames

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
