"""Views of notebook 03's split of lambda_1(P^-1 H) into the part from P and the part from H
(:mod:`.experiments_split`): the parts per interval, their running sums, and the ratio
lambda_1(P^-1 H) / threshold over the same steps; a table of the summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

import altair as alt
import pandas as pd

from aeos_lab.viz import charts

if TYPE_CHECKING:
    from aeos_lab.lessons.nb03_adam_aeos.experiments_split import SplitRun

__all__ = ["PART_LABELS", "parts_chart", "ratio_chart", "running_chart", "split_table"]

PART_LABELS = {
    "shapley_p": "P part (P changes, H held)",
    "shapley_h": "H part (H changes, P held)",
    "total": "total change",
}
"""Legend labels of the per-interval parts (the symmetric split of each interval)."""

RUNNING_LABELS = {
    "cum_p": "P part, summed",
    "cum_h": "H part, summed",
    "cum_total": "total, summed",
}


def _long(frame: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    long = frame.melt(id_vars=["step"], value_vars=list(labels), var_name="part")
    long["part"] = long["part"].map(labels)
    return long


def _title(result: SplitRun) -> str:
    return f"η = {charts.format_sci(result.eta, 3)}, β₁ = {result.beta1:g}, β₂ = {result.beta2:g}"


def _parts_chart(frame: pd.DataFrame, title: str, **line) -> alt.LayerChart:
    """The split's long ``frame`` (one line per ``part``) with a rule at zero."""
    chart = charts.line_chart(frame, color="part", **line)
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="#999").encode(y="y:Q")
    return alt.layer(chart, zero).properties(title=title, width=330, height=200)


def parts_chart(result: SplitRun) -> alt.LayerChart:
    """The change of lambda_1(P^-1 H) over each interval of the edge window, split into the
    part from P and the part from H (symmetric split), with the total."""
    return _parts_chart(
        _long(result.frame, PART_LABELS),
        f"Per interval: {_title(result)}",
        points=True,
        x_title="step (end of the interval)",
        y_title="change of λ₁(P⁻¹H) per interval",
    )


def running_chart(result: SplitRun) -> alt.LayerChart:
    """The running sums of the two parts and of the total from the edge step on."""
    return _parts_chart(
        _long(result.frame, RUNNING_LABELS),
        f"Summed from step {result.edge_step}",
        x_title="step",
        y_title="summed change of λ₁(P⁻¹H)",
    )


def ratio_chart(result: SplitRun) -> alt.LayerChart:
    """lambda_1(P^-1 H) / threshold and lambda_1(H) / (its value at the edge step) over the
    edge window: the first stays near 1, the second keeps rising."""
    window = result.measurements[result.measurements["step"] >= result.edge_step]
    start = float(window["sharpness"].iloc[0])
    data = pd.concat(
        [
            window.assign(quantity=f"λ₁(P⁻¹H) / ({result.formula})", value=window["ratio"]),
            window.assign(
                quantity=f"λ₁(H) / its value at step {result.edge_step}",
                value=window["sharpness"] / start,
            ),
        ]
    )
    chart = charts.line_chart(
        data, color="quantity", x_title="step", y_title="ratio", thresholds=1.0, formula="1"
    )
    return chart.properties(title="At the edge while H sharpens", width=330, height=200)


def split_table(result: SplitRun) -> tuple[pd.DataFrame, str]:
    """The summary of the edge window: the summed parts, the total, the first-order split and
    what it leaves out, the rise of lambda_1(H) and the share of opposed intervals."""
    frame = pd.DataFrame(
        {
            "from step": [result.edge_step],
            "λ₁(P⁻¹H) there": [f"{result.start_value:.4g}"],
            "P part": [f"{result.cum_p:+.4g}"],
            "H part": [f"{result.cum_h:+.4g}"],
            "total": [f"{result.total:+.4g}"],
            "|P + H| / max(|P|, |H|)": [f"{result.cancellation():.3f}"],
            "first order: P, H, rest": [
                f"{result.first_p:+.4g}, {result.first_h:+.4g}, {result.cum_interaction:+.4g}"
            ],
            "λ₁(H) trend": [result.sharpness_trend.text()],
            "intervals H > 0, P < 0": [f"{result.opposed_share:.0%} of {result.intervals}"],
            "median λ₁(P⁻¹H) / threshold": [f"{result.edge_median:.3f}"],
        }
    )
    caption = (
        "P part, H part: the symmetric split of each interval (the average of holding H and "
        "of holding P fixed first), summed from the first step with λ₁(P⁻¹H) at "
        f"{result.edge:.0%} of the threshold or more; they add up to the total exactly. First "
        "order: each part with the other factor held at its old value; 'rest' is what those "
        "two leave out. λ₁(H) trend: fitted relative change over the same steps."
    )
    if result.diverged:
        caption += " This run diverged; the split stops at its last finite measurement."
    return frame, caption
