"""read_table: every spreadsheet is read with pandas' calamine engine, cells as the loaders expect."""

import datetime
import warnings
import zipfile

import pandas as pd
import pytest

from hsta_edu.data.datasets import sheets
from hsta_edu.data.datasets.sheets import read_table
from hsta_edu.data.examples import (
    SAMM_COLUMNS,
    casme2_rows,
    casme3_rows,
    samm_rows,
    write_casme2_xlsx,
    write_casme3_label_xlsx,
    write_samm_xlsx,
)
from hsta_edu.errors import AnnotationError


@pytest.fixture
def engines(monkeypatch):
    """The engine asked for, and the one pandas used, at every pd.ExcelFile call."""
    calls = []
    real = pd.ExcelFile

    def spy(*args, **kwargs):
        xl = real(*args, **kwargs)
        calls.append((kwargs.get("engine"), xl.engine))
        return xl

    monkeypatch.setattr(pd, "ExcelFile", spy)
    return calls


def _read(path, columns, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no Pandas4Warning (xlrd deprecated, default engine change)
        return read_table(path, columns, **kw)


def _xls(path, lines):
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sh = book.add_sheet("AU+Emotion")
    for i, line in enumerate(lines):
        for j, v in enumerate(line):
            if v is not None:
                sh.write(i, j, v)
    book.save(str(path))
    return path


def test_xlsx_read_with_calamine_numbers_and_blank_columns(tmp_path, engines):
    path = tmp_path / "CASME2-coding-20140508.xlsx"
    write_casme2_xlsx(path, casme2_rows()[:3])
    table, warning = _read(path, ["Subject", "Filename", "OnsetFrame"], sheet="Sheet1")
    assert engines == [("calamine", "calamine")] and warning is None
    assert table.sheets == ["Sheet1", "Sheet2", "Sheet3"] and table.header_row == 1
    assert table.columns == ["Subject", "Filename", "Unnamed: 2", "OnsetFrame", "ApexFrame", "OffsetFrame",
                             "Unnamed: 6", "Action Units", "Estimated Emotion"]
    row, first = table.rows[0]
    assert row == 2
    # Subject is stored as a number (shown '04'): it comes back as the int, not '04' nor 4.0
    assert first["subject"] == 4 and type(first["subject"]) is int
    assert first["filename"] == "EP12_01f" and first["apexframe"] == "/" and first["unnamed:2"] is None
    assert type(first["onsetframe"]) is int
    assert {type(r["actionunits"]) for _, r in table.rows} == {int, str}       # 4 and '4+L10'


def test_samm_preamble_and_text_cells(tmp_path, engines):
    path = tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx"
    write_samm_xlsx(path, samm_rows()[:2])
    table, warning = _read(path, ["Subject", "Filename", "Onset Frame"], sheet="MICRO_ONLY", header_row=14)
    assert engines == [("calamine", "calamine")] and warning is None
    assert table.header_row == 14 and table.columns == SAMM_COLUMNS and [r for r, _ in table.rows] == [15, 16]
    rec = table.rows[0][1]
    assert rec["subject"] == 6 and type(rec["subject"]) is int and rec["notes"] is None

    label = tmp_path / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
    write_casme3_label_xlsx(label, casme3_rows()[0][:5])
    table, _ = _read(label, ["Subject", "Filename", "Onset"], sheet="label")
    assert engines[-1] == ("calamine", "calamine")
    assert {type(v) for _, r in table.rows for v in r.values()} == {str}      # every cell stored as text
    assert table.rows[0][1]["onset"] == "110" and table.rows[0][1]["subject"] == "spNO.40"


def test_xls_read_with_calamine(tmp_path, engines):
    path = _xls(tmp_path / "CAS(ME)3_part_A_v2.xls", [
        [None], ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type", "Objective class"],
        ["spNO.1", "a", 110.0, 111.0, 113.0, "6+12", "macro-expression", "I"],
        ["spNO.1", "J", 1.5, "01", 46, 12, "micro-expression", None],
    ])
    table, warning = _read(path, ["Subject", "Onset", "Expression type"], sheet="AU+Emotion", header_row=2)
    assert engines == [("calamine", "calamine")] and warning is None and table.header_row == 2
    (r3, a), (r4, b) = table.rows
    assert (r3, r4) == (3, 4)
    assert a["onset"] == 110 and type(a["onset"]) is int and a["filename"] == "a"
    assert b["onset"] == 1.5 and b["apex"] == "01" and b["offset"] == 46 and b["au"] == 12
    assert b["filename"] == "J" and b["objectiveclass"] is None


def test_dates_floats_and_empty_cells_as_openpyxl_read_them(tmp_path):
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.append(["Subject", "When", "Score", "Blank", "Space"])
    ws.append([1.0, datetime.datetime(2014, 5, 8), 1.5, None, " 46 "])
    path = tmp_path / "t.xlsx"
    wb.save(path)
    table, _ = _read(path, ["Subject"])
    [(_, rec)] = table.rows
    assert rec == {"subject": 1, "when": datetime.datetime(2014, 5, 8), "score": 1.5, "blank": None,
                   "space": " 46 "}
    assert type(rec["subject"]) is int


@pytest.mark.parametrize("name", ["bad.xlsx", "bad.xls"])
def test_corrupt_spreadsheet_is_an_annotation_error_naming_the_file(tmp_path, name):
    path = tmp_path / name
    path.write_text("Subject,Filename\nnot a spreadsheet\n")
    with pytest.raises(AnnotationError, match=r"cannot read spreadsheet .*" + name) as info:
        _read(path, ["Subject"])
    assert str(path) in str(info.value) and info.value.file == str(path)
    assert info.value.__cause__ is not None                  # the reader's own error is kept as the cause
    path.write_bytes(b"")
    with pytest.raises(AnnotationError, match="cannot read spreadsheet"):
        _read(path, ["Subject"])


def test_corrupt_sheet_inside_a_valid_file(tmp_path):
    good = tmp_path / "good.xlsx"
    write_casme3_label_xlsx(good, casme3_rows()[0][:2])
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as out:
        for name in src.namelist():
            data = src.read(name)
            if name == "xl/worksheets/sheet1.xml":      # a shared-string index past the table's end
                data = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                        b'<sheetData><row r="1"><c r="A1" t="s"><v>9999</v></c></row></sheetData></worksheet>')
            out.writestr(name, data)
    with pytest.raises(AnnotationError, match=r"cannot read sheet 'label' \(CalamineError.*bad\.xlsx"):
        _read(bad, ["Subject"], sheet="label")


def test_reader_panics_become_annotation_errors_but_interrupts_do_not(tmp_path, monkeypatch):
    path = tmp_path / "t.xlsx"
    write_casme3_label_xlsx(path, casme3_rows()[0][:1])

    class PanicException(BaseException):      # what pyo3 raises when calamine's Rust code panics
        pass

    def panic(*a, **kw):
        raise PanicException("index out of bounds")

    monkeypatch.setattr(pd, "read_excel", panic)
    with pytest.raises(AnnotationError, match=r"cannot read sheet 'label' \(PanicException: index out of bounds\)"):
        read_table(path, ["Subject"], sheet="label")

    def interrupt(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(pd, "read_excel", interrupt)
    with pytest.raises(KeyboardInterrupt):
        read_table(path, ["Subject"], sheet="label")
    monkeypatch.setattr(pd, "ExcelFile", interrupt)
    with pytest.raises(KeyboardInterrupt):
        read_table(path, ["Subject"], sheet="label")


def test_loaders_read_xls_without_warnings(tmp_path, engines):
    from hsta_edu.data import examples
    from hsta_edu.data.datasets import load_casme3
    pytest.importorskip("xlwt")
    examples.build_casme3(tmp_path, n_macro=4)
    assert (tmp_path / "CAS(ME)3_part_A_v2.xls").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ix = load_casme3(tmp_path, scheme="objective", correct=True, macro=True)
    assert len(ix) == 864 and {e for e, _ in engines} == {"calamine"} and len(engines) == 2
    assert sheets.EXCEL_ENGINE == "calamine"
