"""End-to-end: the notebooks run in JupyterLab in a real browser (see tests/browser.py).

By default notebooks 01 and 03 are checked (what CI runs: a typed eta redraws a quadratic panel
and retrains the micro network of 03 live); ``AEOS_LAB_BROWSER_NOTEBOOKS=all`` (or a
comma list of names or prefixes such as ``01,03``) selects others. Chromium and Playwright are
required: without them these tests fail, unless ``AEOS_LAB_BROWSER=0`` skips them.
Screenshots go to ``$AEOS_LAB_BROWSER_SHOTS`` or a new temporary folder, printed and kept.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import browser
import psutil
import pytest

SELECTION_ENV = "AEOS_LAB_BROWSER_NOTEBOOKS"
SWITCH_ENV = "AEOS_LAB_BROWSER"
SHOTS_ENV = "AEOS_LAB_BROWSER_SHOTS"

NOTEBOOKS = browser.notebook_names(os.environ.get(SELECTION_ENV))


def _notebook(*sources: str) -> dict:
    cells = [
        {"cell_type": "code", "metadata": {}, "source": src, "outputs": [], "execution_count": None}
        for src in sources
    ]
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


# Controls for the checker itself, served next to the real notebooks.
ERROR_CONTROL = "_control_error"
STATIC_CHART_CONTROL = "_control_static_chart"
LATE_PANEL_CONTROL = "_control_late_panel"
CONTROLS = {
    # stderr is not an error; the exception is, and the cell after it never runs
    ERROR_CONTROL: _notebook(
        "import sys\nprint('a warning on stderr', file=sys.stderr)",
        "raise ValueError('deliberate failure')",
        "print('never reached')",
    ),
    # a panel whose chart ignores eta: moving the slider must NOT count as a redraw
    STATIC_CHART_CONTROL: _notebook(
        "import altair as alt\nimport pandas as pd\n"
        "from aeos_lab import notebook\nfrom aeos_lab.viz import widgets\ninfo = notebook.setup()",
        "frame = pd.DataFrame({'x': [0, 1, 2], 'y': [1, 0, 1]})\n"
        "panel = widgets.ControlPanel(\n"
        "    lambda values: frame,\n"
        "    [lambda df: alt.Chart(df).mark_line().encode(x='x', y='y')],\n"
        "    eta=(1e-2, 1e-4, 1.0),\n"
        "    beta1=None,\n"
        ")\npanel",
    ),
    # a panel shown before its first result (as notebooks 02-05 do), then updated in place:
    # Altair's chart widget once threw "Cannot set properties of undefined" on every update
    LATE_PANEL_CONTROL: _notebook(
        "import altair as alt\nimport pandas as pd\n"
        "from aeos_lab import notebook\nfrom aeos_lab.viz import widgets\ninfo = notebook.setup()",
        "def lines(values):\n"
        "    return pd.DataFrame({'x': range(5), 'y': [values['eta'] * i for i in range(5)]})\n"
        "panel = widgets.ControlPanel(\n"
        "    lines,\n"
        "    [lambda df: alt.Chart(df).mark_line().encode(x='x', y='y')],\n"
        "    eta=(1e-2, 1e-4, 1.0),\n"
        "    beta1=None,\n"
        "    run_button=True,\n"
        "    auto_run=False,\n"
        ")\npanel.show()",
        "import time\ntime.sleep(2)  # the chart is on screen\n"
        "for eta in (0.1, 0.2, 0.3):\n    panel.set_and_run(eta=eta)\n    time.sleep(0.5)",
    ),
}


def _require_browser() -> None:
    if os.environ.get(SWITCH_ENV) == "0":
        pytest.skip(f"{SWITCH_ENV}=0: browser test switched off")
    missing = browser.missing_requirements()
    if missing:
        pytest.fail(
            "the browser test needs " + "; ".join(missing) + f". Set {SWITCH_ENV}=0 to skip it.",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def lab():
    """One JupyterLab server, one Chromium and the screenshot folder for the whole module."""
    shots = Path(os.environ.get(SHOTS_ENV) or tempfile.mkdtemp(prefix="aeos_lab_browser_"))
    with browser.jupyter_lab(extra_notebooks=CONTROLS) as server, browser.chromium() as chromium:
        yield server, chromium, shots


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_browser(name, request, capsys):
    _require_browser()
    server, chromium, shots = request.getfixturevalue("lab")
    report = browser.check_notebook(chromium, server, name, shots)
    with capsys.disabled():
        print(f"\n{report.summary()}\n  screenshots: {shots}")
    expectation = browser.EXPECTATIONS.get(name, browser.Expectation())
    if expectation.charts:
        assert report.charts > 0
    if expectation.slider is not None:
        assert report.slider_moved is not None


def test_checker_reports_error_outputs(request):
    _require_browser()
    server, chromium, shots = request.getfixturevalue("lab")
    expectation = browser.Expectation(timeout_s=120, charts=False, widgets=False)
    with pytest.raises(browser.NotebookCheckError) as caught:
        browser.check_notebook(chromium, server, ERROR_CONTROL, shots, expectation)
    message = str(caught.value).split("--- JupyterLab log")[0]
    assert "cell 1 (raise ValueError('deliberate failure')) raised ValueError" in message
    assert "cell 2 (print('never reached')) was not executed" in message
    assert "cell 0" not in message  # stderr output is not an error


def test_checker_notices_a_chart_that_does_not_change(request):
    _require_browser()
    server, chromium, shots = request.getfixturevalue("lab")
    slider = browser.SliderCheck("eta", ("0.5", "0.05"), timeout_s=5)
    expectation = browser.Expectation(timeout_s=180, slider=slider)
    moved = r"eta set from 1\.00e-0?2 to 0\.5 \(readout now 5\.00e-0?1\)"
    with pytest.raises(browser.NotebookCheckError, match=moved + ", but the chart did not change"):
        browser.check_notebook(chromium, server, STATIC_CHART_CONTROL, shots, expectation)


def test_a_panel_shown_before_its_result_updates_without_page_errors(request):
    _require_browser()
    server, chromium, shots = request.getfixturevalue("lab")
    expectation = browser.Expectation(timeout_s=180)
    report = browser.check_notebook(chromium, server, LATE_PANEL_CONTROL, shots, expectation)
    assert report.charts == 1 and report.page_errors == []


def test_only_allow_listed_page_errors_pass():
    errors = ["TypeError: x is undefined at foo.js:1:2", "ReferenceError: y"]
    assert browser.unexpected_page_errors(errors) == errors  # the allow-list is empty
    for allowed in browser.ALLOWED_PAGE_ERRORS:  # each entry says why, with a reference
        assert allowed.pattern and allowed.reason and allowed.reference.startswith("https://")


# --------------------------------------------------------------------------- server start-up


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_missing_executable_raises_clear_error(tmp_path):
    before = _children()
    with pytest.raises(browser.JupyterLabError, match="could not be started"):
        with browser.jupyter_lab(tmp_path, python=str(tmp_path / "no-such-python")):
            pass
    assert _children() <= before


def test_server_that_exits_raises_with_its_log(tmp_path):
    before = _children()
    with pytest.raises(browser.JupyterLabError, match="exited with status") as caught:
        with browser.jupyter_lab(tmp_path, extra_args=["--ServerApp.port_retries=many"]):
            pass
    assert "port_retries" in str(caught.value)  # the log tail names the bad option
    assert _children() <= before


def test_server_that_never_answers_is_killed(tmp_path):
    # a stand-in for python that starts a child and then hangs without serving anything
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\necho fake server starting\nsleep 300 &\nsleep 300\n")
    fake.chmod(0o755)
    before = _children()
    with pytest.raises(browser.JupyterLabError, match="did not answer") as caught:
        with browser.jupyter_lab(tmp_path, python=str(fake), start_timeout=1.0):
            pass
    assert "fake server starting" in str(caught.value)
    assert _children() <= before


def test_notebook_selection():
    assert browser.notebook_names(None) == list(browser.DEFAULT_NOTEBOOKS)
    every = sorted(p.stem for p in browser.NOTEBOOKS_DIR.glob("*.ipynb"))
    assert browser.notebook_names("all") == every
    assert (
        browser.notebook_names("01, 01_quadratic_stability.ipynb") == ["01_quadratic_stability"] * 2
    )
    with pytest.raises(ValueError, match="matches nothing"):
        browser.notebook_names("99_missing")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
