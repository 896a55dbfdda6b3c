"""The notebooks' setup cell (hsta_edu.colab.FIRST_CELL) and the routine it runs (hsta_edu.colab.setup),
run twice in a fresh virtual environment that looks like a Colab runtime.

The environment: a plain venv (no system site-packages) that sees, through a .pth file, a folder of
links to what Colab preinstalls, taken from this project's venv (torch, numpy, pandas, scikit-*,
matplotlib, IPython, ipykernel, ...: nothing is downloaded for them), plus real installs from PyPI of
ipywidgets 7.7.1 and opencv-python-headless (a cv2 without the contrib modules, like Colab's
opencv-python), and a fake ``google.colab`` module. The cell, run word for word, takes
hsta_edu/colab.py from ``HSTA_EDU_REPO_URL/raw/main/`` (GitHub's raw files; here a link into a
snapshot of this working tree), and the routine fetches that snapshot (``HSTA_EDU_REPO_URL``) into
``HSTA_EDU_HOME``. Asserted: the first run installs hsta_edu, only the missing requirements (captum,
python-calamine) and swaps opencv-python-headless for opencv-contrib-python-headless of the same
version, so one distribution owns cv2; every other package keeps its version (ipywidgets stays
7.7.1); the version line is printed. The second run, with no package index and no repository
reachable, runs the first run's copy of the routine, fetches and installs nothing and succeeds. With
OpenCV put back and cv2 imported before the cell runs, the swap asks for a runtime restart, and the
run after it (a new process) succeeds offline. Then the explorer's tests run against ipywidgets 7.7.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

from .setup_cell import ROOT, cell_source

pytestmark = pytest.mark.slow

# what Colab preinstalls that hsta_edu (and the explorer's tests) use: linked from this venv, with
# everything they depend on, except the packages the test installs itself or the cell must install
COLAB_PROVIDES = ("torch", "numpy", "scipy", "einops", "scikit-learn", "scikit-image", "pandas", "openpyxl",
                  "matplotlib", "seaborn", "tqdm", "cloudpickle", "ipython", "ipykernel", "traitlets", "packaging",
                  "pytest")
NOT_LINKED = re.compile(r"^(opencv-.*|ipywidgets|widgetsnbextension|jupyterlab-widgets|captum|"
                        r"python-calamine|hsta-edu|pip|setuptools|wheel)$")
# Colab's ipywidgets 7 (Python side only: its front-end packages without the notebook server)
IPYWIDGETS_7 = ("ipywidgets==7.7.1", "ipython-genutils==0.2.0", "widgetsnbextension~=3.6.0",
                "jupyterlab-widgets>=1,<2")
OK_LINE = re.compile(r"hsta_edu setup OK: hsta_edu \S+ \(main\) \| torch \S+ \| ipywidgets 7\.7\.1 \| "
                     r"OpenCV (\S+) \(contrib\)")

DISTS = """import importlib.metadata as m, json, re
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
versions, cv2 = {}, []
for d in m.distributions():
    versions.setdefault(norm(d.metadata["Name"]), d.version)
    if any(str(f) == "cv2/__init__.py" for f in d.files or []):
        cv2.append(norm(d.metadata["Name"]))
print(json.dumps({"versions": versions, "cv2": sorted(cv2)}))
"""

RUN_CELL = ("import os, runpy, google.colab; runpy.run_path({cell!r}, run_name='__main__'); "
            "print('cwd', os.getcwd())")
INSTALLED = re.compile(r"^installed (.*)$", re.M)

IPYWIDGETS_7_TEST = '''"""Written by test_colab_venv: the explorer's widget mode under ipywidgets 7.7.1."""
import ipywidgets

from hsta_edu.explain.widgets import Explorer

from .test_widgets import _Data


def test_explorer_displays_as_the_last_value_of_a_cell(tiny_model):
    assert ipywidgets.__version__ == "7.7.1"
    ex = Explorer(tiny_model, _Data(1), ["rollout"], widgets=True)
    view = ex._repr_mimebundle_()["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == ex.box.model_id
'''


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _run(cmd: list[str], timeout: float, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def _check(done: subprocess.CompletedProcess, what: str) -> str:
    assert done.returncode == 0, (f"{what} failed (rc {done.returncode}):\n{done.stdout[-4000:]}\n"
                                  f"{done.stderr[-4000:]}")
    return done.stdout


def _closure(roots: tuple[str, ...]) -> list[metadata.Distribution]:
    from packaging.requirements import Requirement

    seen: dict[str, metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = _norm(todo.pop())
        if name in seen or NOT_LINKED.match(name):
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(seen.values())


def _link_colab_packages(dest: Path) -> None:
    """Links in ``dest`` to the top-level files and folders of what Colab provides (from this venv)."""
    dest.mkdir()
    for dist in _closure(COLAB_PROVIDES):
        assert dist.files is not None, f"{dist.metadata['Name']} has no RECORD here"
        for top in sorted({f.parts[0] for f in dist.files}):
            if top in ("..", "__pycache__") or top.endswith(".pth") or (dest / top).exists():
                continue
            src = Path(dist.locate_file(top))
            if src.exists():
                (dest / top).symlink_to(src)


def _snapshot(dest: Path) -> str:
    """A one-commit git repository (branch main) of this working tree: tracked and untracked files,
    as the routine would fetch the published repository, and ``raw/main/``, a link to that tree, where
    the cell finds hsta_edu/colab.py as on GitHub (``<repository>/raw/<ref>/<path>``). Returns its
    file:// URL."""
    listed = _run(["git", "-C", str(ROOT), "ls-files", "-z", "-co", "--exclude-standard"], 60)
    if listed.returncode:
        pytest.skip(f"{ROOT} is not a git checkout: nothing to snapshot for the cell to fetch")
    for rel in filter(None, listed.stdout.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    git = ["git", "-C", str(dest), "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        _check(_run(git + cmd, 120), f"git {cmd[0]}")
    (dest / "raw").mkdir()                      # untracked: not part of what the routine fetches
    (dest / "raw" / "main").symlink_to(dest, target_is_directory=True)
    return dest.as_uri()


def _dists(python: Path) -> dict:
    """{"versions": {name: version}, "cv2": [distributions owning cv2/]} as the venv sees them (run
    outside this checkout: `python -c` puts the working directory, and its hsta_edu.egg-info, on sys.path)."""
    done = _run([str(python), "-c", DISTS], 60, cwd=python.parents[2])
    return json.loads(_check(done, "listing the venv's distributions"))


def test_the_setup_cell_on_a_simulated_colab_runtime_twice(tmp_path):
    t0 = time.perf_counter()
    if shutil.which("git") is None:
        pytest.skip("git is not installed: the cell fetches the repository with it")
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels)]
    probe = _run(pip + ["ipython-genutils==0.2.0"], 120)
    if probe.returncode:
        pytest.skip(f"the package index is unreachable (pip download failed): {probe.stderr.strip()[-300:]}")
    # opencv-python-headless at the version of this venv's OpenCV: the one numpy here works with
    cv_version = metadata.version("opencv-contrib-python-headless")
    _check(_run(pip + [*IPYWIDGETS_7, f"opencv-python-headless=={cv_version}"], 300),
           "downloading the wheels")

    venv = tmp_path / "venv"
    # --upgrade-deps: a current pip and setuptools, as on Colab (torch requires setuptools>=77)
    _check(_run([sys.executable, "-m", "venv", "--upgrade-deps", str(venv)], 180), "python -m venv")
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(_check(_run([str(python), "-c", purelib], 60), "finding site-packages").strip())
    _link_colab_packages(tmp_path / "colab_packages")
    (site / "colab_packages.pth").write_text(str(tmp_path / "colab_packages") + "\n")
    _check(_run([str(python), "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                 *map(str, sorted(wheels.glob("*.whl")))], 300), "installing ipywidgets 7 and OpenCV")
    fake = tmp_path / "fake_colab" / "google" / "colab"   # google/ stays a namespace package
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('"""Stands in for Colab\'s google.colab in test_colab_venv."""\n')
    (tmp_path / "repo").mkdir()
    url = _snapshot(tmp_path / "repo")
    content = tmp_path / "content"
    content.mkdir()
    home = content / "hsta_edu"
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "fake_colab"), "HSTA_EDU_REPO_URL": url,
           "HSTA_EDU_HOME": str(home)}
    env.pop("VIRTUAL_ENV", None)
    before = _dists(python)
    assert before["versions"]["ipywidgets"] == "7.7.1" and before["cv2"] == ["opencv-python-headless"]
    cell_file = tmp_path / "cell.py"                    # the notebooks' first cell, word for word
    cell_file.write_text(cell_source() + "\n")
    cell = [str(python), "-c", RUN_CELL.format(cell=str(cell_file))]
    t_setup = time.perf_counter() - t0

    # first run: fetch, install hsta_edu and only what is missing, swap OpenCV for its contrib twin
    out1 = _check(_run(cell, 600, cwd=content, env=env), "the setup cell (first run)")
    after = _dists(python)
    assert f"fetched {url} at main into {home}" in out1
    assert (home / "hsta_edu" / "colab.py").read_text() == (ROOT / "hsta_edu" / "colab.py").read_text()
    installed = INSTALLED.search(out1)
    assert installed and {re.split(r"[<>=!~ ]", r)[0] for r in installed[1].split(", ")} == {
        "captum", "python-calamine"}, out1                          # Colab lacks only these two
    assert f"OpenCV: opencv-python-headless -> opencv-contrib-python-headless {cv_version}" in out1, out1
    ok = OK_LINE.search(out1)
    assert ok, out1
    assert f"cwd {home / 'notebooks'}" in out1
    old, new = before["versions"], after["versions"]
    assert {n for n in old if n not in new} == {"opencv-python-headless"}
    changed = {n: (v, new[n]) for n, v in old.items() if n in new and new[n] != v}
    assert changed == {}, "a package that was there changed version"
    assert {"hsta-edu", "captum", "python-calamine", "opencv-contrib-python-headless"} <= set(new) - set(old)
    assert new["ipywidgets"] == "7.7.1"
    assert after["cv2"] == ["opencv-contrib-python-headless"], "exactly one distribution owns cv2"
    assert new["opencv-contrib-python-headless"] == cv_version
    head = _check(_run(["git", "-C", str(home), "rev-parse", "HEAD"], 60), "git rev-parse").strip()
    t_first = time.perf_counter() - t0 - t_setup

    # second run (as after a runtime restart): no index, no repository; nothing fetched or installed
    blocked = {**env, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "",
               "HSTA_EDU_REPO_URL": "file:///nonexistent/repo"}
    out2 = _check(_run(cell, 300, cwd=content, env=blocked), "the setup cell (second run)")
    assert OK_LINE.search(out2) and f"cwd {home / 'notebooks'}" in out2, out2
    assert not [ln for ln in out2.splitlines() if ln.startswith(("fetched", "installed", "OpenCV:"))], out2
    assert _dists(python) == after
    assert _check(_run(["git", "-C", str(home), "rev-parse", "HEAD"], 60), "git rev-parse").strip() == head
    t_second = time.perf_counter() - t0 - t_setup - t_first

    # OpenCV swapped under a session that had imported cv2: the cell asks for a restart, and after one
    # (a new process) succeeds without installing anything
    pip_venv = [str(python), "-m", "pip"]
    _check(_run(pip_venv + ["uninstall", "-q", "-y", "opencv-contrib-python-headless"], 120), "pip uninstall")
    headless = [str(w) for w in wheels.glob("opencv_python_headless-*.whl")]
    _check(_run(pip_venv + ["install", "-q", "--no-index", "--no-deps", *headless], 120), "OpenCV back")
    cv2_first = [str(python), "-c", "import cv2; " + RUN_CELL.format(cell=str(cell_file))]
    stale = _run(cv2_first, 600, cwd=content, env=env)
    restart = "cv2 changed after this session imported it: Runtime > Restart session"
    assert stale.returncode != 0 and restart in stale.stderr, stale.stdout + stale.stderr
    out3 = _check(_run(cell, 300, cwd=content, env=blocked), "the setup cell (after the restart)")
    assert OK_LINE.search(out3) and "OpenCV:" not in out3, out3
    assert _dists(python) == after

    # the explorer under Colab's ipywidgets 7.7.1: its own tests, and display as a cell's last value
    (home / "tests" / "explain" / "test_widgets_ipywidgets7.py").write_text(IPYWIDGETS_7_TEST)
    pytest_cmd = [str(python), "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
                  "tests/explain/test_widgets.py", "tests/explain/test_widgets_ipywidgets7.py"]
    passed = _check(_run(pytest_cmd, 300, cwd=home, env={**env, "PYTHONPATH": ""}),
                    "the explorer's tests under ipywidgets 7.7.1")     # rc 0: all of them passed
    assert "PASSED tests/explain/test_widgets_ipywidgets7.py::" in passed, passed
    print(f"colab venv test: setup {t_setup:.0f} s, first run {t_first:.0f} s, second run {t_second:.0f} s, "
          f"restart case and explorer tests {time.perf_counter() - t0 - t_setup - t_first - t_second:.0f} s; "
          f"{ok.group(0)}")
