"""The tutorials' static site (docs/site/, `make site`) builds from the committed notebooks without a
single warning, has a page per notebook with its figures and its Binder and Colab launch buttons, and
no broken local link."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import posixpath
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup  # a dependency of nbconvert and of the book theme
from filelock import FileLock  # a dependency of torch

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
REPO, BRANCH = "hsta-edu/hsta_edu", "main"
BLOB = f"https://github.com/{REPO}/blob/{BRANCH}"
# what `make site` runs, into a temporary folder: -W makes any warning an error
SPHINX_ARGS = ["-W", "--keep-going", "-q", "-b", "html", "-c", "docs/site", "."]
# one Sphinx build (6-18 s on the 2-core machine, by load) plus parsing the pages: 20-30 s in all
pytestmark = pytest.mark.slow


def _build(out: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sphinx", *SPHINX_ARGS, str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"sphinx-build failed (rc {proc.returncode}):\n{log[-6000:]}"
    assert "WARNING" not in log and "ERROR" not in log, log[-6000:]
    (out / "BUILD_OK").touch()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """One build per test session: under pytest-xdist the workers share it (built by the first)."""
    missing = [m for m in ("sphinx", "myst_nb", "sphinx_book_theme") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"{missing} not installed: the site needs the 'site' extra (pip install -e '.[site]', "
                    "which `make setup` does)")
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        out = tmp_path_factory.mktemp("site") / "html"
        _build(out)
        return out
    shared = tmp_path_factory.getbasetemp().parent / "site"
    with FileLock(f"{shared}.lock"):
        if not (shared / "html" / "BUILD_OK").is_file():
            _build(shared / "html")
    return shared / "html"


def _soup(path: Path):
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_every_notebook_has_a_page_listed_in_the_navigation(site):
    assert NOTEBOOKS, "no notebooks found"
    assert (site / "index.html").is_file(), "no redirect page at the site's root"
    landing = site / "docs" / "site" / "index.html"
    nav = {a["href"] for a in _soup(landing).select("nav a[href]")}
    for nb in NOTEBOOKS:
        assert (site / "notebooks" / f"{nb.stem}.html").is_file(), f"no page for {nb.name}"
        assert f"../../notebooks/{nb.stem}.html" in nav, f"{nb.name} missing from the navigation"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_launch_buttons_open_the_notebook_on_binder_and_colab(site, nb):
    menu = _soup(site / "notebooks" / f"{nb.stem}.html").select(".dropdown-launch-buttons a[href]")
    links = {a.get_text(strip=True): a["href"] for a in menu}
    path = f"notebooks/{nb.name}"
    assert links.get("Binder") == f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}?urlpath=lab/tree/{path}", links
    colab = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{path}"
    assert links.get("Colab") == colab, links
    badge = "".join(json.loads(nb.read_text(encoding="utf-8"))["cells"][0]["source"])
    assert colab in badge, "the Colab button and the notebook's own badge point to different places"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_page_shows_every_committed_figure(site, nb):
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    figures = [base64.b64decode("".join(data["image/png"]))
               for cell in cells for out in cell.get("outputs", [])
               if "image/png" in (data := out.get("data", {}))]
    page = site / "notebooks" / f"{nb.stem}.html"
    shown = [(page.parent / img["src"]).resolve() for img in _soup(page).select("img[src]")
             if img["src"].endswith(".png") and "_images/" in img["src"]]
    assert all(p.is_file() for p in shown), [p for p in shown if not p.is_file()]
    on_page = {hashlib.sha256(p.read_bytes()).hexdigest() for p in shown}
    lost = [i for i, png in enumerate(figures) if hashlib.sha256(png).hexdigest() not in on_page]
    assert not lost, f"{len(lost)} of the {len(figures)} PNG outputs of {nb.name} are not on its page"


def test_local_links_resolve_and_repository_files_link_to_github(site):
    for page in [site / "docs" / "site" / "index.html", *sorted((site / "notebooks").glob("*.html"))]:
        for a in _soup(page).select("a[href]"):
            href = a["href"].split("#")[0]
            if href and not re.match(r"[a-z][a-z0-9+.-]*:", href):
                assert (page.parent / href).exists(), f"{page.name}: broken link {a['href']}"
    # markdown links from a notebook to a repository file that is not a page go to the file on GitHub
    for nb in NOTEBOOKS:
        markdown = "".join("".join(c["source"]) for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]
                           if c["cell_type"] == "markdown")
        hrefs = {a["href"] for a in _soup(site / "notebooks" / f"{nb.stem}.html").select("a[href]")}
        for target in re.findall(r"\]\(([^)\s#]+)", markdown):
            if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.endswith(".ipynb"):
                continue
            path = posixpath.normpath(posixpath.join("notebooks", target))
            assert (ROOT / path).exists(), f"{nb.name} links to {target}, which does not exist"
            assert f"{BLOB}/{path}" in hrefs, f"{nb.name}: link to {target} does not go to GitHub"
