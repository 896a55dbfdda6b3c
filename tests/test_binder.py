"""binder/ gives mybinder.org everything the notebooks import.

Every code cell of notebooks/*.ipynb and tests/browser/*.ipynb is parsed (IPython magics and
shell lines skipped) for the top-level modules it imports; each must be the standard library,
hsta_edu itself, or come from a distribution that Binder installs: binder/requirements.txt,
hsta_edu's own dependencies (pyproject.toml, installed by binder/postBuild), or what those
depend on in turn (read from this environment's installed metadata).
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import re
import sys
from functools import cache, lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
NOTEBOOK_GLOBS = ("notebooks/*.ipynb", "tests/browser/*.ipynb")

# import name -> distribution, for names that differ and may not be installed here
IMPORT_TO_DIST = {
    "cv2": "opencv-contrib-python-headless", "sklearn": "scikit-learn", "skimage": "scikit-image",
    "PIL": "pillow", "yaml": "pyyaml", "IPython": "ipython", "jupyter_client": "jupyter-client",
    "dateutil": "python-dateutil", "mpl_toolkits": "matplotlib", "attr": "attrs", "google": "google",
    "torchvision": "torchvision", "bs4": "beautifulsoup4", "ipykernel": "ipykernel",
}
# modules that only exist on a hosted platform and are imported only there (the Colab setup cell)
PLATFORM_ONLY = {"google"}
# cell magics whose body is still Python
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ----------------------------------------------------------------------------- notebooks -> imports
def _python_source(source: str) -> str | None:
    """The cell's Python: magics and shell lines become `pass` (keeping the indentation);
    None for a cell magic whose body is not Python (%%bash, %%writefile, ...)."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split()[0] if lines[0].strip() != "%%" else ""
        if magic not in PYTHON_CELL_MAGICS:
            return None
        lines = lines[1:]
    out = []
    for line in lines:
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith(("%", "!")) or re.match(r"^[\w.]+\s*=\s*[%!]", stripped):
            out.append(indent + "pass")
        else:
            out.append(line)
    return "\n".join(out)


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = [handler.type] if not isinstance(handler.type, ast.Tuple) else list(handler.type.elts)
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError", "Exception")
               for n in names)


def _imports(tree: ast.AST) -> tuple[set[str], set[str]]:
    """(required, optional) top-level module names; optional = imported inside a try that
    catches ImportError (the code copes without them)."""
    required: set[str] = set()
    optional: set[str] = set()

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                (optional if guarded else required).add(a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            (optional if guarded else required).add(node.module.split(".")[0])
        if isinstance(node, ast.Try):
            g = guarded or any(_catches_import_error(h) for h in node.handlers)
            for child in node.body:
                visit(child, g)
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child, guarded)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(tree, False)
    return required, optional


def notebook_imports(path: Path) -> set[str]:
    """Top-level modules a notebook needs (optional imports and platform-only ones left out)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    needed: set[str] = set()
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        py = _python_source(src)
        if py is None:
            continue
        try:
            tree = ast.parse(py)
        except SyntaxError as e:
            raise AssertionError(f"{path}: code cell {i} is not valid Python ({e.msg}, line {e.lineno})") from e
        required, _optional = _imports(tree)
        needed |= required
    return needed - PLATFORM_ONLY


# ----------------------------------------------------------------------------- binder -> distributions
def _requirement_names(lines: list[str]) -> list[str]:
    from packaging.requirements import Requirement

    names = []
    for raw in lines:
        line = raw.split(" #")[0].strip()
        if not line or line.startswith(("#", "-")) or "://" in line:
            continue
        names.append(_norm(Requirement(line).name))
    return names


def binder_requirements(binder: Path = BINDER) -> list[str]:
    return _requirement_names((binder / "requirements.txt").read_text().splitlines())


def project_dependencies() -> list[str]:
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return _requirement_names(list(data["project"]["dependencies"]))


@cache
def _requires(dist: str) -> tuple[str, ...]:
    from packaging.requirements import Requirement

    try:
        reqs = md.requires(dist) or []
    except md.PackageNotFoundError:
        return ()
    out = []
    for r in reqs:
        req = Requirement(r)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue   # extras and other platforms are not installed
        out.append(_norm(req.name))
    return tuple(out)


def provided_distributions(direct: list[str]) -> set[str]:
    """``direct`` and everything they depend on (as installed here)."""
    seen: set[str] = set()
    todo = [_norm(d) for d in direct]
    while todo:
        d = todo.pop()
        if d in seen:
            continue
        seen.add(d)
        todo.extend(_requires(d))
    return seen


def missing_modules(modules: set[str], provided: set[str]) -> set[str]:
    """The modules that neither the standard library, hsta_edu, nor ``provided`` supply."""
    installed = md.packages_distributions()
    missing = set()
    for mod in modules:
        if mod in sys.stdlib_module_names or mod in ("hsta_edu", "__future__"):
            continue
        candidates = {_norm(d) for d in installed.get(mod, [])} | {_norm(IMPORT_TO_DIST.get(mod, mod))}
        if not candidates & provided:
            missing.add(mod)
    return missing


@lru_cache(maxsize=1)
def binder_environment() -> frozenset[str]:
    return frozenset(provided_distributions(binder_requirements() + project_dependencies()))


# ----------------------------------------------------------------------------- tests
def _notebooks() -> list[Path]:
    return sorted(p for g in NOTEBOOK_GLOBS for p in ROOT.glob(g) if ".ipynb_checkpoints" not in p.parts)


def test_binder_files_exist_and_pin_cpu_torch():
    reqs = (BINDER / "requirements.txt").read_text()
    assert "download.pytorch.org/whl/cpu" in reqs, "binder must take torch from the CPU wheel index"
    names = binder_requirements()
    for needed in ("torch", "jupyterlab", "ipywidgets"):
        assert needed in names, f"binder/requirements.txt lacks {needed}"
    post = (BINDER / "postBuild").read_text()
    assert re.search(r"pip install[^\n]*(-e\s+)?\.(\s|$)", post), "binder/postBuild must install the package"
    runtime = (BINDER / "runtime.txt").read_text().strip()
    m = re.fullmatch(r"python-(\d+)\.(\d+)", runtime)
    assert m and (int(m[1]), int(m[2])) >= (3, 10), f"binder/runtime.txt: {runtime!r}"


@pytest.mark.parametrize("notebook", _notebooks(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_binder_provides_every_notebook_import(notebook):
    modules = notebook_imports(notebook)
    missing = missing_modules(modules, set(binder_environment()))
    assert not missing, (f"{notebook.relative_to(ROOT)} imports {sorted(missing)}, which binder/ does not "
                         f"install: add the distribution to binder/requirements.txt (or to hsta_edu's "
                         f"dependencies)")


def test_the_check_catches_a_missing_module(tmp_path):
    cells = [
        "%matplotlib inline\n!pip install -q something\nimport os, sys\nimport numpy as np",
        "import cv2\nfrom sklearn.metrics import f1_score\nfrom skimage import data\nfrom PIL import Image",
        "if 'google.colab' in sys.modules:\n    !pip install hsta_edu\n    from google.colab import output",
        "try:\n    import not_needed_really\nexcept ImportError:\n    not_needed_really = None",
        "%%bash\nimport this_is_shell_not_python",
        "%%time\nimport hsta_edu\nfrom hsta_edu.explain import widgets\nresult = %timeit -o sum([1])",
        "import tensorflow as tf\nfrom definitely_not_on_binder.sub import thing",
    ]
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": "markdown", "metadata": {}, "source": "import markdown_is_not_code"}]
          + [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [], "execution_count": None}
             for c in cells]}
    path = tmp_path / "fake.ipynb"
    path.write_text(json.dumps(nb))
    modules = notebook_imports(path)
    assert modules == {"os", "sys", "numpy", "cv2", "sklearn", "skimage", "PIL", "hsta_edu", "tensorflow",
                       "definitely_not_on_binder"}
    assert missing_modules(modules, set(binder_environment())) == {"tensorflow", "definitely_not_on_binder"}
    # and a distribution missing from binder is caught even when it is installed here
    assert "cv2" in missing_modules({"cv2"}, provided_distributions(["torch"]))


def test_binder_environment_includes_the_package_dependencies():
    env = binder_environment()
    for dist in ("torch", "numpy", "captum", "opencv-contrib-python-headless", "scikit-image", "matplotlib",
                 "ipywidgets", "jupyterlab", "ipython", "pillow"):
        assert dist in env, dist
