"""The tutorial notebooks' setup on Google Colab, in one place: :func:`setup`.

Every notebook's first code cell is :data:`FIRST_CELL`. On Colab, where hsta_edu is not installed yet
when that cell runs, the cell runs this file on its own (a first run's copy in ``/content/hsta_edu``,
else this file fetched from the repository at ``HSTA_EDU_REF``) and calls ``setup(HSTA_EDU_REF)``:

1. fetch the repository at the ref into ``/content/hsta_edu`` (for ``data_samples/``), once;
2. install hsta_edu from it without its dependencies, then only the requirements that are missing or
   out of range, next to what Colab has: what the session imported and what is already in range keep
   their versions (Colab's torch, numpy and ipywidgets 7 stay);
3. OpenCV's contrib build, only where ``cv2.optflow`` is missing: the OpenCV distributions there are
   replaced by the contrib twin of the same version, so that one distribution owns ``cv2``;
4. ask for a runtime restart if a module the session had imported changed, then import hsta_edu and
   print the versions in use.

Safe to rerun: nothing is fetched or installed twice. Anywhere but Colab (Binder, a laptop) ``setup``
does nothing. ``HSTA_EDU_REPO_URL`` and ``HSTA_EDU_HOME`` override the repository and the folder.

This module runs before hsta_edu's dependencies are sorted out, and often outside the package (the
cell runs the file by path): it imports only the standard library at import time, and ``packaging``
(always on Colab) inside :func:`setup`.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata

__all__ = ["FIRST_CELL", "setup"]

REPO_URL = "https://github.com/hsta-edu/hsta_edu"   # HSTA_EDU_REPO_URL overrides it
HOME = "/content/hsta_edu"                          # HSTA_EDU_HOME overrides it
OPENCV = tuple(f"opencv-{c}python{h}" for c in ("", "contrib-") for h in ("", "-headless"))
CHECK_CV2 = "import cv2; print(cv2.__version__, hasattr(cv2, 'optflow'))"   # run in a subprocess

# The first code cell of every tutorial notebook, word for word (tests/notebook_setup/setup_cell.py
# writes it into the notebooks and checks them). It binds ``os``, which the notebooks use afterwards.
FIRST_CELL = '''\
# @title Setup (runs on Colab only) { display-mode: "form" }
# On Colab: fetch this repository at HSTA_EDU_REF into /content/hsta_edu, install hsta_edu next to Colab's own
# packages and print the versions (hsta_edu/colab.py; safe to rerun). Anywhere else this cell does nothing.
import os, runpy, sys, urllib.request
HSTA_EDU_REF = "main"  # the tag, branch or commit to fetch: a release pins its own tag, e.g. "v0.1.0"
if "google.colab" in sys.modules:  # the routine: a first run's copy, else hsta_edu/colab.py at HSTA_EDU_REF
    colab = os.getenv("HSTA_EDU_HOME", "/content/hsta_edu") + "/hsta_edu/colab.py"
    url = os.getenv("HSTA_EDU_REPO_URL", "https://github.com/hsta-edu/hsta_edu") + f"/raw/{HSTA_EDU_REF}/hsta_edu/colab.py"
    runpy.run_path(colab if os.path.isfile(colab) else urllib.request.urlretrieve(url)[0])["setup"](HSTA_EDU_REF)'''


class ColabSetupError(RuntimeError):
    """A setup step failed; the message says what to do next."""


def setup(ref: str = "main") -> None:
    """Set up hsta_edu on Colab from the repository at ``ref`` (a tag, branch or commit); off Colab,
    do nothing. Raises :class:`ColabSetupError` (a RuntimeError) with what to do when a step fails."""
    if "google.colab" not in sys.modules:
        return
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError(f"ref must name a tag, branch or commit of the repository, not {ref!r}")
    from packaging.requirements import Requirement

    repo = os.environ.get("HSTA_EDU_REPO_URL", REPO_URL)
    home = os.environ.get("HSTA_EDU_HOME", HOME)
    _fetch(repo, home, ref)
    loaded = set(sys.modules)
    owners = metadata.packages_distributions()   # module -> distributions, before anything changes
    imported = {_norm(d) for m in loaded for d in owners.get(m, [])}
    changed, reqs, keep = _install_package(home, imported)
    changed += _ensure_opencv(reqs, keep)
    names = {_norm(Requirement(c).name) for c in changed}
    stale = sorted(m for m in loaded if names & {_norm(d) for d in owners.get(m, [])})
    if stale:
        raise ColabSetupError(f"{', '.join(stale)} changed after this session imported it: Runtime > Restart "
                              "session, then run this cell again (nothing is installed twice)")
    _check_and_report(home, ref)


# ----------------------------------------------------------------------------- helpers
def _run(*cmd: str) -> None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError as err:
        raise ColabSetupError(f"`{cmd[0]}` is not installed here: hsta_edu's setup runs it") from err
    if done.returncode:
        raise ColabSetupError(f"`{' '.join(cmd)}` failed:\n{(done.stdout + done.stderr)[-3000:]}")
    importlib.invalidate_caches()


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _pip_install(reqs: list[str], keep: set[str]) -> None:
    """pip may add packages, but the distributions in ``keep`` (what this session imported, what
    hsta_edu needs that is already in range) keep their versions: pip stops with the conflict instead."""
    from packaging.version import InvalidVersion, Version

    pins: dict[str, str] = {}
    for dist in metadata.distributions():
        try:
            if _norm(dist.metadata["Name"]) in keep:
                pins.setdefault(_norm(dist.metadata["Name"]), str(Version(dist.version)))
        except (InvalidVersion, TypeError):
            continue
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(f"{n}=={v}" for n, v in pins.items()))
    try:
        _run(sys.executable, "-m", "pip", "install", "-q", "-c", f.name, *reqs)
    finally:
        os.remove(f.name)


# ----------------------------------------------------------------------------- the steps
def _fetch(repo: str, home: str, ref: str) -> None:
    """1. The repository at ``ref``, once (a tag, branch or commit: fetched, not cloned)."""
    if os.path.isfile(os.path.join(home, "pyproject.toml")):
        return
    shutil.rmtree(home, ignore_errors=True)   # what an interrupted fetch left
    _run("git", "init", "-q", home)
    _run("git", "-C", home, "fetch", "-q", "--depth", "1", repo, ref)
    _run("git", "-C", home, "checkout", "-q", "FETCH_HEAD")
    print(f"fetched {repo} at {ref} into {home}")


def _install_package(home: str, imported: set[str]) -> tuple[list[str], list, set[str]]:
    """2. hsta_edu without its dependencies, then only those that are missing or out of range (OpenCV
    aside: step 3). Returns what changed, hsta_edu's requirements and the distributions pip must keep."""
    from packaging.requirements import Requirement

    changed = []
    if _version("hsta_edu") is None:
        _run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", home)
        changed.append("hsta_edu")
    reqs = [Requirement(r) for r in metadata.requires("hsta_edu") or []]
    reqs = [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]
    in_range = [r for r in reqs if _version(r.name) and r.specifier.contains(_version(r.name), prereleases=True)]
    keep = imported | {_norm(r.name) for r in in_range}
    missing = [str(r) for r in reqs if r not in in_range and not r.name.startswith("opencv")]
    if missing:
        _pip_install(missing, keep)
        changed += missing
        print("installed", ", ".join(missing))
    return changed, reqs, keep


def _ensure_opencv(reqs: list, keep: set[str]) -> list[str]:
    """3. OpenCV: kept when its cv2 has the contrib modules (cv2.optflow) in hsta_edu's range; otherwise
    the OpenCV distributions here are replaced by the contrib twin, same version, so one owns cv2.
    Returns the distributions that changed."""
    cv_spec = next((r.specifier for r in reqs if r.name.startswith("opencv")), None)
    if cv_spec is None:
        raise ColabSetupError("hsta_edu's requirements name no OpenCV distribution: this hsta_edu does not "
                              "match its setup routine; Runtime > Disconnect and delete runtime, then rerun")
    probe = subprocess.run([sys.executable, "-c", CHECK_CV2], capture_output=True, text=True).stdout.split()
    if probe and probe[-1] == "True" and cv_spec.contains(probe[0]):
        return []
    present = [n for n in OPENCV if _version(n)]
    gui = {"opencv-python", "opencv-contrib-python"} & set(present)   # keep the GUI flavour if there
    twin = "opencv-contrib-python" if gui else "opencv-contrib-python-headless"
    same = [_version(n) for n in present if cv_spec.contains(_version(n))]
    wheels = tempfile.mkdtemp()
    try:
        _run(sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", wheels,
             f"{twin}=={same[0]}" if same else f"{twin}{cv_spec}")   # before anything is removed
        if present:
            _run(sys.executable, "-m", "pip", "uninstall", "-q", "-y", *present)
        _pip_install([os.path.join(wheels, w) for w in os.listdir(wheels)], keep)
    finally:
        shutil.rmtree(wheels, ignore_errors=True)
    print(f"OpenCV: {', '.join(present) or 'none'} -> {twin} {_version(twin)}")
    return [*present, twin]


def _check_and_report(home: str, ref: str) -> None:
    """4. Work from the notebooks' folder, import what the notebooks use and print the versions."""
    os.chdir(os.path.join(home, "notebooks"))
    try:
        import cv2
        import ipywidgets
        import torch

        import hsta_edu
    except Exception as err:
        raise ColabSetupError(f"hsta_edu's setup is broken ({type(err).__name__}: {err}): Runtime > Disconnect "
                              "and delete runtime, then run this cell again") from err
    if not hasattr(cv2, "optflow"):
        raise ColabSetupError(f"OpenCV {cv2.__version__} lacks the contrib modules (cv2.optflow) hsta_edu uses")
    print(f"hsta_edu setup OK: hsta_edu {hsta_edu.__version__} ({ref}) | torch {torch.__version__}"
          f" | ipywidgets {ipywidgets.__version__} | OpenCV {cv2.__version__} (contrib)")
