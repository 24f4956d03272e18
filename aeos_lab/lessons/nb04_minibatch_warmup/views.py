"""Charts and display tables of notebook 04, drawn from the typed results of
:mod:`aeos_lab.lessons.nb04_minibatch_warmup.experiments`, and the paper figures 6 and 7."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import altair as alt
import numpy as np
import pandas as pd

from aeos_lab.viz import charts
from aeos_lab.viz.charts import format_sci

if TYPE_CHECKING:
    from aeos_lab.lessons.nb04_minibatch_warmup.experiments import (
        BatchSweep,
        Breakdown,
        WarmupRun,
    )
    from aeos_lab.lessons.nb04_minibatch_warmup.params import Params

__all__ = [
    "batch_settle_chart",
    "batch_sharpness_chart",
    "batch_table",
    "breakdown_chart",
    "breakdown_table",
    "fig6",
    "fig7",
    "warmup_ratio_chart",
    "warmup_sharpness_chart",
    "warmup_table",
]

ADAM_COLOR = "#4c78a8"
BAND_COLOR = "#9ecae1"

# ---------------------------------------------------------------------------------------------
# (a) batch size


def batch_sharpness_chart(result: BatchSweep) -> alt.LayerChart:
    """psharp against step at the shown eta, one line per batch size, with the full-batch
    threshold (one flat layer chart); the run of ``result.shown_batch`` drawn thick, the
    others faded."""
    eta, table = result.eta, result.table
    shown = table[np.isclose(table["eta"], eta)]
    chosen = result.shown_batch
    shown = shown.assign(selected=True if chosen is None else shown["batch"] == chosen)
    title = f"Preconditioned sharpness at η = {format_sci(eta)}"
    order = list(dict.fromkeys(result.summary.sort_values("examples")["batch"]))
    rules = result.thresholds
    thr = float(rules.loc[np.isclose(rules["eta"], eta), "threshold"].iloc[0])
    chart = charts.flat_line_chart(
        shown,
        y="precond_sharpness",
        color="batch",
        detail=["selected"],
        log_y=True,
        thresholds=charts.threshold_frame(thr, result.formula + " (full batch)"),
        x_title="step",
        y_title="λ₁(P⁻¹H) on the full training set",
        title=title if chosen is None else f"{title} ({chosen} in bold)",
    )
    chart = charts.ordered_color(chart, "batch", order, "batch size")
    return charts.emphasise(chart).properties(width=420, height=230)


def _eta_label(eta: float) -> str:
    return f"η = {format_sci(eta)}"


def _eta_colors(etas: Sequence[float]) -> alt.Scale:
    """A categorical scale over "η = ..." labels, coloured along the suite's eta scheme."""
    labels = [_eta_label(e) for e in sorted(etas)]
    return alt.Scale(domain=labels, scheme=charts.ETA_SCHEME)


def batch_settle_chart(result: BatchSweep) -> alt.LayerChart:
    """Late median psharp against examples per step (log-log), one line per eta, each with its
    full-batch threshold as a dashed rule in the same colour."""
    columns = ["eta", "examples", "batch", "late_precond_sharpness", "late_ratio"]
    summary = result.summary[columns].assign(η=lambda f: [_eta_label(e) for e in f["eta"]])
    etas = sorted(set(summary["eta"]))
    color = alt.Color("η:N", scale=_eta_colors(etas), title="learning rate")
    rules = result.thresholds.sort_values("eta")
    rules = pd.DataFrame(
        {"η": [_eta_label(e) for e in rules["eta"]], "threshold": rules["threshold"].to_numpy()}
    )
    rules["label"] = [f"{result.formula} = {format_sci(t)}" for t in rules["threshold"]]
    low, high = summary["examples"].min() / 1.5, summary["examples"].max() * 1.5
    x = alt.X(
        "examples:Q",
        title="examples per step (log)",
        scale=alt.Scale(type="log", domain=[low, high], nice=False),
        axis=alt.Axis(labelExpr=charts.COMPACT_LABEL),
    )
    y_scale = alt.Scale(type="log")
    y_axis = alt.Axis(labelExpr=charts.COMPACT_LABEL)
    lines = (
        alt.Chart(summary)
        .mark_line(point=alt.OverlayMarkDef(size=60))
        .encode(
            x=x,
            y=alt.Y(
                "late_precond_sharpness:Q",
                title="late median of λ₁(P⁻¹H) (log)",
                scale=y_scale,
                axis=y_axis,
            ),
            color=color,
            detail="η:N",
            tooltip=[
                alt.Tooltip("η:N"),
                alt.Tooltip("batch:N"),
                alt.Tooltip("late_precond_sharpness:Q", format=".4g", title="late psharp"),
                alt.Tooltip("late_ratio:Q", format=".3f", title="late psharp / threshold"),
            ],
        )
    )
    rule = (
        alt.Chart(rules)
        .mark_rule(strokeDash=charts.THRESHOLD_DASH, strokeWidth=1.5)
        .encode(y=alt.Y("threshold:Q", scale=y_scale), color=color)
    )
    text = (
        alt.Chart(rules)
        .mark_text(align="left", baseline="bottom", dx=4, dy=-2, fontSize=11)
        .encode(
            y=alt.Y("threshold:Q", scale=y_scale),
            x=alt.XValue(0),
            text="label:N",
            color=alt.ColorValue(charts.NEUTRAL_COLOR),
        )
    )
    chosen = summary[summary["batch"] == result.shown_batch]
    ring = (
        alt.Chart(chosen)
        .mark_point(size=260, shape="circle", filled=False, strokeWidth=2)
        .encode(
            x=x,
            y=alt.Y("late_precond_sharpness:Q", scale=y_scale),
            color=alt.ColorValue(charts.NEUTRAL_COLOR),
        )
    )
    return alt.layer(lines, rule, text, ring).properties(
        title="Where psharp settles: below the full-batch threshold (dashed)",
        width=420,
        height=220,
    )


def batch_table(result: BatchSweep) -> tuple[pd.DataFrame, str]:
    """Display table: one row per run of the shown eta."""
    summary = result.summary
    rows = summary[np.isclose(summary["eta"], result.eta)]
    frame = pd.DataFrame(
        {
            "batch": [f"▶ {b}" if b == result.shown_batch else b for b in rows["batch"]],
            "late psharp": [format_sci(v, 3) for v in rows["late_precond_sharpness"]],
            "threshold": [format_sci(v, 3) for v in rows["threshold"]],
            "late psharp / threshold": [f"{v:.3f}" for v in rows["late_ratio"]],
            "final train loss": [format_sci(v, 3) for v in rows["final_loss"]],
            "status": rows["status"],
        }
    )
    late = "half" if result.fraction == 0.5 else f"{result.fraction:.0%}"
    return frame, f"Late = the last {late} of the steps (median over its measurements)."


# ---------------------------------------------------------------------------------------------
# (b) linear warmup


def _warmup_end(result: WarmupRun) -> list[alt.Chart]:
    """The dotted "warmup ends" rule and its label, as two flat layers; without warmup they
    hold no rows, so the chart keeps its layout and a slider move only swaps data."""
    end = [float(result.warmup_steps)] if result.warmup_steps else []
    frame = pd.DataFrame({"step": pd.Series(end, dtype=float), "text": ["warmup ends"] * len(end)})
    base = alt.Chart(frame).encode(x=alt.X("step:Q"))
    rule = base.mark_rule(color=charts.NEUTRAL_COLOR, strokeDash=[2, 3], strokeWidth=1.2)
    label = base.mark_text(align="left", baseline="top", dx=3, dy=2, fontSize=11).encode(
        y=alt.YValue(0), text="text:N"
    )
    return [rule, label]


def warmup_sharpness_chart(result: WarmupRun, clip: float = 30.0) -> alt.LayerChart:
    """psharp (log axis) against the threshold at eta_t (dashed curve).

    The threshold starts at 38 W / eta, far above everything else; the part above ``clip``
    times the largest psharp is left off so the meeting point stays readable. The peak and the
    warmup length are written in the top right corner (data, like everything that changes
    with a slider but the formula: a slider move swaps data in one flat layer chart).
    """
    records = result.records[["step", "precond_sharpness", "threshold", "lr"]]
    path = result.path[["step", "threshold"]]
    path = path[path["threshold"] <= clip * records["precond_sharpness"].max()]
    y_scale = alt.Scale(type="log")
    x = alt.X("step:Q", title="step", scale=alt.Scale(nice=False))
    psharp = (
        alt.Chart(records)
        .mark_line(point=True, color=ADAM_COLOR)
        .encode(
            x=x,
            y=alt.Y(
                "precond_sharpness:Q",
                title="λ₁(P⁻¹H) (log)",
                scale=y_scale,
                axis=alt.Axis(labelExpr=charts.COMPACT_LABEL),
            ),
            tooltip=[
                alt.Tooltip("step:Q"),
                alt.Tooltip("precond_sharpness:Q", format=".4g", title="psharp"),
                alt.Tooltip("threshold:Q", format=".4g"),
                alt.Tooltip("lr:Q", format=".3g", title="ηₜ"),
            ],
        )
    )
    formula = result.formula.replace("η", "ηₜ")
    threshold = (
        alt.Chart(path)
        .mark_line(strokeDash=charts.THRESHOLD_DASH, color=charts.NEUTRAL_COLOR)
        .encode(x=x, y=alt.Y("threshold:Q", scale=y_scale))
    )
    setting = f"warmup to η = {format_sci(result.eta)} over {result.warmup_steps} steps"
    caption = (
        alt.Chart(pd.DataFrame({"setting": [setting]}))
        .mark_text(align="right", baseline="top", dx=-4, dy=4, fontSize=12)
        .encode(x=alt.XValue("width"), y=alt.YValue(0), text="setting:N")
    )
    return alt.layer(
        threshold,
        psharp,
        *_warmup_end(result),
        caption,
        title=f"psharp (blue) against the threshold {formula} (dashed)",
        width=520,
        height=230,
    )


def warmup_ratio_chart(result: WarmupRun) -> alt.LayerChart:
    """psharp / threshold(eta_t) against step, with the band of the tracking criterion
    shaded (one flat layer chart)."""
    low, high = result.band
    shade = (
        alt.Chart(pd.DataFrame({"low": [low], "high": [high]}))
        .mark_rect(color=BAND_COLOR, opacity=0.3)
        .encode(y=alt.Y("low:Q"), y2="high:Q")
    )
    ratio = charts.ratio_chart(
        result.records,
        color=None,
        points=True,
        label="psharp / threshold at ηₜ",
        x_title="step",
    )
    return charts.flatten_layers(
        shade,
        ratio,
        *_warmup_end(result),
        title=f"Ratio to the current threshold (band {low}–{high} shaded)",
        width=520,
        height=180,
    )


def warmup_table(result: WarmupRun) -> tuple[pd.DataFrame, str]:
    """Display table of the warmup run."""
    tracking = result.tracking
    if tracking is None:
        return pd.DataFrame({"status": [result.status]}), "No warmup: set warmup above 0."
    band = (
        "–" if tracking.band_min is None else f"{tracking.band_min:.3f} – {tracking.band_max:.3f}"
    )
    frame = pd.DataFrame(
        {
            "psharp reached the threshold at step": [tracking.reached_step or "never"],
            "ratio after that, during warmup": [band],
            "median ratio after warmup": [format_sci(tracking.after_ratio, 3)],
            "final train loss": [format_sci(tracking.final_loss, 3)],
            "status": [result.status],
        }
    )
    return frame, f"Reached = the first measurement with ratio ≥ {result.reach}."


# ---------------------------------------------------------------------------------------------
# (c) what breaks


def breakdown_chart(result: Breakdown, quantity: str) -> alt.Chart | alt.LayerChart:
    """Train loss (``quantity="loss"``), or psharp / threshold at eta_t (``"ratio"``), against
    step for each warmup length."""
    table = result.table
    order = list(dict.fromkeys(result.summary["warmup"]))
    common = {"color": "warmup", "log_y": True, "points": True, "x_title": "step"}
    if quantity == "loss":
        chart = charts.line_chart(
            table, y="loss", y_title="train loss (log)", title="Train loss", **common
        )
    else:
        chart = charts.ratio_chart(
            table[table["step"] >= 1],  # at step 0 Adam's P is eps: off the chart
            label="psharp / threshold at ηₜ",
            title="psharp relative to the current threshold (log)",
            **common,
        )
    return charts.ordered_color(chart, "warmup", order).properties(width=420, height=200)


def breakdown_table(result: Breakdown) -> pd.DataFrame:
    """Display table: one row per run, how it ended."""
    summary = result.summary
    return pd.DataFrame(
        {
            "run": summary["warmup"],
            "outcome": summary["outcome"],
            "engine status": summary["status"],
            "largest train loss": [format_sci(v, 3) for v in summary["max_loss"]],
            "final train loss": [format_sci(v, 3) for v in summary["final_loss"]],
            "final sharpness λ₁(H)": [format_sci(v, 3) for v in summary["final_sharpness"]],
            "final test accuracy": [f"{v:.1%}" for v in summary["final_test_acc"]],
        }
    )


# ---------------------------------------------------------------------------------------------
# Paper figures


def fig6(result: BatchSweep, P: Params) -> alt.HConcatChart:
    """Fig. 6: psharp over time by batch size beside where it settles."""
    return alt.hconcat(batch_sharpness_chart(result), batch_settle_chart(result)).resolve_scale(
        color="independent"
    )


def fig7(result: WarmupRun, P: Params) -> alt.VConcatChart:
    """Fig. 7: psharp against the falling threshold 38/eta_t, and their ratio."""
    return alt.vconcat(warmup_sharpness_chart(result), warmup_ratio_chart(result))
