"""Fixtures for the browser tests: Debian's Chromium driven by Playwright (never a downloaded browser).

Skips, with the reason, only where the browser or Playwright is absent; `bash .ci/install-browser.sh`
installs Chromium from Debian's packages. HSTA_EDU_CHROMIUM names another Chromium binary (only that one
is tried: HSTA_EDU_CHROMIUM=/nonexistent shows the skip).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_FLAGS = [
    # Playwright adds --headless itself (headless=True)
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--disable-sync", "--disable-quic", "--disable-extensions", "--disable-default-apps",
    "--mute-audio", "--hide-scrollbars",
]


def chromium_path() -> str | None:
    env = os.environ.get("HSTA_EDU_CHROMIUM")
    cands = [env] if env else ["/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium")]
    for cand in cands:
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        where = os.environ.get("HSTA_EDU_CHROMIUM") or "/usr/bin/chromium, /usr/bin/chromium-browser, PATH"
        pytest.skip(f"Chromium is not installed (looked at {where}): "
                    "run `bash .ci/install-browser.sh` (Debian packages chromium, chromium-driver)")
    return path


@pytest.fixture(scope="session")
def browser(chromium):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def artifacts_dir(request, tmp_path) -> Path:
    """Where a browser test leaves its screenshots and logs: under pytest's tmp dir (returned), and,
    copied at teardown, test-artifacts/browser/<test id>/ at the repo root (git-ignored)."""
    d = tmp_path / "artifacts"
    d.mkdir()
    yield d
    root = Path(__file__).resolve().parents[2]
    name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in request.node.name)
    dest = root / "test-artifacts" / "browser" / name
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(d, dest)
