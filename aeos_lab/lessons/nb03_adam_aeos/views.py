"""Views of notebook 03: its results as Altair charts and small display tables, and the paper
figures drawn from them (``fig1``, ``fig8``, ``fig9``, ``fig18``, ``fig5``, ``fig15``,
``fig4``, composed of the panels' own charts).

Everything drawn comes from a result of :mod:`.experiments`; threshold rules are built here
from the threshold values and formulas the results carry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import altair as alt
import pandas as pd

from aeos_lab.viz import charts

if TYPE_CHECKING:
    from aeos_lab.lessons.nb03_adam_aeos.experiments import (
        CnnRuns,
        CornerCase,
        Equilibrium,
        OptimizerRuns,
        RawRise,
        Zoom,
    )
    from aeos_lab.lessons.nb03_adam_aeos.params import Params

__all__ = [
    "CYCLE_QUANTITIES",
    "SWEEP_TITLES",
    "ZOOM_QUANTITIES",
    "chosen_run_chart",
    "cnn_chart",
    "cnn_table",
    "corner_chart",
    "corner_table",
    "equilibrium_table",
    "fig1",
    "fig4",
    "fig5",
    "fig8",
    "fig9",
    "fig15",
    "fig18",
    "optimizer_grid_chart",
    "optimizer_grid_runs",
    "optimizer_ratio_chart",
    "optimizer_table",
    "raw_rise_chart",
    "raw_rise_table",
    "sweep_chart",
    "zoom_chart",
    "zoom_eig_chart",
    "zoom_grad_chart",
    "zoom_table",
]

PSHARP_TITLE = "λ₁(P⁻¹H) (log)"


def _sci(value: float) -> str:
    return charts.format_sci(value, 3)


def _side_by_side(*parts):
    """Charts side by side, each keeping its own colour scale and legend."""
    return alt.hconcat(*parts).resolve_scale(color="independent")


def _rules(summary: pd.DataFrame, formula: str = "formula", by_eta: bool = True):
    """One dashed threshold rule per distinct ``threshold`` of ``summary``, labelled with its
    ``formula`` column and, with ``by_eta``, coloured by the row's ``eta``."""
    frames = [
        charts.threshold_frame(
            row["threshold"], row[formula], **({"eta": row["eta"]} if by_eta else {})
        )
        for _, row in summary.iterrows()
    ]
    return pd.concat(frames, ignore_index=True).drop_duplicates("threshold")


def _psharp_chart(
    table, rules, *, title, eta_domain, color="eta", width=330, height=200, emphasise=True
):
    """Preconditioned sharpness (log) of runs against their threshold rules, the selected
    run bold (with ``emphasise``)."""
    return charts.runs_chart(
        table,
        "precond_sharpness",
        title=title,
        y_title=PSHARP_TITLE,
        color=color,
        log_y=True,
        threshold_rules=rules,
        eta_domain=eta_domain,
        emphasise_selected=emphasise,
        width=width,
        height=height,
    )


# ---------------------------------------------------------------------------------------------
# (c) The equilibrium (Fig. 1)

SWEEP_TITLES = {
    "eta": "Fig. 1a: η sweep (β₁ = 0.9, β₂ = 0.999)",
    "beta1": "Fig. 1b: β₁ sweep, thresholds (2+2β₁)/((1−β₁)η)",
    "beta2": "Fig. 1c: β₂ sweep (one threshold)",
}
"""Chart title of each sweep of Fig. 1, by the hyperparameter it varies."""


def chosen_run_chart(result: Equilibrium) -> alt.LayerChart:
    """The selected run: preconditioned and raw sharpness (log) with its threshold."""
    eta, beta1, beta2 = result.selected
    rules = charts.threshold_frame(result.chosen_threshold, result.chosen_formula)
    chart = charts.line_chart(
        result.chosen,
        y="value",
        color="quantity",
        log_y=True,
        thresholds=rules,
        x_title="step",
        y_title="sharpness (log)",
    )
    title = f"Your setting: η = {_sci(eta)}, β₁ = {beta1:g}, β₂ = {beta2:g}"
    return chart.properties(title=title, width=330, height=210)


def sweep_chart(result: Equilibrium, name: str, eta_domain: Sequence[float]) -> alt.LayerChart:
    """One sweep of Fig. 1 (``name`` = "eta", "beta1" or "beta2"): preconditioned sharpness
    (log) with each run's threshold."""
    summary = result.summary[result.summary["sweep"] == name]
    return _psharp_chart(
        result.sweeps[result.sweeps["sweep"] == name],
        _rules(summary, by_eta=name == "eta"),
        title=SWEEP_TITLES[name],
        eta_domain=eta_domain,
        color="eta" if name == "eta" else "label",
        width=300,
    )


def equilibrium_table(result: Equilibrium) -> tuple[pd.DataFrame, str]:
    """Panel (c)'s table: each sweep member's late ratio."""
    summary = result.summary
    frame = pd.DataFrame(
        {
            "sweep": summary["sweep"],
            "η": [_sci(e) for e in summary["eta"]],
            "β₁": summary["beta1"].map("{:g}".format),
            "β₂": summary["beta2"].map("{:g}".format),
            "threshold": [_sci(t) for t in summary["threshold"]],
            "late λ₁(P⁻¹H) / threshold": [f"{r:.3f}" for r in summary["late_ratio"]],
        }
    )
    caption = (
        f"Your setting: late ratio {result.chosen_ratio:.3f}. "
        "Late = median over the last third of the run."
    )
    return frame, caption


def fig1(result: Equilibrium, P: Params):
    """Fig. 1: the three sweeps side by side (eta colours over the panel's slider range)."""
    return _side_by_side(*(sweep_chart(result, n, P.eq_eta_range) for n in SWEEP_TITLES))


# ---------------------------------------------------------------------------------------------
# (d) The raw sharpness keeps rising (Figs. 3 and 8)

RUNS = ["Adam", "frozen Adam"]


def _dashed_by_run(chart):
    """Adam solid, frozen Adam dashed."""
    charts.main_layer(chart).encoding.strokeDash = alt.StrokeDash(
        "run:N",
        title="run",
        sort=RUNS,
        scale=alt.Scale(domain=RUNS, range=[[1, 0], [5, 3]]),
    )
    return chart


def raw_rise_chart(result: RawRise, y: str, eta_domain: Sequence[float]) -> alt.LayerChart:
    """Adam (solid) and frozen Adam (dashed), one colour per eta, the late stretch shaded:
    ``y`` = "ratio" (psharp / threshold) or "sharpness" (raw)."""
    if y == "ratio":
        rules = charts.threshold_frame(1.0, f"λ₁(P⁻¹H) = {result.formula}")
        y_title = "λ₁(P⁻¹H) / threshold"
        title = "Preconditioned sharpness / threshold: both flat at 1"
    else:
        rules, y_title = None, "λ₁(H)"
        title = "Raw sharpness: Adam keeps climbing, frozen Adam stops"
    chart = charts.line_chart(
        result.table,
        y=y,
        detail=["run", "selected"],
        eta_domain=eta_domain,
        thresholds=rules,
        x_title="step",
        y_title=y_title,
    )
    chart = charts.emphasise(_dashed_by_run(chart))
    shade = charts.shaded_span(result.steps * (1 - result.fraction), result.steps, opacity=0.07)
    return alt.layer(shade, chart).properties(title=title, width=330, height=220)


def raw_rise_table(result: RawRise) -> tuple[pd.DataFrame, str]:
    """Panel (d)'s table: late ratio and the raw sharpness's fitted late trend per (eta, run)."""
    summary = result.summary
    frame = pd.DataFrame(
        {
            "η": [_sci(e) for e in summary["eta"]],
            "run": summary["run"],
            "late λ₁(P⁻¹H) / threshold": [f"{r:.3f}" for r in summary["late_ratio"]],
            "λ₁(H) over the last third": [
                f"{a:.1f} → {b:.1f}"
                for a, b in zip(summary["sharpness_from"], summary["sharpness_to"], strict=True)
            ],
            "trend of λ₁(H) (fitted line)": [
                f"{c:+.0%} ± {e:.0%} ({n} measurements)"
                for c, e, n in zip(
                    summary["trend"], summary["trend_stderr"], summary["trend_points"], strict=True
                )
            ],
        }
    )
    return frame, (
        "Grey band: the last third of the run, over which late values are taken. The trend is "
        "the relative change over the band of a straight line fitted to λ₁(H), ± its standard "
        "error."
    )


def fig8(result: RawRise, P: Params):
    """Fig. 8: the ratio and the raw sharpness of both optimizers side by side."""
    ys = ("ratio", "sharpness")
    return alt.hconcat(*(raw_rise_chart(result, y, P.fig8_eta_range) for y in ys))


# ---------------------------------------------------------------------------------------------
# (e) A window measured at every step (Figs. 9 and 18)

ZOOM_QUANTITIES = {
    "precond_sharpness": ("λ₁(P⁻¹H)", False),
    "sharpness": ("λ₁(H)", False),
    "grad_norm": ("‖g‖ (log)", True),
    "P_change": ("mean of P, % change", False),
    "loss": ("train loss (log)", True),
}
"""Fig. 9's five rows: column -> (axis title, log axis)."""

CYCLE_QUANTITIES = {
    "ratio": ("λ₁(P⁻¹H) / threshold", False),
    "precond_grad_norm": ("‖P^-½ g‖ (log)", True),
    "P_change": ("mean of P, % change", False),
    "sharpness": ("λ₁(H)", False),
}
"""The rows of the micro network's cycle (part 1 (b)): column -> (axis title, log axis)."""


def _with_crossings(result: Zoom, chart):
    """``chart`` with red dotted rules where psharp crosses the threshold upwards."""
    if not result.crossings:
        return alt.layer(chart)
    return alt.layer(charts.step_rules(result.crossings), chart)


def zoom_chart(result: Zoom, quantity: str) -> alt.LayerChart:
    """One row of Fig. 9 (``quantity``: a key of :data:`ZOOM_QUANTITIES` or of
    :data:`CYCLE_QUANTITIES`), with the threshold where it applies."""
    title, log = {**ZOOM_QUANTITIES, **CYCLE_QUANTITIES}[quantity]
    rules = None
    if quantity == "precond_sharpness":
        rules = charts.threshold_frame(result.threshold, result.formula)
    elif quantity == "ratio":
        rules = charts.threshold_frame(1.0, f"λ₁(P⁻¹H) = {result.formula}")
    chart = charts.line_chart(
        result.window[["step", quantity]],
        y=quantity,
        color=None,
        log_y=log,
        thresholds=rules,
        x_title="step",
        y_title=title,
    )
    return _with_crossings(result, chart).properties(width=620, height=95)


def zoom_grad_chart(result: Zoom) -> alt.LayerChart:
    """Fig. 18 bottom: |P^-1/2 g|^2, its part in the top-k eigenvectors and the rest (log)."""
    window = result.window
    parts = {
        "all": window["precond_grad_norm"] ** 2,
        f"in the top {result.k}": window["top_sq"],
        "rest": window["rest_sq"],
    }
    long = pd.concat(
        [pd.DataFrame({"step": window["step"], "part": p, "value": v}) for p, v in parts.items()],
        ignore_index=True,
    )
    chart = charts.line_chart(
        long, y="value", color="part", log_y=True, x_title="step", y_title="‖P^-½ g‖² (log)"
    )
    return _with_crossings(result, chart).properties(
        title=f"Fig. 18: where the preconditioned gradient lives (top {result.k} eigenvectors)",
        width=620,
        height=130,
    )


def zoom_eig_chart(result: Zoom) -> alt.LayerChart:
    """Fig. 18 middle: the top-k eigenvalues of P^-1 H in the window, with the threshold."""
    chart = charts.line_chart(
        result.eigs,
        y="value",
        color="eigenvalue",
        x_title="step",
        y_title="eigenvalue",
        thresholds=charts.threshold_frame(result.threshold, result.formula),
    )
    return chart.properties(title=f"Top {result.k} eigenvalues of P⁻¹H", width=620, height=130)


def zoom_table(result: Zoom) -> tuple[pd.DataFrame, str]:
    """Panel (e)'s table: crossings, median ratio and where |P^-1/2 g|^2 lives."""
    frame = pd.DataFrame(
        {
            "η": [_sci(result.eta)],
            "upward crossings": [len(result.crossings)],
            "median λ₁(P⁻¹H) / threshold": [f"{result.late_ratio:.3f}"],
            f"share of ‖P^-½g‖² in the top {result.k}: all steps": [f"{result.mean_top_share:.1%}"],
            "bursts (top 10% of ‖P^-½g‖²)": [f"{result.burst_top_share:.1%}"],
            "quiet half": [f"{result.quiet_top_share:.1%}"],
        }
    )
    return frame, "Red dotted lines: steps where λ₁(P⁻¹H) crosses the threshold upwards."


def fig9(results: Sequence[Zoom], P: Params):
    """Fig. 9: one column of the five rows per window."""
    columns = []
    for result in results:
        rows = [zoom_chart(result, q).properties(width=420) for q in ZOOM_QUANTITIES]
        rows[0] = rows[0].properties(title=f"Adam at η = {charts.format_sci(result.eta)}")
        columns.append(alt.vconcat(*rows))
    return alt.hconcat(*columns)


def fig18(results: Sequence[Zoom], P: Params):
    """Fig. 18: per window, the loss, the top eigenvalues and the split gradient."""
    columns = []
    for result in results:
        loss = zoom_chart(result, "loss").properties(
            title=f"Adam at η = {charts.format_sci(result.eta)}: train loss", width=420
        )
        eigs = zoom_eig_chart(result).properties(width=420)
        grad = zoom_grad_chart(result).properties(
            title=f"‖P^-½ g‖² and its part in the top {result.k} eigenvectors", width=420
        )
        columns.append(alt.vconcat(loss, eigs, grad))
    return alt.hconcat(*columns)


# ---------------------------------------------------------------------------------------------
# (f) The other adaptive optimizers (Fig. 5)


def _optimizer(result: OptimizerRuns, label: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs and the summary rows of the optimizer ``label``."""
    runs = result.runs[result.runs["optimizer_label"] == label]
    return runs, result.summary[result.summary["label"] == label]


def _drawn(frame: pd.DataFrame, label: str, eta: str, rates: dict | None) -> pd.DataFrame:
    """The rows of ``frame`` whose (``label``, ``eta``) columns are a pair of ``rates``
    (optimizer label -> learning rates); every row without ``rates``."""
    if rates is None:
        return frame
    pairs = {(name, float(e)) for name, etas in dict(rates).items() for e in etas}
    keep = [(a, float(b)) in pairs for a, b in zip(frame[label], frame[eta], strict=True)]
    return frame[keep]


def optimizer_grid_runs(result: OptimizerRuns, rates: dict | None = None) -> pd.DataFrame:
    """The runs Fig. 5's grid draws: all of ``result``'s, or with ``rates`` (optimizer label
    -> learning rates, e.g. ``P.opt_etas``) only those, leaving out a run the eta slider added."""
    return _drawn(result.runs, "optimizer_label", "eta", rates)


def optimizer_grid_chart(
    result: OptimizerRuns,
    eta_domain: Sequence[float],
    columns: int = 4,
    *,
    rates: dict | None = None,
    emphasise: bool = True,
):
    """Fig. 5: one small chart per optimizer, preconditioned sharpness (log) against the
    optimizer's own threshold, written in the title; the runs of :func:`optimizer_grid_runs`,
    the selected one bold with ``emphasise``."""
    runs = optimizer_grid_runs(result, rates)
    summary = _drawn(result.summary, "label", "eta", rates)
    panels = []
    for label in result.labels:
        rows = summary[summary["label"] == label]
        panels.append(
            _psharp_chart(
                runs[runs["optimizer_label"] == label],
                _rules(rows, "evaluated_formula"),
                title=f"{label}: {rows['formula'].iloc[0]}",
                eta_domain=eta_domain,
                width=175,
                height=140,
                emphasise=emphasise,
            )
        )
    shared = alt.Resolve(scale=alt.ScaleResolveMap(color="shared"))
    return alt.concat(*panels, columns=columns, resolve=shared)


def optimizer_ratio_chart(result: OptimizerRuns, eta_domain: Sequence[float]) -> alt.LayerChart:
    """The chosen optimizer: psharp / threshold over the run (hover above or oscillate?)."""
    label = result.selected[0]
    chart = charts.ratio_chart(
        _optimizer(result, label)[0],
        detail=["label", "selected"],
        eta_domain=eta_domain,
        label="λ₁(P⁻¹H) / threshold",
        x_title="step",
    )
    return charts.emphasise(chart).properties(
        title=f"{label}: preconditioned sharpness / its threshold", width=420, height=200
    )


def optimizer_table(result: OptimizerRuns) -> tuple[pd.DataFrame, str]:
    """Panel (f)'s table: each run's late ratio and behaviour."""
    summary = result.summary
    frame = pd.DataFrame(
        {
            "optimizer": summary["label"],
            "threshold": summary["formula"],
            "η": [_sci(e) for e in summary["eta"]],
            "late median ratio": [f"{r:.3f}" for r in summary["late_ratio"]],
            "share above 1": [f"{s:.0%}" for s in summary["share_above"]],
            "10%–90% of the ratio": [
                f"{a:.2f} – {b:.2f}" for a, b in zip(summary["low"], summary["high"], strict=True)
            ],
            "late behaviour": summary["behaviour"],
        }
    )
    caption = (
        f"Late = last third of each run. 'Hovers above' = at least "
        f"{result.behaviour_share:.0%} of the late measurements above the threshold."
    )
    return frame, caption


def fig5(result: OptimizerRuns, P: Params):
    """Fig. 5: the grid of optimizers."""
    return optimizer_grid_chart(result, P.opt_eta_range)


# ---------------------------------------------------------------------------------------------
# (g) The corner case (Figs. 15 and 16)

CORNER_QUANTITIES = {
    "ratio": ("λ₁(P⁻¹H) / threshold", False, "Preconditioned sharpness / threshold"),
    "P_median": ("median of P (log)", True, "The preconditioner"),
    "sharpness": ("λ₁(H)", False, "Raw sharpness"),
}
"""The corner case's charts: column -> (axis title, log axis, chart title)."""


def corner_chart(result: CornerCase, y: str) -> alt.LayerChart:
    """Both runs of the corner case, the freeze dashed: ``y`` a key of
    :data:`CORNER_QUANTITIES`."""
    y_title, log, title = CORNER_QUANTITIES[y]
    rules = charts.threshold_frame(1.0, "threshold") if y == "ratio" else None
    chart = charts.line_chart(
        result.table,
        y=y,
        color="run",
        log_y=log,
        thresholds=rules,
        x_title="step",
        y_title=y_title,
    )
    freeze = charts.step_rules([result.freeze_at], color=charts.NEUTRAL_COLOR, dash=(6, 4))
    return alt.layer(freeze, chart).properties(
        title=f"{title}, η = {_sci(result.eta)}", width=300, height=190
    )


def corner_table(result: CornerCase) -> tuple[pd.DataFrame, str]:
    """Panel (g)'s table: the ratio, P and the raw sharpness since the freeze."""
    summary = result.summary
    frame = pd.DataFrame(
        {
            "run": summary["run"],
            f"ratio at step {result.freeze_at}": [f"{r:.3f}" for r in summary["at_freeze"]],
            "ratio at the end": [f"{r:.3f}" for r in summary["final"]],
            "× since the freeze": [f"{g:.2f}" for g in summary["gain"]],
            "median P since the freeze": [f"{c:+.0%}" for c in summary["p_change"]],
            "λ₁(H) since the freeze": [f"{c:+.0%}" for c in summary["sharpness_change"]],
        }
    )
    return frame, f"Threshold {result.formula}; the dashed line marks the freeze."


def fig15(result: CornerCase, P: Params):
    """Figs. 15 and 16: ratio, P and raw sharpness of both runs side by side."""
    return _side_by_side(*(corner_chart(result, y) for y in CORNER_QUANTITIES))


# ---------------------------------------------------------------------------------------------
# (h) The CNN (Fig. 4)


def cnn_chart(result: CnnRuns, y: str, eta_domain: Sequence[float]):
    """The CNN runs: ``y`` = "precond_sharpness" (with 38/eta) or "loss"."""
    if y == "precond_sharpness":
        return _psharp_chart(
            result.table,
            _rules(result.summary.assign(formula=result.formula)),
            title="CNN: preconditioned sharpness and 38/η",
            eta_domain=eta_domain,
        )
    return charts.runs_chart(
        result.table,
        "loss",
        title="CNN: train loss",
        y_title="loss (log)",
        log_y=True,
        eta_domain=eta_domain,
        emphasise_selected=True,
    )


def cnn_table(result: CnnRuns) -> tuple[pd.DataFrame, str]:
    """Panel (h)'s table: threshold, late ratio and final loss per eta."""
    summary = result.summary
    frame = pd.DataFrame(
        {
            "η": [_sci(e) for e in summary["eta"]],
            "38/η": [_sci(t) for t in summary["threshold"]],
            "late ratio": [f"{r:.3f}" for r in summary["late_ratio"]],
            "final loss": [_sci(v) for v in summary["final_loss"]],
            "stopped by": summary["status"],
        }
    )
    return frame, f"Trained on: {result.device}."


def fig4(result: CnnRuns, P: Params):
    """Fig. 4: the CNN's preconditioned sharpness and loss side by side."""
    ys = ("precond_sharpness", "loss")
    return alt.hconcat(*(cnn_chart(result, y, P.cnn_eta_range) for y in ys))
