"""Miniature CAS(ME)^3 part A: the label file (all text, the documented bad rows, one video letter
written 'J'), the full file with its macro-expressions, and the RGB/ frame folders."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .images import write_frames

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
