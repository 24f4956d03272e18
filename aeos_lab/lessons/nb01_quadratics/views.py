"""Charts and display tables of notebook 01: typed results of :mod:`.experiments` in, Altair
charts and small DataFrames out (nothing here computes an experiment).

Speed: a slider move should redraw in well under 100 ms on two CPU cores. Building and
serialising an Altair chart costs about 10-30 ms whatever its size, so each panel uses few
charts, none concatenated, with titles and scales that do not depend on the sliders (the live
chart then swaps only the data), flat layers (:func:`aeos_lab.viz.charts.flatten_layers`), and
numbers in HTML tables rather than text charts. The paper-figure views at the end (``table1``,
``fig2``, ...) compose the same builders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import altair as alt
import numpy as np
import pandas as pd

from aeos_lab.viz import charts

if TYPE_CHECKING:
    from aeos_lab.lessons.nb01_quadratics.experiments import (
        Divergence,
        Growth,
        MomentumGradients,
        Preconditioning,
        Rmsprop,
        StabilityMap,
    )
    from aeos_lab.lessons.nb01_quadratics.figures import (
        EtaSweep,
        GradientSweep,
        Prop1,
        RmspropSweep,
        Table1,
    )
    from aeos_lab.lessons.nb01_quadratics.params import Params

__all__ = [
    "METHOD_COLORS",
    "divergence_chart",
    "divergence_dots",
    "divergence_table",
    "eigenvalue_chart",
    "fig12",
    "fig14",
    "fig17",
    "fig2",
    "growth_lambda_chart",
    "growth_ratio_chart",
    "growth_table",
    "large_gradient_chart",
    "large_gradient_table",
    "preconditioning_chart",
    "preconditioning_table",
    "prop1",
    "ratio_dots",
    "rmsprop_chart",
    "rmsprop_table",
    "stability_map_chart",
    "table1",
]

METHOD_COLORS = {
    "GD": "#4c78a8",
    "HB standard": "#f58518",
    "HB EMA": "#e45756",
    "Nesterov standard": "#72b7b2",
    "Nesterov EMA": "#54a24b",
}
"""One fixed colour per method label (tableau10, in method order), so a method looks the same
in every chart of the notebook."""


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


def _fixed_method_colors(chart, labels: Sequence[str]):
    """Give the ``method`` colour channel of a line chart the fixed method colours."""
    charts.main_layer(chart).encoding.color = _method_color(labels)
    return chart


def _full_x(chart, last: float, first: float = 0.0):
    """Fix the x axis of a line chart to [first, last].

    Lines leave a log chart where the run overflows; the axis should still show every step,
    and a fixed domain keeps the chart's specification independent of the data.
    """
    scale = alt.Scale(domain=[first, last], nice=False, zero=False)
    charts.main_layer(chart).encoding.x.scale = scale
    return chart


def _log_trajectories(
    runs: pd.DataFrame, y: str, color: str, start: str, *, y_title: str, title: str | None
) -> alt.LayerChart:
    """``y`` of each ``color`` series against the step on a log axis that shows every step,
    with a dashed rule at the first row's value (labelled ``start``, e.g. "|x_0|")."""
    chart = charts.flat_line_chart(
        runs,
        y=y,
        color=color,
        log_y=True,
        thresholds=charts.threshold_frame(float(runs[y].iloc[0]), start),
        x_title="step t",
        y_title=y_title,
        title=title,
    )
    return _full_x(chart, int(runs["step"].max()))


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
    return charts.flatten_layers(
        rule, rule_text, dots, **size, **({"title": title} if title else {})
    )


# ---------------------------------------------------------------------------------------------
# (a) Divergence past the threshold


def divergence_table(result: Divergence) -> pd.DataFrame:
    """Display table of a :class:`~.experiments.Divergence`'s summary."""
    summary = result.summary
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


def divergence_chart(
    result: Divergence, *, title: str | None = "|x_t| on f(x) = x²/2 (log scale)"
) -> alt.LayerChart:
    """|x_t| of each method on a log axis with a dashed rule at |x_0| = 1."""
    runs = result.runs
    chart = _log_trajectories(runs, "abs_x", "method", "|x_0|", y_title="|x_t|", title=title)
    return charts.flatten_layers(_fixed_method_colors(chart, list(dict.fromkeys(runs["method"]))))


def divergence_dots(result: Divergence) -> alt.LayerChart:
    """Where lam sits against each method's threshold (:func:`ratio_dots`)."""
    return ratio_dots(result.summary, title="Where λ = 1 sits against each threshold")


# ---------------------------------------------------------------------------------------------
# (b) Stability map


def stability_map_chart(result: StabilityMap) -> alt.LayerChart:
    """Heatmap of the map, the closed-form boundary and, if any, the sliders' (eta*lam, beta1)
    as a diamond. The caption line says where the marker lies (or, without one, how often the
    colours agree with the line)."""
    heatmap = charts.stability_heatmap(
        result.grid, boundary=result.boundary, value_title="max |x_t|, last 10%"
    )
    if result.marker is None:
        marker = pd.DataFrame({"eta_lambda": [], "beta1": []}, dtype=float)
        text = f"N = {result.steps}; colours agree with the line on {result.agreement:.1%}"
    else:
        marker = pd.DataFrame({"eta_lambda": [result.marker[0]], "beta1": [result.marker[1]]})
        where = "past λ*" if result.past else "below λ*"
        text = f"{result.label}, N = {result.steps};  ◆ your (η, β₁): {where}"
    point = (
        alt.Chart(marker)
        .mark_point(shape="diamond", size=160, filled=True, color="black")
        .encode(x=alt.X("eta_lambda:Q"), y=alt.Y("beta1:Q"))
    )
    caption = (
        alt.Chart(pd.DataFrame({"text": [text]}))
        .mark_text(align="left", baseline="bottom", dy=-4, fontSize=12)
        .encode(x=alt.XValue(0), y=alt.YValue(0), text="text:N")
    )
    title = alt.Title("Late |x_t| after N steps; black line: closed-form threshold", offset=22)
    return charts.flatten_layers(heatmap, point, caption, title=title)


# ---------------------------------------------------------------------------------------------
# (c) Growth factor


def growth_table(result: Growth) -> pd.DataFrame:
    """Display table of a :class:`~.experiments.Growth`'s summary."""
    summary = result.summary
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


def _growth_lines(curves: pd.DataFrame, labels: Sequence[str], **kwargs) -> alt.LayerChart:
    """rho against ``kwargs["x"]``, one line per method in its fixed colour, with a dashed rule
    at rho = 1 (:func:`aeos_lab.viz.charts.flat_line_chart` takes ``kwargs``)."""
    chart = charts.flat_line_chart(
        curves,
        y="growth",
        color="method",
        thresholds=charts.threshold_frame(1.0, "ρ"),
        y_title="growth factor ρ per step",
        **kwargs,
    )
    return _fixed_method_colors(chart, labels)


def growth_ratio_chart(result: Growth) -> alt.LayerChart:
    """Fig. 14, normalised: rho against lam / lam*, with rho at the right edge written out."""
    curves, summary = result.curves, result.summary
    labels = list(summary["method"])
    chart = _growth_lines(
        curves,
        labels,
        x="lam_ratio",
        x_title="λ / λ*  (each method's own threshold)",
        title="Growth factor against λ / λ*",
    )
    chart = _full_x(chart, float(curves["lam_ratio"].max()))
    ends = alt.Chart(summary[["method", "lam_ratio", "growth_edge", "end_text"]]).encode(
        x="lam_ratio:Q", y="growth_edge:Q", color=_method_color(labels, legend=False)
    )
    return charts.flatten_layers(
        chart, ends.mark_text(align="right", dx=-2, dy=-8, fontSize=11).encode(text="end_text:N")
    )


def growth_lambda_chart(result: Growth) -> alt.LayerChart:
    """Fig. 14 at this eta: rho against lam (log axis), dotted rules at each lam*."""
    labels = list(result.summary["method"])
    chart = _growth_lines(
        result.log_curves,
        labels,
        x="lam",
        log_x=True,
        x_title="eigenvalue λ (log scale); dotted: each λ*",
        title="The same curves against λ at this η",
    )
    stars = (
        alt.Chart(result.summary[["method", "threshold"]])
        .mark_rule(strokeDash=[2, 3], strokeWidth=1.5)
        .encode(x="threshold:Q", color=_method_color(labels, legend=False))
    )
    return charts.flatten_layers(chart, stars)


# ---------------------------------------------------------------------------------------------
# (d) Large gradients while stable


def large_gradient_table(result: MomentumGradients) -> pd.DataFrame:
    """Display table of a :class:`~.experiments.MomentumGradients`' summary."""
    summary = result.summary
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


def large_gradient_chart(result: MomentumGradients, quantity: str) -> alt.Chart | alt.LayerChart:
    """One row of Fig. 17: ``quantity`` "x", "momentum" or "grad_sq" (log) against the step."""
    runs, summary = result.runs, result.summary
    first = float(runs["grad_sq"].iloc[0])
    options = {
        "x": dict(data=runs, y="x", y_title="iterate x_t", title="Iterate"),
        "momentum": dict(
            data=runs.dropna(subset=["momentum"]),
            y="momentum",
            y_title="momentum m_t",
            title="Momentum buffer (heavy ball only)",
        ),
        "grad_sq": dict(
            data=runs,
            y="grad_sq",
            log_y=True,
            y_title="|g_t|² (log)",
            title="Squared gradient",
            thresholds=charts.threshold_frame(first, "|g_0|²"),
        ),
    }[quantity]
    chart = charts.flat_line_chart(color="method", x_title="step t", points=True, **options)
    chart = _fixed_method_colors(_full_x(chart, int(runs["step"].max())), list(summary["method"]))
    return charts.flatten_layers(chart, width=560, height=150)


# ---------------------------------------------------------------------------------------------
# (e) Preconditioning


def preconditioning_table(result: Preconditioning) -> tuple[pd.DataFrame, str]:
    """Display table of a :class:`~.experiments.Preconditioning` and the Prop. 1 check as a
    caption."""
    summary = result.summary
    threshold = f"{result.formula} = {_sci(result.threshold)}"
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
        f"max |x̃_t − P^1/2 x_t| / max |x̃_t| = {result.isomorphism_gap:.1e}"
    )
    return table, caption


def preconditioning_chart(result: Preconditioning) -> alt.LayerChart:
    """||x_t|| with and without P (log axis)."""
    lines = _log_trajectories(
        result.runs,
        "norm_x",
        "run",
        "‖x_0‖",
        y_title="‖x_t‖ (log)",
        title="The same method with P and without it (P = I)",
    )
    return charts.flatten_layers(lines)


def eigenvalue_chart(result: Preconditioning) -> alt.LayerChart:
    """lambda_1(H) and lambda_1(P^-1/2 H P^-1/2) divided by the threshold, as dots."""
    return ratio_dots(
        result.summary,
        category="quantity",
        x_title="eigenvalue / λ*",
        title="Which eigenvalue decides?",
    )


# ---------------------------------------------------------------------------------------------
# (f) RMSprop halts its own divergence


def rmsprop_table(result: Rmsprop) -> tuple[pd.DataFrame, str]:
    """Display table of an :class:`~.experiments.Rmsprop` and a caption describing the start."""
    if result.on_orbit:
        verdict = f"settled on the orbit x = ±η/2 = ±{result.eta / 2:.3g}, λ/P = 2/η"
    elif result.settled:
        verdict = "λ/P has settled at 2/η"
    else:
        verdict = "still cycling: λ/P keeps crossing 2/η"
    table = pd.DataFrame(
        {
            "run": ["ν frozen at its start", "RMSprop"],
            "max |x_t|": [
                "overflow" if result.frozen_diverging else "bounded",
                _sci(result.max_abs_x),
            ],
            "ν": [f"{result.nu0:.3g} (fixed)", f"rose to {result.nu_max:.3g}"],
            "late mean of (λ/P_t) / (2/η)": [
                f"{result.start_ratio:.3g}",
                f"{result.late_ratio_mean:.3f}",
            ],
            "outcome": [
                "diverges" if result.frozen_diverging else "stable",
                verdict,
            ],
        }
    )
    side = "past" if result.start_ratio > 1 else "below"
    caption = (
        f"Start: λ/P_0 = {result.start_sharpness:.3g} is {result.start_ratio:.3g} × "
        f"the threshold 2/η = {result.threshold:.3g} ({side} it)."
    )
    return table, caption


def rmsprop_chart(result: Rmsprop, quantity: str, *, points: int = 600) -> alt.LayerChart:
    """One chart of panel (f): ``quantity`` "x" (|x_t|, RMSprop and frozen nu, log axis),
    "sharpness" (lam / P_t against 2/eta) or "nu" (nu_t). At most ``points`` points per line
    (every k-th step, see :func:`aeos_lab.viz.charts.downsample`)."""
    runs = result.runs
    options = {
        "x": dict(
            data=result.trajectories,
            y="abs_x",
            color="run",
            log_y=True,
            thresholds=charts.threshold_frame(result.eta / 2.0, "η/2"),
            y_title="|x_t| (log)",
            title="RMSprop on f(x) = x²/2, and the same run with ν frozen at its start",
            max_rows=2 * points,
        ),
        "sharpness": dict(
            data=runs,
            y="sharpness",
            thresholds=charts.threshold_frame(result.threshold, "2/η"),
            y_title="λ / P_t",
            title="Preconditioned sharpness λ/P_t against its threshold 2/η",
        ),
        "nu": dict(data=runs, y="nu", y_title="ν_t", title="Second moment ν_t"),
    }[quantity]
    options = {"color": None, "max_rows": points, **options}
    chart = charts.flat_line_chart(x_title="step t", **options)
    return charts.flatten_layers(_full_x(chart, int(runs["step"].max())), width=620, height=160)


# ---------------------------------------------------------------------------------------------
# Paper figures


def table1(result: Table1, P: Params) -> alt.ConcatChart:
    """Table 1: the five stability maps, three per row, each titled with its threshold."""
    maps = [
        stability_map_chart(m).properties(
            title=f"{m.label}: λ* = {m.formula}", width=300, height=200
        )
        for m in result.maps
    ]
    return alt.concat(*maps, columns=3)


def fig2(result: EtaSweep, P: Params) -> alt.LayerChart:
    """Fig. 2: |x_t| of EMA heavy ball at each eta, with the |x_0| rule."""
    chart = charts.line_chart(
        result.runs,
        y="abs_x",
        color="run",
        log_y=True,
        thresholds=1.0,
        formula="|x_0|",
        x_title="step t",
        y_title="|x_t| (log)",
        title=f"EMA heavy ball (β₁ = {result.beta1:g}) on f(x) = x²/2: diverges iff "
        f"η > {result.critical_eta:g}",
    )
    return chart.properties(width=520, height=280)


def _small_multiples(results, chart, titles: dict[str, str], heading, *, rows: bool, **size):
    """One group of charts per result: ``chart(result, quantity)`` for each quantity of
    ``titles``, titled "<heading(result)>: <its title>"; a group is a row (``rows``) or a
    column of the figure."""
    group, across = (alt.hconcat, alt.vconcat) if rows else (alt.vconcat, alt.hconcat)
    return across(
        *(
            group(
                *(
                    chart(r, quantity).properties(title=f"{heading(r)}: {title}", **size)
                    for quantity, title in titles.items()
                )
            )
            for r in results
        )
    )


_FIG12_TITLES = {
    "x": "|x_t| of RMSprop and of the run with ν frozen",
    "sharpness": "λ/P_t against its threshold 2/η",
    "nu": "second moment ν_t",
}
_FIG17_TITLES = {"x": "iterate", "momentum": "momentum (heavy ball)", "grad_sq": "squared gradient"}


def fig12(result: RmspropSweep, P: Params) -> alt.VConcatChart:
    """Fig. 12: one row per beta2 of panel (f)'s three charts."""
    heading = "β₂ = {.beta2:g}".format
    return _small_multiples(
        result.results, rmsprop_chart, _FIG12_TITLES, heading, rows=True, width=380
    )


def fig14(result: Growth, P: Params) -> alt.HConcatChart:
    """Fig. 14: panel (c)'s two growth-factor charts side by side."""
    return alt.hconcat(growth_ratio_chart(result), growth_lambda_chart(result))


def fig17(result: GradientSweep, P: Params) -> alt.HConcatChart:
    """Fig. 17: one column per heavy-ball eta of panel (d)'s three charts."""
    size = {"width": 300, "height": 140}
    heading = "η = {.eta:g}".format
    return _small_multiples(
        result.results, large_gradient_chart, _FIG17_TITLES, heading, rows=False, **size
    )


def prop1(result: Prop1, P: Params) -> alt.VConcatChart:
    """Prop. 1: per case, ||x_t|| with and without P next to the two eigenvalues' dots."""
    rows = []
    for index, (case, r) in enumerate(zip(result.cases, result.results, strict=True)):
        text = (
            f"Case {index + 1}: η = {case.eta:g}, P = diag({case.p1:g}, {case.p2:g}), "
            f"H rotated {case.angle:g}°"
        )
        rows.append(
            alt.hconcat(
                preconditioning_chart(r).properties(title=text, width=380),
                eigenvalue_chart(r),
            )
        )
    return alt.vconcat(*rows)
