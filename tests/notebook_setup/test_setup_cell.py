"""The Colab setup cell (``hsta_edu.colab.FIRST_CELL``) is a few lines of plain Python that do nothing
off Colab and, on Colab, run ``setup`` from hsta_edu/colab.py (a first run's copy, else the file at
``HSTA_EDU_REF``); it is the first code cell of every tutorial notebook (setup_cell.py writes and checks
it). hsta_edu/colab.py itself imports only the standard library. Running the real routine on a
simulated Colab is test_colab_venv.py's job; here a stand-in routine shows which copy the cell runs."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..test_binder import binder_environment, missing_modules, notebook_imports
from . import setup_cell
from .setup_cell import COLAB_FILE, MAX_LINES, NOTEBOOKS

FAKE_ROUTINE = 'def setup(ref="main"):\n    print("{tag} setup", ref, flush=True)\n'
RUN = "import google.colab, runpy; runpy.run_path({cell!r}, run_name='__main__')"


def _cell() -> str:
    return setup_cell.cell_source()


def _fake_colab(tmp_path: Path) -> Path:
    """A folder holding a stand-in ``google.colab`` (google/ stays a namespace package)."""
    fake = tmp_path / "fake_colab" / "google" / "colab"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('"""Stands in for Colab\'s google.colab."""\n')
    return tmp_path / "fake_colab"


def test_the_cell_is_short_plain_python_guarded_by_colab():
    text = _cell()
    lines = text.splitlines()
    assert len(lines) <= MAX_LINES < 10, f"the setup cell has {len(lines)} lines"
    assert lines[0] == '# @title Setup (runs on Colab only) { display-mode: "form" }'
    tree = ast.parse(text)                              # valid Python: no ! or % magics
    assert not [ln for ln in lines if ln.lstrip().startswith(("!", "%"))]
    kinds = [type(node).__name__ for node in tree.body]
    assert kinds == ["Import", "Assign", "If"], "imports, HSTA_EDU_REF, then the Colab guard"
    assert "os" in {a.name for a in tree.body[0].names}, "the notebooks use the `os` this cell imports"
    ref = tree.body[1]
    assert ref.targets[0].id == "HSTA_EDU_REF" and isinstance(ref.value.value, str) and ref.value.value
    guard = tree.body[2]
    assert ast.unparse(guard.test) == "'google.colab' in sys.modules" and not guard.orelse
    assert ast.unparse(guard.body[-1]).endswith("['setup'](HSTA_EDU_REF)")
    for risky in ("--upgrade", " -U", "--force-reinstall", "/content/hsta_edu/..", "../"):
        assert risky not in text, risky                 # Colab's packages stay; paths are absolute
    colab = setup_cell.colab_module()                   # the cell's defaults are the routine's
    assert f'"HSTA_EDU_HOME", "{colab["HOME"]}"' in text and f'"HSTA_EDU_REPO_URL", "{colab["REPO_URL"]}"' in text
    assert '/raw/{HSTA_EDU_REF}/hsta_edu/colab.py"' in text


def test_the_cell_does_nothing_off_colab(tmp_path):
    done = subprocess.run([sys.executable, "-c", _cell()], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert not list(tmp_path.iterdir())


def test_on_colab_the_cell_runs_setup_at_its_ref_then_a_first_runs_copy(tmp_path):
    """The routine comes from ``$HSTA_EDU_REPO_URL/raw/<ref>/hsta_edu/colab.py`` (GitHub's raw files;
    here file:// folders laid out the same way) until a first run left ``$HSTA_EDU_HOME``: then from
    there, with no repository reachable."""
    repo, home = tmp_path / "repo", tmp_path / "content" / "hsta_edu"
    for ref in ("main", "v9.9.9"):
        (repo / "raw" / ref / "hsta_edu").mkdir(parents=True)
        (repo / "raw" / ref / "hsta_edu" / "colab.py").write_text(FAKE_ROUTINE.format(tag=f"fetched {ref}"))
    (tmp_path / "content").mkdir()
    env = {**os.environ, "PYTHONPATH": str(_fake_colab(tmp_path)), "HSTA_EDU_REPO_URL": repo.as_uri(),
           "HSTA_EDU_HOME": str(home)}

    def run(cell: str, **extra) -> str:
        (tmp_path / "cell.py").write_text(cell)
        done = subprocess.run([sys.executable, "-c", RUN.format(cell=str(tmp_path / "cell.py"))],
                              cwd=tmp_path / "content", env={**env, **extra}, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    cell = _cell()
    assert run(cell) == "fetched main setup main\n"
    pinned = cell.replace('HSTA_EDU_REF = "main"', 'HSTA_EDU_REF = "v9.9.9"')
    assert pinned != cell and run(pinned) == "fetched v9.9.9 setup v9.9.9\n"
    (home / "hsta_edu").mkdir(parents=True)             # what a first run fetched
    (home / "hsta_edu" / "colab.py").write_text(FAKE_ROUTINE.format(tag="local"))
    assert run(cell, HSTA_EDU_REPO_URL="file:///nonexistent/repo") == "local setup main\n"
    assert not list((tmp_path / "content").glob("*.py"))   # nothing next to /content's hsta_edu/


def test_the_routine_module_imports_only_the_standard_library():
    probe = ("import runpy, sys; before = set(sys.modules); g = runpy.run_path(sys.argv[1]); "
             "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))")
    done = subprocess.run([sys.executable, "-c", probe, str(COLAB_FILE)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    new = set(done.stdout.split())
    assert not {m for m in new if m not in sys.stdlib_module_names and m.lstrip("_") not in
                sys.stdlib_module_names}, new           # no hsta_edu, torch, numpy, cv2 nor packaging


def test_the_routine_is_small_functions():
    text = COLAB_FILE.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 500
    funcs = [n for n in ast.walk(ast.parse(text)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    assert funcs and all(f.end_lineno - f.lineno + 1 < 80 for f in funcs), [f.name for f in funcs]


def test_setup_does_nothing_off_colab_and_checks_its_ref_on_colab(tmp_path):
    code = ("import os, runpy, sys; setup = runpy.run_path(sys.argv[1])['setup']; setup(); setup('v0.1.0'); "
            "print(os.getcwd())")
    done = subprocess.run([sys.executable, "-c", code, str(COLAB_FILE)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{tmp_path}\n", "")
    assert not list(tmp_path.iterdir())
    code = ("import google.colab, runpy, sys; setup = runpy.run_path(sys.argv[1])['setup']\n"
            "try:\n    setup('  ')\nexcept ValueError as err:\n    print(err)")
    done = subprocess.run([sys.executable, "-c", code, str(COLAB_FILE)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(_fake_colab(tmp_path)),
                                                      "HSTA_EDU_HOME": str(tmp_path / "home")})
    assert "ref must name a tag, branch or commit" in done.stdout, done.stdout + done.stderr
    assert not (tmp_path / "home").exists()


def test_binder_provides_what_the_cell_imports(tmp_path):
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": "code", "metadata": {}, "source": _cell(),
                     "outputs": [], "execution_count": None}]}
    (tmp_path / "x.ipynb").write_text(json.dumps(nb))
    modules = notebook_imports(tmp_path / "x.ipynb")
    assert "os" in modules and modules <= set(sys.stdlib_module_names), modules
    assert not missing_modules(modules, set(binder_environment()))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_the_first_code_cell_of_every_notebook_is_the_shipped_setup_cell(notebook):
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cell = setup_cell.setup_cell(nb, notebook)
    assert setup_cell.first_code_cell(nb) is cell, f"{notebook.name}: a code cell comes before the setup cell"
    assert setup_cell.cell_matches(cell), (f"{notebook.name}: cell 1 differs from hsta_edu.colab.FIRST_CELL "
                                           "(python -m tests.notebook_setup.setup_cell --apply)")
    assert len("".join(cell["source"]).splitlines()) < 10


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
    assert "".join(after["cells"][1]["source"]) == _cell()
    assert after["cells"][1]["metadata"]["cellView"] == "form"
    assert after["cells"][:1] + after["cells"][2:] == before["cells"][:1] + before["cells"][2:]
    assert after["cells"][1]["outputs"] == before["cells"][1]["outputs"]
    assert after["cells"][1].get("execution_count") == before["cells"][1].get("execution_count")
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
