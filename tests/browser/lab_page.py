"""Drive a JupyterLab page with Playwright (sync API), the way a person would use it.

The server runs with ``expose_app_in_browser`` so ``window.jupyterapp`` (JupyterLab's own
application object) is reachable: commands are run through its command registry (the same
commands the Run menu calls), and the kernel and cell states are read from its models instead
of guessed from the screen. Widgets are found and moved through the DOM only, as a user sees them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from playwright.sync_api import Locator, Page

APP_READY_JS = """() => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return false;
  const w = app.shell.currentWidget;
  return !!(w && w.content && w.content.widgets && w.sessionContext && w.sessionContext.session
            && w.sessionContext.session.kernel && w.sessionContext.session.kernel.status === 'idle');
}"""

# the state of the open notebook: kernel status, cells waiting/running, executed code cells
NOTEBOOK_STATE_JS = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  const cells = w.content.widgets.filter(c => c.model.type === 'code' && c.model.sharedModel.getSource().trim());
  const prompts = cells.map(c => (c.node.querySelector('.jp-InputPrompt') || {}).textContent || '');
  return {
    kernel: kernel ? kernel.status : 'none',
    code_cells: cells.length,
    executed: cells.filter(c => c.model.executionCount !== null && c.model.executionCount !== undefined).length,
    busy_prompts: prompts.filter(p => p.includes('*')).length,
    errors: cells.filter(c => c.model.outputs.toJSON().some(o => o.output_type === 'error')).length,
  };
}"""

# done: every code cell ran (or one failed) and the kernel has been idle for a whole second
DONE_JS = """() => {
  const s = (NOTEBOOK_STATE)();
  // a failed cell stops Run All: then the cells after it never run
  const done = s.kernel === 'idle' && (s.errors > 0 || (s.busy_prompts === 0 && s.executed === s.code_cells));
  if (!done) { window.__hsta_idle_since = 0; return false; }
  if (!window.__hsta_idle_since) window.__hsta_idle_since = Date.now();
  return Date.now() - window.__hsta_idle_since > 1000;
}""".replace("NOTEBOOK_STATE", NOTEBOOK_STATE_JS)

OUTPUTS_JS = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const out = [];
  w.content.widgets.forEach((c, i) => {
    if (c.model.type !== 'code') return;
    const o = c.model.outputs.toJSON();
    o.forEach(x => out.push({cell: i, ...x}));
  });
  return out;
}"""

# finds the explorer: the nearest ancestor of the 'clip' control that also holds an Output widget
MARK_EXPLORER_JS = """(label) => {
  const labels = [...document.querySelectorAll('.jp-NotebookPanel .jupyter-widgets label.widget-label')]
      .filter(l => l.textContent.trim() === label);
  for (const l of labels) {
    let n = l.parentElement;
    while (n && !n.classList.contains('jp-OutputArea-output')) {
      if (n.classList.contains('jupyter-widgets') && n.querySelector('.widget-output')) {
        document.querySelectorAll('[data-hsta-explorer]').forEach(e => e.removeAttribute('data-hsta-explorer'));
        n.setAttribute('data-hsta-explorer', '1');
        return true;
      }
      n = n.parentElement;
    }
  }
  return false;
}"""

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookError(AssertionError):
    pass


def open_notebook(page: Page, url: str, timeout_ms: float) -> None:
    """Open ``url`` (a /lab/tree/... address) and wait for JupyterLab and an idle kernel."""
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    page.wait_for_function(APP_READY_JS, timeout=timeout_ms, polling=250)
    # a tidy work area for the screenshots: no side panels
    page.evaluate("() => { const s = window.jupyterapp.shell; s.collapseLeft && s.collapseLeft();"
                  " s.collapseRight && s.collapseRight(); }")


def run_all_cells(page: Page) -> None:
    """Run every cell, as Run > Run All Cells does (not awaited: `wait_until_executed` follows).

    Saved outputs and execution counts are cleared first: a notebook committed with outputs
    would otherwise look finished (and its saved widget views would show 'model not found')."""
    ok = page.evaluate("""() => {
      const app = window.jupyterapp;
      app.shell.currentWidget.content.widgets.forEach(c => {
        if (c.model.type === 'code') { c.model.outputs.clear(); c.model.executionCount = null; }
      });
      if (!app.commands.hasCommand('notebook:run-all-cells')) return false;
      app.commands.execute('notebook:run-all-cells');
      return true;
    }""")
    if not ok:  # the keyboard route, should the command ever be renamed
        page.locator(".jp-Notebook").first.click()
        page.keyboard.press("Escape")
        page.keyboard.press("Control+a")
        page.keyboard.press("Shift+Enter")


def wait_until_executed(page: Page, timeout_ms: float) -> dict:
    """Wait until every non-empty code cell has run (or one failed) and the kernel is idle;
    returns the state."""
    page.wait_for_function(DONE_JS, timeout=timeout_ms, polling=250)
    return page.evaluate(NOTEBOOK_STATE_JS)


def notebook_state(page: Page) -> dict:
    return page.evaluate(NOTEBOOK_STATE_JS)


def error_outputs(page: Page) -> list[str]:
    """Error outputs and tracebacks written to stderr, read from the notebook's output models."""
    problems = []
    for o in page.evaluate(OUTPUTS_JS):
        if o.get("output_type") == "error":
            tb = ANSI.sub("", "\n".join(o.get("traceback") or []))
            problems.append(f"cell {o['cell']}: {o.get('ename')}: {o.get('evalue')}\n{tb[-3000:]}")
        elif o.get("output_type") == "stream" and o.get("name") == "stderr":
            text = o.get("text") if isinstance(o.get("text"), str) else "".join(o.get("text") or [])
            if "Traceback" in text:
                problems.append(f"cell {o['cell']} (stderr): {ANSI.sub('', text)[-3000:]}")
    return problems


def rendered_problems(page: Page) -> list[str]:
    """What a person would see instead of working widgets, read from the page itself."""
    problems = []
    body = page.locator(".jp-NotebookPanel").first.inner_text()
    for stuck in ("Error displaying widget", "Loading widget...", "Failed to display Jupyter Widget"):
        if stuck in body:
            problems.append(f"the page shows {stuck!r}")
    # a widget shown as its text repr means no widget manager rendered it
    for text in page.locator(".jp-OutputArea-output[data-mime-type='text/plain']").all_inner_texts():
        if re.match(r"^\s*(VBox|HBox|Dropdown|IntSlider|Output|Tab|Box)\(", text):
            problems.append(f"a widget rendered as plain text: {text[:120]!r}")
    stderr = page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
    for text in stderr.all_inner_texts():
        if "Traceback" in text or re.search(r"\b\w*Error\b:", text):
            problems.append(f"error text in the output: {text[-1500:]}")
    return problems


@dataclass
class Explorer:
    """The explorer widget on the page."""
    page: Page

    @property
    def root(self) -> Locator:
        return self.page.locator("[data-hsta-explorer='1']")

    @classmethod
    def find(cls, page: Page, anchor: str, timeout_ms: float) -> Explorer:
        page.wait_for_function(MARK_EXPLORER_JS, arg=anchor, timeout=timeout_ms, polling=250)
        ex = cls(page)
        ex.root.scroll_into_view_if_needed()
        return ex

    def control(self, description: str) -> Locator:
        label = self.page.locator("label.widget-label").filter(has_text=re.compile(rf"^\s*{re.escape(description.strip())}\s*$"))
        return self.root.locator(".jupyter-widgets.widget-inline-hbox").filter(has=label).first

    def image_src(self) -> str | None:
        img = self.root.locator(".widget-output img")
        if img.count() == 0:
            return None
        return img.last.get_attribute("src")

    def image_digest(self) -> str | None:
        src = self.image_src()
        return None if src is None else hashlib.sha256(src.encode()).hexdigest()[:16]

    def wait_for_image(self, timeout_ms: float, different_from: str | None = None) -> str:
        """Wait until the Output shows a loaded PNG whose ``src`` differs from ``different_from`` (the
        src before a move), and return its digest."""
        self.page.wait_for_function(
            """([sel, before]) => {
              const imgs = document.querySelectorAll(sel);
              if (!imgs.length) return false;
              const img = imgs[imgs.length - 1];
              const src = img.getAttribute('src') || '';
              return src.length > 100 && img.complete && img.naturalWidth > 0 && src !== before;
            }""",
            arg=["[data-hsta-explorer='1'] .widget-output img", different_from],
            timeout=timeout_ms, polling=200)
        return self.image_digest()

    def move(self, description: str, timeout_ms: float) -> tuple[str, str]:
        """Set the control to another value as a user would (another option of a dropdown; one step
        of a slider by keyboard); returns (old value, new value) as shown on the page."""
        c = self.control(description)
        if c.count() == 0:
            raise AssertionError(f"no explorer control labelled {description!r}")
        select = c.locator("select")
        if select.count():
            if select.is_disabled():
                raise AssertionError(f"the {description!r} control is disabled")
            labels = select.locator("option").all_inner_texts()
            old = select.evaluate("s => s.options[s.selectedIndex] ? s.options[s.selectedIndex].text : ''")
            if len(labels) < 2:
                raise AssertionError(f"the {description!r} dropdown has only {labels}")
            new = labels[(labels.index(old) + 1) % len(labels)] if old in labels else labels[0]
            select.select_option(label=new, timeout=timeout_ms)
            return old, new
        handle = c.locator(".noUi-handle")
        if handle.count():
            readout = c.locator(".widget-readout")
            old = readout.inner_text().strip()
            at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            handle.focus()
            self.page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
            self.page.wait_for_function("([el, old]) => el.textContent.trim() !== old",
                                        arg=[readout.element_handle(), old], timeout=timeout_ms)
            return old, readout.inner_text().strip()
        raise AssertionError(f"the {description!r} control is neither a dropdown nor a slider")

    def is_enabled(self, description: str) -> bool:
        c = self.control(description)
        if c.locator("select").count():
            return c.locator("select").is_enabled()
        return c.locator(".noUi-target[disabled], input[disabled]").count() == 0
