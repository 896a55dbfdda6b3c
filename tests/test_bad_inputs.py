"""Every bad input of issue 7 gives a package error or a recorded drop/warning naming what it concerns.

The cases are the one list in benchmarks/bad_inputs_table.py, which also turns the same runs into the
table docs/results/bad_inputs.md.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from hsta_edu.errors import HSTAError

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bad_inputs_table", ROOT / "benchmarks" / "bad_inputs_table.py")
bad = importlib.util.module_from_spec(_spec)
sys.modules["bad_inputs_table"] = bad
_spec.loader.exec_module(bad)




@pytest.mark.parametrize("case", bad.CASES, ids=[c.run.__name__.removeprefix("c_") for c in bad.CASES])
def test_bad_input_is_reported_clearly(case, tmp_path):
    out = bad.run_case(case, tmp_path)
    assert out.kind == case.expect, f"{case.label}: expected {case.expect}, got {out.kind} {out.type}: {out.message}"
    if out.kind == "error":
        assert out.exc_type is not None and issubclass(out.exc_type, HSTAError), \
            f"{case.label}: {out.type} is not a package error: {out.message}"
    assert case.concerns in out.message, f"{case.label}: {case.concerns!r} not named in {out.message!r}"


def test_issue_7_list_is_covered():
    labels = " ".join(c.label.lower() for c in bad.CASES)
    for what in ("missing frame", "corrupt", "empty folder", "apex `/`", "apex outside", "onset after apex",
                 "offset 0", "not starting at 1", "unknown emotion", "wrong sheet", "header row", "duplicate",
                 "one clip", "class absent from a training fold", "nan", "wrong-shape", "another configuration",
                 "not divisible by patch", "escaping the dataset root", "truncated cache", "pickled"):
        assert what in labels, what


def test_table_is_generated_from_the_runs(tmp_path):
    outcomes = [bad.run_case(c, tmp_path / str(i)) for i, c in enumerate(bad.CASES[:3])]
    text = bad.table(outcomes)
    assert text.splitlines()[0] == "| bad input | what the user sees (type: message) |"
    assert len(text.splitlines()) == 2 + 3 and "DroppedRow" in text and "FrameError" in text
