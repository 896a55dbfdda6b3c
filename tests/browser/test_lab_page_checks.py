"""The end-to-end test's page checks fail when they should: run against small hand-written pages
shaped like JupyterLab's output DOM (no server, about a second)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

BROKEN = """
<div class="jp-NotebookPanel">
  <div class="jp-OutputArea-output" data-mime-type="text/plain"><pre>VBox(children=(HBox(children=(Dropdown(description='clip'),)),))</pre></div>
  <div class="jp-OutputArea-output">Error displaying widget: model not found</div>
  <div class="jp-OutputArea-output"><div class="jp-RenderedText" data-mime-type="application/vnd.jupyter.stderr">
    <pre>Traceback (most recent call last):\n  File "x", line 1\nValueError: bad</pre></div></div>
</div>"""

GOOD = """
<div class="jp-NotebookPanel">
  <div class="jp-OutputArea-output">
    <div class="lm-Widget jupyter-widgets widget-container widget-box widget-vbox">
      <div class="lm-Widget jupyter-widgets widget-inline-hbox widget-dropdown">
        <label class="widget-label" title="clip">clip</label>
        <select><option>clip 0</option><option>clip 1</option></select></div>
      <div class="lm-Widget jupyter-widgets widget-inline-hbox widget-slider widget-hslider">
        <label class="widget-label" title="stage">stage</label>
        <div class="noUi-target" disabled=""><div class="noUi-handle" aria-valuenow="1" aria-valuemax="1"></div></div>
        <div class="widget-readout">1</div></div>
      <div class="lm-Widget jupyter-widgets widget-output"><img src="data:image/png;base64,AAAA"></div>
    </div>
  </div>
  <div class="jp-OutputArea-output"><div class="jp-RenderedText" data-mime-type="application/vnd.jupyter.stderr">
    <pre>100%|##########| 3/3 [00:01&lt;00:00]</pre></div></div>
</div>"""


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_broken_widget_outputs_are_reported(page):
    from .lab_page import rendered_problems

    page.set_content(BROKEN)
    problems = "\n".join(rendered_problems(page))
    assert "widget rendered as plain text" in problems
    assert "Error displaying widget" in problems
    assert "Traceback" in problems


def test_working_widgets_pass_and_controls_are_found(page):
    from .lab_page import MARK_EXPLORER_JS, Explorer, rendered_problems

    page.set_content(GOOD)
    assert rendered_problems(page) == []          # a progress bar on stderr is not an error
    assert page.evaluate(MARK_EXPLORER_JS, "clip")
    ex = Explorer(page)
    assert ex.control("clip").count() == 1 and ex.control("clip ").count() == 1
    assert ex.control("cli").count() == 0         # labels match exactly
    assert ex.is_enabled("clip") and not ex.is_enabled("stage")
    assert ex.image_src().startswith("data:image/png")
