"""Property-based tests: any cell value or row gives a value, a recorded drop or a package error."""

import datetime
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hsta_edu.data.clip import Clip
from hsta_edu.data.datasets import load_casme2, load_folder
from hsta_edu.data.datasets.casme2 import casme2_subject
from hsta_edu.data.datasets.casme3 import casme3_subject
from hsta_edu.data.datasets.composite import read_gt
from hsta_edu.data.datasets.frames import check_phases
from hsta_edu.data.datasets.samm import samm_subject
from hsta_edu.data.datasets.sheets import cell_int, cell_text, path_component
from hsta_edu.data.datasets.smic import smic_clip_id, smic_subject
from hsta_edu.errors import HSTAError

_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)
cells = st.one_of(st.none(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
                  st.booleans(), _text, st.sampled_from(["/", "..", "../x", " 46 ", "46.0", "sub01", "spNO.1",
                                                         "s1_ne_01", "4+L10", "Others", "", "0"]),
                  st.just(datetime.datetime(2014, 5, 8)))


@settings(max_examples=300, deadline=None)
@given(cells)
def test_cell_parsers_never_raise_foreign_errors(value):
    assert isinstance(cell_text(value), str)
    for fn in (lambda v: cell_int(v, column="c"), lambda v: path_component(v, column="c"), casme2_subject,
               samm_subject, smic_subject, smic_clip_id, casme3_subject):
        try:
            out = fn(value)
        except HSTAError:
            continue
        assert isinstance(out, (int, str))
        if fn is casme2_subject:
            assert out.startswith("sub")


@given(st.integers(-5, 50), st.integers(-5, 50), st.integers(-5, 50))
def test_check_phases_accepts_exactly_ordered_positive_numbers(onset, apex, offset):
    ok = 1 <= onset <= apex <= offset
    try:
        check_phases(onset, apex, offset)
        assert ok
    except HSTAError:
        assert not ok


_CASME2 = None


def _casme2_root(fx) -> Path:
    """A CASME II tree whose frame folder sub01/EP02_01f holds img46..img50."""
    global _CASME2
    if _CASME2 is None:
        _CASME2 = Path(tempfile.mkdtemp(prefix="hsta-prop-"))
        fx.write_frames(_CASME2 / "CASME2_RAW_selected" / "sub01" / "EP02_01f", [f"img{n}.jpg" for n in range(46, 51)])
    return _CASME2


row_cells = st.fixed_dictionaries({
    "Subject": st.one_of(cells, st.sampled_from([1, "01", "sub01"])),
    "Filename": st.one_of(cells, st.just("EP02_01f")),
    "OnsetFrame": st.one_of(cells, st.integers(44, 52)),
    "ApexFrame": st.one_of(cells, st.integers(44, 52)),
    "OffsetFrame": st.one_of(cells, st.integers(44, 52)),
    "Action Units": cells,
    "Estimated Emotion": st.one_of(cells, st.sampled_from(["disgust", "Others", "happiness", "joy"])),
})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(row_cells, min_size=1, max_size=3))
def test_any_casme2_rows_give_clips_drops_or_package_errors(fx, rows):
    root = _casme2_root(fx)
    fx.write_casme2_xlsx(root / "CASME2-coding-20140508.xlsx", rows)
    for scheme in ("native", "megc2019"):
        try:
            ix = load_casme2(root, scheme=scheme)
        except HSTAError:
            continue
        filled = [r for r in rows if any(cell_text(v) for v in r.values())]   # blank rows carry nothing
        assert len(ix.clips) + len(ix.dropped) == len(filled)         # every row accounted for
        for c in ix.clips:
            assert isinstance(c, Clip) and c.label in ix.classes and c.onset <= c.apex <= c.offset
            assert all(root in p.parents for p in c.frames)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_any_csv_text_gives_an_index_or_a_package_error(fx, tmp_path_factory, text):
    root = tmp_path_factory.mktemp("folder")
    fx.write_frames(root / "a" / "b", ["1.png", "2.png"])
    (root / "annotations.csv").write_text(text, encoding="utf-8")
    try:
        ix = load_folder(root)
        assert len(ix.clips) <= len(text.splitlines())
    except HSTAError:
        pass
    (root / "combined_3class_gt.csv").write_text(text, encoding="utf-8")
    try:
        read_gt(root / "combined_3class_gt.csv")
    except HSTAError:
        pass
    shutil.rmtree(root)
