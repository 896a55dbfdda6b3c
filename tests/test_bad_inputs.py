"""Every bad input of issue 7 gives a package error or a recorded drop/warning naming what it concerns.

The cases are the one list in tests/bad_inputs/cases.py; `python -m tests.bad_inputs` turns the same
runs into the table of the README ("When the input is bad") and docs/results/bad_inputs.md.
"""

from __future__ import annotations

import pytest

from hsta_edu.errors import HSTAError

from . import bad_inputs as bad
from .bad_inputs.table import with_readme_table


@pytest.mark.parametrize("case", bad.CASES, ids=[c.id for c in bad.CASES])
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


def test_readme_table_is_replaced_in_its_section_only():
    readme = ("# T\n\n## Other\n\n| bad input | what the user sees (type: message) |\n|---|---|\n| x | y |\n\n"
              "## When the input is bad\n\nText.\n\n| bad input | what the user sees (type: message) |\n"
              "|---|---|\n| old | row |\n| old | row 2 |\n\n## Next\n")
    new = "| bad input | what the user sees (type: message) |\n|---|---|\n| new | row |"
    out = with_readme_table(readme, new)
    assert out == readme.replace("| old | row |\n| old | row 2 |", "| new | row |")
    assert "| x | y |" in out and out.endswith("\n## Next\n")
    with pytest.raises(ValueError, match="When the input is bad"):
        with_readme_table("# T\n\n## When the input is bad\n\nno table\n\n## Next\n\n" + new + "\n", new)
