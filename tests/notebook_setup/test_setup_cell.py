"""The Colab setup cell (colab_cell.py) is plain Python that does nothing off Colab, and it is cell 1 of
every tutorial notebook (setup_cell.py writes and checks it). Running it on a simulated Colab is
test_colab_venv.py's job."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..test_binder import binder_environment, missing_modules, notebook_imports
from . import setup_cell
from .setup_cell import CELL_FILE, NOTEBOOKS, OLD_CELL_MARK


def test_the_cell_is_plain_python_guarded_by_colab():
    text = CELL_FILE.read_text()
    tree = ast.parse(text)                              # valid Python: no ! or % magics
    assert not [ln for ln in text.splitlines() if ln.lstrip().startswith(("!", "%"))]
    kinds = [type(node).__name__ for node in tree.body]
    assert kinds == ["Import", "Import", "Assign", "If"], "imports, HSTA_EDU_REF, then the Colab guard"
    ref = tree.body[2]
    assert ref.targets[0].id == "HSTA_EDU_REF" and isinstance(ref.value.value, str) and ref.value.value
    assert ast.unparse(tree.body[3].test) == "'google.colab' in sys.modules"
    for risky in ("--upgrade", " -U", "--force-reinstall", "/content/hsta_edu/..", "../"):
        assert risky not in text, risky                 # Colab's packages stay; paths are absolute
    assert "/content/hsta_edu" in text and "HSTA_EDU_REPO_URL" in text


def test_the_cell_does_nothing_off_colab(tmp_path):
    done = subprocess.run([sys.executable, str(CELL_FILE)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert not list(tmp_path.iterdir())


def test_binder_provides_what_the_cell_imports(tmp_path):
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": "code", "metadata": {}, "source": setup_cell.cell_source(),
                     "outputs": [], "execution_count": None}]}
    (tmp_path / "x.ipynb").write_text(json.dumps(nb))
    modules = notebook_imports(tmp_path / "x.ipynb")
    assert "packaging" in modules
    assert not missing_modules(modules, set(binder_environment()))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_cell_1_of_every_notebook_is_the_setup_cell(notebook):
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cell = setup_cell.setup_cell(nb, notebook)
    if OLD_CELL_MARK in "".join(cell["source"]):
        pytest.skip(f"{notebook.name} still holds the old setup cell ({OLD_CELL_MARK!r}): run "
                    "`python -m tests.notebook_setup.setup_cell --apply` once the notebook edits are done")
    assert setup_cell.cell_matches(cell), (f"{notebook.name}: cell 1 differs from {CELL_FILE.name} "
                                           "(python -m tests.notebook_setup.setup_cell --apply)")


def test_apply_writes_only_the_setup_cell_and_check_agrees(tmp_path):
    src = NOTEBOOKS[0]
    path = tmp_path / src.name
    shutil.copy(src, path)
    before = json.loads(path.read_text(encoding="utf-8"))
    if setup_cell.cell_matches(before["cells"][1]):    # already applied: make it stale again
        before["cells"][1]["source"] = ["import sys\n", "if 'google.colab' in sys.modules:\n", "    pass"]
        path.write_text(json.dumps(before, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert setup_cell.mismatches([path]) == [path.name]
    assert setup_cell.apply([path]) == [path.name]
    assert setup_cell.mismatches([path]) == []
    after_text = path.read_text(encoding="utf-8")
    after = json.loads(after_text)
    assert "".join(after["cells"][1]["source"]) == CELL_FILE.read_text().rstrip("\n")
    assert after["cells"][1]["metadata"]["cellView"] == "form"
    assert after["cells"][:1] + after["cells"][2:] == before["cells"][:1] + before["cells"][2:]
    assert after["cells"][1]["outputs"] == before["cells"][1]["outputs"]
    assert after_text == json.dumps(after, indent=1, ensure_ascii=False) + "\n"   # nbformat's layout
    assert setup_cell.apply([path]) == [] and path.read_text(encoding="utf-8") == after_text


def test_apply_refuses_a_notebook_whose_cell_1_is_not_a_setup_cell(tmp_path):
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": "markdown", "metadata": {}, "source": "# title"},
                    {"cell_type": "code", "metadata": {}, "source": "import hsta_edu", "outputs": [],
                     "execution_count": None}]}
    path = Path(tmp_path / "other.ipynb")
    path.write_text(json.dumps(nb))
    with pytest.raises(ValueError, match="not the Colab setup cell"):
        setup_cell.apply([path])
    assert json.loads(path.read_text()) == nb
