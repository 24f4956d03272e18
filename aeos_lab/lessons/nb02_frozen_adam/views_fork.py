"""Views of notebook 02's fork test (:class:`~.experiments_fork.ForkTest`): the growth of the
gradient along the top preconditioned eigenvector in Adam and frozen Adam after the fork, with
notebook 01's prediction rho^t; each branch's lambda_1(P^-1 H) over the horizon; the numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import altair as alt
import pandas as pd

from aeos_lab.viz import charts

if TYPE_CHECKING:
    from aeos_lab.lessons.nb02_frozen_adam.experiments_fork import ForkTest

__all__ = ["fork_growth_chart", "fork_ratio_chart", "fork_table"]

WIDTH, HEIGHT = 330, 200


def _order(frame: pd.DataFrame) -> list[str]:
    """The branches in the frame's order (Adam, frozen Adam, then the prediction)."""
    return list(dict.fromkeys(frame["run"]))


def fork_growth_chart(result: ForkTest) -> alt.LayerChart:
    """|c_t| (log axis) of both branches against t, with the predicted |c_1| rho^(t-1) and the
    fit window shaded."""
    frame = result.frame.rename(columns={"branch": "run"})
    chart = charts.line_chart(
        frame,
        x="t",
        y="abs_c",
        color="run",
        log_y=True,
        points=True,
        x_title="steps after the fork, t",
        y_title="|cₜ| = |u · P_k^-1/2 gₜ| (log)",
    )
    chart = charts.ordered_color(chart, "run", _order(frame), title="branch")
    band = charts.shaded_span(1, result.fit_steps)
    band = band.encode(x=alt.X("start:Q"), x2="stop:Q")
    title = (
        f"Fork at step {result.fork_step}: ρ = {result.predicted:.3f} predicted, "
        f"frozen {result.growth_frozen:.3f}, Adam {result.growth_adam:.3f}"
    )
    return alt.layer(band, chart).properties(title=title, width=WIDTH, height=HEIGHT)


def fork_ratio_chart(result: ForkTest) -> alt.LayerChart:
    """lambda_1(P^-1 H) / threshold along each branch (Adam with its own P_t, frozen Adam
    with P_k) against t, with the dashed line at 1."""
    frame = result.frame.dropna(subset=["ratio"]).rename(columns={"branch": "run"})
    chart = charts.ratio_chart(
        frame,
        x="t",
        color="run",
        label=f"λ₁(P⁻¹H) / ({result.formula})",
        x_title="steps after the fork, t",
    )
    chart = charts.ordered_color(chart, "run", _order(frame), title="branch")
    return chart.properties(
        title="The branch's own preconditioned sharpness", width=WIDTH, height=HEIGHT
    )


def fork_table(result: ForkTest) -> tuple[pd.DataFrame, str]:
    """The fork in numbers: where it is, rho, the two fitted growths, where they part."""
    fork_at = "not reached" if result.fork_step is None else f"step {result.fork_step}"
    parted = "not within the horizon" if result.parted_at is None else f"t = {result.parted_at}"
    frame = pd.DataFrame(
        {
            "fork": [fork_at],
            f"λ₁(P⁻¹H) / ({result.formula}) at the fork": [f"{result.ratio:.3f}"],
            "ρ predicted (notebook 01)": [f"{result.predicted:.3f}"],
            "frozen Adam, fitted": [f"{result.growth_frozen:.3f} ({result.frozen_error:+.1%})"],
            "Adam, fitted": [f"{result.growth_adam:.3f} ({result.adam_error:+.1%})"],
            "branches part at": [parted],
        }
    )
    caption = (
        f"η = {charts.format_sci(result.eta, 3)}, β₁ = {result.beta1:g}, β₂ = {result.beta2:g}; "
        f"fork = the first measurement (every few steps) at or after step {result.search_from} "
        f"with λ₁(P⁻¹H) / ({result.formula}) ≥ {result.target:g}. Fitted = the per-step growth "
        f"of a straight line through log |cₜ| over t = 1 .. {result.fit_steps} (grey band); in "
        f"brackets its difference from ρ. Part = the first t where |cₜ| of the two branches "
        f"differ by more than {result.part_tol:.0%}."
    )
    return frame, caption
