"""Every tutorial opens with the same header and ends with exercises whose solutions are hidden.

Header (cell 0): cites the paper (title, authors, year, arXiv link; and the reference code's repository), lists what a
learner should know or have run first ("Prerequisites", at least one item) and what they will learn.
End: at least two exercises, each a markdown cell that starts with an "Exercise N" heading or bold
label and states its goal, followed at once by a code cell holding the solution, collapsed in
JupyterLab / Notebook 7 (``metadata.jupyter.source_hidden``) and tagged ``solution``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PAPER_TITLE = "Hierarchical Space-Time Attention for Micro-Expression Recognition"
REFERENCE_REPO = "OceanSummerDay/HSTA_MER"
CITATION = ("Hao, Wang, Ben, Hao, Wang and Wang", "arXiv:2405.03202 (2024)", "https://arxiv.org/abs/2405.03202")
EXERCISE = re.compile(r"^(?:#{1,6}\s*|\*\*)Exercise\s+(\d+)\b")


def _cells(nb: Path) -> list[dict]:
    return json.loads(nb.read_text(encoding="utf-8"))["cells"]


def _text(cell: dict) -> str:
    return "".join(cell["source"])


def _items_after(label: str, text: str) -> list[str]:
    """The list items that follow a heading or bold label (e.g. '**Prerequisites**'), up to a blank line."""
    lines = text.splitlines()
    pattern = re.compile(rf"^\s*(?:#{{1,6}}\s*{label}\b|\*\*{label}\**\s*:?\**\s*$)", re.IGNORECASE)
    start = next((i for i, line in enumerate(lines) if pattern.match(line)), None)
    if start is None:
        return []
    items = []
    for line in lines[start + 1:]:
        if not line.strip():
            if items:
                break
            continue
        if not re.match(r"^\s*(?:[-*+]|\d+\.)\s+\S", line):
            if items and line.startswith(" "):    # an item continued on the next line
                continue
            break
        items.append(line.strip())
    return items


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 7, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_header_cites_the_paper_and_lists_prerequisites_and_goals(nb):
    first = _cells(nb)[0]
    assert first["cell_type"] == "markdown", f"{nb.name}: cell 0 is not the markdown header"
    header = _text(first)
    assert header.lstrip().startswith("# "), f"{nb.name}: the header does not open with a title"
    assert PAPER_TITLE in header, f"{nb.name}: the header does not name the paper {PAPER_TITLE!r}"
    for part in CITATION:   # authors, year and arXiv link: the paper cited, not only named
        assert part in header, f"{nb.name}: the header's citation lacks {part!r}"
    assert REFERENCE_REPO in header, f"{nb.name}: the header does not cite the reference code {REFERENCE_REPO}"
    assert f"https://github.com/{REFERENCE_REPO}" in header, f"{nb.name}: no link to the reference repository"
    assert _items_after("Prerequisites", header), f"{nb.name}: no 'Prerequisites' label followed by a list item"
    assert _items_after("What you will learn", header), f"{nb.name}: no 'What you will learn' list"


def _exercises(cells: list[dict]) -> list[tuple[int, int]]:
    """(cell index, exercise number) of every markdown cell that starts with an Exercise label."""
    found = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        m = EXERCISE.match(_text(cell).lstrip())
        if m:
            found.append((i, int(m.group(1))))
    return found


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercises_each_have_a_goal_and_a_hidden_solution(nb):
    cells = _cells(nb)
    exercises = _exercises(cells)
    assert len(exercises) >= 2, f"{nb.name}: {len(exercises)} exercise(s), at least 2 expected"
    numbers = [n for _, n in exercises]
    assert numbers == list(range(1, len(numbers) + 1)), f"{nb.name}: exercises numbered {numbers}"
    for i, n in exercises:
        assert "goal" in _text(cells[i]).lower(), f"{nb.name}: exercise {n} states no goal"
        assert i + 1 < len(cells), f"{nb.name}: exercise {n} is the last cell, with no solution after it"
        solution = cells[i + 1]
        assert solution["cell_type"] == "code", f"{nb.name}: exercise {n} is not followed by a code cell"
        assert _text(solution).strip(), f"{nb.name}: the solution of exercise {n} is empty"
        meta = solution.get("metadata", {})
        assert meta.get("jupyter", {}).get("source_hidden") is True, \
            f"{nb.name}: the solution of exercise {n} is not collapsed (metadata.jupyter.source_hidden)"
        assert "solution" in meta.get("tags", []), f"{nb.name}: the solution of exercise {n} lacks the 'solution' tag"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercises_come_at_the_end(nb):
    """After the first exercise there is nothing but exercises, their solutions and plain prose."""
    cells = _cells(nb)
    exercises = _exercises(cells)
    if not exercises:
        pytest.fail(f"{nb.name}: no exercises")
    solutions = {i + 1 for i, _ in exercises}
    after = range(exercises[0][0], len(cells))
    stray = [k for k in after if cells[k]["cell_type"] == "code" and k not in solutions]
    assert not stray, f"{nb.name}: code cells {stray} sit among the exercises without being a solution"
