"""Views of notebook 05: the results of :mod:`.experiments` as Altair charts and display tables.

* :func:`solutions_chart`, :func:`solutions_table`: panel (a), sharpness and held-out accuracy
  at the solution against eta or 1 - beta2 (:class:`~.experiments.SharpnessSweep`);
* :func:`comparison_chart`, :func:`comparison_table`: panel (b), Adam against EMA heavy ball at
  equal training speed (:class:`~.experiments.Comparison`);
* :func:`fig10`, :func:`fig11` and their tidy data :func:`fig10_data`, :func:`fig11_data`: the
  paper figures as ``aeos-lab reproduce`` exports them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import altair as alt
import pandas as pd

from aeos_lab.viz import charts

if TYPE_CHECKING:
    from aeos_lab.lessons.nb05_sharp_solutions.experiments import Comparison, SharpnessSweep
    from aeos_lab.lessons.nb05_sharp_solutions.params import Params

__all__ = [
    "HIGHLIGHT_COLOR",
    "OPTIMIZER_COLORS",
    "OPTIMIZER_LABELS",
    "comparison_chart",
    "comparison_table",
    "fig10",
    "fig11",
    "solutions_chart",
    "solutions_table",
    "with_method",
]

HIGHLIGHT_COLOR = "#d62728"
OPTIMIZER_LABELS = {"adam": "Adam", "ema_hb": "EMA heavy ball"}
OPTIMIZER_COLORS = {"Adam": "#4c78a8", "EMA heavy ball": "#f58518"}


def _num(value) -> str:
    """A table number with 3 significant digits; "–" for a missing (None or NaN) value."""
    missing = value is None or (isinstance(value, float) and not math.isfinite(value))
    return charts.format_sci(None if missing else value, 3)


def with_method(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``method`` column (the optimizer's display name) after ``optimizer``."""
    frame = frame.copy()
    labels = [OPTIMIZER_LABELS.get(o, o) for o in frame["optimizer"]]
    frame.insert(frame.columns.get_loc("optimizer") + 1, "method", labels)
    return frame


def _padded_log_scale(values: pd.Series, pad: float = 1.4) -> alt.Scale:
    """A log scale from min / pad to max * pad (no rounding out to whole decades)."""
    values = values[values > 0]
    if values.empty:
        return alt.Scale(type="log")
    return alt.Scale(
        type="log", domain=[float(values.min()) / pad, float(values.max()) * pad], nice=False
    )


def _full_first(labels: pd.Series) -> pd.Series:
    return labels.map(lambda s: (0 if s.startswith("full") else 1, s))


def _ring(x, y, tooltip, size: int, data=alt.Undefined) -> alt.Chart:
    """The rows with ``selected`` true ringed in red (a filter on the chart's own data, so
    Altair prepares the data once)."""
    return (
        alt.Chart(data)
        .transform_filter("datum.selected")
        .mark_point(size=size, filled=False, strokeWidth=2.5, color=HIGHLIGHT_COLOR)
        .encode(x=x, y=y, tooltip=tooltip)
    )


def _sweep_points(frame, x, y, *, x_title, y_title, title, bars=False):
    """Points joined by lines (one per ``series``) on a log x axis, colour = batch setting;
    the selected run ringed in red; with ``bars``, a bar from ``low`` to ``high`` at each
    point. The layers carry no data: they read the data of the chart they are placed in
    (``frame``, by :func:`solutions_chart`)."""
    order = list(dict.fromkeys(frame.sort_values("batch", key=_full_first)["batch"]))
    x_enc = alt.X(
        f"{x}:Q",
        title=x_title,
        scale=_padded_log_scale(frame[x]),
        axis=alt.Axis(labelExpr=charts.COMPACT_LABEL),
    )
    y_enc = alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False))
    color = alt.Color("batch:N", scale=alt.Scale(domain=order), title="batch")
    tooltip = [
        alt.Tooltip("eta:Q", format=".3g", title="η"),
        alt.Tooltip("beta2:Q", format=".4g", title="β₂"),
        alt.Tooltip("batch:N"),
        alt.Tooltip("steps:Q"),
        alt.Tooltip(f"{y}:Q", format=".4g"),
    ]
    line = alt.Chart().mark_line(point=True)
    layers = [line.encode(x=x_enc, y=y_enc, color=color, tooltip=tooltip, detail="series:N")]
    if bars:
        low = alt.Y("low:Q", scale=alt.Scale(zero=False))
        rule = alt.Chart().mark_rule(opacity=0.5)
        layers.insert(0, rule.encode(x=x_enc, y=low, y2="high:Q", color=color))
    layers.append(_ring(x_enc, y_enc, tooltip, 220))
    return alt.layer(*layers).properties(title=title, width=300, height=200)


def solutions_chart(result: SharpnessSweep, axis: str) -> alt.HConcatChart:
    """Sharpness at the solution (left) and held-out accuracy at the solution with +-1
    standard error (right) against eta (``axis="eta"``, the eta sweeps) or against 1 - beta2
    (``axis="beta2"``, the beta2 sweeps), both on log axes; runs that reached their solution,
    plus the selected ones (a selected run outside the sweep is a point of its own, not
    joined to the sweep's line).

    Both charts read one table holding only the columns they draw: Altair copies and
    sanitises every column of every table it is given, which made this chart the slow part
    of a slider move."""
    frame = result.solutions
    frame = frame[frame["reached"] & (frame[f"in_{axis}_sweep"] | frame["selected"])]
    beta2 = frame["beta2"].astype(float)
    if axis == "beta2":
        x, x_title = "one_minus_beta2", "1 − β₂ (log)"
        where = f"η = {charts.format_sci(result.eta_for_beta2)}"
    else:
        x, x_title = "eta", "η (log)"
        where = f"β₂ = {result.beta2_for_eta:g}"
    data = pd.DataFrame(
        {
            "eta": frame["eta"],
            "beta2": beta2,
            "one_minus_beta2": 1.0 - beta2,
            "batch": frame["batch"],
            "series": frame["batch"].where(frame[f"in_{axis}_sweep"], frame["batch"] + " *"),
            "steps": frame["steps"],
            "sharpness": frame["sharpness"],
            "test_acc": frame["test_acc"],
            "low": frame["test_acc"] - frame["test_acc_stderr"],
            "high": frame["test_acc"] + frame["test_acc_stderr"],
            "selected": frame["selected"].astype(bool),
        }
    )
    sharp = _sweep_points(
        data,
        x,
        "sharpness",
        x_title=x_title,
        y_title="λ₁(H) at the solution",
        title=f"Sharpness at the solution ({where})",
    )
    acc = _sweep_points(
        data,
        x,
        "test_acc",
        x_title=x_title,
        y_title="held-out accuracy (±1 s.e.)",
        title="Held-out accuracy at the solution",
        bars=True,
    )
    return alt.hconcat(sharp, acc, data=data)


def solutions_table(result: SharpnessSweep) -> tuple[pd.DataFrame, str]:
    """The selected setting's runs (one per batch setting that trained it)."""
    frame = result.solutions
    rows = frame[frame["selected"]]
    table = pd.DataFrame(
        {
            "batch": rows["batch"],
            "steps to solution": [
                _num(v) if r else "not reached"
                for v, r in zip(rows["steps"], rows["reached"], strict=True)
            ],
            "λ₁(H) at solution": [_num(v) for v in rows["sharpness"]],
            "held-out accuracy": [_num(v) for v in rows["test_acc"]],
            "best held-out accuracy before (step)": [
                f"{a:.3f} ({s})"
                for a, s in zip(rows["best_test_acc"], rows["best_test_step"], strict=True)
            ],
            "status": rows["status"],
        }
    )
    sel = result.selection
    caption = (
        f"Selected: η = {charts.format_sci(sel.eta)}, β₁ = {sel.beta1:g}, "
        f"β₂ = {sel.beta2:g} (red rings). Solution = first time the train loss is below "
        f"{result.loss_threshold:g}."
    )
    return table, caption


def comparison_chart(result: Comparison) -> alt.LayerChart:
    """Sharpness at the solution against steps to the solution, Adam and EMA heavy ball, each
    point labelled with its eta; the selected Adam run ringed; a grey dash above each momentum
    run marks its threshold (2 + 2 beta1) / ((1 - beta1) eta)."""
    frame = with_method(result.solutions)
    frame = frame.loc[frame["reached"], ["method", "eta", "steps", "sharpness", "selected"]]
    frame["label"] = [f"η={charts.format_sci(e)}" for e in frame["eta"]]
    labels = [m for m in OPTIMIZER_COLORS if m in set(frame["method"])]
    color = alt.Color(
        "method:N",
        scale=alt.Scale(domain=labels, range=[OPTIMIZER_COLORS[m] for m in labels]),
        title="optimizer",
    )
    x = alt.X(
        "steps:Q",
        title="steps to the solution (log)",
        scale=_padded_log_scale(frame["steps"], 1.2),
        axis=alt.Axis(labelExpr=charts.COMPACT_LABEL),
    )
    y = alt.Y("sharpness:Q", title="λ₁(H) at the solution", scale=alt.Scale(zero=False))
    tooltip = [
        alt.Tooltip("method:N"),
        alt.Tooltip("eta:Q", format=".3g", title="η"),
        alt.Tooltip("steps:Q"),
        alt.Tooltip("sharpness:Q", format=".4g"),
    ]
    base = alt.Chart(frame).encode(x=x, y=y, color=color, tooltip=tooltip)
    lines = base.mark_line(point=alt.OverlayMarkDef(size=60)).encode(
        detail="method:N", order="steps:Q"
    )
    text = base.mark_text(align="left", dx=6, dy=-6, fontSize=10).encode(text="label:N")
    cap = (
        alt.Chart(result.thresholds)
        .mark_tick(color=charts.NEUTRAL_COLOR, thickness=2, size=22, orient="horizontal")
        .encode(
            x=x,
            y=alt.Y("threshold:Q"),
            tooltip=[
                alt.Tooltip("eta:Q", title="momentum η"),
                alt.Tooltip("threshold:Q", format=".3g", title=f"its threshold {result.formula}"),
            ],
        )
    )
    sel = result.selection
    title = (
        f"Sharpness at the solution against training time (Adam β₂ = {sel.beta2:g}, "
        f"β₁ = {sel.beta1:g})"
    )
    ring = _ring(x, y, tooltip, 260, frame)
    return alt.layer(cap, lines, text, ring).properties(title=title, width=520, height=260)


def comparison_table(result: Comparison) -> tuple[pd.DataFrame, str]:
    """Adam runs inside momentum's range of training times, against momentum interpolated."""
    matched = result.matched
    frame = pd.DataFrame(
        {
            "Adam η": [charts.format_sci(e) for e in matched["eta"]],
            "steps": matched["steps"].astype(int),
            "Adam λ₁(H)": [_num(v) for v in matched["sharpness"]],
            "momentum λ₁(H) at the same steps": [_num(v) for v in matched["momentum_sharpness"]],
            "ratio": [f"{v:.2f}" for v in matched["ratio"]],
        }
    )
    caption = (
        "Momentum's value is interpolated (in log steps) between its two runs that bracket "
        "Adam's training time; Adam runs faster or slower than every momentum run are left out."
    )
    return frame, caption


# ---------------------------------------------------------------------------------------------
# Paper figures


def fig10(result: SharpnessSweep, P: Params) -> alt.VConcatChart:
    """Figs. 10 and 19: panel (a)'s two charts, against eta above and against 1 - beta2 below."""
    return alt.vconcat(solutions_chart(result, "eta"), solutions_chart(result, "beta2"))


def fig11(result: Comparison, P: Params) -> alt.LayerChart:
    """Fig. 11: panel (b)'s chart."""
    return comparison_chart(result)
