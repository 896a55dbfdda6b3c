import pytest

from hsta_edu.data.datasets import load_samm
from hsta_edu.errors import AnnotationError


def test_native_counts_subjects_and_pad_width(composite_root):
    ix = load_samm(composite_root / "SAMM_v2")
    assert len(ix) == 159 and not ix.dropped
    assert ix.class_counts() == {"anger": 57, "contempt": 12, "disgust": 9, "fear": 8, "happiness": 26,
                                 "other": 26, "sadness": 6, "surprise": 15}
    subjects = {c.subject for c in ix.clips}
    assert len(subjects) == 29 and "006" in subjects and all(len(s) == 3 for s in subjects)
    assert {c.meta["pad_width"] for c in ix.clips} == {4, 5}          # detected per clip from the files
    c = next(c for c in ix.clips if c.meta["pad_width"] == 4)
    assert c.frames[0].name == f"{c.subject}_{c.onset:04d}.jpg"
    assert {c.emotion for c in ix.clips} >= {"Anger", "Other"}         # native text kept as written
    assert ix.meta["header_row"] == 14


@pytest.mark.parametrize("scheme", ["megc3", "megc2019", "broad3"])
def test_three_class_schemes_and_objective(composite_root, scheme):
    ix = load_samm(composite_root / "SAMM_v2", scheme=scheme)
    assert ix.class_counts() == {"negative": 92, "positive": 26, "surprise": 15}   # SAMM: one rule for all
    assert f"scheme {scheme}: negative = anger, contempt, disgust, fear, repression, sadness" in ix.summary()
    assert len({c.subject for c in ix.clips}) == 28
    assert all("'Other'" in d.reason for d in ix.dropped) and len(ix.dropped) == 26
    assert sum(load_samm(composite_root / "SAMM_v2", scheme="objective").class_counts().values()) == 159


def test_header_moved_is_found_with_a_warning(tmp_path, fx):
    rows = fx.samm_rows()[:3]
    fx.build_samm(tmp_path, rows)
    fx.write_samm_xlsx(tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx", rows, preamble=10)
    ix = load_samm(tmp_path)
    assert len(ix) == 3 and "row 11" in ix.warnings[0]


def test_wrong_sheet_lists_the_sheets(tmp_path, fx):
    rows = fx.samm_rows()[:2]
    fx.build_samm(tmp_path, rows)
    fx.write_samm_xlsx(tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx", rows, sheet="MICRO")
    with pytest.raises(AnnotationError, match=r"'MICRO_ONLY' not found; sheets found: \['FACS_CODES', 'MICRO'\]"):
        load_samm(tmp_path)


def test_no_preamble_still_reads_and_missing_columns_error(tmp_path, fx):
    rows = fx.samm_rows()[:2]
    fx.build_samm(tmp_path, rows)
    fx.write_samm_xlsx(tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx", [{k: v for k, v in r.items()} for r in rows],
                       preamble=0)
    assert len(load_samm(tmp_path)) == 2
    from openpyxl import Workbook
    wb = Workbook()
    wb.active.title = "MICRO_ONLY"
    for _ in range(13):
        wb.active.append(["note"])
    wb.active.append(["Subject", "Filename", "Onset"])
    wb.save(tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx")
    with pytest.raises(AnnotationError, match="expected at row 14"):
        load_samm(tmp_path)
