"""The loaders' shared skeleton: RowLog.collect / index, and the small row helpers."""

from pathlib import Path

import pytest

from hsta_edu.data.clip import Clip
from hsta_edu.data.datasets.casme2 import casme2_subject
from hsta_edu.data.datasets.frames import read_phases
from hsta_edu.data.datasets.rows import Candidate, LeftOut, RowLog, assign_label, dataset_root, row_clip
from hsta_edu.data.labels import get_scheme
from hsta_edu.errors import AnnotationError, DataError


def _clip(clip_id: str, label: str = "x") -> Clip:
    return Clip("folder", "s1", clip_id, (Path("a.jpg"),), (1,), 1, 1, 1, label)


def _bad() -> Clip:
    raise AnnotationError("bad cell", file="t.csv", row=3)


def _left_out() -> Clip:
    raise LeftOut("not in the scheme")


def test_collect_keeps_order_drops_errors_left_outs_and_duplicates():
    log = RowLog("t.csv")
    clips = log.collect([Candidate(2, "s1/a", lambda: _clip("a")), Candidate(3, "s1/b", _bad),
                         Candidate(4, "s1/c", _left_out, source="other.csv"),
                         Candidate(5, "s1/a", lambda: _clip("a")), Candidate(6, "s1/d", lambda: _clip("d"))])
    assert [c.clip_id for c in clips] == ["a", "d"]
    assert [(d.source, d.row, d.clip) for d in log.dropped] == [
        ("t.csv", 3, "s1/b"), ("other.csv", 4, "s1/c"), ("t.csv", 5, "s1/a")]
    assert log.dropped[1].reason == "not in the scheme" and "first seen at row 2" in log.dropped[2].reason


def test_collect_is_lazy_and_strict_raises_but_not_for_left_out():
    log = RowLog("t.csv", strict=True)

    def rows():
        yield Candidate(2, None, _left_out)
        log.warn("walked past row 2")
        yield Candidate(3, None, _bad)
    with pytest.raises(AnnotationError, match="bad cell"):
        log.collect(rows())
    assert log.warnings == ["walked past row 2"] and len(log.dropped) == 1


def test_gaps_and_index():
    log = RowLog("t.csv")
    meta: dict = {}
    log.gaps(meta, [], "never said")
    assert meta == {} and log.warnings == []
    log.gaps(meta, [4], "s1/a: 1 frames missing")
    assert meta == {"missing_frames": [4]} and log.warnings == ["s1/a: 1 frames missing"]
    open_scheme = get_scheme("folder", "native")
    index = log.index("folder", [_clip("a", "sad"), _clip("b", "happy")], open_scheme, None, annotation="t.csv")
    assert index.classes == ["happy", "sad"] and index.warnings == log.warnings
    assert list(index.meta) == ["scheme", "scheme_rule", "annotation"] and index.meta["scheme"] == "native"
    assert log.index("samm", [], get_scheme("samm", "megc3"), None).classes == ["negative", "positive", "surprise"]


def test_assign_label_row_clip_dataset_root_read_phases(tmp_path):
    megc = get_scheme("samm", "megc3")
    assert assign_label(megc, "Anger", column="Estimated Emotion") == "negative"
    with pytest.raises(LeftOut, match="label 'Other' is not in scheme 'megc3'"):
        assign_label(megc, " Other ", column="Estimated Emotion")
    with pytest.raises(AnnotationError):
        assign_label(megc, "joy", column="Estimated Emotion")
    assert row_clip(4, "EP12_01f", casme2_subject) == "sub04/EP12_01f"
    assert row_clip("x", "EP12_01f", casme2_subject) == "x/EP12_01f"
    assert row_clip(None, None, casme2_subject) is None
    assert dataset_root(str(tmp_path), "SAMM") == tmp_path
    with pytest.raises(DataError, match="SAMM folder not found"):
        dataset_root(tmp_path / "missing", "SAMM")
    rec = {"onsetframe": 10, "apexframe": "12", "offsetframe": 14.0}
    assert read_phases(rec, ("Onset Frame", "Apex Frame", "Offset Frame")) == (10, 12, 14)
    with pytest.raises(AnnotationError, match="ApexFrame"):
        read_phases(dict(rec, apexframe="/"), ("OnsetFrame", "ApexFrame", "OffsetFrame"), file="f.xlsx", row=3)
    with pytest.raises(AnnotationError, match="after apex"):
        read_phases(dict(rec, onsetframe=13), ("OnsetFrame", "ApexFrame", "OffsetFrame"))
