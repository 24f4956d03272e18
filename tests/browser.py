"""End-to-end check of the notebooks in a real browser: JupyterLab driven by Playwright.

:func:`jupyter_lab` starts a JupyterLab server on a free loopback port with a random token,
waits until ``/api/status`` answers, and always shuts it down (REST shutdown, then SIGTERM,
then SIGKILL, then any leftover kernel) and removes its temporary folders. The server works on
a copy of ``notebooks/`` (nothing the browser does can touch the repository) and its kernels
run the notebooks as a learner gets them: the full variant, the bank of precomputed runs on,
and a fresh, empty run cache.

:func:`check_notebook` opens one notebook in headless Chromium (Debian's ``/usr/bin/chromium``),
runs all cells through JupyterLab's own ``notebook:run-all-cells`` command and checks what a
learner would see: no error output, every Vega chart drawn, widgets rendered, no panel status
line reporting an error. For notebooks listed with a :class:`SliderCheck` it types a new value
into a slider's readout and checks that the chart next to the slider is redrawn. Screenshots
go to a folder that is kept.

Command line (the pytest entry is ``tests/test_browser.py``)::

    .venv/bin/python tests/browser.py            # notebook 01
    .venv/bin/python tests/browser.py all        # every notebook
    .venv/bin/python tests/browser.py 01 03      # by name or unique prefix
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from aeos_lab.lessons.exercises import EXPECT_SOLVED_ENV

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO / "notebooks"
CHROMIUM = "/usr/bin/chromium"
DEFAULT_NOTEBOOKS = ("01_quadratic_stability", "03_adam_aeos")  # quadratics; the micro network
START_TIMEOUT_S = 120.0
GRACE_S = 10.0
LOG_TAIL_LINES = 40

# JupyterLab settings for an unattended run: no news/update popup, no autosave, every cell kept
# in the page (the default windowing detaches cells scrolled out of view).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


@dataclasses.dataclass(frozen=True)
class SliderCheck:
    """Type ``values[0]`` (or ``values[1]`` when the slider already shows it) into the readout of
    the first slider described ``description`` and expect the charts in the same output to
    change."""

    description: str = "eta"
    values: tuple[str, str] = ("20", "5")
    timeout_s: float = 120.0


@dataclasses.dataclass(frozen=True)
class Expectation:
    """What a notebook must show after "Run All"."""

    timeout_s: float = 1800.0
    charts: bool = True
    widgets: bool = True
    slider: SliderCheck | None = None


# Notebooks not listed get Expectation(): charts and widgets required, 30 min, no slider move.
EXPECTATIONS: dict[str, Expectation] = {
    "00_index": Expectation(timeout_s=120.0, charts=False, widgets=False),
    # The self-check leaves panel (a)'s eta at 1.02 x 13.57 (EMA Nesterov's threshold).
    "01_quadratic_stability": Expectation(timeout_s=360.0, slider=SliderCheck("eta", ("20", "5"))),
    # The first eta slider of 02 and 03 is their panel (a) on the micro network: a typed value
    # retrains the whole run live (no Run button) and redraws its charts.
    "02_frozen_adam": Expectation(timeout_s=900.0, slider=SliderCheck("eta", ("0.3", "0.25"))),
    "03_adam_aeos": Expectation(timeout_s=900.0, slider=SliderCheck("eta", ("2e-2", "6e-3"))),
}


class JupyterLabError(RuntimeError):
    """JupyterLab did not start (or could not be reached); the message ends with its log."""


class NotebookCheckError(AssertionError):
    """A notebook failed in the browser; the message says what the learner would see."""


# --------------------------------------------------------------------------- requirements


def missing_requirements() -> list[str]:
    """What the browser check needs and this machine lacks (empty when all is there)."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (install it with: apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[dev]' installs it)")
    return missing


def notebook_names(selection: str | None = None) -> list[str]:
    """Notebook names from a selection: empty or None gives :data:`DEFAULT_NOTEBOOKS`, ``all``
    every notebook in ``notebooks/``, otherwise a comma or space list of names or unique
    prefixes (``01``, ``03_adam_aeos``, ``05_sharp_solutions.ipynb``)."""
    available = sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))
    selection = (selection or "").strip()
    if not selection:
        return list(DEFAULT_NOTEBOOKS)
    if selection.lower() == "all":
        return available
    names = []
    for item in re.split(r"[,\s]+", selection):
        if not item:
            continue
        stem = item.removesuffix(".ipynb")
        matches = [name for name in available if name == stem] or [
            name for name in available if name.startswith(stem)
        ]
        if len(matches) != 1:
            raise ValueError(
                f"notebook {item!r} matches {matches or 'nothing'}; choose from {available}"
            )
        names.append(matches[0])
    return names


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class LabServer:
    """A running JupyterLab: ``url`` is ``http://127.0.0.1:PORT``; requests need ``token``."""

    url: str
    token: str
    process: subprocess.Popen
    log_path: Path
    root_dir: Path

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.log_path, lines)

    def notebook_url(self, name: str) -> str:
        """The notebook in a new, empty workspace (a shared one would reopen earlier tabs and
        start their kernels again)."""
        workspace = f"check-{secrets.token_hex(4)}"
        return f"{self.url}/lab/workspaces/{workspace}/tree/{name}.ipynb?token={self.token}"

    def request(self, path: str, method: str = "GET", timeout: float = 5.0) -> bytes:
        req = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.read()

    def shutdown_kernels(self, path: str) -> None:
        """End the sessions (and kernels) of the notebook at ``path``, so the next notebook
        gets the CPU and memory."""
        with contextlib.suppress(OSError, ValueError):
            for session in json.loads(self.request("/api/sessions")):
                if session.get("path") == path:
                    self.request(f"/api/sessions/{session['id']}", method="DELETE", timeout=30)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _write_settings(settings_dir: Path) -> None:
    for plugin, values in LAB_SETTINGS.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@contextlib.contextmanager
def jupyter_lab(
    notebooks_dir: Path = NOTEBOOKS_DIR,
    *,
    python: str = sys.executable,
    extra_args: Sequence[str] = (),
    start_timeout: float = START_TIMEOUT_S,
    extra_notebooks: Mapping[str, dict] | None = None,
) -> Iterator[LabServer]:
    """Run JupyterLab on a copy of ``notebooks_dir`` for the duration of the ``with`` block.

    ``extra_notebooks`` (name -> notebook JSON) are written next to the copies.

    Kernels run the notebooks as a learner on a fresh install does: full variant
    (``AEOS_LAB_FAST=0``), the bank on, a fresh empty ``AEOS_LAB_CACHE_DIR``. Raises
    :class:`JupyterLabError`, with the tail of the server log, when the server cannot be started,
    exits, or does not answer ``/api/status`` within ``start_timeout`` seconds. Whatever
    happens, the server and its kernels are stopped and the temporary folders removed.
    """
    work = Path(tempfile.mkdtemp(prefix="aeos_lab_jupyterlab_"))
    process = None
    try:
        root = work / "notebooks"
        shutil.copytree(notebooks_dir, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        for name, content in (extra_notebooks or {}).items():
            (root / f"{name}.ipynb").write_text(json.dumps(content))
        _write_settings(work / "user-settings")
        for sub in ("cache", "config", "runtime", "workspaces", "ipython"):
            (work / sub).mkdir()
        token = secrets.token_hex(24)
        port = free_port()
        server_env = {
            **{k: v for k, v in os.environ.items() if k != EXPECT_SOLVED_ENV},  # as a learner
            "AEOS_LAB_FAST": "0",
            "AEOS_LAB_CACHE_DIR": str(work / "cache"),
            "JUPYTER_CONFIG_DIR": str(work / "config"),
            "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
            "IPYTHONDIR": str(work / "ipython"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        command = [
            python,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--IdentityProvider.token={token}",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={work / 'user-settings'}",
            f"--LabApp.workspaces_dir={work / 'workspaces'}",
            "--LabApp.extension_manager=readonly",  # no PyPI queries
            *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
            *extra_args,
        ]
        log_path = work / "jupyterlab.log"
        with open(log_path, "wb") as log:
            try:
                process = subprocess.Popen(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=server_env,
                    cwd=work,
                    start_new_session=True,  # its own process group, killed as a whole
                )
            except OSError as err:
                raise JupyterLabError(
                    f"JupyterLab could not be started ({command[0]}): {err}"
                ) from err
        server = LabServer(f"http://127.0.0.1:{port}", token, process, log_path, root)
        _wait_until_ready(server, start_timeout)
        yield server
    finally:
        if process is not None:
            _stop(process, f"http://127.0.0.1:{port}", token)
        shutil.rmtree(work, ignore_errors=True)


def _wait_until_ready(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while True:
        code = server.process.poll()
        if code is not None:
            raise JupyterLabError(
                f"JupyterLab exited with status {code} before answering {server.url}/api/status."
                f"\n--- server log (tail) ---\n{server.log_tail()}"
            )
        try:
            status = json.loads(server.request("/api/status", timeout=2.0))
            if "started" in status:
                return
        except (OSError, ValueError) as err:  # URLError and HTTPError are OSErrors
            last_error = f"{type(err).__name__}: {err}"
        if time.monotonic() > deadline:
            raise JupyterLabError(
                f"JupyterLab did not answer {server.url}/api/status within {timeout:g} s "
                f"(last attempt: {last_error}).\n--- server log (tail) ---\n{server.log_tail()}"
            )
        time.sleep(0.25)


def _descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _stop(process: subprocess.Popen, url: str, token: str) -> None:
    """Stop the server and everything it started: kernels live in their own sessions, so the
    process group alone would miss them."""
    import psutil

    children = _descendants(process.pid)
    if process.poll() is None:
        steps: list = [signal.SIGTERM, signal.SIGKILL]
        with contextlib.suppress(OSError):  # asks the server to shut its kernels down too
            req = urllib.request.Request(
                f"{url}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
            )
            urllib.request.urlopen(req, timeout=5).close()
            steps.insert(0, None)
        for sig in steps:
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=GRACE_S)
                break
    with contextlib.suppress(ProcessLookupError):  # helpers left in the server's group
        os.killpg(process.pid, signal.SIGKILL)
    alive = [p for p in children if p.is_running()]
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(alive, timeout=GRACE_S)


# --------------------------------------------------------------------------- the browser

# JavaScript run in the page. `jupyterapp` is exposed by --LabApp.expose_app_in_browser.
_JS_FIND_PANEL = """
  const app = window.jupyterapp;
  const panel = app && app.shell ? Array.from(app.shell.widgets('main'))
    .find((w) => w.context && w.context.path === path) : undefined;
"""


def _js_with_panel(params: str, body: str) -> str:
    """A JavaScript function of ``params`` (which name ``path``) whose ``body`` can use
    ``panel``, the notebook panel open at ``path`` (undefined while there is none)."""
    return "(" + params + ") => {" + _JS_FIND_PANEL + body + "}"


_JS_KERNEL_IDLE = _js_with_panel(
    "path",
    """
  const kernel = panel && panel.context.isReady && panel.sessionContext.session
    && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && kernel.connectionStatus === 'connected';
""",
)

_JS_RUN_ALL = _js_with_panel(
    "path",
    """
  window.__aeosRunAll = undefined;
  panel.content.activate();
  app.commands.execute('notebook:run-all-cells').then(
    (ok) => { window.__aeosRunAll = {ok: ok !== false}; },
    (err) => { window.__aeosRunAll = {ok: false, error: String(err)}; });
""",
)

# Finished: the command's promise resolved, the kernel is idle, and no prompt shows [*].
_JS_RUN_FINISHED = _js_with_panel(
    "path",
    """
  if (window.__aeosRunAll === undefined) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  return !Array.from(panel.node.querySelectorAll('.jp-InputPrompt'))
    .some((p) => p.textContent.includes('[*]'));
""",
)

# Per code cell: execution count and error outputs from the notebook model (the ground truth;
# in the page, errors and stderr are both drawn as application/vnd.jupyter.stderr).
_JS_CELLS = _js_with_panel(
    "path",
    """
  const cells = [];
  panel.content.widgets.forEach((cell, index) => {
    if (cell.model.type !== 'code') return;
    const outputs = cell.model.outputs.toJSON();
    cells.push({
      index,
      count: cell.model.executionCount,
      source: cell.model.sharedModel.getSource().slice(0, 200),
      errors: outputs.filter((o) => o.output_type === 'error')
        .map((o) => `${o.ename}: ${o.evalue}`),
    });
  });
  return {cells, runAll: window.__aeosRunAll};
""",
)

# What the page shows: charts (drawn or empty), widgets, widget errors, panel error lines.
_JS_PAGE = _js_with_panel(
    "path",
    r"""
  const root = panel.node;
  const text = (el) => (el.textContent || '').trim();
  const drawn = (el) => {
    const mark = el.querySelector('canvas, svg.marks');
    if (!mark) return false;
    const box = mark.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
  const embeds = Array.from(root.querySelectorAll('.jp-OutputArea-output .vega-embed'));
  const outputs = Array.from(root.querySelectorAll('.jp-OutputArea-output'));
  return {
    charts: embeds.length,
    chartsDrawn: embeds.filter(drawn).length,
    widgets: root.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length,
    sliders: root.querySelectorAll('.jp-OutputArea-output .widget-slider').length,
    widgetErrors: outputs.filter((o) => o.querySelector('.jupyter-widgets-error-widget')
        || /Error displaying widget|Loading widget\.\.\./.test(text(o)))
      .map((o) => text(o).slice(0, 300)),
    tracebacks: outputs.filter((o) => text(o).includes('Traceback (most recent call last)'))
      .map((o) => text(o).slice(0, 300)),
    panelErrors: Array.from(root.querySelectorAll('.jp-OutputArea-output .widget-html'))
      .map(text).filter((t) => /^Error in (compute|drawing)/.test(t)),
  };
""",
)

# Before screenshots: more room for the notebook, no focused cell editor.
_JS_PREPARE_SHOTS = """() => {
  window.jupyterapp.shell.collapseLeft();
  if (document.activeElement) document.activeElement.blur();
}"""

# Scroll the notebook to `top` pixels; report where it is.
_JS_SCROLL = _js_with_panel(
    "[path, top]",
    """
  const scroller = panel.node.querySelector('.jp-WindowedPanel-outer') || panel.content.node;
  scroller.scrollTop = top;
  return {top: scroller.scrollTop, height: scroller.clientHeight, total: scroller.scrollHeight};
""",
)

# A fingerprint of every chart inside an element: canvas pixels or SVG markup.
_JS_CHART_PIXELS = """(element) => Array.from(element.querySelectorAll('.vega-embed')).map((e) => {
  const canvas = e.querySelector('canvas');
  if (canvas) return canvas.toDataURL();
  const svg = e.querySelector('svg.marks');
  return svg ? svg.outerHTML : '';
})"""


@dataclasses.dataclass(frozen=True)
class AllowedPageError:
    """An uncaught page error that is provably not ours: a pattern, why, and the upstream
    reference. Any other uncaught error fails the check."""

    pattern: str
    reason: str
    reference: str


ALLOWED_PAGE_ERRORS: tuple[AllowedPageError, ...] = ()
"""Empty: every uncaught error seen while notebooks 00-05 ran was ours, and is fixed. (The
"Cannot set properties of undefined (setting 'modified')" one came from our LiveChart
re-embedding Altair's JupyterChart; see aeos_lab.viz.widgets.LiveChart._render.)"""


def unexpected_page_errors(errors: Sequence[str]) -> list[str]:
    """The uncaught page errors that no :data:`ALLOWED_PAGE_ERRORS` entry matches."""
    return [e for e in errors if not any(re.search(a.pattern, e) for a in ALLOWED_PAGE_ERRORS)]


@dataclasses.dataclass
class NotebookReport:
    name: str
    seconds: float
    code_cells: int
    charts: int
    widgets: int
    sliders: int
    screenshots: list[Path]
    slider_moved: str | None = None  # e.g. "eta: 1.38e+01 -> 2.00e+01"
    console_errors: list[str] = dataclasses.field(default_factory=list)
    page_errors: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        moved = f", slider {self.slider_moved}, chart redrawn" if self.slider_moved else ""
        console = "".join(f"\n  browser console: {line}" for line in self.console_errors)
        return (
            f"{self.name}: {self.code_cells} code cells ran without error in {self.seconds:.0f} s; "
            f"{self.charts} charts drawn, {self.widgets} widgets, {self.sliders} sliders{moved}"
            f"{console}"
        )


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless Debian Chromium driven by Playwright (a ``Browser``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--disable-dev-shm-usage"],  # containers often have a tiny /dev/shm
        )
        try:
            yield browser
        finally:
            browser.close()


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def check_notebook(
    browser,
    server: LabServer,
    name: str,
    shots_dir: Path,
    expectation: Expectation | None = None,
) -> NotebookReport:
    """Open ``name`` in a new page, run all cells and check the result (see the module doc).

    Raises :class:`NotebookCheckError` naming what went wrong (a screenshot of the page at
    that moment is saved as ``NAME_failure.png``).
    """
    from playwright.sync_api import Error as PlaywrightError

    expect = expectation or EXPECTATIONS.get(name, Expectation())
    path = f"{name}.ipynb"
    shots_dir.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    console_errors: list[str] = []
    page_errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and console_errors.append(m.text[:300]))
    page.on("pageerror", lambda e: page_errors.append(_page_error(e)))
    start = time.monotonic()
    try:
        page.goto(server.notebook_url(name), wait_until="domcontentloaded", timeout=60_000)
        _wait(page, _JS_KERNEL_IDLE, path, 120, f"{name}: the kernel never became idle")
        page.evaluate(_JS_RUN_ALL, path)
        _wait(page, _JS_RUN_FINISHED, path, expect.timeout_s, f"{name}: Run All did not finish")
        seconds = time.monotonic() - start
        report = _check_outputs(page, name, path, expect, seconds)
        report.console_errors, report.page_errors = console_errors, page_errors
        unexpected = unexpected_page_errors(page_errors)
        if unexpected:
            raise NotebookCheckError(
                f"{name}: uncaught errors in the page:\n  " + "\n  ".join(unexpected[:5])
            )
        report.screenshots += _screenshots(page, name, shots_dir)
        if expect.slider is not None:
            report.slider_moved = _move_slider(page, name, expect.slider, shots_dir, report)
        return report
    except (NotebookCheckError, PlaywrightError) as err:
        failure = shots_dir / f"{_safe_name(name)}_failure.png"
        with contextlib.suppress(PlaywrightError):
            page.screenshot(path=str(failure))
        dialogs = ""
        with contextlib.suppress(PlaywrightError):
            dialogs = " | ".join(page.locator(".jp-Dialog").all_inner_texts())
        details = [str(err)]
        if dialogs:
            details.append(f"open dialog: {dialogs}")
        if console_errors:
            details.append("browser console errors:\n  " + "\n  ".join(console_errors[-10:]))
        if page_errors:
            details.append("uncaught page errors:\n  " + "\n  ".join(page_errors[-5:]))
        details.append(f"screenshot: {failure}")
        details.append(f"--- JupyterLab log (tail) ---\n{server.log_tail()}")
        raise NotebookCheckError("\n".join(details)) from err
    finally:
        page.close()
        server.shutdown_kernels(path)


def _page_error(error) -> str:
    """An uncaught error as one line: its message and the first frame of its stack."""
    stack = (getattr(error, "stack", None) or "").splitlines()
    where = next((line.strip() for line in stack[1:] if line.strip().startswith("at ")), "")
    return f"{str(error)[:300]} {where[:200]}".strip()


def _wait(page, js: str, arg, timeout_s: float, message: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(js, arg=arg, timeout=timeout_s * 1000, polling=250)
    except PlaywrightTimeout as err:
        raise NotebookCheckError(f"{message} within {timeout_s:g} s") from err


def _check_outputs(page, name: str, path: str, expect: Expectation, seconds: float):
    cells = page.evaluate(_JS_CELLS, path)
    seen = page.evaluate(_JS_PAGE, path)
    problems = []
    for cell in cells["cells"]:
        first_line = cell["source"].splitlines()[0][:60] if cell["source"].strip() else ""
        where = f"cell {cell['index']} ({first_line})"
        problems += [f"{where} raised {error}" for error in cell["errors"]]
        if cell["count"] is None and cell["source"].strip():
            problems.append(f"{where} was not executed")
    if not cells["runAll"]["ok"] and not problems:
        problems.append(f"Run All reported failure: {cells['runAll']}")
    problems += [f"traceback shown: {t}" for t in seen["tracebacks"]]
    problems += [f"widget failed to render: {t}" for t in seen["widgetErrors"]]
    problems += [f"panel status shows an error: {t}" for t in seen["panelErrors"]]
    if seen["chartsDrawn"] < seen["charts"]:
        problems.append(f"only {seen['chartsDrawn']} of {seen['charts']} charts were drawn")
    if expect.charts and seen["charts"] == 0:
        problems.append("no chart was drawn (no .vega-embed in any output)")
    if expect.widgets and (seen["widgets"] == 0 or seen["sliders"] == 0):
        problems.append(f"widgets missing: {seen['widgets']} widgets, {seen['sliders']} sliders")
    if problems:
        raise NotebookCheckError(f"{name}:\n  " + "\n  ".join(problems))
    return NotebookReport(
        name=name,
        seconds=seconds,
        code_cells=len(cells["cells"]),
        charts=seen["chartsDrawn"],
        widgets=seen["widgets"],
        sliders=seen["sliders"],
        screenshots=[],
    )


def _screenshots(page, name: str, shots_dir: Path, max_pages: int = 40) -> list[Path]:
    """The whole notebook, one viewport at a time from the top, then every chart on its own."""
    stem = _safe_name(name)
    page.evaluate(_JS_PREPARE_SHOTS)
    shots = []
    top = 0
    for index in range(max_pages):
        position = page.evaluate(_JS_SCROLL, [f"{name}.ipynb", top])
        page.wait_for_timeout(150)
        shots.append(shots_dir / f"{stem}_page{index:02d}.png")
        page.screenshot(path=str(shots[-1]))
        if position["top"] + position["height"] >= position["total"] - 1:
            break
        top = position["top"] + int(0.9 * position["height"])
    for index, chart in enumerate(page.locator(".jp-OutputArea-output .vega-embed").all()):
        shots.append(shots_dir / f"{stem}_chart{index:02d}.png")
        chart.screenshot(path=str(shots[-1]), timeout=15_000)
    return shots


def _move_slider(page, name: str, check: SliderCheck, shots_dir: Path, report) -> str:
    """Type a new value into the slider's readout; wait until the charts of its panel change."""
    label = re.compile(rf"^\s*{re.escape(check.description)}\s*$")
    slider = page.locator(
        ".jp-OutputArea-output .widget-slider", has=page.locator(".widget-label", has_text=label)
    ).first
    if slider.count() == 0:
        raise NotebookCheckError(f"{name}: no slider described {check.description!r}")
    output = slider.locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea-output')][1]")
    if output.locator(".vega-embed").count() == 0:
        raise NotebookCheckError(
            f"{name}: no chart in the output of the {check.description} slider"
        )
    stem = _safe_name(f"{name}_{check.description}")
    shots = [shots_dir / f"{stem}_before.png", shots_dir / f"{stem}_after.png"]
    viewport = page.viewport_size
    height = output.bounding_box()["height"]  # the whole panel on screen for its screenshots
    tall = int(min(max(height + 300, viewport["height"]), 8000))
    page.set_viewport_size({"width": viewport["width"], "height": tall})
    try:
        output.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        output.screenshot(path=str(shots[0]))
        before = _stable_pixels(page, output)
        readout = slider.locator(".widget-readout")
        old = readout.inner_text().strip()
        new = check.values[1] if _same_number(old, check.values[0]) else check.values[0]
        readout.click()
        page.keyboard.press("ControlOrMeta+a")
        page.keyboard.type(new)
        page.keyboard.press("Enter")
        deadline = time.monotonic() + check.timeout_s
        while output.evaluate(_JS_CHART_PIXELS) == before:
            if time.monotonic() > deadline:
                raise NotebookCheckError(
                    f"{name}: {check.description} set from {old} to {new} (readout now "
                    f"{readout.inner_text().strip()}), but the chart did not change within "
                    f"{check.timeout_s:g} s"
                )
            page.wait_for_timeout(250)
        shown = readout.inner_text().strip()
        if not _same_number(shown, new):
            raise NotebookCheckError(f"{name}: typed {new} into {check.description}, got {shown}")
        _wait(page, _JS_KERNEL_IDLE, f"{name}.ipynb", 120, f"{name}: kernel busy after the move")
        _stable_pixels(page, output)
        output.screenshot(path=str(shots[1]))
        report.screenshots += shots
    finally:
        page.set_viewport_size(viewport)
    errors = page.evaluate(_JS_PAGE, f"{name}.ipynb")["panelErrors"]
    if errors:
        raise NotebookCheckError(f"{name}: after moving {check.description}: {errors}")
    return f"{check.description}: {old} -> {shown}"


def _stable_pixels(page, element, timeout_s: float = 30.0) -> list[str]:
    """The charts' fingerprint once two reads 0.5 s apart agree (drawing has settled)."""
    deadline = time.monotonic() + timeout_s
    previous = element.evaluate(_JS_CHART_PIXELS)
    while True:
        page.wait_for_timeout(500)
        current = element.evaluate(_JS_CHART_PIXELS)
        if current == previous:
            return current
        if time.monotonic() > deadline:
            raise NotebookCheckError(f"charts kept changing for {timeout_s:g} s with no input")
        previous = current


def _same_number(shown: str, typed: str) -> bool:
    try:
        a, b = float(shown), float(typed)
    except ValueError:
        return False
    return abs(a - b) <= 1e-2 * max(abs(a), abs(b))


# --------------------------------------------------------------------------- all together


def run_browser_check(
    names: Sequence[str], shots_dir: Path | None = None, log=print
) -> list[NotebookReport]:
    """Start JupyterLab and Chromium once, check each notebook, return the reports."""
    missing = missing_requirements()
    if missing:
        raise RuntimeError("browser check needs: " + "; ".join(missing))
    shots_dir = shots_dir or Path(tempfile.mkdtemp(prefix="aeos_lab_browser_shots_"))
    log(f"screenshots: {shots_dir}")
    reports = []
    with jupyter_lab() as server, chromium() as browser:
        for name in names:
            reports.append(check_notebook(browser, server, name, shots_dir))
            log(reports[-1].summary())
    return reports


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    start = time.monotonic()
    names = notebook_names(" ".join(argv))
    reports = run_browser_check(names)
    print(f"{len(reports)} notebook(s) passed in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
