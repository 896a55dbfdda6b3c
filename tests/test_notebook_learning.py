"""Every tutorial notebook that trains a model shows it learning (issue 27).

Each notebook below is executed top to bottom in fast mode, as nbmake does (a cell that raises fails the
test), and the held-out scores it prints (lines ``held-out score: UF1 <x> | chance <c>``) are read from its
outputs: every one must beat chance by ``MARGIN``. The scores are the notebook's own, never re-computed
here. `conftest.py` drops these notebooks from the plain nbmake run when this test is collected, so each
runs once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

#: the notebooks that train in fast mode, and how many held-out scores each prints
TRAINING_NOTEBOOKS = {"00_quickstart.ipynb": 1, "03_training_on_gpu.ipynb": 1, "04_loso_evaluation.ipynb": 1}
#: how far above chance a printed held-out UF1 must be (the notebooks measure 0.8-1.0 on the two tutorial
#: corpus seeds; chance is 1/3)
MARGIN = 0.2
SCORE_LINE = re.compile(r"held-out score: UF1 ([0-9.]+) \| chance ([0-9.]+)")


def printed_scores(nb) -> list[tuple[float, float]]:
    """(UF1, chance) of every ``held-out score`` line in the notebook's stream outputs."""
    text = "".join("".join(out.get("text", "")) for cell in nb.cells if cell.cell_type == "code"
                   for out in cell.get("outputs", []) if out.get("output_type") == "stream")
    return [(float(a), float(b)) for a, b in SCORE_LINE.findall(text)]


def test_score_line_is_read():
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text="x\nheld-out score: UF1 0.845 | chance 0.333\n")])])
    assert printed_scores(nb) == [(0.845, 0.333)]


@pytest.mark.parametrize("name", sorted(TRAINING_NOTEBOOKS))
def test_training_notebook_learns(name, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("HSTA_EDU_FAST", os.environ.get("HSTA_EDU_FAST", "1"))
    monkeypatch.setenv("HSTA_EDU_WIDGETS", "0")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in nb.cells:                  # the committed outputs must not count: only this run's
        if cell.cell_type == "code":
            cell.outputs = []
    NotebookClient(nb, timeout=1200, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    scores = printed_scores(nb)
    assert len(scores) == TRAINING_NOTEBOOKS[name], f"{name} printed {len(scores)} held-out scores: {scores}"
    for uf1, chance in scores:
        assert uf1 >= chance + MARGIN, f"{name}: held-out UF1 {uf1:.3f} is not {MARGIN} above chance {chance:.3f}"
