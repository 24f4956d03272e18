"""Views of notebook 02's micro panels: gradient descent meeting 2/eta
(:class:`~.experiments_micro.GDEdge`) and Adam against frozen Adam
(:class:`~.experiments_micro.AdamVsFrozen`) on the 242-parameter network."""

from __future__ import annotations

from typing import TYPE_CHECKING

import altair as alt
import pandas as pd

from aeos_lab.viz import charts

if TYPE_CHECKING:
    from aeos_lab.lessons.nb02_frozen_adam.experiments_micro import AdamVsFrozen, GDEdge

__all__ = [
    "adam_frozen_chart",
    "adam_frozen_table",
    "gd_loss_chart",
    "gd_sharpness_chart",
    "gd_table",
]

WIDTH, HEIGHT = 330, 200


def _sci(value: float) -> str:
    return charts.format_sci(value, 3)


def _late_band(steps: int, fraction: float) -> alt.Chart:
    """The grey band over the last ``fraction`` of the run, where the summaries are taken."""
    return charts.shaded_span(steps * (1 - fraction), steps)


def _trend(fit) -> str:
    """A fitted late trend (:class:`aeos_lab.engine.analysis.Trend`) with its standard error."""
    return f"{fit.change:+.1%} ± {fit.stderr:.1%}"


# ---------------------------------------------------------------------------------------------
# gradient descent


def gd_sharpness_chart(result: GDEdge) -> alt.LayerChart:
    """lambda_1(H) against the step with the dashed line 2/eta; grey: the late part."""
    chart = charts.line_chart(
        result.records,
        y="sharpness",
        color=None,
        thresholds=charts.threshold_frame(result.threshold, result.formula),
        x_title="step",
        y_title="λ₁(H)",
    )
    return alt.layer(_late_band(result.steps, result.fraction), chart).properties(
        title=f"GD at η = {_sci(result.eta)}: sharpness λ₁(H) and {result.formula}",
        width=WIDTH,
        height=HEIGHT,
    )


def gd_loss_chart(result: GDEdge) -> alt.Chart:
    """The train loss (log axis) of the same run."""
    chart = charts.line_chart(
        result.records, y="loss", color=None, log_y=True, x_title="step", y_title="loss (log)"
    )
    return chart.properties(title="Train loss", width=WIDTH, height=HEIGHT)


def gd_table(result: GDEdge) -> tuple[pd.DataFrame, str]:
    """The run in numbers: where lambda_1(H) starts, when it meets 2/eta, where it stays."""
    reached = "never" if result.reached_at is None else f"step {result.reached_at}"
    frame = pd.DataFrame(
        {
            "η": [_sci(result.eta)],
            result.formula: [f"{result.threshold:.3g}"],
            f"λ₁(H) / ({result.formula}) at step 0": [f"{result.start_ratio:.2f}"],
            "first ≥ 0.95": [reached],
            "late median": [f"{result.late_ratio:.3f}"],
            "trend of λ₁(H), late": [_trend(result.sharpness_fit)],
            "trend of the loss, late": [_trend(result.loss_fit)],
        }
    )
    caption = (
        "Late = the grey band, the last third of the run; trend = the change a straight-line "
        "fit gives over it, relative to the mean, ± its standard error."
    )
    return frame, caption


# ---------------------------------------------------------------------------------------------
# Adam against frozen Adam

ADAM_FROZEN_QUANTITIES = {
    "precond_sharpness": ("λ₁(P⁻¹H) and {formula}", "λ₁(P⁻¹H) (log)", True),
    "sharpness": ("Raw sharpness λ₁(H)", "λ₁(H)", False),
    "loss": ("Train loss", "loss (log)", True),
}
"""Column -> (title, y axis title, log axis) of :func:`adam_frozen_chart`."""


def adam_frozen_chart(result: AdamVsFrozen, y: str) -> alt.LayerChart:
    """One quantity (a key of :data:`ADAM_FROZEN_QUANTITIES`) of Adam and frozen Adam against
    the step; the preconditioned sharpness comes with their common threshold, dashed, and the
    raw sharpness with the late part shaded, where the table's trends are taken."""
    title, y_title, log_y = ADAM_FROZEN_QUANTITIES[y]
    rules = None
    if y == "precond_sharpness":
        rules = charts.threshold_frame(result.threshold, result.formula)
    chart = charts.line_chart(
        result.runs.drop(columns="run").rename(columns={"label": "run"}),
        y=y,
        color="run",
        log_y=log_y,
        thresholds=rules,
        x_title="step",
        y_title=y_title,
    )
    layers = [chart]
    if y == "sharpness":
        layers.insert(0, _late_band(result.steps, result.fraction))
    return alt.layer(*layers).properties(
        title=title.format(formula=result.formula), width=WIDTH, height=HEIGHT
    )


def adam_frozen_table(result: AdamVsFrozen) -> tuple[pd.DataFrame, str]:
    """Per run: the late median of lambda_1(P^-1 H) / threshold, the late trend of lambda_1(H),
    the final lambda_1(H) and loss."""
    rows = {"Adam": result.adam, f"frozen Adam (P from step {result.freeze_at})": result.frozen}
    frame = pd.DataFrame(
        {
            "run": list(rows),
            f"late λ₁(P⁻¹H) / ({result.formula})": [f"{r.late_ratio:.3f}" for r in rows.values()],
            "trend of λ₁(H), late": [_trend(r.sharpness_fit) for r in rows.values()],
            "final λ₁(H)": [f"{r.final_sharpness:.3g}" for r in rows.values()],
            "final loss": [f"{r.final_loss:.3g}" for r in rows.values()],
        }
    )
    caption = (
        f"η = {_sci(result.eta)}, β₁ = {result.beta1:g}, β₂ = {result.beta2:g}. Late = the last "
        "third (grey band); trend = the change a straight-line fit gives over it, relative to "
        "the mean, ± its standard error."
    )
    return frame, caption
