"""binder/ gives mybinder.org everything the notebooks import.

Every code cell of notebooks/*.ipynb and tests/browser/*.ipynb is parsed (IPython magics and
shell lines skipped) for the top-level modules it imports; each must be the standard library,
hsta_edu itself, or come from a distribution that Binder installs: binder/requirements.txt,
hsta_edu's own dependencies (pyproject.toml, installed by binder/postBuild), or what those
depend on in turn (read from this environment's installed metadata).

The build files themselves: every requirement in binder/requirements.txt is a range with both
bounds, inside pyproject.toml's, and none pulls torch; binder/postBuild installs torch, pinned,
from PyTorch's CPU index only, then the package.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import os
import re
import shlex
import sys
from functools import cache, lru_cache
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:   # Python 3.10: the test extra brings tomli, the same parser
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
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


def _requirement_lines(binder: Path = BINDER) -> list[str]:
    lines = [ln.split(" #")[0].strip() for ln in (binder / "requirements.txt").read_text().splitlines()]
    return [ln for ln in lines if ln and not ln.startswith(("#", "-")) and "://" not in ln]


def binder_requirements(binder: Path = BINDER) -> list[str]:
    return _requirement_names((binder / "requirements.txt").read_text().splitlines())


def project_dependencies() -> list[str]:
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


# ----------------------------------------------------------------------------- binder/postBuild
PIP_OPTIONS_WITH_VALUE = {"--index-url", "-i", "--extra-index-url", "-c", "--constraint", "-r",
                          "--requirement", "-f", "--find-links", "--target", "-t", "--prefix", "--root", "-e",
                          "--editable"}


def postbuild_pip_installs(text: str) -> list[tuple[dict[str, list[str]], list[str]]]:
    """postBuild's `pip install` commands in order, each as (options -> values, positional arguments)."""
    out = []
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if "pip" not in words or "install" not in words[words.index("pip"):]:
            continue
        opts: dict[str, list[str]] = {}
        args: list[str] = []
        rest = iter(words[words.index("install", words.index("pip")) + 1:])
        for w in rest:
            if w in PIP_OPTIONS_WITH_VALUE:
                opts.setdefault(w, []).append(next(rest, ""))
            elif w.startswith("-"):
                name, _, value = w.partition("=")
                opts.setdefault(name, []).append(value)
            else:
                args.append(w)
        out.append((opts, args))
    return out


def _torch_installs(installs):
    from packaging.requirements import InvalidRequirement, Requirement

    found = []
    for i, (opts, args) in enumerate(installs):
        for a in args:
            try:
                req = Requirement(a)
            except InvalidRequirement:
                continue
            if _norm(req.name) == "torch":
                found.append((i, opts, req))
    return found


def _bounds(spec) -> tuple[list[str], list[str]]:
    """(lower, upper) bound versions of a SpecifierSet (== and ~= count as both)."""
    lower = [s.version for s in spec if s.operator in (">=", ">", "==", "~=")]
    upper = [s.version for s in spec if s.operator in ("<", "<=", "==", "~=")]
    return lower, upper


# ----------------------------------------------------------------------------- tests
def _notebooks() -> list[Path]:
    return sorted(p for g in NOTEBOOK_GLOBS for p in ROOT.glob(g) if ".ipynb_checkpoints" not in p.parts)


def test_binder_files_exist_and_pin_cpu_torch():
    names = binder_requirements()
    for needed in ("jupyterlab", "ipywidgets", "ipykernel"):
        assert needed in names, f"binder/requirements.txt lacks {needed}"
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable"
    installs = postbuild_pip_installs(post.read_text())
    package = [i for i, (opts, args) in enumerate(installs)
               if "." in args + opts.get("-e", []) + opts.get("--editable", [])]
    assert package, "binder/postBuild must install the package (pip install -e .)"
    torch = _torch_installs(installs)
    assert torch, "binder/postBuild must install torch (from the CPU index)"
    assert torch[-1][0] < package[0], "install torch before the package, or pip takes PyPI's CUDA torch"
    runtime = (BINDER / "runtime.txt").read_text().strip()
    m = re.fullmatch(r"python-(\d+)\.(\d+)", runtime)
    assert m and (int(m[1]), int(m[2])) >= (3, 10), f"binder/runtime.txt: {runtime!r}"


def test_every_binder_requirement_is_a_range_with_both_bounds():
    from packaging.requirements import Requirement

    lines = [ln.split(" #")[0].strip() for ln in (BINDER / "requirements.txt").read_text().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    assert not [ln for ln in lines if ln.startswith("-") or "://" in ln], \
        "binder/requirements.txt: no options or URLs (an --extra-index-url makes the index that wins a guess)"
    for line in lines:
        req = Requirement(line)
        lower, upper = _bounds(req.specifier)
        assert lower and upper, f"binder/requirements.txt: {line!r} needs a lower and an upper bound"


def test_binder_requirements_agree_with_pyproject():
    """Each of hsta_edu's dependencies that does not need torch is in binder/requirements.txt, with a
    range inside pyproject's; those that need torch (captum) come with the package after torch."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    binder = {_norm(Requirement(ln).name): Requirement(ln) for ln in _requirement_lines()}
    for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        dep = Requirement(line)
        name = _norm(dep.name)
        needs_torch = name == "torch" or "torch" in provided_distributions([name]) - {name}
        if needs_torch:
            assert name not in binder, f"binder/requirements.txt: {name} needs torch, which comes from PyPI"
            continue
        assert name in binder, f"binder/requirements.txt lacks {name}, one of hsta_edu's dependencies"
        lower, upper = _bounds(binder[name].specifier)
        assert dep.specifier.contains(max(lower, key=Version), prereleases=True), (name, str(binder[name]))
        for bound in _bounds(dep.specifier)[1]:
            assert Version(min(upper, key=Version)) <= Version(bound), (name, str(binder[name]), str(dep))


def test_torch_comes_from_the_cpu_index_only_and_nothing_pulls_cuda():
    from packaging.requirements import Requirement

    post = (BINDER / "postBuild").read_text()
    installs = postbuild_pip_installs(post)
    torch = _torch_installs(installs)
    assert len(torch) == 1, "binder/postBuild: install torch once"
    _, opts, req = torch[0]
    assert opts.get("--index-url", opts.get("-i")) == [CPU_INDEX], f"torch must come from {CPU_INDEX} only"
    for flag in ("--extra-index-url", "--upgrade", "-U", "--force-reinstall", "--pre"):
        assert all(flag not in o for o, _ in installs), f"binder/postBuild: no {flag}"
    assert "extra-index-url" not in (BINDER / "requirements.txt").read_text(), \
        "binder/requirements.txt: no --extra-index-url"
    pins = [s for s in req.specifier if s.operator == "=="]
    assert len(pins) == 1 and not pins[0].version.endswith(".*"), f"pin torch to one version: {req}"
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    project_torch = next(Requirement(d) for d in deps if _norm(Requirement(d).name) == "torch")
    assert project_torch.specifier.contains(pins[0].version), (str(req), str(project_torch))
    makefile = re.search(r"^TORCH_SPEC \?= (\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert makefile and Requirement(makefile[1]).specifier == req.specifier, "Binder's torch is CI's"
    assert "torch.version.cuda" in post, "postBuild must stop the build if a CUDA torch came in"
    pulled = provided_distributions(binder_requirements())
    cuda = sorted(d for d in pulled if d in ("torch", "triton") or d.startswith("nvidia-"))
    assert not cuda, f"binder/requirements.txt pulls {cuda} from PyPI (a CUDA build)"


def test_the_postbuild_parser():
    text = ('set -e\n# pip install not-this\npython -m pip install --no-cache-dir \\\n  --index-url '
            'https://x/cpu "torch==2.1.0"  # comment\npip install -e .\npython -m pip list\n')
    assert postbuild_pip_installs(text) == [({"--no-cache-dir": [""], "--index-url": ["https://x/cpu"]},
                                             ["torch==2.1.0"]), ({"-e": ["."]}, [])]


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
