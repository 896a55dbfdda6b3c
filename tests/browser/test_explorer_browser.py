"""The explorer in a real browser: JupyterLab in headless Chromium, as a person would use it.

For each explorer notebook: start JupyterLab (127.0.0.1, token, a throwaway root and config),
open the notebook, run all cells, wait for an idle kernel, check that no cell failed and that the
widgets render as widgets (not as text, not stuck loading), then move the explorer's controls
(clip, method, frame, and a slider when one is enabled) and check that the figure changes after
every move. Screenshots go to the test's tmp dir and test-artifacts/browser/<test>/ (git-ignored);
with HSTA_EDU_UPDATE_SCREENSHOTS=1 also to docs/screenshots/ for the README.

Environment: HSTA_EDU_FAST=1 is set for the kernels; HSTA_EDU_BROWSER_TIMEOUT (seconds, default
300) bounds the run of all cells; HSTA_EDU_CHROMIUM names another Chromium binary.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .lab_server import start_lab

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_TIMEOUT_S = float(os.environ.get("HSTA_EDU_BROWSER_TIMEOUT", "300"))
STEP_TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1360, "height": 1000}


@dataclass(frozen=True)
class Case:
    notebook: str                              # repo-relative path
    moves: tuple[str, ...]                     # explorer controls to move, in order
    must_move: tuple[str, ...] = ("clip", "method", "frame")
    needs: tuple[str, ...] = ("data_samples",)  # repo-relative paths the notebook reads
    extra_env: dict = field(default_factory=dict)

    @property
    def stem(self) -> str:
        return Path(self.notebook).stem


CASES = [
    # rollout -> attention enables the stage slider; the last move switches to a gradient method
    Case("tests/browser/explorer_smoke.ipynb", ("clip", "method", "stage", "frame", "method")),
    Case("notebooks/05_attention_and_captum.ipynb", ("clip", "method", "stage", "frame", "method")),
]


def _param(case: Case):
    marks = []
    if not (ROOT / case.notebook).exists():
        marks.append(pytest.mark.skip(reason=f"{case.notebook} does not exist yet"))
    return pytest.param(case, id=case.stem, marks=marks)


def _prepare_root(case: Case, root: Path) -> Path:
    """A server root mirroring the repo's layout: the notebook (and non-notebook files beside it)
    at its own relative path, plus what it reads, so relative paths behave as in the repo."""
    src = ROOT / case.notebook
    dest_dir = root / Path(case.notebook).parent
    ignore = shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__", "runs", "*.py", ".cache")
    shutil.copytree(src.parent, dest_dir, ignore=ignore, dirs_exist_ok=True)
    shutil.copy2(src, dest_dir / src.name)
    for need in case.needs:
        p = ROOT / need
        if p.is_dir():
            shutil.copytree(p, root / need, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".cache"))
        elif p.exists():
            (root / need).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, root / need)
    return dest_dir / src.name


def _publish(shots: list[Path], case: Case) -> None:
    if os.environ.get("HSTA_EDU_UPDATE_SCREENSHOTS", "") not in ("1", "true", "yes"):
        return
    docs = ROOT / "docs" / "screenshots"
    docs.mkdir(parents=True, exist_ok=True)
    for s in shots:
        shutil.copy2(s, docs / s.name)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_explorer_in_jupyterlab(case: Case, browser, artifacts_dir, tmp_path):
    from .lab_page import (
        Explorer,
        error_outputs,
        notebook_state,
        open_notebook,
        rendered_problems,
        run_all_cells,
        wait_until_executed,
    )

    t0 = time.monotonic()
    timings: dict[str, float] = {}
    root = tmp_path / "root"
    nb_path = _prepare_root(case, root)
    server = start_lab(root, tmp_path / "jupyter",
                       extra_env={"HSTA_EDU_FAST": "1", **case.extra_env}, timeout=90)
    timings["server"] = time.monotonic() - t0
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
    page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
    shots: list[Path] = []
    publish: list[Path] = []

    def shot(name: str, locator=None, for_docs: bool = False) -> Path:
        p = artifacts_dir / f"{case.stem}-{name}.png"
        (locator.screenshot(path=str(p)) if locator is not None else page.screenshot(path=str(p)))
        shots.append(p)
        if for_docs:
            publish.append(p)
        return p

    try:
        rel = nb_path.relative_to(root).as_posix()
        open_notebook(page, server.notebook_url(rel), timeout_ms=120_000)
        timings["open"] = time.monotonic() - t0
        run_all_cells(page)
        try:
            state = wait_until_executed(page, timeout_ms=RUN_TIMEOUT_S * 1000)
        except Exception as e:
            shot("timeout")
            raise AssertionError(f"the notebook did not finish within {RUN_TIMEOUT_S:.0f} s: "
                                 f"{notebook_state(page)}; errors so far: {error_outputs(page)}") from e
        timings["run_all"] = time.monotonic() - t0

        errors = error_outputs(page)
        assert not errors, "cells failed:\n" + "\n\n".join(errors)
        assert state["executed"] == state["code_cells"] > 0, state

        # widgets render as widgets
        try:
            explorer = Explorer.find(page, "clip", timeout_ms=STEP_TIMEOUT_MS)
            first = explorer.wait_for_image(timeout_ms=STEP_TIMEOUT_MS)
        except Exception as e:
            shot("no-explorer")
            raise AssertionError("no explorer widget with a 'clip' control and a figure appeared; "
                                 f"on the page: {rendered_problems(page) or 'no widget error text'}") from e
        assert page.locator(".jp-NotebookPanel .jupyter-widgets").count() >= 5
        assert explorer.root.locator(".widget-dropdown select").count() >= 2
        for label in ("clip", "method", "frame"):
            assert explorer.control(label).count() == 1, f"no {label!r} control in the explorer"
        problems = rendered_problems(page)
        assert not problems, "\n".join(problems)
        shot("notebook", for_docs=True)
        shot("explorer", explorer.root, for_docs=True)

        # moving each control redraws the figure
        digests = [first]
        moved: list[str] = []
        for i, name in enumerate(case.moves, 1):
            if explorer.control(name).count() == 0 or not explorer.is_enabled(name):
                continue
            before = explorer.image_src()
            old, new = explorer.move(name, timeout_ms=STEP_TIMEOUT_MS)
            try:
                digest = explorer.wait_for_image(timeout_ms=STEP_TIMEOUT_MS, different_from=before)
            except Exception as e:
                shot(f"{i:02d}-{name}-unchanged", explorer.root)
                raise AssertionError(f"moving {name!r} from {old!r} to {new!r} did not change the figure "
                                     f"within {STEP_TIMEOUT_MS / 1000:.0f} s") from e
            assert digest not in digests[-1:], f"{name}: {old!r} -> {new!r} left the same picture"
            digests.append(digest)
            moved.append(f"{name}: {old} -> {new}")
            shot(f"{i:02d}-{name}", explorer.root)
            timings[f"move {i} {name}"] = time.monotonic() - t0
        missing = [m for m in case.must_move if not any(x.startswith(m + ":") for x in moved)]
        assert not missing, f"controls never moved: {missing} (moved: {moved})"
        publish.append(shots[-1])

        errors = error_outputs(page) + rendered_problems(page)
        assert not errors, "after moving the controls:\n" + "\n\n".join(errors)
        widget_errors = [c for c in console if "pageerror" in c or ("error" in c.lower() and "widget" in c.lower())]
        assert not widget_errors, "browser errors:\n" + "\n".join(widget_errors)
        _publish(publish, case)
    finally:
        timings["total"] = time.monotonic() - t0
        (artifacts_dir / "console.log").write_text("\n".join(console))
        (artifacts_dir / "timings.json").write_text(json.dumps(timings, indent=1))
        try:
            context.close()
        finally:
            server.stop()
            shutil.copy2(server.log_path, artifacts_dir / "jupyterlab.log")
