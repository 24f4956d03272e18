"""Control panels and live charts for the notebooks (ipywidgets 7.7 / 8, Altair 5.5 / 6).

Two pieces:

* :class:`LiveChart` shows an Altair chart in an ``alt.JupyterChart`` and, on
  :meth:`LiveChart.update`, rebuilds the chart from new data. When only the data changed it
  sends just the changed datasets to the browser, which swaps them inside the existing Vega
  view (no re-embed, so no flicker); otherwise it replaces the whole chart.
* :class:`ControlPanel` holds the sliders (``eta`` on a log scale, ``beta1``, ``beta2``, any
  extra control), an optional optimizer picker, an optional Run button, a status line with a
  progress bar, and the live charts. It calls ONE compute function with the current values,
  memoises results by value (LRU), and shows errors in the status line.

A slider move and ``panel.set(eta=...)`` from code take the same path: the widget's value
changes, its observer fires, the panel runs (or, in Run-button mode, waits for the button).
Sliders never update while dragged (``continuous_update=False``).

Example (a notebook cell; ``run_gd`` stands for any function returning a tidy DataFrame)::

    panel = ControlPanel(
        lambda v: run_gd(eta=v["eta"], beta1=v["beta1"]),
        [lambda runs: charts.line_chart(runs, y="x", color="method")],
        eta=(1e-2, 1e-3, 1.0),
        beta1=(0.9, 0.0, 0.99),
    )
    panel                      # shows sliders, status line and chart
    panel.set(eta=0.05)        # a self-check moves the slider from code ...
    panel.last_result          # ... and asserts on what the learner now sees

Latency: :func:`measure_latency` times "recompute + chart update" in the kernel (the panel
also keeps the split of its last run in :attr:`ControlPanel.last_timing`). Drawing in the
browser comes on top and is not measured here.
"""

from __future__ import annotations

import contextlib
import html
import inspect
import json
import math
import statistics
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import altair as alt
import ipywidgets as widgets
from IPython.display import clear_output, display

from aeos_lab.core.formatting import format_sci
from aeos_lab.viz.tables import html_table

__all__ = [
    "ControlPanel",
    "LiveChart",
    "Progress",
    "TableView",
    "beta_slider",
    "enable_offline",
    "eta_slider",
    "grid_slider",
    "measure_latency",
]


# --------------------------------------------------------------------------- live charts


def enable_offline(offline: bool = True) -> bool:
    """Make ``alt.JupyterChart`` load its JavaScript from vl-convert instead of a CDN.

    Call it before creating charts (it affects charts created afterwards). Needs the
    ``vl-convert-python`` package; returns False, changing nothing, when it is missing.
    """
    try:
        alt.JupyterChart.enable_offline(offline)
    except ImportError:
        return False
    return True


def _default_mode() -> str:
    """``"inplace"`` where JupyterChart can swap datasets, else ``"replace"`` or ``"output"``."""
    if not hasattr(alt.JupyterChart, "class_trait_names"):  # anywidget missing: a stub class
        return "output"
    if alt.data_transformers.active == "vegafusion":  # its specs are pre-transformed
        return "replace"
    if "_py_to_js_updates" not in alt.JupyterChart.class_trait_names():
        return "replace"
    return "inplace"


def _split_spec(spec: dict) -> tuple[str, dict[str, list]]:
    """Rename the spec's datasets to ``live_0, live_1, ...`` (order of first use), in place.

    Altair names consolidated datasets by a hash of their content, so the names change with
    the data. Stable names let the browser find the dataset to swap. Returns the spec without
    data as a JSON string (to compare layouts) and the datasets by their new names.
    """
    datasets = spec.pop("datasets", {})
    renamed: dict[str, str] = {}

    def visit(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "data" and isinstance(value, dict) and value.get("name") in datasets:
                    value["name"] = renamed.setdefault(value["name"], f"live_{len(renamed)}")
                else:
                    visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(spec)
    skeleton = json.dumps(spec, sort_keys=True)
    spec["datasets"] = {new: datasets[old] for old, new in renamed.items()}
    return skeleton, spec["datasets"]


class LiveChart:
    """An Altair chart shown once and updated in place.

    ``build(result)`` turns a compute result into an Altair chart (for example a builder from
    :mod:`aeos_lab.charts`); with ``key``, it receives ``result[key]``. :attr:`widget` is the
    ipywidget to display; it stays the same object while the chart inside changes.

    Modes (``mode="auto"`` picks the first that works):

    * ``"inplace"``: ``alt.JupyterChart``; a data-only change is pushed through the chart's
      dataset-update channel (the one Altair's VegaFusion support uses; a public API is
      requested in vega/altair#3318); other changes show a new chart widget.
    * ``"replace"``: ``alt.JupyterChart``, every update shows a new chart widget.
    * ``"output"``: an ``ipywidgets.Output`` cleared and redrawn on each update.

    A data push reaches only views already on screen: display :attr:`widget` before driving
    the panel from code, or call :meth:`refresh` to resend the whole chart.
    """

    def __init__(
        self,
        build: Callable[[Any], alt.TopLevelMixin],
        result: Any = None,
        *,
        key: str | None = None,
        mode: str = "auto",
    ):
        if mode not in ("auto", "inplace", "replace", "output"):
            raise ValueError(f"mode must be one of auto, inplace, replace, output; got {mode!r}")
        self.build = build
        self.key = key
        self.mode = _default_mode() if mode == "auto" else mode
        self.widget = widgets.VBox()
        self.jchart = None
        self.output = None
        self.chart = None
        self.data: dict[str, list] = {}
        self.counts = {"data": 0, "spec": 0}
        self._skeleton = None
        if result is not None:
            self.update(result)

    def update(self, result: Any) -> str:
        """Rebuild the chart from ``result``: ``"data"`` if only datasets were swapped, else
        ``"spec"`` (the chart was replaced)."""
        chart = self.build(result if self.key is None else result[self.key])
        spec = chart.to_dict(validate=False)
        skeleton, datasets = _split_spec(spec)
        if self.mode == "inplace" and self.jchart is not None and skeleton == self._skeleton:
            changed = {name: rows for name, rows in datasets.items() if rows != self.data[name]}
            if changed:
                self.jchart._py_to_js_updates = [
                    {"namespace": "data", "name": name, "scope": [], "value": rows}
                    for name, rows in changed.items()
                ]
                self.jchart.spec["datasets"].update(changed)  # a reloaded page sees new data
            kind = "data"
        else:
            self._render(chart, spec)
            kind = "spec"
        self.chart, self.data, self._skeleton = chart, datasets, skeleton
        self.counts[kind] += 1
        return kind

    def _render(self, chart: alt.TopLevelMixin, spec: dict) -> None:
        """Show ``chart`` in a NEW ``JupyterChart`` (the old one is closed).

        A JupyterChart's browser code registers its dataset-update listener each time it
        embeds a spec and never removes the old ones, which stay bound to the earlier view; a
        data push for a dataset that view lacks then throws "Cannot set properties of
        undefined (setting 'modified')" (altair 5.5-6.x, ``altair/jupyter/js/index.js``). So a
        chart widget here embeds exactly once: its spec, with the stable dataset names, is set
        before it is shown, and a new layout gets a new widget instead of a re-embed."""
        if self.mode == "output":
            if self.output is None:
                self.output = widgets.Output()
                self.widget.children = (self.output,)
            with self.output:
                clear_output(wait=True)
                display(chart)
            return
        old = self.jchart
        self.jchart = alt.JupyterChart(chart)  # validates; sets up params and selections
        if self.mode == "inplace":
            with self.jchart.hold_sync():
                self.jchart.spec = spec  # same spec with stable dataset names
                self.jchart._py_to_js_updates = None
        self.widget.children = (self.jchart,)  # shown only now, with its final spec
        if old is not None:
            old.close()

    def refresh(self) -> None:
        """Show the whole current chart again (a new widget), e.g. after displaying it late."""
        if self.chart is not None:
            spec = self.chart.to_dict(validate=False)
            _split_spec(spec)
            self._render(self.chart, spec)

    def _ipython_display_(self) -> None:
        display(self.widget)


class TableView(LiveChart):
    """A small HTML table in a :class:`ControlPanel`, in place of a chart.

    ``build(result)`` returns a DataFrame of display values, or ``(frame, caption)``. The panel
    updates it like its charts (``update(result)``); an HTML table costs about a millisecond,
    a text chart tens of milliseconds. The last frame shown is kept in :attr:`frame`.
    """

    def __init__(self, build: Callable[[object], Any]):
        super().__init__(build, mode="output")
        self.widget = widgets.HTML()
        self.frame = None

    def update(self, result) -> str:
        built = self.build(result)
        frame, caption = built if isinstance(built, tuple) else (built, None)
        self.frame = frame
        self.widget.value = html_table(frame, caption)
        self.counts["data"] += 1
        return "data"

    def refresh(self) -> None:
        """Nothing to resend: the table is plain widget state."""


# --------------------------------------------------------------------------- controls


def eta_slider(
    value: float = 1e-2,
    min: float = 1e-4,
    max: float = 1.0,
    *,
    step: float = 0.05,
    readout_format: str = ".2e",
    description: str = "eta",
) -> widgets.FloatLogSlider:
    """Learning-rate slider on a log10 scale (``step`` in decades), read out as ``1.00e-02``."""
    return widgets.FloatLogSlider(
        value=value,
        base=10,
        min=math.log10(min),
        max=math.log10(max),
        step=step,
        readout_format=readout_format,
        description=description,
        continuous_update=False,
    )


def beta_slider(
    description: str,
    value: float,
    min: float = 0.0,
    max: float = 0.99,
    step: float = 0.01,
    readout_format: str = ".3f",
) -> widgets.FloatSlider:
    """Linear slider for a decay factor in [0, 1) such as ``beta1`` or ``beta2``."""
    return widgets.FloatSlider(
        value=value,
        min=min,
        max=max,
        step=step,
        readout_format=readout_format,
        description=description,
        continuous_update=False,
    )


def grid_slider(description: str, values: Sequence[float], value: float) -> widgets.SelectionSlider:
    """A slider whose positions are ``values`` (a grid, e.g. the learning rates the bank holds),
    starting at ``value`` (one of them): every release lands on the grid. Learning rates read
    as "1e-4", other values as "0.99"."""
    label = (lambda v: format_sci(v, 3)) if description == "eta" else (lambda v: f"{v:g}")
    return widgets.SelectionSlider(
        options=[(label(v), float(v)) for v in values],
        value=float(value),
        description=description,
        continuous_update=False,
    )


def _control(name: str, spec) -> widgets.ValueWidget:
    """A widget from a spec: a widget (used as is) or ``(value, min, max[, step])``."""
    if isinstance(spec, widgets.Widget):
        if not spec.description:
            spec.description = name
        return spec
    value, low, high, *step = spec
    if all(isinstance(v, int) and not isinstance(v, bool) for v in (value, low, high, *step)):
        step = step[0] if step else 1
        return widgets.IntSlider(value=value, min=low, max=high, step=step, description=name)
    step = step[0] if step else (high - low) / 100
    return widgets.FloatSlider(
        value=value, min=low, max=high, step=step, readout_format=".3g", description=name
    )


def _check_value(name: str, widget: widgets.Widget, value) -> None:
    """ValueError when ``value`` lies outside what ``widget`` accepts (no silent clamping)."""
    if isinstance(widget, widgets.FloatLogSlider):
        low, high = widget.base**widget.min, widget.base**widget.max
    elif hasattr(widget, "min") and hasattr(widget, "max"):
        low, high = widget.min, widget.max
    elif hasattr(widget, "options"):
        allowed = [o[1] if isinstance(o, tuple) else o for o in widget.options]
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        return
    else:
        return
    slack = 1e-9 * max(abs(low), abs(high))
    if not low - slack <= value <= high + slack:
        raise ValueError(f"{name} must lie in [{low:.4g}, {high:.4g}], got {value!r}")


class Progress:
    """Progress reporter handed to long computations.

    Call it as ``progress(done, total, message)``, or use the tqdm-style methods ``reset``,
    ``update``, ``set_description`` and ``close``, or wrap a loop: ``for x in
    progress.track(items)``. Widget updates are throttled to about ten per second; a new
    total or message shows at once.
    """

    def __init__(self, bar: widgets.IntProgress, show: Callable[[str], None]):
        self.bar, self._show = bar, show
        self.n, self.total, self.desc = 0, None, ""
        self._last = 0.0

    def __call__(self, done: int, total: int | None = None, message: str | None = None):
        new_phase = (total is not None and total != self.total) or (
            message is not None and message != self.desc
        )
        self.n = int(done)
        if total is not None:
            self.total = int(total)
        if message is not None:
            self.desc = message
        self._refresh(force=new_phase)

    def reset(self, total: int | None = None) -> None:
        self.n, self.total, self._last = 0, total, 0.0
        self._refresh(force=True)

    def update(self, n: int = 1) -> None:
        self(self.n + n)

    def set_description(self, desc: str) -> None:
        self.desc = desc
        self._refresh(force=True)

    def close(self) -> None:
        self.bar.layout.visibility = "hidden"

    def track(self, iterable: Iterable, total: int | None = None):
        """Yield from ``iterable``, counting each item."""
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.reset(total)
        for item in iterable:
            yield item
            self.update()

    def _refresh(self, force: bool = False) -> None:
        now = time.perf_counter()
        finished = self.total is not None and self.n >= self.total
        if not (force or finished or now - self._last >= 0.1):
            return
        self._last = now
        self.bar.layout.visibility = "visible"
        self.bar.max = max(self.total or 1, 1)
        self.bar.value = min(self.n, self.bar.max)
        count = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        self._show(f"Running… {count} {html.escape(self.desc)}".rstrip())


class ControlPanel:
    """Sliders, optional Run button, status line and live charts around ONE compute function.

    ``compute(values)`` gets a dict of the current control values (``{"eta": ..., "beta1":
    ..., ...}``) and returns what the charts draw (a DataFrame or a dict of DataFrames). When it
    has a parameter named ``progress`` it also gets a :class:`Progress`. ``charts`` are
    :class:`LiveChart` objects or chart builders ``result -> alt.Chart``.

    Controls: ``eta`` (value, min, max) on a log slider, ``beta1`` / ``beta2`` (value, min,
    max[, step]) on linear sliders (``None`` leaves one out), ``optimizers`` a list for a
    dropdown named ``optimizer``, ``extra`` a mapping name -> widget or (value, min, max[,
    step]). Every control is found by name in :attr:`controls` (sliders also in
    :attr:`sliders`) and its ``description`` is that name.

    Without a Run button every change recomputes at once; with ``run_button=True`` a change
    only marks the result stale until Run is pressed, except that a setting already in the
    cache, or one for which ``ready(values)`` is True (e.g. all its training runs are on disk),
    is shown at once. Results are memoised by value (``cache_size`` entries, least
    recently used dropped); errors never reach the kernel: they show in the status line and
    are kept in :attr:`last_error`. ``source(values)``, when given, says in the status line
    where the picture's data came from (precomputed, the run cache, computed now);
    ``estimate(values)`` (seconds, or None) how long Run will take for a new setting.
    """

    def __init__(
        self,
        compute: Callable[..., Any],
        charts: LiveChart | Callable | Sequence[LiveChart | Callable] = (),
        *,
        eta: tuple | widgets.Widget | None = (1e-2, 1e-4, 1.0),
        beta1: tuple | widgets.Widget | None = (0.9, 0.0, 0.99),
        beta2: tuple | widgets.Widget | None = None,
        optimizers: Sequence[str] | None = None,
        optimizer: str | None = None,
        extra: Mapping[str, tuple | widgets.Widget] | None = None,
        run_button: bool = False,
        auto_run: bool | None = None,
        ready: Callable[[dict], bool] | None = None,
        source: Callable[[dict], str] | None = None,
        estimate: Callable[[dict], float | None] | None = None,
        cache_size: int = 128,
    ):
        self.compute = compute
        self.ready = ready
        self.source = source
        self.estimate = estimate
        self._wants_progress = "progress" in inspect.signature(compute).parameters
        if isinstance(charts, LiveChart) or callable(charts):
            charts = [charts]
        self.charts = [c if isinstance(c, LiveChart) else LiveChart(c) for c in charts]

        self.controls: dict[str, widgets.ValueWidget] = {}
        if eta is not None:
            is_widget = isinstance(eta, widgets.Widget)
            self.controls["eta"] = _control("eta", eta) if is_widget else eta_slider(*eta)
        for name, spec, step in (("beta1", beta1, 0.01), ("beta2", beta2, 0.001)):
            if isinstance(spec, widgets.Widget):
                self.controls[name] = _control(name, spec)
            elif spec is not None:
                value, low, high, *rest = spec
                self.controls[name] = beta_slider(name, value, low, high, *(rest or [step]))
        if optimizers is not None:
            self.controls["optimizer"] = widgets.Dropdown(
                options=list(optimizers),
                value=optimizer if optimizer is not None else optimizers[0],
                description="optimizer",
            )
        for name, spec in (extra or {}).items():
            self.controls[name] = _control(name, spec)
        for widget in self.controls.values():
            if "continuous_update" in widget.trait_names():
                widget.continuous_update = False
            widget.observe(self._on_change, names="value")

        self.button = widgets.Button(description="Run", button_style="primary")
        self.button.on_click(lambda _: self.run())
        self.run_button = run_button
        self.status = widgets.HTML(value="")
        self.bar = widgets.IntProgress(
            value=0, min=0, max=1, layout=widgets.Layout(width="160px", visibility="hidden")
        )
        self.progress = Progress(self.bar, self._show)
        row = [self.button] if run_button else []
        self.widget = widgets.VBox(
            [
                widgets.Box(
                    list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap")
                ),
                widgets.HBox([*row, self.bar, self.status]),
                *(chart.widget for chart in self.charts),
            ]
        )

        self.cache_size = cache_size
        self._cache: OrderedDict = OrderedDict()
        self.hits = self.misses = self.run_count = 0
        self.last_result = self.last_values = self.last_error = None
        self.last_timing: dict[str, float] = {}
        self.stale = True
        self._hold_depth, self._pending = 0, False

        if auto_run if auto_run is not None else not run_button:
            self.run()
        else:
            self._show("Press Run to compute.")

    # ----------------------------------------------------------------- values and setting them

    @property
    def sliders(self) -> dict[str, widgets.Widget]:
        """The slider controls by name (``panel.sliders["eta"].value = 1e-3`` moves one)."""
        return {n: w for n, w in self.controls.items() if "continuous_update" in w.trait_names()}

    @property
    def values(self) -> dict[str, Any]:
        """The current value of every control, by name."""
        return {name: widget.value for name, widget in self.controls.items()}

    def set(self, **values) -> None:
        """Move controls from code, like a learner would; several at once update only once.

        Raises ValueError for an unknown name or a value out of the control's range.
        """
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            raise ValueError(f"unknown control(s) {unknown}; choose from {list(self.controls)}")
        for name, value in values.items():
            _check_value(name, self.controls[name], value)
        with self._hold():
            for name, value in values.items():
                self.controls[name].value = value

    @contextlib.contextmanager
    def _hold(self):
        self._hold_depth += 1
        try:
            yield
        finally:
            self._hold_depth -= 1
            if self._hold_depth == 0 and self._pending:
                self._pending = False
                self._controls_changed()

    def _on_change(self, change) -> None:
        if self._hold_depth:
            self._pending = True
        else:
            self._controls_changed()

    def _is_ready(self, values: dict) -> bool:
        if self._key(values) in self._cache:
            return True
        try:
            return self.ready is not None and bool(self.ready(dict(values)))
        except Exception:  # an invalid setting: Run reports it in the status line
            return False

    def _eta_text(self) -> str:
        """ " (about 40 s)" from ``estimate(values)``, or "" without an estimate."""
        try:
            seconds = None if self.estimate is None else self.estimate(dict(self.values))
        except Exception:  # a status line never breaks a panel
            seconds = None
        if seconds is None:
            return ""
        return f" (about {seconds:.0f} s on this machine)" if seconds >= 1 else " (under 1 s)"

    def _controls_changed(self) -> None:
        if not self.run_button or self._is_ready(self.values):
            self.run()
        else:
            self.stale = True
            self._show(f"Settings changed: press <b>Run</b> to compute{self._eta_text()}.")

    # ----------------------------------------------------------------- computing

    @staticmethod
    def _key(values: Mapping[str, Any]) -> tuple:
        return tuple(sorted(values.items()))

    def run(self) -> Any:
        """Compute (or take from the cache) the result for the current values; update charts.

        Returns the result, or None when the compute or a chart raised (see :attr:`status`).
        """
        self.run_count += 1
        values = self.values
        key = self._key(values)
        start = computed = time.perf_counter()
        cached = key in self._cache
        stage = "compute"
        self.button.disabled = True
        try:
            if cached:
                self.hits += 1
                self._cache.move_to_end(key)
                result = self._cache[key]
            else:
                self.misses += 1
                self._show("Computing…")
                kwargs = {"progress": self.progress} if self._wants_progress else {}
                result = self.compute(dict(values), **kwargs)
                self._cache[key] = result
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            computed = time.perf_counter()
            stage = "drawing"
            for chart in self.charts:
                chart.update(result)
        except Exception as err:  # shown to the learner, never raised into the kernel
            self.last_error = err
            message = html.escape(f"{type(err).__name__}: {err}")
            self._show(f'<span style="color:#b00020">Error in {stage}: {message}</span>')
            return None
        finally:
            self.button.disabled = False
            self.bar.layout.visibility = "hidden"
        done = time.perf_counter()
        self.last_result, self.last_values, self.last_error, self.stale = (
            result,
            values,
            None,
            False,
        )
        self.last_timing = {
            "compute_ms": 1e3 * (computed - start),
            "charts_ms": 1e3 * (done - computed),
            "total_ms": 1e3 * (done - start),
            "cached": cached,
        }
        how = "cached result" if cached else "updated"
        where = ""
        if self.source is not None:
            try:
                where = f" Runs: {html.escape(self.source(dict(values)))}."
            except Exception:  # a status line never breaks a panel
                where = ""
        self._show(f"Ready: {how} in {self.last_timing['total_ms']:.0f} ms.{where}")
        return result

    def show(self) -> None:
        """Display the panel, then compute the current setting if nothing is shown yet, so a
        first visit's progress appears in the panel's status line."""
        display(self.widget)
        if self.last_result is None:
            self.run()

    def set_and_run(self, **values) -> Any:
        """:meth:`set` the controls, then press Run if the new setting is not shown yet, as a
        learner would. Returns :attr:`last_result`; raises RuntimeError when it failed."""
        self.set(**values)
        if self.stale:
            self.button.click()
        if self.last_error is not None:
            raise RuntimeError(f"the panel failed at {self.values}") from self.last_error
        return self.last_result

    def clear_cache(self) -> None:
        """Forget all memoised results."""
        self._cache.clear()

    def cache_info(self) -> dict[str, int]:
        """Cache hits, misses and current size."""
        return {"hits": self.hits, "misses": self.misses, "size": len(self._cache)}

    def _show(self, text: str) -> None:
        self.status.value = text

    def _ipython_display_(self) -> None:
        display(self.widget)


def measure_latency(
    panel: ControlPanel, settings: Iterable[Mapping[str, Any]], *, use_cache: bool = False
) -> dict[str, Any]:
    """Time "recompute + chart update" for each setting, applied in turn with ``panel.set``.

    Each setting must change at least one control. With ``use_cache=False`` the cache is
    cleared first, so every step really computes. Run-button panels are run by a button
    click after each setting. Kernel time only (no browser drawing). Returns ``median_ms``,
    ``max_ms`` and ``times_ms``.
    """
    times = []
    for setting in settings:
        if not use_cache:
            panel.clear_cache()
        before = panel.run_count
        start = time.perf_counter()
        panel.set(**setting)
        if panel.run_count == before and panel.run_button:
            panel.button.click()
        elapsed = time.perf_counter() - start
        if panel.run_count != before + 1:
            raise ValueError(f"setting {dict(setting)} did not trigger exactly one update")
        if panel.last_error is not None:
            raise RuntimeError(f"update failed for {dict(setting)}") from panel.last_error
        times.append(1e3 * elapsed)
    return {"median_ms": statistics.median(times), "max_ms": max(times), "times_ms": times}
