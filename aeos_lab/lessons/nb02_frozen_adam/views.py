"""Views of notebook 02: its results as Altair charts and display tables.

(c) Adam's P along a run (:class:`~.experiments.PrecondSource`), (d) frozen Adam against its
threshold 38/eta and against Adam (:class:`~.experiments.FrozenSweep`), (e) Prop. 1 on the
network (:class:`~aeos_lab.engine.traces.Prop1Check`), and Fig. 3 as the paper export draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import altair as alt
import numpy as np
import pandas as pd

from aeos_lab.viz import charts

if TYPE_CHECKING:
    from aeos_lab.engine.traces import Prop1Check
    from aeos_lab.lessons.nb02_frozen_adam.experiments import FrozenSweep, PrecondSource
    from aeos_lab.lessons.nb02_frozen_adam.params import Params

__all__ = [
    "FROZEN_QUANTITIES",
    "fig3",
    "frozen_chart",
    "frozen_table",
    "frozen_versus_chart",
    "isomorphism_chart",
    "isomorphism_table",
    "precond_histogram_chart",
    "precond_quantile_chart",
    "precond_source_table",
]

FLOAT64_EPS = 2.2e-16
"""Rounding level of float64: where Prop. 1's gap ends up."""


def _sci(value: float) -> str:
    return charts.format_sci(value, 3)


# ---------------------------------------------------------------------------------------------
# (c) where frozen Adam's P comes from


def precond_quantile_chart(result: PrecondSource) -> alt.LayerChart:
    """Quantiles of P along the Adam run (log axis) with a rule at the chosen step."""
    frame = result.quantiles[result.quantiles["step"] > 0]
    lines = (
        alt.Chart(frame)
        .mark_line()
        .encode(
            x=alt.X("step:Q", title="Adam step t"),
            y=alt.Y(
                "P:Q",
                title="entries of P_t (log)",
                scale=alt.Scale(type="log"),
                axis=alt.Axis(labelExpr=charts.DECADE_LABEL),
            ),
            color=alt.Color(
                "quantile:N", sort=list(result.quantile_order), scale=alt.Scale(scheme="viridis")
            ),
            tooltip=["step:Q", "quantile:N", alt.Tooltip("P:Q", format=".3g")],
        )
    )
    rule = charts.step_rules([result.step], color=charts.NEUTRAL_COLOR, dash=(6, 4))
    text = (
        alt.Chart(pd.DataFrame({"step": [result.step], "text": [f"P taken at t = {result.step}"]}))
        .mark_text(align="left", dx=4, baseline="top", fontSize=11)
        .encode(x="step:Q", y=alt.YValue(4), text="text:N")
    )
    return alt.layer(lines, rule, text).properties(
        title="How Adam's P = √ν + ε spreads out", width=330, height=220
    )


def precond_histogram_chart(result: PrecondSource) -> alt.LayerChart:
    """Histogram of log10 P at the chosen step, stacked by layer, with a rule at log10 eps."""
    bins = result.log10_bins
    width = float(bins[1] - bins[0])
    bars = (
        alt.Chart(result.hist)
        .mark_bar()
        .encode(
            x=alt.X(
                "log10_P:Q",
                title="log₁₀ P (per parameter)",
                bin=alt.Bin(binned=True, step=width),
                scale=alt.Scale(domain=[float(bins[0]), float(bins[-1])]),
            ),
            x2=alt.X2("right:Q"),
            y=alt.Y("count:Q", title="parameters", stack=True),
            color=alt.Color("layer:N", title="layer"),
            tooltip=["layer:N", alt.Tooltip("log10_P:Q", format=".2f"), "count:Q"],
        )
        .transform_calculate(right=f"datum.log10_P + {width}")
    )
    eps = pd.DataFrame(
        {"log10_P": [float(np.log10(result.eps))], "text": [f"ε = {_sci(result.eps)}"]}
    )
    eps_rule = (
        alt.Chart(eps)
        .mark_rule(strokeDash=charts.THRESHOLD_DASH, color=charts.NEUTRAL_COLOR)
        .encode(x="log10_P:Q")
    )
    return alt.layer(bars, eps_rule).properties(
        title=f"P at step {result.step}: one entry per parameter", width=330, height=220
    )


def precond_source_table(result: PrecondSource) -> tuple[pd.DataFrame, str]:
    """The chosen snapshot in numbers; the caption names the step frozen Adam uses."""
    frame = pd.DataFrame(
        {
            "step t": [result.step],
            "train loss": [_sci(result.loss)],
            "median P": [_sci(result.median_p)],
            "spread of P (decades)": [f"{result.spread_decades:.1f}"],
            "share of P still near ε": [f"{result.at_eps:.1%}"],
        }
    )
    return frame, f"Frozen Adam in (d) uses P from step {result.freeze_at} of this run."


# ---------------------------------------------------------------------------------------------
# (d) frozen Adam at the edge of stability (Fig. 3)


FROZEN_QUANTITIES = {
    "loss": ("Train loss (frozen Adam)", "loss (log)", True),
    "precond_sharpness": (
        "Preconditioned sharpness λ₁(P⁻¹H) and {formula}",
        "λ₁(P⁻¹H) (log)",
        True,
    ),
    "sharpness": ("Raw sharpness λ₁(H) (frozen Adam)", "λ₁(H)", False),
}
"""Column of the frozen runs -> (chart title, y axis title, log axis) in :func:`frozen_chart`."""


def frozen_chart(result: FrozenSweep, y: str, eta_domain: Sequence[float]):
    """One quantity of frozen Adam's runs (a key of :data:`FROZEN_QUANTITIES`) per eta, the
    selected run bold. The preconditioned sharpness lambda_1(P^-1 H) comes with each run's
    threshold (2 + 2 beta1) / ((1 - beta1) eta), 38/eta at beta1 = 0.9, dashed in its colour."""
    title, y_title, log_y = FROZEN_QUANTITIES[y]
    rules = None
    if y == "precond_sharpness":
        summary = result.summary
        rules = charts.threshold_frame(
            summary["threshold"].to_numpy(), result.formula, eta=summary["eta"].to_numpy()
        )
    return charts.runs_chart(
        result.frozen,
        y,
        title=title.format(formula=result.formula),
        y_title=y_title,
        log_y=log_y,
        threshold_rules=rules,
        eta_domain=eta_domain,
        emphasise_selected=True,
    )


def frozen_versus_chart(result: FrozenSweep) -> alt.LayerChart:
    """Raw sharpness of frozen Adam and of Adam at the selected eta; the grey band is the last
    ``fraction`` of the run, over which the summary's rises are taken."""
    eta = result.selected
    both = pd.concat(
        [
            result.frozen[np.isclose(result.frozen["eta"], eta)].assign(run="frozen Adam"),
            result.adam[np.isclose(result.adam["eta"], eta)].assign(run="Adam"),
        ],
        ignore_index=True,
    )
    chart = charts.line_chart(both, y="sharpness", color="run", x_title="step", y_title="λ₁(H)")
    shade = charts.shaded_span(result.steps * (1 - result.fraction), result.steps)
    return alt.layer(shade, chart).properties(
        title=f"Raw sharpness at η = {_sci(eta)}: frozen Adam vs Adam (grey: last third)",
        width=330,
        height=200,
    )


def frozen_table(result: FrozenSweep) -> tuple[pd.DataFrame, str]:
    """Per eta: the threshold, frozen Adam's late ratio and the late rise of the raw sharpness
    under frozen Adam and under Adam; the selected run is marked."""
    summary = result.summary
    frame = pd.DataFrame(
        {
            "η": [_sci(e) for e in summary["eta"]],
            result.formula: [_sci(t) for t in summary["threshold"]],
            f"frozen: late λ₁(P⁻¹H) / ({result.formula})": [
                f"{r:.3f}" for r in summary["late_ratio"]
            ],
            "frozen: trend of λ₁(H), last third": [
                f"{r:+.1%} ± {e:.1%}"
                for r, e in zip(summary["frozen_rise"], summary["frozen_rise_se"], strict=True)
            ],
            "Adam: trend of λ₁(H), last third": [
                f"{r:+.1%} ± {e:.1%}"
                for r, e in zip(summary["adam_rise"], summary["adam_rise_se"], strict=True)
            ],
            "shown bold": np.where(summary["selected"], "◀", ""),
        }
    )
    caption = (
        "Late = median over the last third of the run; trend = the change a straight-line fit "
        "gives over it, relative to the mean, ± its standard error."
    )
    return frame, caption


def fig3(result: FrozenSweep, P: Params) -> alt.VConcatChart:
    """Fig. 3: preconditioned and raw sharpness of frozen Adam above, its loss and the raw
    sharpness against Adam's below (eta colours over ``P.frozen_eta_range``)."""
    psharp, raw, loss = (
        frozen_chart(result, y, P.frozen_eta_range)
        for y in ("precond_sharpness", "sharpness", "loss")
    )
    return alt.vconcat(alt.hconcat(psharp, raw), alt.hconcat(loss, frozen_versus_chart(result)))


# ---------------------------------------------------------------------------------------------
# (e) Prop. 1 on the network


def isomorphism_chart(result: Prop1Check) -> alt.LayerChart:
    """Relative gaps per step (log axis): Prop. 1's pair against frozen Adam vs plain HB."""
    frame = result.steps[result.steps["step"] >= 1]
    long = pd.concat(
        [
            pd.DataFrame(
                {
                    "step": frame["step"],
                    "gap": np.maximum(frame["prop1_gap"], 1e-17),
                    "pair": "HB on f̃ vs P^½ × frozen Adam (Prop. 1)",
                }
            ),
            pd.DataFrame(
                {"step": frame["step"], "gap": frame["plain_gap"], "pair": "HB on f vs frozen Adam"}
            ),
        ],
        ignore_index=True,
    )
    chart = charts.line_chart(
        long,
        y="gap",
        color="pair",
        log_y=True,
        x_title="step t",
        y_title="gap / distance travelled (log)",
        thresholds=charts.threshold_frame(FLOAT64_EPS, "float64 ε"),
    )
    return chart.properties(
        title="Distance between iterates, relative to how far they moved", width=420, height=220
    )


def isomorphism_table(result: Prop1Check) -> tuple[pd.DataFrame, str]:
    """The largest relative gaps of :func:`isomorphism_chart` and of the losses."""
    frame = pd.DataFrame(
        {
            "comparison": [
                "EMA HB on f̃(z) = f(P^-1/2 z) vs P^1/2 × frozen Adam",
                "EMA HB on f vs frozen Adam (no P)",
                "f(x_t) vs f̃(z_t)",
            ],
            "largest relative gap": [
                _sci(result.max_prop1_gap),
                _sci(result.max_plain_gap),
                _sci(result.max_loss_gap),
            ],
        }
    )
    return frame, f"η = {_sci(result.eta)}, β₁ = {result.beta1:g}; computed in float64."
