r"""Experiments, charts and slider panels of notebook 01 (stability on quadratics).

Everything runs on a quadratic: f(x) = lam x^2 / 2 (``lam`` = 1 unless said otherwise) or, for
preconditioning, f(x) = x^T H x / 2 with a 2x2 H. The iterates come from
:func:`aeos_lab.quadratic.simulate` (the optax optimizers of :mod:`aeos_lab.optimizers`), the
closed forms from :mod:`aeos_lab.thresholds`. Each experiment has three layers:

* a compute function returning a dict of tidy DataFrames and numbers (``divergence_runs``,
  ``stability_grid``, ``growth_curves``, ``momentum_gradients``, ``preconditioning_runs``,
  ``rmsprop_runs``); the notebook's self-check asserts on these results;
* chart builders (Altair, on top of :mod:`aeos_lab.charts`) and small display tables
  (:class:`TableView`) turning that dict into what the learner sees;
* a ``*_panel`` function wiring both into a :class:`aeos_lab.widgets.ControlPanel` with sliders
  named ``eta``, ``beta1`` and ``beta2``. Every jitted function is compiled while the panel is
  built; moving a slider only changes input values, never shapes, so nothing recompiles.

Speed: a slider move should redraw in well under 100 ms on two CPU cores. Building and
serialising an Altair chart costs about 10-30 ms whatever its size, so each panel uses few
charts, none concatenated, with titles and scales that do not depend on the sliders (the
:class:`aeos_lab.widgets.LiveChart` then swaps only the data), and shows numbers in HTML
tables rather than text charts.

Measured divergence
-------------------
A linear recurrence either decays or grows geometrically, possibly with oscillations. The
*envelope growth* of a run measures the per-step factor from the trajectory itself::

    growth = (max_{last w steps} |x_t| / max_{the w steps before} |x_t|)^(1 / w),

with w a quarter of the run. For x_t = c r^t it returns |r| exactly. A run is called diverging
when its envelope grows (growth > 1) AND its late envelope exceeds |x_0|; the second condition
guards against slow oscillations (period longer than w) that can fool the ratio alone.
Overflow (inf or NaN) counts as diverging.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

import altair as alt
import ipywidgets
import numpy as np
import pandas as pd

from aeos_lab.core import quadratic, thresholds
from aeos_lab.core.validation import canonical_name, check_beta, check_int_at_least, check_positive
from aeos_lab.viz import charts, widgets

__all__ = [
    "DISPLAY_RANGE",
    "GROWTH_METHODS",
    "METHOD_COLORS",
    "METHOD_LABELS",
    "TableView",
    "clip_for_display",
    "critical_eta",
    "divergence_panel",
    "divergence_runs",
    "divergence_table",
    "eigenvalue_chart",
    "envelope_growth",
    "growth_curves",
    "growth_lambda_chart",
    "growth_panel",
    "growth_ratio_chart",
    "growth_table",
    "html_table",
    "is_diverging",
    "large_gradient_chart",
    "large_gradient_panel",
    "large_gradient_table",
    "map_agreement",
    "momentum_gradients",
    "precond_sharpness",
    "preconditioning_chart",
    "preconditioning_panel",
    "preconditioning_runs",
    "preconditioning_table",
    "ratio_dots",
    "rmsprop_chart",
    "rmsprop_panel",
    "rmsprop_runs",
    "rmsprop_table",
    "rotated_hessian",
    "stability_boundary",
    "stability_grid",
    "stability_map_chart",
    "stability_map_panel",
    "trajectory_chart",
]

METHOD_LABELS = {
    "gd": "GD",
    "standard_hb": "HB standard",
    "ema_hb": "HB EMA",
    "standard_nesterov": "Nesterov standard",
    "ema_nesterov": "Nesterov EMA",
}
"""Short names of the five momentum methods in chart legends and tables."""

METHOD_COLORS = dict(
    zip(
        METHOD_LABELS.values(),
        ("#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b"),  # tableau10, in order
        strict=True,
    )
)
"""One fixed colour per method, so a method looks the same in every chart of the notebook."""

GROWTH_METHODS = ("gd", "ema_hb", "ema_nesterov")
"""Fig. 14's three methods, in the EMA form so that one eta gives them equal effective steps."""

DISPLAY_RANGE = (1e-12, 1e12)
"""|x| outside this range is left off the charts (the line leaves the plot), not clipped."""

_ORBIT_TOLERANCE = 0.01


def _label(method: str) -> str:
    return METHOD_LABELS[canonical_name(method, thresholds.MOMENTUM_METHODS, what="method")]


def _sci(value: float) -> str:
    return charts.format_sci(value, 3)


def _threshold_texts(summary: pd.DataFrame) -> list[str]:
    """Cells like "38/η = 3.8" from a summary's formula and threshold columns."""
    pairs = zip(summary["formula"], summary["threshold"], strict=True)
    return [f"{formula} = {_sci(value)}" for formula, value in pairs]


# ---------------------------------------------------------------------------------------------
# Chart helpers


def _method_color(labels: Sequence[str], legend: bool = True) -> alt.Color:
    """Colour by ``method`` with the fixed :data:`METHOD_COLORS` of ``labels``."""
    labels = list(dict.fromkeys(labels))
    scale = alt.Scale(domain=labels, range=[METHOD_COLORS.get(x, "#888888") for x in labels])
    return alt.Color("method:N", scale=scale, title="method", legend={} if legend else None)


def _main_layer(chart):
    """The chart itself, or the first layer of a layer chart (where line_chart puts lines)."""
    return chart.layer[0] if isinstance(chart, alt.LayerChart) else chart


def _fixed_method_colors(chart, labels: Sequence[str]):
    """Give the ``method`` colour channel of a line chart the fixed method colours."""
    _main_layer(chart).encoding.color = _method_color(labels)
    return chart


def _full_x(chart, last: float, first: float = 0.0):
    """Fix the x axis of a line chart to [first, last].

    Lines leave a log chart where the run overflows; the axis should still show every step,
    and a fixed domain keeps the chart's specification independent of the data.
    """
    _main_layer(chart).encoding.x.scale = alt.Scale(domain=[first, last], nice=False, zero=False)
    return chart


def _flat(*parts, **properties) -> alt.LayerChart:
    """One layer chart holding every unit chart of ``parts`` (nested layers are unpacked).

    Altair serialises nested layer charts much more slowly than one flat layer (about twice
    the time for a line chart with threshold rules and labels), and a slider move pays that
    cost on every update. Data that Altair hoisted to a layer chart goes back to its units;
    titles and sizes of unpacked layer charts move to the result; ``properties`` are set last.
    """
    if len(parts) == 1 and _is_flat(parts[0]):
        return parts[0].properties(**properties) if properties else parts[0]
    units, props = [], {}

    def unpack(chart, data=alt.Undefined):
        if isinstance(chart, alt.LayerChart):
            for key in ("title", "width", "height"):
                value = getattr(chart, key, alt.Undefined)
                if value is not alt.Undefined:
                    props.setdefault(key, value)
            own = getattr(chart, "data", alt.Undefined)
            for layer in chart.layer:
                unpack(layer, data if own is alt.Undefined else own)
        else:
            if getattr(chart, "data", alt.Undefined) is alt.Undefined and data is not alt.Undefined:
                chart = chart.properties(data=data)
            units.append(chart)

    for part in parts:
        unpack(part)
    props.update(properties)
    chart = alt.layer(*units)
    return chart.properties(**props) if props else chart


def _is_flat(chart) -> bool:
    """A layer chart of unit charts that all carry their own data."""
    return isinstance(chart, alt.LayerChart) and all(
        not isinstance(layer, alt.LayerChart)
        and getattr(layer, "data", alt.Undefined) is not alt.Undefined
        for layer in chart.layer
    )


def _line_chart(data: pd.DataFrame, *, thresholds=None, title=None, **kwargs):
    """:func:`aeos_lab.charts.line_chart` with the threshold rules as sibling layers.

    The same chart, flat instead of nested (see :func:`_flat`); ``thresholds`` must be a
    :func:`aeos_lab.charts.threshold_frame`.
    """
    line = charts.line_chart(data, **kwargs)
    if thresholds is None:
        return line.properties(title=title) if title else line
    rules = charts.threshold_layer(
        thresholds,
        y_title=kwargs.get("y_title"),
        log_y=kwargs.get("log_y", False),
        eta_domain=kwargs.get("eta_domain"),
    )
    return _flat(line, rules, **({"title": title} if title else {}))


class TableView(widgets.LiveChart):
    """A small HTML table in a :class:`aeos_lab.widgets.ControlPanel`, in place of a chart.

    ``build(result)`` returns a DataFrame of display values, or ``(frame, caption)``. The panel
    updates it like its charts (``update(result)``); an HTML table costs about a millisecond,
    a text chart tens of milliseconds. The last frame shown is kept in :attr:`frame`.
    """

    def __init__(self, build: Callable[[object], pd.DataFrame | tuple[pd.DataFrame, str]]):
        super().__init__(build, mode="output")
        self.widget = ipywidgets.HTML()
        self.frame: pd.DataFrame | None = None

    def update(self, result) -> str:
        built = self.build(result)
        frame, caption = built if isinstance(built, tuple) else (built, None)
        self.frame = frame
        self.widget.value = html_table(frame, caption)
        self.counts["data"] += 1
        return "data"

    def refresh(self) -> None:
        """Nothing to resend: the table is plain widget state."""


def html_table(frame: pd.DataFrame, caption: str | None = None) -> str:
    """``frame`` as a compact HTML table (values escaped), with an optional caption line."""
    cell = "padding:2px 10px;text-align:left;"
    head = "".join(
        f'<th style="{cell}border-bottom:1px solid #999;">{html.escape(str(c))}</th>'
        for c in frame.columns
    )
    rows = "".join(
        "<tr>" + "".join(f'<td style="{cell}">{html.escape(str(v))}</td>' for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    note = "" if caption is None else f'<div style="margin-top:4px;">{html.escape(caption)}</div>'
    return (
        f'<div style="font-size:13px;margin:4px 0 12px 0;">'
        f'<table style="border-collapse:collapse;">'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{note}</div>"
    )


def ratio_dots(
    summary: pd.DataFrame,
    *,
    category: str = "method",
    ratio: str = "ratio",
    x_title: str = "λ / threshold  (= η / η*)",
    domain: tuple[float, float] = (1e-2, 1e2),
    title: str | None = None,
    width: int = 380,
) -> alt.LayerChart:
    """Each row's ratio to its threshold as a dot on a log axis, with a dashed rule at 1.

    Dots right of the rule are past their threshold. Filled circles mark stable rows and
    crosses diverging ones (column ``diverging``, if present). Ratios outside ``domain`` sit
    at its edge (tooltips give the exact value); NaN ratios are not drawn. ``category`` =
    "method" uses the fixed method colours; other categories are drawn in one colour.
    """
    frame = summary[[category, ratio, *(["diverging"] if "diverging" in summary else [])]].copy()
    frame["shown"] = frame[ratio].clip(*domain)
    if "diverging" in frame:
        frame["status"] = np.where(frame["diverging"].astype(bool), "diverges", "stable")
    else:
        frame["status"] = "stable"
    order = list(frame[category])
    if category == "method":
        color = _method_color(order, legend=False)
    else:
        color = alt.ColorValue(charts.NEUTRAL_COLOR)
    dots = (
        alt.Chart(frame)
        .mark_point(filled=True, size=140, opacity=1)
        .encode(
            x=alt.X(
                "shown:Q",
                title=x_title,
                scale=alt.Scale(type="log", domain=list(domain)),
                axis=alt.Axis(labelExpr=charts.DECADE_LABEL),
            ),
            y=alt.Y(f"{category}:N", sort=order, title=None),
            color=color,
            shape=alt.Shape(
                "status:N",
                scale=alt.Scale(domain=["stable", "diverges"], range=["circle", "cross"]),
                legend=None,
            ),
            tooltip=[alt.Tooltip(f"{category}:N"), alt.Tooltip(f"{ratio}:Q", format=".4g")],
        )
    )
    edge = pd.DataFrame({"shown": [1.0], "text": ["threshold"]})
    rule = (
        alt.Chart(edge)
        .mark_rule(strokeDash=charts.THRESHOLD_DASH, color=charts.NEUTRAL_COLOR, strokeWidth=1.5)
        .encode(x="shown:Q")
    )
    rule_text = (
        alt.Chart(edge)
        .mark_text(align="left", baseline="top", dx=4, dy=2, fontSize=11)
        .encode(x="shown:Q", y=alt.YValue(0), text="text:N")
    )
    size = dict(width=width, height=28 * len(frame) + 10)
    return _flat(rule, rule_text, dots, **size, **({"title": title} if title else {}))


# ---------------------------------------------------------------------------------------------
# Measuring divergence


def clip_for_display(values, low: float = DISPLAY_RANGE[0], high: float = DISPLAY_RANGE[1]):
    """``values`` as floats with NaN outside [low, high] (inf and NaN also become NaN).

    Charts then stop a line where it leaves the plotted range instead of drawing overflow.
    """
    array = np.asarray(values, dtype=float)
    inside = np.isfinite(array) & (array >= low) & (array <= high)
    return np.where(inside, array, np.nan)


def _magnitude(values) -> np.ndarray:
    magnitude = np.abs(np.asarray(values, dtype=float))
    return np.where(np.isnan(magnitude), np.inf, magnitude)


def _window(length: int, window: int | None) -> int:
    window = max(1, length // 4) if window is None else check_int_at_least(window, 1, "window")
    if 2 * window > length:
        raise ValueError(
            f"window must be at most half the trajectory ({length // 2}), got {window}"
        )
    return window


def envelope_growth(values, window: int | None = None):
    """Measured per-step growth of |values| along the last axis (see the module docstring).

    ``(max of the last window / max of the window before) ** (1 / window)``; the window
    defaults to a quarter of the trajectory. inf where the run overflowed (or grew from 0),
    0 where it reached exactly 0. Returns a float for a 1-D input, else an array over the
    leading axes.
    """
    magnitude = _magnitude(values)
    w = _window(magnitude.shape[-1], window)
    late = magnitude[..., -w:].max(axis=-1)
    early = magnitude[..., -2 * w : -w].max(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        growth = (late / early) ** (1.0 / w)
    growth = np.where(np.isinf(late), np.inf, np.where(late == 0, 0.0, growth))
    return float(growth) if growth.ndim == 0 else growth


def is_diverging(values, window: int | None = None):
    """True where |values| grows: envelope growth > 1 and the late envelope > |values[0]|."""
    magnitude = _magnitude(values)
    w = _window(magnitude.shape[-1], window)
    late = magnitude[..., -w:].max(axis=-1)
    result = (envelope_growth(magnitude, w) > 1.0) & (late > magnitude[..., 0])
    return bool(result) if np.ndim(result) == 0 else result


def critical_eta(method: str, beta1=0.0, lam=1.0):
    """The eta at which curvature ``lam`` sits exactly at ``method``'s threshold.

    Table 1's thresholds are c(beta1) / eta, so lam = c / eta gives eta* = c(beta1) / lam,
    e.g. 38 / lam for EMA heavy ball at beta1 = 0.9.
    """
    check_positive(lam, "lam")
    return thresholds.threshold(method, 1.0, beta1) / lam


# ---------------------------------------------------------------------------------------------
# (a) Divergence past the threshold


def divergence_runs(
    eta: float,
    beta1: float,
    *,
    steps: int,
    lam: float = 1.0,
    x0: float = 1.0,
    methods: Sequence[str] = thresholds.MOMENTUM_METHODS,
) -> dict[str, pd.DataFrame]:
    """Run each method on f(x) = lam x^2 / 2 from x0 (m0 = 0) for ``steps`` updates.

    Returns ``runs`` (method, step, abs_x: |x_t| with :func:`clip_for_display`) and ``summary``
    with one row per method: threshold (lam* of Table 1 at this eta, beta1), formula (e.g.
    "38/η"), ratio = lam / lam* (= eta / eta*), predicted_growth (spectral radius of the
    companion matrix), measured_growth (:func:`envelope_growth`) and diverging
    (:func:`is_diverging`).
    """
    check_int_at_least(steps, 4, "steps")
    frames, rows = [], []
    for method in methods:
        label = _label(method)
        run = quadratic.simulate(method, lam, eta, beta1, steps=steps, x0=x0)
        abs_x = np.abs(run.x[:, 0])
        lam_star = thresholds.threshold(method, eta, beta1)
        rows.append(
            {
                "method": label,
                "threshold": lam_star,
                "formula": thresholds.threshold_formula(method, beta1),
                "ratio": lam / lam_star,
                "predicted_growth": thresholds.growth_factor(method, eta, beta1, lam),
                "measured_growth": envelope_growth(abs_x),
                "diverging": is_diverging(abs_x),
            }
        )
        frames.append(
            pd.DataFrame(
                {"method": label, "step": np.arange(steps + 1), "abs_x": clip_for_display(abs_x)}
            )
        )
    return {"runs": pd.concat(frames, ignore_index=True), "summary": pd.DataFrame(rows)}


def divergence_table(result: dict) -> pd.DataFrame:
    """Display table of :func:`divergence_runs`' summary."""
    summary = result["summary"]
    return pd.DataFrame(
        {
            "method": summary["method"],
            "threshold λ*": _threshold_texts(summary),
            "λ/λ* = η/η*": [_sci(r) for r in summary["ratio"]],
            "predicted ρ per step": [_sci(g) for g in summary["predicted_growth"]],
            "measured per step": [_sci(g) for g in summary["measured_growth"]],
            "run": np.where(summary["diverging"], "diverges", "stable"),
        }
    )


def trajectory_chart(runs: pd.DataFrame, *, title: str | None = None) -> alt.LayerChart:
    """|x_t| of each method on a log axis with a dashed rule at |x_0| = 1."""
    chart = _line_chart(
        runs,
        y="abs_x",
        color="method",
        log_y=True,
        thresholds=charts.threshold_frame(1.0, "|x_0|"),
        x_title="step t",
        y_title="|x_t|",
        title=title,
    )
    chart = _full_x(chart, int(runs["step"].max()))
    return _flat(_fixed_method_colors(chart, list(dict.fromkeys(runs["method"]))))


def divergence_panel(
    *,
    steps: int,
    eta: float = 8.0,
    beta1: float = 0.9,
    lam: float = 1.0,
    eta_range: tuple[float, float] = (0.05, 500.0),
) -> widgets.ControlPanel:
    """Panel (a): the five methods on f(x) = lam x^2 / 2 at one eta and beta1.

    Shows |x_t| per method (log axis), each method's lam / lam* against its threshold, and a
    table of thresholds and growth factors. The eta slider moves in steps of 0.01 decade
    (2.3 %); its read-out box takes exact values.
    """

    def compute(values):
        return divergence_runs(values["eta"], values["beta1"], steps=steps, lam=lam)

    return widgets.ControlPanel(
        compute,
        [
            lambda r: trajectory_chart(r["runs"], title="|x_t| on f(x) = x²/2 (log scale)"),
            lambda r: ratio_dots(r["summary"], title="Where λ = 1 sits against each threshold"),
            TableView(divergence_table),
        ],
        eta=widgets.eta_slider(eta, *eta_range, step=0.01, readout_format=".3g"),
        beta1=(beta1, 0.0, 0.99),
    )


# ---------------------------------------------------------------------------------------------
# (b) Stability map


def stability_grid(
    method: str,
    eta_lambda,
    beta1,
    steps: Sequence[int],
    *,
    tail: float = 0.1,
) -> pd.DataFrame:
    """max |x_t| over the last ``tail`` of N steps, on a grid of (eta*lam, beta1), for each N.

    One simulation of ``max(steps)`` updates on f(x) = x^2/2 from x0 = 1 (eta = eta*lam since
    lam = 1) serves every N in ``steps``: the value for N is the largest |x_t| with
    N - ceil(tail N) < t <= N (overflow counts as inf). Columns: eta_lambda, beta1, steps,
    max_abs_x. Values above 1 mean the iterate grew.
    """
    eta_lambda = np.asarray(eta_lambda, dtype=float)
    beta1 = np.asarray(beta1, dtype=float)
    steps = sorted(check_int_at_least(n, 1, "steps") for n in steps)
    grid_eta, grid_beta = np.meshgrid(eta_lambda, beta1)
    run = quadratic.simulate(method, 1.0, grid_eta, grid_beta, steps=steps[-1])
    magnitude = _magnitude(run.x[..., 0])
    frames = []
    for n in steps:
        window = max(1, math.ceil(tail * n))
        value = magnitude[..., n - window + 1 : n + 1].max(axis=-1)
        frames.append(
            pd.DataFrame(
                {
                    "eta_lambda": grid_eta.ravel(),
                    "beta1": grid_beta.ravel(),
                    "steps": n,
                    "max_abs_x": value.ravel(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def stability_boundary(
    method: str, beta1, eta_lambda_range: tuple[float, float] | None = None
) -> pd.DataFrame:
    """The closed-form boundary eta*lam = c(beta1) of Table 1 as a line (eta_lambda, beta1).

    E.g. (2 + 2 beta1) / (1 - beta1) for EMA heavy ball, 2 for GD (a vertical line). Points
    outside ``eta_lambda_range`` are dropped.
    """
    beta1 = np.asarray(beta1, dtype=float)
    frame = pd.DataFrame({"eta_lambda": critical_eta(method, beta1), "beta1": beta1})
    if eta_lambda_range is not None:
        low, high = eta_lambda_range
        frame = frame[(frame["eta_lambda"] >= low) & (frame["eta_lambda"] <= high)]
    return frame.reset_index(drop=True)


def map_agreement(grid: pd.DataFrame, method: str) -> float:
    """Share of grid cells where "grew" (max_abs_x > 1) matches eta*lam > c(beta1)."""
    past = grid["eta_lambda"].to_numpy() > critical_eta(method, grid["beta1"].to_numpy())
    grew = grid["max_abs_x"].to_numpy() > 1.0
    return float(np.mean(past == grew))


def stability_map_chart(result: dict) -> alt.LayerChart:
    """Heatmap of the grid, the closed-form boundary, and the sliders' (eta*lam, beta1)."""
    heatmap = charts.stability_heatmap(
        result["grid"],
        boundary=result["boundary"],
        value_title="max |x_t|, last 10%",
    )
    point = (
        alt.Chart(result["marker"])
        .mark_point(shape="diamond", size=160, filled=True, color="black")
        .encode(x=alt.X("eta_lambda:Q"), y=alt.Y("beta1:Q"))
    )
    caption = (
        alt.Chart(result["caption"])
        .mark_text(align="left", baseline="bottom", dy=-4, fontSize=12)
        .encode(x=alt.XValue(0), y=alt.YValue(0), text="text:N")
    )
    title = alt.Title("Late |x_t| after N steps; black line: closed-form threshold", offset=22)
    return _flat(heatmap, point, caption, title=title)


def stability_map_panel(
    *,
    grid_size: tuple[int, int] = (60, 40),
    steps_options: Sequence[int] = (25, 50, 100, 200),
    method: str = "ema_hb",
    eta: float = 10.0,
    beta1: float = 0.9,
    eta_lambda_range: tuple[float, float] = (0.1, 1000.0),
    beta1_max: float = 0.99,
) -> widgets.ControlPanel:
    """Panel (b): stability map of one method (picker ``method``), N picked by ``steps``.

    The maps of all five methods are computed while the panel is built (one compilation and
    one run each); the controls then only choose a map and move the marker at
    (eta*lam, beta1) = (eta, beta1), lam = 1. ``grid_size`` = (eta*lam points, beta1 points).
    The result also holds ``agreement`` (:func:`map_agreement`) of the map shown.
    """
    eta_lambda = np.geomspace(*eta_lambda_range, grid_size[0])
    betas = np.linspace(0.0, beta1_max, grid_size[1])
    fine_betas = np.linspace(0.0, beta1_max, 200)
    methods = thresholds.MOMENTUM_METHODS
    maps = {m: stability_grid(m, eta_lambda, betas, steps_options) for m in methods}
    boundaries = {m: stability_boundary(m, fine_betas, eta_lambda_range) for m in methods}

    def compute(values):
        chosen = values["method"]
        grid = maps[chosen]
        grid = grid[grid["steps"] == values["steps"]].reset_index(drop=True)
        past = values["eta"] > critical_eta(chosen, values["beta1"])
        marker = pd.DataFrame({"eta_lambda": [values["eta"]], "beta1": [values["beta1"]]})
        where = "past λ*" if past else "below λ*"
        caption = pd.DataFrame(
            {"text": [f"{METHOD_LABELS[chosen]}, N = {values['steps']};  ◆ your (η, β₁): {where}"]}
        )
        return {
            "method": chosen,
            "caption": caption,
            "grid": grid,
            "boundary": boundaries[chosen],
            "marker": marker,
            "agreement": map_agreement(grid, chosen),
        }

    picker = ipywidgets.Dropdown(
        options=[(label, name) for name, label in METHOD_LABELS.items()],
        value=canonical_name(method, methods, what="method"),
        description="method",
    )
    steps_slider = ipywidgets.SelectionSlider(
        options=list(steps_options),
        value=max(steps_options),
        description="steps",
        continuous_update=False,
    )
    return widgets.ControlPanel(
        compute,
        [stability_map_chart],
        eta=widgets.eta_slider(eta, *eta_lambda_range, step=0.02, readout_format=".3g"),
        beta1=(beta1, 0.0, beta1_max),
        extra={"method": picker, "steps": steps_slider},
    )


# ---------------------------------------------------------------------------------------------
# (c) Growth factor


def growth_curves(
    eta: float,
    beta1: float,
    *,
    methods: Sequence[str] = GROWTH_METHODS,
    up_to: float = 1.1,
    points: int = 150,
    edge_ratios: Sequence[float] = (1.02, 1.05, 1.1),
) -> dict[str, pd.DataFrame]:
    """Asymptotic growth factor rho(lam) for lam from 0 to ``up_to`` lam* (Fig. 14).

    rho is :func:`aeos_lab.thresholds.growth_factor`. Returns ``curves`` (method, lam,
    lam_ratio = lam / lam*, growth) on ``points`` linearly spaced ratios from 0 to ``up_to``,
    ``log_curves`` (the same columns) on ``points`` geometrically spaced ratios from 1e-3 to
    ``up_to`` (for a log axis), and ``summary`` per method: threshold,
    formula, ``growth_<r>`` for each r of ``edge_ratios`` (rho at r lam*), ``growth_edge`` (at
    ``up_to``), ``lam_ratio`` (= ``up_to``) and ``steps_to_10x`` = ln 10 / ln rho there: how
    many steps the unstable direction takes to grow tenfold.
    """
    check_int_at_least(points, 10, "points")
    grids = {
        "curves": np.linspace(0.0, up_to, points),
        "log_curves": np.geomspace(1e-3, up_to, points),
    }
    frames, rows = {name: [] for name in grids}, []
    for method in methods:
        label = _label(method)
        lam_star = thresholds.threshold(method, eta, beta1)
        for name, ratios in grids.items():
            growth = thresholds.growth_factor(method, eta, beta1, ratios * lam_star)
            frames[name].append(
                pd.DataFrame(
                    {
                        "method": label,
                        "lam": ratios * lam_star,
                        "lam_ratio": ratios,
                        "growth": growth,
                    }
                )
            )
        edge = thresholds.growth_factor(method, eta, beta1, up_to * lam_star)
        rows.append(
            {
                "method": label,
                "threshold": lam_star,
                "formula": thresholds.threshold_formula(method, beta1),
                **{
                    f"growth_{r:g}": thresholds.growth_factor(method, eta, beta1, r * lam_star)
                    for r in edge_ratios
                },
                "growth_edge": edge,
                "lam_ratio": up_to,
                "steps_to_10x": math.log(10.0) / math.log(edge) if edge > 1 else math.inf,
                "end_text": f"×{edge:.2f}/step",
            }
        )
    curves = {name: pd.concat(parts, ignore_index=True) for name, parts in frames.items()}
    return {**curves, "summary": pd.DataFrame(rows)}


def growth_table(result: dict) -> pd.DataFrame:
    """Display table of :func:`growth_curves`' summary."""
    summary = result["summary"]
    table = pd.DataFrame(
        {
            "method": summary["method"],
            "threshold λ*": _threshold_texts(summary),
        }
    )
    for column in summary.columns:
        if column.startswith("growth_") and column != "growth_edge":
            table[f"ρ at {column.removeprefix('growth_')} λ*"] = [
                f"{g:.3f}" for g in summary[column]
            ]
    table["steps to grow ×10 at the right edge"] = [f"{s:.1f}" for s in summary["steps_to_10x"]]
    return table


def growth_ratio_chart(result: dict) -> alt.LayerChart:
    """Fig. 14, normalised: rho against lam / lam*, with rho at ``up_to`` lam* written out."""
    curves, summary = result["curves"], result["summary"]
    labels = list(summary["method"])
    chart = _line_chart(
        curves,
        x="lam_ratio",
        y="growth",
        color="method",
        thresholds=charts.threshold_frame(1.0, "ρ"),
        x_title="λ / λ*  (each method's own threshold)",
        y_title="growth factor ρ per step",
        title="Growth factor against λ / λ*",
    )
    chart = _full_x(_fixed_method_colors(chart, labels), float(curves["lam_ratio"].max()))
    ends = alt.Chart(summary[["method", "lam_ratio", "growth_edge", "end_text"]]).encode(
        x="lam_ratio:Q", y="growth_edge:Q", color=_method_color(labels, legend=False)
    )
    return _flat(
        chart, ends.mark_text(align="right", dx=-2, dy=-8, fontSize=11).encode(text="end_text:N")
    )


def growth_lambda_chart(result: dict) -> alt.LayerChart:
    """Fig. 14 at this eta: rho against lam (log axis), dotted rules at each lam*."""
    curves, summary = result["log_curves"], result["summary"]
    labels = list(summary["method"])
    chart = _line_chart(
        curves,
        x="lam",
        y="growth",
        color="method",
        log_x=True,
        thresholds=charts.threshold_frame(1.0, "ρ"),
        x_title="eigenvalue λ (log scale); dotted: each λ*",
        y_title="growth factor ρ per step",
        title="The same curves against λ at this η",
    )
    chart = _fixed_method_colors(chart, labels)
    stars = (
        alt.Chart(summary[["method", "threshold"]])
        .mark_rule(strokeDash=[2, 3], strokeWidth=1.5)
        .encode(x="threshold:Q", color=_method_color(labels, legend=False))
    )
    return _flat(chart, stars)


def growth_panel(
    *, points: int = 150, eta: float = 0.2, beta1: float = 0.9
) -> widgets.ControlPanel:
    """Panel (c): growth factors of GD, EMA heavy ball and EMA Nesterov up to 1.1 lam*."""

    def compute(values):
        return growth_curves(values["eta"], values["beta1"], points=points)

    return widgets.ControlPanel(
        compute,
        [growth_ratio_chart, growth_lambda_chart, TableView(growth_table)],
        eta=(eta, 1e-3, 10.0),
        beta1=(beta1, 0.0, 0.99),
    )


# ---------------------------------------------------------------------------------------------
# (d) Large gradients while stable


def momentum_gradients(
    eta: float,
    beta1: float,
    *,
    steps: int = 30,
    x0: float = 1.0,
    m0: float = 0.2,
    lam: float = 1.0,
) -> dict[str, pd.DataFrame]:
    """EMA heavy ball (eta, beta1) from (x0, m0) against GD with the same asymptotic rate.

    Fig. 17 uses x0 = 1, m0 = 0.2, beta1 = 0.9, 30 steps. Heavy ball's iterate shrinks
    asymptotically by rho = growth_factor("ema_hb", eta, beta1, lam) per step. GD runs at
    eta_GD = (1 + rho) / lam, where its factor 1 - eta_GD lam = -rho has the same modulus: the
    two runs decay (or grow) equally fast in the long run, and GD is stable iff heavy ball is.
    On f = lam x^2 / 2 GD's gradient is multiplied by exactly -rho every step, so while stable
    it can only shrink. Returns ``runs`` (method, step, x, momentum, grad_sq = (lam x_t)^2;
    NaN momentum for GD) and ``summary`` per method: eta, ratio (lam / its own lam*), stable
    (ratio < 1), rate (rho), grad_growth = max_t g_t^2 / g_0^2, peak_step and monotone
    (|g_t| never increases).
    """
    rate = thresholds.growth_factor("ema_hb", eta, beta1, lam)
    eta_gd = (1.0 + rate) / lam
    hb = quadratic.simulate("ema_hb", lam, eta, beta1, steps=steps, x0=x0, m0=m0)
    gd = quadratic.simulate("gd", lam, eta_gd, steps=steps, x0=x0)
    frames, rows = [], []
    for method, run, step_size in (("ema_hb", hb, eta), ("gd", gd, eta_gd)):
        label = _label(method)
        x = run.x[:, 0]
        with np.errstate(over="ignore", invalid="ignore"):
            grad_sq = (lam * x) ** 2
            monotone = bool(np.all(np.diff(np.abs(x)) <= 1e-12 * np.abs(x[:-1])))
        frames.append(
            pd.DataFrame(
                {
                    "method": label,
                    "step": np.arange(steps + 1),
                    "x": x,
                    "momentum": run.momentum[:, 0],
                    "grad_sq": grad_sq,
                }
            )
        )
        ratio = lam / thresholds.threshold(method, step_size, beta1)
        rows.append(
            {
                "method": label,
                "eta": step_size,
                "ratio": ratio,
                "stable": bool(ratio < 1),
                "rate": rate,
                "grad_growth": float(np.max(grad_sq) / grad_sq[0]),
                "peak_step": int(np.argmax(grad_sq)),
                "monotone": monotone,
            }
        )
    return {"runs": pd.concat(frames, ignore_index=True), "summary": pd.DataFrame(rows)}


def large_gradient_table(result: dict) -> pd.DataFrame:
    """Display table of :func:`momentum_gradients`' summary."""
    summary = result["summary"]
    return pd.DataFrame(
        {
            "method": summary["method"],
            "η": [_sci(e) for e in summary["eta"]],
            "λ/λ*": [f"{r:.3g}" for r in summary["ratio"]],
            "long-run factor ρ": [f"{r:.3g}" for r in summary["rate"]],
            "run": np.where(summary["stable"], "stable", "unstable"),
            "max |g_t|² / |g_0|²": [_sci(g) for g in summary["grad_growth"]],
            "at step": summary["peak_step"],
            "|g_t| never increases": np.where(summary["monotone"], "yes", "no"),
        }
    )


def large_gradient_chart(result: dict, quantity: str) -> alt.Chart | alt.LayerChart:
    """One row of Fig. 17: ``quantity`` "x", "momentum" or "grad_sq" (log) against the step."""
    runs, summary = result["runs"], result["summary"]
    common = dict(color="method", x_title="step t", points=True)
    if quantity == "x":
        chart = _line_chart(runs, y="x", y_title="iterate x_t", title="Iterate", **common)
    elif quantity == "momentum":
        chart = _line_chart(
            runs.dropna(subset=["momentum"]),
            y="momentum",
            y_title="momentum m_t",
            title="Momentum buffer (heavy ball only)",
            **common,
        )
    else:
        chart = _line_chart(
            runs,
            y="grad_sq",
            log_y=True,
            y_title="|g_t|² (log)",
            title="Squared gradient",
            thresholds=charts.threshold_frame(float(runs["grad_sq"].iloc[0]), "|g_0|²"),
            **common,
        )
    chart = _fixed_method_colors(_full_x(chart, int(runs["step"].max())), list(summary["method"]))
    return _flat(chart, width=560, height=150)


def large_gradient_panel(
    *, steps: int = 30, eta: float = 20.0, beta1: float = 0.9, m0: float = 0.2
) -> widgets.ControlPanel:
    """Panel (d): Fig. 17, heavy ball's gradients grow while it is stable; GD's cannot."""

    def compute(values):
        return momentum_gradients(values["eta"], values["beta1"], steps=steps, m0=m0)

    return widgets.ControlPanel(
        compute,
        [
            lambda r: large_gradient_chart(r, "x"),
            lambda r: large_gradient_chart(r, "momentum"),
            lambda r: large_gradient_chart(r, "grad_sq"),
            TableView(large_gradient_table),
        ],
        eta=widgets.eta_slider(eta, 0.1, 400.0, step=0.01, readout_format=".3g"),
        beta1=(beta1, 0.0, 0.99),
    )


# ---------------------------------------------------------------------------------------------
# (e) Preconditioning


def rotated_hessian(eigenvalues: Sequence[float] = (1.0, 20.0), angle: float = 0.0) -> np.ndarray:
    """H = R diag(eigenvalues) R^T with R the rotation by ``angle`` degrees (2x2)."""
    theta = math.radians(float(angle))
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    return (rotation * np.asarray(eigenvalues, dtype=float)) @ rotation.T


def precond_sharpness(hessian, precond) -> float:
    """lambda_1(P^-1/2 H P^-1/2) for a diagonal P given as a vector (the same as of P^-1 H)."""
    inv_sqrt = 1.0 / np.sqrt(np.asarray(precond, dtype=float))
    scaled = np.asarray(hessian, dtype=float) * np.outer(inv_sqrt, inv_sqrt)
    return float(np.linalg.eigvalsh(scaled)[-1])


def preconditioning_runs(
    eta: float,
    beta1: float,
    precond: Sequence[float],
    *,
    hessian,
    steps: int,
    x0: Sequence[float] = (1.0, 1.0),
    method: str = "ema_hb",
) -> dict:
    """``method`` with a fixed diagonal P (frozen Adam for ema_hb) and without (P = I).

    On f(x) = x^T H x / 2 the run with P diverges iff lambda_1(P^-1/2 H P^-1/2) exceeds the
    method's threshold, the run without P iff lambda_1(H) does. Prop. 1 is checked on the way:
    the method without P on H~ = P^-1/2 H P^-1/2 from x~0 = P^1/2 x0 (m0 = 0) must give
    x~_t = P^1/2 x_t; ``isomorphism_gap`` is max_t |x~_t - P^1/2 x_t| / max_t |x~_t| over the
    steps where both are finite and below 1e100.

    Returns ``runs`` (run: "with P" or "P = I", step, norm_x = ||x_t|| for display),
    ``summary`` (quantity "λ₁(H)" or "λ₁(P^-1/2 H P^-1/2)", value, ratio to the threshold,
    governs: the run it decides, diverging: that run's measured fate) and scalars lam1_H,
    lam1_PHP, threshold, formula, diverging_with_P, diverging_without_P, isomorphism_gap.
    """
    hessian = np.asarray(hessian, dtype=float)
    p = np.broadcast_to(np.asarray(precond, dtype=float), (hessian.shape[0],))
    x0 = np.asarray(x0, dtype=float)
    ones = np.ones_like(p)
    with_p = quadratic.simulate(method, hessian, eta, beta1, steps=steps, x0=x0, precond=p)
    without = quadratic.simulate(method, hessian, eta, beta1, steps=steps, x0=x0, precond=ones)
    scaled = hessian / np.sqrt(np.outer(p, p))
    tilde = quadratic.simulate(
        method, scaled, eta, beta1, steps=steps, x0=np.sqrt(p) * x0, precond=ones
    )
    with np.errstate(over="ignore", invalid="ignore"):
        mapped = np.sqrt(p) * with_p.x
        usable = np.all(np.isfinite(mapped) & np.isfinite(tilde.x), axis=-1)
        usable &= np.all((np.abs(tilde.x) < 1e100) & (np.abs(mapped) < 1e100), axis=-1)
        gap = float(np.abs(tilde.x[usable] - mapped[usable]).max() / np.abs(tilde.x[usable]).max())
        norms = {"with P": np.linalg.norm(with_p.x, axis=-1)}
        norms["P = I"] = np.linalg.norm(without.x, axis=-1)
    diverging = {name: is_diverging(n) for name, n in norms.items()}
    lam_star = thresholds.threshold(method, eta, beta1)
    lam1_h = float(np.linalg.eigvalsh(hessian)[-1])
    lam1_php = precond_sharpness(hessian, p)
    runs = pd.concat(
        [
            pd.DataFrame({"run": name, "step": np.arange(steps + 1), "norm_x": clip_for_display(n)})
            for name, n in norms.items()
        ],
        ignore_index=True,
    )
    summary = pd.DataFrame(
        {
            "quantity": ["λ₁(H)", "λ₁(P^-1/2 H P^-1/2)"],
            "value": [lam1_h, lam1_php],
            "ratio": [lam1_h / lam_star, lam1_php / lam_star],
            "governs": ["P = I", "with P"],
            "diverging": [diverging["P = I"], diverging["with P"]],
        }
    )
    return {
        "runs": runs,
        "summary": summary,
        "lam1_H": lam1_h,
        "lam1_PHP": lam1_php,
        "threshold": lam_star,
        "formula": thresholds.threshold_formula(method, beta1),
        "diverging_with_P": diverging["with P"],
        "diverging_without_P": diverging["P = I"],
        "isomorphism_gap": gap,
    }


def preconditioning_table(result: dict) -> tuple[pd.DataFrame, str]:
    """Display table of :func:`preconditioning_runs` and the Prop. 1 check as a caption."""
    summary = result["summary"]
    threshold = f"{result['formula']} = {_sci(result['threshold'])}"
    table = pd.DataFrame(
        {
            "eigenvalue": summary["quantity"],
            "value": [f"{v:.4g}" for v in summary["value"]],
            "÷ threshold λ*": [f"{r:.3g}" for r in summary["ratio"]],
            "λ*": threshold,
            "decides the run": summary["governs"],
            "that run": np.where(summary["diverging"], "diverges", "stays bounded"),
        }
    )
    caption = (
        f"Prop. 1 check: plain EMA heavy ball on P^-1/2 H P^-1/2 from P^1/2 x_0 gives "
        f"max |x̃_t − P^1/2 x_t| / max |x̃_t| = {result['isomorphism_gap']:.1e}"
    )
    return table, caption


def preconditioning_chart(result: dict) -> alt.LayerChart:
    """||x_t|| with and without P (log axis)."""
    lines = _line_chart(
        result["runs"],
        y="norm_x",
        color="run",
        log_y=True,
        thresholds=charts.threshold_frame(float(result["runs"]["norm_x"].iloc[0]), "‖x_0‖"),
        x_title="step t",
        y_title="‖x_t‖ (log)",
        title="The same method with P and without it (P = I)",
    )
    return _flat(_full_x(lines, int(result["runs"]["step"].max())))


def eigenvalue_chart(result: dict) -> alt.LayerChart:
    """lambda_1(H) and lambda_1(P^-1/2 H P^-1/2) divided by the threshold, as dots."""
    return ratio_dots(
        result["summary"],
        category="quantity",
        x_title="eigenvalue / λ*",
        title="Which eigenvalue decides?",
    )


def preconditioning_panel(
    *,
    steps: int,
    eigenvalues: Sequence[float] = (1.0, 20.0),
    eta: float = 3.0,
    beta1: float = 0.9,
    p1: float = 1.0,
    p2: float = 4.0,
    angle: float = 0.0,
) -> widgets.ControlPanel:
    """Panel (e): frozen-P EMA heavy ball on H = R(angle) diag(eigenvalues) R(angle)^T.

    Controls: eta, beta1, the preconditioner's diagonal ``p1``, ``p2`` (log sliders) and the
    rotation ``angle`` of H in degrees.
    """

    def compute(values):
        return preconditioning_runs(
            values["eta"],
            values["beta1"],
            (values["p1"], values["p2"]),
            hessian=rotated_hessian(eigenvalues, values["angle"]),
            steps=steps,
        )

    def p_slider(name, value):
        return widgets.eta_slider(
            value, 1e-2, 1e2, step=0.05, readout_format=".3g", description=name
        )

    return widgets.ControlPanel(
        compute,
        [preconditioning_chart, eigenvalue_chart, TableView(preconditioning_table)],
        eta=widgets.eta_slider(eta, 0.1, 100.0, step=0.01, readout_format=".3g"),
        beta1=(beta1, 0.0, 0.99),
        extra={
            "p1": p_slider("p1", p1),
            "p2": p_slider("p2", p2),
            "angle": (float(angle), 0.0, 90.0, 1.0),
        },
    )


# ---------------------------------------------------------------------------------------------
# (f) RMSprop halts its own divergence


def rmsprop_runs(
    eta: float,
    beta2: float,
    *,
    steps: int,
    nu0: float = 1.0,
    eps: float = 1e-7,
    lam: float = 1.0,
    x0: float = 1.0,
) -> dict:
    """RMSprop on f(x) = lam x^2 / 2 from x0 with nu_0 = ``nu0``, and the same with nu frozen.

    RMSprop's update is x_{t+1} = x_t - eta g_t / P_{t+1}, P = sqrt(nu) + eps, so with P held
    fixed it is GD on the preconditioned curvature lam / P, stable iff lam / P < 2 / eta.
    At the start P_0 = sqrt(nu0) + eps: for eta > 2 P_0 / lam the frozen run diverges. The
    adaptive run grows too, until g^2 has lifted nu enough.

    Returns ``runs`` (step, abs_x, nu, precond, sharpness = lam / P_t, ratio = sharpness /
    (2 / eta)), a long ``trajectories`` frame for the |x| chart (run, step, abs_x; the frozen
    run display-clipped) and scalars: threshold = 2/eta, start_ratio (lam / P_0 over 2/eta),
    max_abs_x, final_abs_x, nu_max (largest nu_t), frozen_diverging, finite (all x_t finite),
    late_ratio_mean and late_abs_x (means over the last 10% of steps), on_orbit (late |x_t|
    and P_t within 1% of the period-2 orbit |x| = eta/2, P = eta lam/2) and settled (late
    ratio within 1% of 1).
    """
    check_positive(eta, "eta")
    check_beta(beta2, "beta2")
    run = quadratic.simulate(
        "rmsprop", lam, eta, beta2=beta2, steps=steps, x0=x0, initial_nu=nu0, eps=eps
    )
    p0 = float(run.precond[0, 0])
    frozen = quadratic.simulate("gd", lam, eta, steps=steps, x0=x0, precond=p0)
    x, p, nu = run.x[:, 0], run.precond[:, 0], run.nu[:, 0]
    abs_x, abs_frozen = np.abs(x), np.abs(frozen.x[:, 0])
    edge = 2.0 / eta
    sharpness = lam / p
    ratio = sharpness / edge
    tail = max(1, steps // 10)
    orbit_x, orbit_p = eta / 2.0, eta * lam / 2.0
    on_orbit = bool(
        np.all(np.abs(abs_x[-tail:] - orbit_x) <= _ORBIT_TOLERANCE * orbit_x)
        and np.all(np.abs(p[-tail:] - orbit_p) <= _ORBIT_TOLERANCE * orbit_p)
    )
    step = np.arange(steps + 1)
    runs = pd.DataFrame(
        {
            "step": step,
            "abs_x": abs_x,
            "nu": nu,
            "precond": p,
            "sharpness": sharpness,
            "ratio": ratio,
        }
    )
    trajectories = pd.concat(
        [
            pd.DataFrame({"run": "RMSprop", "step": step, "abs_x": abs_x}),
            pd.DataFrame(
                {
                    "run": "ν frozen at its start",
                    "step": step,
                    "abs_x": clip_for_display(abs_frozen, 0.0, DISPLAY_RANGE[1]),
                }
            ),
        ],
        ignore_index=True,
    )
    return {
        "runs": runs,
        "trajectories": trajectories,
        "threshold": edge,
        "start_sharpness": float(lam / p0),
        "start_ratio": float(lam / p0 / edge),
        "max_abs_x": float(np.max(abs_x)),
        "final_abs_x": float(abs_x[-1]),
        "nu0": float(nu[0]),
        "nu_max": float(np.max(nu)),
        "frozen_diverging": is_diverging(abs_frozen),
        "finite": bool(np.all(np.isfinite(x))),
        "late_ratio_mean": float(np.mean(ratio[-tail:])),
        "late_abs_x": float(np.mean(abs_x[-tail:])),
        "on_orbit": on_orbit,
        "settled": bool(np.all(np.abs(ratio[-tail:] - 1.0) <= _ORBIT_TOLERANCE)),
    }


def rmsprop_table(result: dict) -> tuple[pd.DataFrame, str]:
    """Display table of :func:`rmsprop_runs` and a caption describing the start."""
    eta = 2.0 / result["threshold"]
    if result["on_orbit"]:
        verdict = f"settled on the orbit x = ±η/2 = ±{eta / 2:.3g}, λ/P = 2/η"
    elif result["settled"]:
        verdict = "λ/P has settled at 2/η"
    else:
        verdict = "still cycling: λ/P keeps crossing 2/η"
    table = pd.DataFrame(
        {
            "run": ["ν frozen at its start", "RMSprop"],
            "max |x_t|": [
                "overflow" if result["frozen_diverging"] else "bounded",
                _sci(result["max_abs_x"]),
            ],
            "ν": [f"{result['nu0']:.3g} (fixed)", f"rose to {result['nu_max']:.3g}"],
            "late mean of (λ/P_t) / (2/η)": [
                f"{result['start_ratio']:.3g}",
                f"{result['late_ratio_mean']:.3f}",
            ],
            "outcome": [
                "diverges" if result["frozen_diverging"] else "stable",
                verdict,
            ],
        }
    )
    side = "past" if result["start_ratio"] > 1 else "below"
    caption = (
        f"Start: λ/P_0 = {result['start_sharpness']:.3g} is {result['start_ratio']:.3g} × "
        f"the threshold 2/η = {result['threshold']:.3g} ({side} it)."
    )
    return table, caption


def rmsprop_chart(result: dict, quantity: str, *, points: int = 600) -> alt.LayerChart:
    """One chart of panel (f): ``quantity`` "x" (|x_t|, RMSprop and frozen nu, log axis),
    "sharpness" (lam / P_t against 2/eta) or "nu" (nu_t). At most ``points`` points per line
    (every k-th step, see :func:`aeos_lab.charts.downsample`)."""
    runs = result["runs"]
    if quantity == "x":
        eta = 2.0 / result["threshold"]
        chart = _line_chart(
            result["trajectories"],
            y="abs_x",
            color="run",
            log_y=True,
            thresholds=charts.threshold_frame(eta / 2.0, "η/2"),
            x_title="step t",
            y_title="|x_t| (log)",
            title="RMSprop on f(x) = x²/2, and the same run with ν frozen at its start",
            max_rows=2 * points,
        )
    elif quantity == "sharpness":
        chart = _line_chart(
            runs,
            y="sharpness",
            color=None,
            thresholds=charts.threshold_frame(result["threshold"], "2/η"),
            x_title="step t",
            y_title="λ / P_t",
            title="Preconditioned sharpness λ/P_t against its threshold 2/η",
            max_rows=points,
        )
    else:
        chart = _line_chart(
            runs,
            y="nu",
            color=None,
            x_title="step t",
            y_title="ν_t",
            title="Second moment ν_t",
            max_rows=points,
        )
    return _flat(_full_x(chart, int(runs["step"].max())), width=620, height=160)


def rmsprop_panel(
    *, steps: int, eta: float = 2.2, beta2: float = 0.999, nu0: float = 1.0
) -> widgets.ControlPanel:
    """Panel (f): Fig. 12, RMSprop (nu_0 = ``nu0``) past its frozen threshold on x^2/2."""

    def compute(values):
        return rmsprop_runs(values["eta"], values["beta2"], steps=steps, nu0=nu0)

    return widgets.ControlPanel(
        compute,
        [
            lambda r: rmsprop_chart(r, "x"),
            lambda r: rmsprop_chart(r, "sharpness"),
            lambda r: rmsprop_chart(r, "nu"),
            TableView(rmsprop_table),
        ],
        eta=widgets.eta_slider(eta, 0.5, 20.0, step=0.01, readout_format=".3g"),
        beta1=None,
        beta2=(beta2, 0.5, 0.999, 0.001),
    )
