r"""Experiments, charts and panels of notebooks 04 (minibatch, warmup) and 05 (sharp solutions).

Every experiment here trains networks with :mod:`aeos_lab.train`, so each one takes seconds to
minutes on a CPU. The panels therefore work differently from notebook 01's:

* Each panel is a :class:`aeos_lab.widgets.ControlPanel` with a Run button. A setting whose
  runs are already in the engine's run cache (memory or disk, see :mod:`aeos_lab.cache`) is
  shown as soon as a slider selects it; a new setting waits for Run, and the status line then
  reports progress run by run.
* Runs go through :func:`aeos_lab.experiments.run_configs`, which takes finished runs from the
  cache and trains the rest.

What is measured (both notebooks): at each measurement the engine computes, on the FULL
training set, the loss, the top eigenvalue of the Hessian H (the sharpness) and the top
eigenvalue of P^-1/2 H P^-1/2 (the preconditioned sharpness), where P is the diagonal
preconditioner held in the optimizer's state at that moment. For Adam,
P = sqrt(nu) + eps, and in a minibatch run nu averages squared MINIBATCH gradients. The stability
threshold compared with it is that of the full-batch frozen optimizer at the current learning
rate eta_t: (2 + 2 beta1) / ((1 - beta1) eta_t), i.e. 38 / eta_t at beta1 = 0.9.

Notebook 04: :func:`batch_panel` (psharp against batch size, paper Fig 6), :func:`warmup_panel`
(psharp pushed down along 38/eta_t by linear warmup, Fig 7), :func:`breakdown_panel` (too short
a warmup or too large a peak eta). Notebook 05: :func:`solutions_panel` (sharpness and held-out
accuracy at the solution against eta and beta2, Figs 10 and 19) and :func:`comparison_panel`
(Adam against EMA heavy ball at equal training speed, Fig 11).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import altair as alt
import ipywidgets
import numpy as np
import pandas as pd

from aeos_lab import experiments
from aeos_lab.core import thresholds
from aeos_lab.core.validation import check_int_at_least, check_positive
from aeos_lab.engine import analysis
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.data import DEFAULT_TASK
from aeos_lab.stability import TableView
from aeos_lab.viz import charts, widgets

__all__ = [
    "BAND",
    "REACH",
    "accuracy_stderr",
    "batch_configs",
    "batch_label",
    "batch_panel",
    "batch_settle_chart",
    "batch_sharpness_chart",
    "batch_summary",
    "batch_table",
    "breakdown_chart",
    "breakdown_configs",
    "breakdown_panel",
    "breakdown_summary",
    "breakdown_table",
    "choose_scale",
    "comparison_chart",
    "comparison_panel",
    "comparison_table",
    "examples_per_step",
    "matched_sharpness",
    "outcome",
    "solution_point",
    "solutions",
    "solutions_chart",
    "solutions_panel",
    "solutions_table",
    "stable_etas",
    "sweep_configs",
    "threshold_path",
    "warmup_config",
    "warmup_panel",
    "warmup_ratio_chart",
    "warmup_sharpness_chart",
    "warmup_table",
    "warmup_tracking",
]

REACH = 0.95
"""During warmup, psharp counts as having reached the threshold 38/eta_t at the first
measurement where psharp / (38/eta_t) >= REACH."""

BAND = (0.8, 1.2)
"""Band around 1 inside which psharp / (38/eta_t) should stay once it has reached it."""

HIGHLIGHT_COLOR = "#d62728"
OPTIMIZER_LABELS = {"adam": "Adam", "ema_hb": "EMA heavy ball"}
OPTIMIZER_COLORS = {"Adam": "#4c78a8", "EMA heavy ball": "#f58518"}


DEFAULT_LABEL = (
    f"the default task: {DEFAULT_TASK['n_train']} digits (8x8 pixels) with "
    f"{DEFAULT_TASK['label_noise']:.0%} of their labels randomised, {DEFAULT_TASK['n_test']} "
    "clean digits held out, FC tanh network 64-200x5-10, MSE loss"
)


def choose_scale(paper_scale: bool, platform: str | None | bool = True) -> experiments.Scale:
    """The default digits task, or the paper's CIFAR-10 task when ``paper_scale`` is asked for
    on a GPU (:func:`aeos_lab.experiments.choose_scale`)."""
    return experiments.choose_scale(paper_scale, RunConfig(), DEFAULT_LABEL, platform=platform)


def _beta(value: float | None, grid: Sequence[float] = (), tol: float = 2e-4):
    """A slider's beta as a config value: rounded to 6 decimals (sliders produce values like
    0.9000000000000001, which would make a new run) and snapped to ``grid`` within ``tol``."""
    if value is None:
        return None
    return experiments.snap(round(float(value), 6), grid, rel=tol)


def _ready(configs_for: Callable[[dict], list]) -> Callable[[dict], bool]:
    """A panel's ``ready`` test: every run the setting needs is trained already."""
    return lambda values: experiments.trained(configs_for(values))


def _eta_widget(value: float, low: float, high: float) -> ipywidgets.FloatLogSlider:
    return widgets.eta_slider(value, low, high, step=0.05, readout_format=".2e")


def _beta2_widget(value: float, low: float = 0.9, high: float = 0.9995) -> ipywidgets.Widget:
    return widgets.beta_slider("beta2", value, low, high, 0.0005, ".4f")


# ---------------------------------------------------------------------------------------------
# Shared chart pieces


def _ordered_color(chart, field: str, order: Sequence[str], title: str | None = None):
    """Give the categorical colour of ``chart``'s main layer a fixed legend order."""
    charts.main_layer(chart).encoding.color = alt.Color(
        f"{field}:N", scale=alt.Scale(domain=list(order)), title=title or field
    )
    return chart


def _vertical_rule(step: float, text: str) -> alt.LayerChart:
    frame = pd.DataFrame({"step": [float(step)], "text": [text]})
    base = alt.Chart(frame).encode(x=alt.X("step:Q"))
    rule = base.mark_rule(color=charts.NEUTRAL_COLOR, strokeDash=[2, 3], strokeWidth=1.2)
    label = base.mark_text(align="left", baseline="top", dx=3, dy=2, fontSize=11).encode(
        y=alt.YValue(0), text="text:N"
    )
    return alt.layer(rule, label)


def _formula(config: RunConfig) -> str:
    method = thresholds.FROZEN_COUNTERPART[config.optimizer]
    return thresholds.threshold_formula(method, config.beta1 or 0.0)


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return charts.format_sci(value, digits)


# ---------------------------------------------------------------------------------------------
# Notebook 04 (a): batch size (Fig 6)


def examples_per_step(config: RunConfig) -> int:
    """Examples in one gradient: the batch size, or the training-set size for full batch."""
    n = config.n_train
    if n is None:
        n = DEFAULT_TASK["n_train"] if config.dataset == "digits" else 5000
    return n if config.batch_size is None else min(config.batch_size, n)


def batch_label(config: RunConfig) -> str:
    """A label such as "batch 64", or "full batch (1500)" when each step sees every example."""
    b = examples_per_step(config)
    full = config.batch_size is None or b == examples_per_step(config.replace(batch_size=None))
    return f"full batch ({b})" if full else f"batch {b}"


def batch_configs(
    base: RunConfig,
    batch_sizes: Sequence[int | None],
    etas: Sequence[float],
    *,
    beta1: float = 0.9,
    beta2: float = 0.999,
    steps: int = 1000,
    track_every: int = 100,
) -> list[RunConfig]:
    """Adam at every (batch size, eta); ``None`` in ``batch_sizes`` means full batch."""
    return [
        base.replace(
            optimizer="adam",
            eta=float(eta),
            beta1=beta1,
            beta2=beta2,
            batch_size=batch_size,
            steps=steps,
            track_every=track_every,
            warmup_steps=0,
            loss_threshold=None,
        )
        for batch_size in batch_sizes
        for eta in etas
    ]


def batch_summary(results: Sequence, fraction: float = 0.5) -> pd.DataFrame:
    """One row per run: eta, beta1, beta2, ``examples`` (per step), ``batch`` label, the late
    median of psharp and of psharp / threshold (over the last ``fraction`` of the steps), the
    threshold, final loss and status; sorted by eta, then examples per step."""
    summary = analysis.summarize(list(results), fraction)
    summary["examples"] = [examples_per_step(r.config) for r in results]
    summary["batch"] = [batch_label(r.config) for r in results]
    return summary.sort_values(["eta", "examples"]).reset_index(drop=True)


def _batch_tables(results, min_step: int) -> pd.DataFrame:
    table = analysis.table(list(results), min_step=min_step)
    labels = {r.config.key(): batch_label(r.config) for r in results}
    table["batch"] = table["run"].map(labels)
    return table


def batch_panel(
    scale: experiments.Scale,
    *,
    batch_sizes: Sequence[int | None],
    etas: Sequence[float],
    steps: int,
    track_every: int,
    eta: float | None = None,
    beta1: float = 0.9,
    beta2: float = 0.999,
    min_step: int | None = None,
    eig_tol: float = 1e-2,
) -> widgets.ControlPanel:
    """Panel (a) of notebook 04: Adam at several batch sizes and learning rates.

    The sweep is ``batch_sizes`` x ``etas`` at the sliders' beta1, beta2; the eta slider picks
    which learning rate the time-series chart shows (a new eta adds one run per batch size).
    Result keys: ``results``, ``table`` (tidy, from ``min_step`` on; default: one measurement
    interval), ``summary`` (:func:`batch_summary`) and ``eta`` (the one shown).
    """
    etas = sorted(float(e) for e in etas)
    min_step = track_every if min_step is None else min_step
    base = scale.base.replace(eig_tol=eig_tol)

    def configs_for(values):
        chosen = experiments.snap(values["eta"], etas)
        grid = sorted(set(etas) | {chosen})
        return batch_configs(
            base,
            batch_sizes,
            grid,
            beta1=_beta(values["beta1"]),
            beta2=_beta(values["beta2"]),
            steps=steps,
            track_every=track_every,
        )

    def compute(values, progress=None):
        results = experiments.run_configs(configs_for(values), progress)
        return {
            "results": results,
            "table": _batch_tables(results, min_step),
            "summary": batch_summary(results),
            "eta": experiments.snap(values["eta"], etas),
        }

    return widgets.ControlPanel(
        compute,
        [batch_sharpness_chart, batch_settle_chart, TableView(batch_table)],
        ready=_ready(configs_for),
        run_button=True,
        auto_run=False,
        eta=_eta_widget(eta or etas[0], 3e-5, 1e-2),
        beta1=(beta1, 0.0, 0.99),
        beta2=_beta2_widget(beta2),
    )


def batch_sharpness_chart(result: dict) -> alt.LayerChart:
    """psharp against step at the chosen eta, one line per batch size, with 38/eta."""
    eta = result["eta"]
    table = result["table"]
    shown = table[np.isclose(table["eta"], eta)]
    summary = result["summary"]
    order = list(dict.fromkeys(summary.sort_values("examples")["batch"]))
    config = result["results"][0].config.replace(eta=eta)
    thr = thresholds.optimizer_threshold("adam", eta, config.beta1)
    chart = charts.line_chart(
        shown,
        y="precond_sharpness",
        color="batch",
        log_y=True,
        thresholds=charts.threshold_frame(thr, _formula(config) + " (full batch)"),
        x_title="step",
        y_title="λ₁(P⁻¹H) on the full training set",
        title=f"Preconditioned sharpness at η = {charts.format_sci(eta)}",
    )
    return _ordered_color(chart, "batch", order, "batch size").properties(width=420, height=230)


def _eta_label(eta: float) -> str:
    return f"η = {charts.format_sci(eta)}"


def _eta_colors(etas: Sequence[float]) -> alt.Scale:
    """A categorical scale over "η = ..." labels, coloured along the suite's eta scheme."""
    labels = [_eta_label(e) for e in sorted(etas)]
    return alt.Scale(domain=labels, scheme=charts.ETA_SCHEME)


def batch_settle_chart(result: dict) -> alt.LayerChart:
    """Late median psharp against examples per step (log-log), one line per eta, each with its
    full-batch threshold as a dashed rule in the same colour."""
    summary = result["summary"].assign(η=lambda f: [_eta_label(e) for e in f["eta"]])
    config = result["results"][0].config
    etas = sorted(set(summary["eta"]))
    color = alt.Color("η:N", scale=_eta_colors(etas), title="learning rate")
    rules = pd.DataFrame(
        {
            "η": [_eta_label(e) for e in etas],
            "threshold": [thresholds.optimizer_threshold("adam", e, config.beta1) for e in etas],
        }
    )
    rules["label"] = [f"{_formula(config)} = {charts.format_sci(t)}" for t in rules["threshold"]]
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
    return alt.layer(lines, rule, text).properties(
        title="Where psharp settles: below the full-batch threshold (dashed)",
        width=420,
        height=220,
    )


def batch_table(result: dict) -> tuple[pd.DataFrame, str]:
    """Display table: one row per run of the shown eta."""
    summary = result["summary"]
    rows = summary[np.isclose(summary["eta"], result["eta"])]
    frame = pd.DataFrame(
        {
            "batch": rows["batch"],
            "late psharp": [_fmt(v) for v in rows["late_precond_sharpness"]],
            "threshold": [_fmt(v) for v in rows["threshold"]],
            "late psharp / threshold": [f"{v:.3f}" for v in rows["late_ratio"]],
            "final train loss": [_fmt(v) for v in rows["final_loss"]],
            "status": rows["status"],
        }
    )
    return frame, "Late = the last half of the steps (median over its measurements)."


# ---------------------------------------------------------------------------------------------
# Notebook 04 (b): linear warmup (Fig 7)


def warmup_config(
    base: RunConfig,
    *,
    eta: float,
    warmup: int,
    after: int,
    beta1: float = 0.9,
    beta2: float = 0.999,
    track_every: int = 50,
) -> RunConfig:
    """Full-batch Adam warmed up linearly to ``eta`` over ``warmup`` steps, then ``after``
    steps at ``eta``: eta_t = eta * min(1, (t + 1) / warmup)."""
    check_int_at_least(warmup, 0, "warmup")
    check_int_at_least(after, 1, "after")
    return base.replace(
        optimizer="adam",
        eta=float(eta),
        beta1=beta1,
        beta2=beta2,
        warmup_steps=int(warmup),
        steps=int(warmup) + int(after),
        track_every=track_every,
        batch_size=None,
        loss_threshold=None,
    )


def threshold_path(config: RunConfig, points: int = 200) -> pd.DataFrame:
    """The threshold of the frozen optimizer at eta_t along the run: columns step, lr,
    threshold (at ``points`` evenly spaced steps from 1, plus the end of warmup).

    At step s the latest update used eta_{s-1} (the engine's ``lr`` column does the same).
    """
    check_int_at_least(points, 2, "points")
    grid = np.unique(
        np.concatenate(
            [
                np.linspace(1, config.steps, points).round(),
                [config.warmup_steps] if config.warmup_steps else [],
            ]
        )
    ).astype(int)
    grid = grid[grid >= 1]
    lr = np.array([config.warmup_eta(int(s) - 1) for s in grid])
    thr = thresholds.optimizer_threshold(config.optimizer, lr, config.beta1 or 0.0)
    return pd.DataFrame({"step": grid, "lr": lr, "threshold": np.asarray(thr, float)})


def warmup_tracking(
    records: pd.DataFrame,
    warmup_steps: int,
    *,
    reach: float = REACH,
    band: tuple[float, float] = BAND,
) -> dict:
    """How closely psharp follows the threshold at eta_t during warmup.

    ``records`` need columns step, ratio (psharp / threshold at eta_t) and loss. Returns:
    ``reached_step``, the first measured step (>= 1) inside the warmup with ratio >= ``reach``
    (None if never); ``band_min`` / ``band_max``, the extreme ratios from there to the end of
    warmup; ``within``, whether they lie inside ``band``; ``tracked_points``, how many
    measurements that covers; ``after_ratio``, the median ratio after warmup (None without any);
    ``final_loss``.
    """
    check_int_at_least(warmup_steps, 1, "warmup_steps")
    steps, ratio = records["step"].to_numpy(), records["ratio"].to_numpy(float)
    during = (steps >= 1) & (steps <= warmup_steps)
    hits = np.flatnonzero(during & (ratio >= reach))
    out = {
        "reached_step": None,
        "band_min": None,
        "band_max": None,
        "within": False,
        "tracked_points": 0,
        "after_ratio": None,
        "final_loss": float(records["loss"].iloc[-1]),
    }
    if hits.size:
        first = int(steps[hits[0]])
        tracked = ratio[during & (steps >= first)]
        out.update(
            reached_step=first,
            band_min=float(tracked.min()),
            band_max=float(tracked.max()),
            within=bool(band[0] <= tracked.min() and tracked.max() <= band[1]),
            tracked_points=int(tracked.size),
        )
    after = ratio[steps > warmup_steps]
    if after.size:
        out["after_ratio"] = float(np.median(after))
    return out


def warmup_panel(
    scale: experiments.Scale,
    *,
    warmup: int,
    after: int,
    eta: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    track_every: int = 50,
    warmup_range: tuple[int, int, int] = (0, 2000, 100),
    eig_tol: float = 1e-2,
) -> widgets.ControlPanel:
    """Panel (b) of notebook 04: linear warmup to the peak ``eta`` over ``warmup`` steps.

    Sliders: eta (the peak), beta1, beta2 and warmup (steps; each new length compiles once).
    Result keys: ``result`` (the run), ``config``, ``records`` (from step 1), ``path``
    (:func:`threshold_path`) and ``tracking`` (:func:`warmup_tracking`, None without warmup).
    """
    base = scale.base.replace(eig_tol=eig_tol)
    low, high, step = warmup_range

    def configs_for(values):
        return [
            warmup_config(
                base,
                eta=values["eta"],
                warmup=int(values["warmup"]),
                after=after,
                beta1=_beta(values["beta1"]),
                beta2=_beta(values["beta2"]),
                track_every=track_every,
            )
        ]

    def compute(values, progress=None):
        (config,) = configs_for(values)
        (result,) = experiments.run_configs([config], progress)
        records = result.records[result.records["step"] >= 1].reset_index(drop=True)
        tracking = None
        if config.warmup_steps:
            tracking = warmup_tracking(records, config.warmup_steps)
        return {
            "result": result,
            "config": config,
            "records": records,
            "path": threshold_path(config),
            "tracking": tracking,
        }

    return widgets.ControlPanel(
        compute,
        [warmup_sharpness_chart, warmup_ratio_chart, TableView(warmup_table)],
        ready=_ready(configs_for),
        run_button=True,
        auto_run=False,
        eta=_eta_widget(eta, 1e-4, 3e-2),
        beta1=(beta1, 0.0, 0.99),
        beta2=_beta2_widget(beta2),
        extra={"warmup": (int(warmup), int(low), int(high), int(step))},
    )


def warmup_sharpness_chart(result: dict, clip: float = 30.0) -> alt.LayerChart:
    """psharp (log axis) against the threshold at eta_t (dashed curve).

    The threshold starts at 38 W / eta, far above everything else; the part above ``clip``
    times the largest psharp is left off so the meeting point stays readable.
    """
    config, records, path = result["config"], result["records"], result["path"]
    path = path[path["threshold"] <= clip * records["precond_sharpness"].max()]
    y_scale = alt.Scale(type="log")
    x = alt.X("step:Q", title="step", scale=alt.Scale(domain=[0, config.steps], nice=False))
    psharp = (
        alt.Chart(records)
        .mark_line(point=True, color=OPTIMIZER_COLORS["Adam"])
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
    formula = _formula(config).replace("η", "ηₜ")
    threshold = (
        alt.Chart(path)
        .mark_line(strokeDash=charts.THRESHOLD_DASH, color=charts.NEUTRAL_COLOR)
        .encode(x=x, y=alt.Y("threshold:Q", scale=y_scale))
    )
    layers = [threshold, psharp]
    if config.warmup_steps:
        layers.append(_vertical_rule(config.warmup_steps, "warmup ends"))
    title = (
        f"Warmup to η = {charts.format_sci(config.eta)} over {config.warmup_steps} steps: "
        f"psharp (blue) against the threshold {formula} (dashed)"
    )
    return alt.layer(*layers).properties(title=title, width=520, height=230)


def warmup_ratio_chart(result: dict) -> alt.LayerChart:
    """psharp / threshold(eta_t) against step, with the band :data:`BAND` shaded."""
    config, records = result["config"], result["records"]
    band = pd.DataFrame({"low": [BAND[0]], "high": [BAND[1]]})
    shade = (
        alt.Chart(band)
        .mark_rect(color="#9ecae1", opacity=0.3)
        .encode(y=alt.Y("low:Q"), y2="high:Q")
    )
    ratio = charts.ratio_chart(
        records,
        color=None,
        points=True,
        label="psharp / threshold at ηₜ",
        x_title="step",
    )
    layers = [shade, ratio]
    if config.warmup_steps:
        layers.append(_vertical_rule(config.warmup_steps, "warmup ends"))
    return alt.layer(*layers).properties(
        title=f"Ratio to the current threshold (band {BAND[0]}–{BAND[1]} shaded)",
        width=520,
        height=180,
    )


def warmup_table(result: dict) -> tuple[pd.DataFrame, str]:
    """Display table of the warmup run."""
    tracking, run = result["tracking"], result["result"]
    if tracking is None:
        return pd.DataFrame({"status": [run.status]}), "No warmup: set warmup above 0."
    frame = pd.DataFrame(
        {
            "psharp reached the threshold at step": [tracking["reached_step"] or "never"],
            "ratio after that, during warmup": [
                "–"
                if tracking["band_min"] is None
                else f"{tracking['band_min']:.3f} – {tracking['band_max']:.3f}"
            ],
            "median ratio after warmup": [_fmt(tracking["after_ratio"])],
            "final train loss": [_fmt(tracking["final_loss"])],
            "status": [run.status],
        }
    )
    return frame, f"Reached = the first measurement with ratio ≥ {REACH}."


# ---------------------------------------------------------------------------------------------
# Notebook 04 (c): what breaks


def outcome(records: pd.DataFrame, diverged: bool, stall: float = 0.25) -> str:
    """How a run ended: "diverged" (the engine stopped it), "stalled" (its final train loss is
    still above ``stall`` times the initial loss) or "trained"."""
    if diverged:
        return "diverged"
    loss = records["loss"].to_numpy(float)
    if not np.isfinite(loss[-1]) or loss[-1] > stall * loss[0]:
        return "stalled"
    return "trained"


def breakdown_configs(
    base: RunConfig,
    *,
    eta: float,
    warmups: Sequence[int],
    steps: int,
    beta1: float = 0.9,
    beta2: float = 0.999,
    track_every: int = 50,
) -> list[RunConfig]:
    """Full-batch Adam at the peak ``eta`` for ``steps`` steps, once per warmup length."""
    return [
        base.replace(
            optimizer="adam",
            eta=float(eta),
            beta1=beta1,
            beta2=beta2,
            warmup_steps=int(w),
            steps=int(steps),
            track_every=track_every,
            batch_size=None,
            loss_threshold=None,
        )
        for w in warmups
    ]


def _warmup_label(config: RunConfig) -> str:
    return "no warmup" if not config.warmup_steps else f"warmup {config.warmup_steps}"


def breakdown_summary(results: Sequence) -> pd.DataFrame:
    """One row per run: warmup label, status, :func:`outcome`, final and largest train loss,
    final raw sharpness and test accuracy."""
    rows = []
    for result in results:
        records = result.records
        rows.append(
            {
                "warmup": _warmup_label(result.config),
                "warmup_steps": result.config.warmup_steps,
                "eta": result.config.eta,
                "status": result.status,
                "outcome": outcome(records, result.diverged),
                "final_loss": float(records["loss"].iloc[-1]),
                "max_loss": float(records["loss"].iloc[1:].max()),
                "final_sharpness": float(records["sharpness"].iloc[-1]),
                "final_test_acc": float(records["test_acc"].iloc[-1]),
            }
        )
    return pd.DataFrame(rows)


def breakdown_panel(
    scale: experiments.Scale,
    *,
    warmup: int,
    after: int,
    eta: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    track_every: int = 50,
    warmup_range: tuple[int, int, int] = (0, 2000, 100),
    eig_tol: float = 1e-2,
) -> widgets.ControlPanel:
    """Panel (c) of notebook 04: Adam at the peak ``eta``, without warmup and with a warmup of
    ``warmup`` steps (the ``warmup`` slider), both for ``warmup + after`` steps.

    Result keys: ``results`` (no warmup first), ``table`` (tidy, from step 0, with a ``warmup``
    label column), ``summary`` (:func:`breakdown_summary`).
    """
    base = scale.base.replace(eig_tol=eig_tol)
    low, high, step = warmup_range

    def configs_for(values):
        length = int(values["warmup"])
        return breakdown_configs(
            base,
            eta=values["eta"],
            warmups=list(dict.fromkeys([0, length])),
            steps=length + after,
            beta1=_beta(values["beta1"]),
            beta2=_beta(values["beta2"]),
            track_every=track_every,
        )

    def compute(values, progress=None):
        results = experiments.run_configs(configs_for(values), progress)
        table = analysis.table(results)
        labels = {r.config.key(): _warmup_label(r.config) for r in results}
        table["warmup"] = table["run"].map(labels)
        return {"results": results, "table": table, "summary": breakdown_summary(results)}

    return widgets.ControlPanel(
        compute,
        [
            lambda r: breakdown_chart(r, "loss"),
            lambda r: breakdown_chart(r, "ratio"),
            TableView(breakdown_table),
        ],
        ready=_ready(configs_for),
        run_button=True,
        auto_run=False,
        eta=_eta_widget(eta, 1e-4, 1e-1),
        beta1=(beta1, 0.0, 0.99),
        beta2=_beta2_widget(beta2),
        extra={"warmup": (int(warmup), int(low), int(high), int(step))},
    )


def breakdown_chart(result: dict, quantity: str) -> alt.Chart | alt.LayerChart:
    """Train loss, or psharp / threshold at eta_t, against step for each warmup length."""
    table = result["table"]
    order = list(dict.fromkeys(result["summary"]["warmup"]))
    if quantity == "loss":
        chart = charts.line_chart(
            table,
            y="loss",
            color="warmup",
            log_y=True,
            points=True,
            x_title="step",
            y_title="train loss (log)",
            title="Train loss",
        )
    else:
        chart = charts.ratio_chart(
            table[table["step"] >= 1],  # at step 0 Adam's P is eps: off the chart
            color="warmup",
            log_y=True,
            label="psharp / threshold at ηₜ",
            x_title="step",
            points=True,
            title="psharp relative to the current threshold (log)",
        )
    return _ordered_color(chart, "warmup", order).properties(width=420, height=200)


def breakdown_table(result: dict) -> pd.DataFrame:
    summary = result["summary"]
    return pd.DataFrame(
        {
            "run": summary["warmup"],
            "outcome": summary["outcome"],
            "engine status": summary["status"],
            "largest train loss": [_fmt(v) for v in summary["max_loss"]],
            "final train loss": [_fmt(v) for v in summary["final_loss"]],
            "final sharpness λ₁(H)": [_fmt(v) for v in summary["final_sharpness"]],
            "final test accuracy": [f"{v:.1%}" for v in summary["final_test_acc"]],
        }
    )


# ---------------------------------------------------------------------------------------------
# Notebook 05: sharpness at the solution (Figs 10, 11, 19)


def solution_point(records: pd.DataFrame, loss_threshold: float) -> pd.Series | None:
    """The first record whose (full training set) loss is below ``loss_threshold``, or None.

    A full-batch run with ``loss_threshold`` stops there, so it is the run's last record. The
    engine applies the threshold to full-batch runs only, so for a minibatch run this is the
    first MEASUREMENT below it (accurate to one measurement interval).
    """
    check_positive(loss_threshold, "loss_threshold")
    below = records.index[records["loss"].to_numpy(float) < loss_threshold]
    return None if len(below) == 0 else records.loc[below[0]]


def accuracy_stderr(accuracy, n: int):
    """Binomial standard error sqrt(a (1 - a) / n) of an accuracy measured on n examples."""
    check_int_at_least(n, 1, "n")
    accuracy = np.asarray(accuracy, float)
    return np.sqrt(accuracy * (1.0 - accuracy) / n)


def solutions(results: Sequence, loss_threshold: float) -> pd.DataFrame:
    """One row per run: its hyperparameters and what holds at its solution (the first record
    below ``loss_threshold``, :func:`solution_point`): ``reached``, ``steps``, ``sharpness``
    (raw, lambda_1(H)), ``precond_sharpness``, ``loss``, ``train_acc``, ``test_acc``; NaN where
    the run never got there (status says why: step_limit or diverged). ``best_test_acc`` and
    ``best_test_step``: the highest held-out accuracy measured up to the solution (or the end)
    and where."""
    rows = []
    for result in results:
        config = result.config
        point = solution_point(result.records, loss_threshold)
        row = {
            "optimizer": config.optimizer,
            "method": OPTIMIZER_LABELS.get(config.optimizer, config.optimizer),
            "eta": config.eta,
            "beta1": config.beta1,
            "beta2": config.beta2 if config.optimizer != "ema_hb" else None,
            "batch": batch_label(config),
            "batch_size": config.batch_size,
            "status": result.status,
            "reached": point is not None,
        }
        columns = ("steps", "sharpness", "precond_sharpness", "loss", "train_acc", "test_acc")
        records = result.records
        if point is None:
            row.update(dict.fromkeys(columns, np.nan))
        else:
            row.update(
                steps=int(point["step"]),
                sharpness=float(point["sharpness"]),
                precond_sharpness=float(point["precond_sharpness"]),
                loss=float(point["loss"]),
                train_acc=float(point["train_acc"]),
                test_acc=float(point["test_acc"]),
            )
            records = records[records["step"] <= point["step"]]
        best = records["test_acc"].idxmax()
        row.update(
            best_test_acc=float(records.loc[best, "test_acc"]),
            best_test_step=int(records.loc[best, "step"]),
        )
        rows.append(row)
    return pd.DataFrame(rows)


def stable_etas(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of an eta sweep (one optimizer and batch setting) in its stable range: the runs
    that reached the solution, up to the eta that got there in the fewest steps.

    Past that eta a larger step no longer trains faster: the loss spikes and the network lands
    in a region of a different kind (on the default task, a much sharper one).
    """
    done = frame[frame["reached"]].sort_values("eta")
    if done.empty:
        return done
    fastest = done["eta"].to_numpy()[int(np.argmin(done["steps"].to_numpy()))]
    return done[done["eta"] <= fastest]


def matched_sharpness(adam: pd.DataFrame, momentum: pd.DataFrame) -> pd.DataFrame:
    """Adam's sharpness at the solution against momentum's at the same training speed.

    ``adam`` and ``momentum`` are :func:`solutions` frames. Momentum's sharpness is
    interpolated linearly in log(steps) between its two runs whose steps-to-solution bracket
    each Adam run's (only Adam runs inside momentum's range are kept). Columns: eta, steps,
    sharpness (Adam's), momentum_sharpness, ratio = sharpness / momentum_sharpness.
    """
    adam = adam[adam["reached"]]
    mom = momentum[momentum["reached"]].sort_values("steps")
    columns = ["eta", "beta2", "steps", "sharpness", "momentum_sharpness", "ratio"]
    if len(mom) < 2:
        return pd.DataFrame(columns=columns)
    log_steps = np.log(mom["steps"].to_numpy(float))
    inside = adam[(adam["steps"] >= mom["steps"].min()) & (adam["steps"] <= mom["steps"].max())]
    matched = np.interp(np.log(inside["steps"].to_numpy(float)), log_steps, mom["sharpness"])
    out = inside[["eta", "beta2", "steps", "sharpness"]].copy()
    out["momentum_sharpness"] = matched
    out["ratio"] = out["sharpness"] / out["momentum_sharpness"]
    return out.sort_values("steps").reset_index(drop=True)


def sweep_configs(
    base: RunConfig,
    *,
    etas: Sequence[float],
    beta2s: Sequence[float],
    eta_for_beta2: float,
    beta2_for_eta: float,
    loss_threshold: float,
    steps: int,
    track_every: int,
    beta1: float = 0.9,
    batch_size: int | None = None,
) -> list[RunConfig]:
    """Adam configs of notebook 05's two sweeps at one batch setting: ``etas`` at
    ``beta2_for_eta`` and ``beta2s`` at ``eta_for_beta2`` (a run in both appears once).

    A full-batch run stops at ``loss_threshold``. The engine never stops a minibatch run at a
    loss threshold, so minibatch configs get none (and share their compiled kernels with the
    other minibatch runs): they run ``steps`` steps, and :func:`solution_point` reads their
    solution off the records.
    """
    common = base.replace(
        optimizer="adam",
        beta1=beta1,
        batch_size=batch_size,
        loss_threshold=None if batch_size is not None else loss_threshold,
        steps=steps,
        track_every=track_every,
        warmup_steps=0,
    )
    pairs = [(e, beta2_for_eta) for e in etas] + [(eta_for_beta2, b) for b in beta2s]
    configs = [common.replace(eta=float(eta), beta2=float(beta2)) for eta, beta2 in pairs]
    return list({c.key(): c for c in configs}.values())


def _selected(frame: pd.DataFrame, eta: float, beta1: float, beta2: float) -> pd.Series:
    return (
        np.isclose(frame["eta"], eta, rtol=1e-6)
        & np.isclose(frame["beta1"], beta1, atol=1e-9)
        & np.isclose(frame["beta2"].astype(float), beta2, atol=1e-9)
    )


@dataclass(frozen=True)
class _Sweep:
    """One batch setting of :func:`solutions_panel`: its sweeps and run lengths."""

    batch_size: int | None
    etas: tuple
    beta2s: tuple
    steps: int
    track_every: int


def solutions_panel(
    scale: experiments.Scale,
    *,
    etas: Sequence[float],
    beta2s: Sequence[float],
    eta_for_beta2: float,
    loss_threshold: float,
    steps: int,
    track_every: int,
    beta2_for_eta: float = 0.999,
    large_batch: int | None = None,
    large_batch_etas: Sequence[float] | None = None,
    large_batch_beta2s: Sequence[float] | None = None,
    large_batch_steps: int | None = None,
    large_batch_track_every: int | None = None,
    eta: float | None = None,
    eig_tol: float = 1e-2,
) -> widgets.ControlPanel:
    """Panel (a) + (c) of notebook 05: Adam's sharpness and held-out accuracy at the solution
    against eta (at ``beta2_for_eta``) and against beta2 (at ``eta_for_beta2``), full batch,
    and with ``large_batch`` examples per step when given (its own sweeps and run length
    default to the full-batch ones).

    The sliders pick a setting: its runs in the sweeps (sliders snap to them) are ringed at
    once; a setting outside the full-batch sweeps trains at full batch on Run and is added,
    ringed. Result keys:
    ``solutions`` (:func:`solutions` of every run, with columns ``in_eta_sweep``,
    ``in_beta2_sweep`` and ``selected``), ``selection`` (eta, beta1, beta2), ``n_test``,
    ``loss_threshold``, ``eta_for_beta2``, ``beta2_for_eta``.
    """
    base = scale.base.replace(eig_tol=eig_tol)
    sweeps = [_Sweep(None, tuple(sorted(etas)), tuple(sorted(beta2s)), steps, track_every)]
    if large_batch is not None:
        sweeps.append(
            _Sweep(
                large_batch,
                tuple(sorted(etas if large_batch_etas is None else large_batch_etas)),
                tuple(sorted(beta2s if large_batch_beta2s is None else large_batch_beta2s)),
                large_batch_steps or steps,
                large_batch_track_every or track_every,
            )
        )
    all_etas = sorted({*etas, *(large_batch_etas or ()), eta_for_beta2})
    all_beta2s = sorted({*beta2s, *(large_batch_beta2s or ()), beta2_for_eta})
    n_test = base.n_test or (DEFAULT_TASK["n_test"] if base.dataset == "digits" else 1000)

    def selection(values):
        return (
            experiments.snap(values["eta"], all_etas),
            _beta(values["beta1"]),
            _beta(values["beta2"], all_beta2s),
        )

    def configs_for(values):
        eta, beta1, beta2 = selection(values)
        configs = []
        for sweep in sweeps:
            common = dict(
                loss_threshold=loss_threshold,
                steps=sweep.steps,
                track_every=sweep.track_every,
                beta1=beta1,
                batch_size=sweep.batch_size,
            )
            configs += sweep_configs(
                base,
                etas=sweep.etas,
                beta2s=sweep.beta2s,
                eta_for_beta2=eta_for_beta2,
                beta2_for_eta=beta2_for_eta,
                **common,
            )
            if sweep.batch_size is None:  # a setting outside the sweeps trains at full batch
                configs += sweep_configs(
                    base, etas=[eta], beta2s=[], eta_for_beta2=eta, beta2_for_eta=beta2, **common
                )
        return list({c.key(): c for c in configs}.values())

    def compute(values, progress=None):
        eta, beta1, beta2 = selection(values)
        results = experiments.run_configs(configs_for(values), progress)
        frame = solutions(results, loss_threshold)
        by_batch = {sweep.batch_size: sweep for sweep in sweeps}
        in_eta, in_beta2 = [], []
        for result in results:
            config, sweep = result.config, by_batch[result.config.batch_size]
            in_eta.append(
                bool(
                    np.isclose(config.beta2, beta2_for_eta)
                    and np.isclose(config.eta, sweep.etas).any()
                )
            )
            in_beta2.append(
                bool(
                    np.isclose(config.eta, eta_for_beta2)
                    and np.isclose(config.beta2, sweep.beta2s).any()
                )
            )
        frame["in_eta_sweep"], frame["in_beta2_sweep"] = in_eta, in_beta2
        frame["selected"] = _selected(frame, eta, beta1, beta2)
        return {
            "solutions": frame,
            "selection": {"eta": eta, "beta1": beta1, "beta2": beta2},
            "n_test": n_test,
            "loss_threshold": loss_threshold,
            "eta_for_beta2": eta_for_beta2,
            "beta2_for_eta": beta2_for_eta,
        }

    return widgets.ControlPanel(
        compute,
        [
            lambda r: solutions_chart(r, "eta"),
            lambda r: solutions_chart(r, "beta2"),
            TableView(solutions_table),
        ],
        ready=_ready(configs_for),
        run_button=True,
        auto_run=False,
        eta=_eta_widget(eta_for_beta2 if eta is None else eta, 3e-5, 1e-2),
        beta1=(0.9, 0.0, 0.99),
        beta2=_beta2_widget(beta2_for_eta),
    )


def _sweep_points(frame, x, y, *, log_x, x_title, y_title, title, error=None):
    """Points joined by lines, colour = batch setting; the selected run ringed in red."""
    order = list(dict.fromkeys(frame.sort_values("batch", key=_full_first)["batch"]))
    x_scale = _padded_log_scale(frame[x]) if log_x else alt.Scale(zero=False)
    x_axis = alt.Axis(labelExpr=charts.COMPACT_LABEL) if log_x else alt.Axis()
    x_enc = alt.X(f"{x}:Q", title=x_title, scale=x_scale, axis=x_axis)
    y_enc = alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False))
    color = alt.Color("batch:N", scale=alt.Scale(domain=order), title="batch")
    tooltip = [
        alt.Tooltip("eta:Q", format=".3g", title="η"),
        alt.Tooltip("beta2:Q", format=".4g", title="β₂"),
        alt.Tooltip("batch:N"),
        alt.Tooltip("steps:Q"),
        alt.Tooltip(f"{y}:Q", format=".4g"),
    ]
    base = alt.Chart(frame).encode(x=x_enc, y=y_enc, color=color, tooltip=tooltip)
    layers = [base.mark_line(point=True).encode(detail="batch:N")]
    if error is not None:
        bars = frame.assign(low=frame[y] - frame[error], high=frame[y] + frame[error])
        layers.insert(
            0,
            alt.Chart(bars)
            .mark_rule(opacity=0.5)
            .encode(
                x=x_enc, y=alt.Y("low:Q", scale=alt.Scale(zero=False)), y2="high:Q", color=color
            ),
        )
    ring = (
        alt.Chart(frame[frame["selected"]])
        .mark_point(size=220, filled=False, strokeWidth=2.5, color=HIGHLIGHT_COLOR)
        .encode(x=x_enc, y=y_enc, tooltip=tooltip)
    )
    layers.append(ring)
    return alt.layer(*layers).properties(title=title, width=300, height=200)


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


def solutions_chart(result: dict, axis: str) -> alt.HConcatChart:
    """Sharpness at the solution (left) and held-out accuracy at the solution (right) against
    eta (``axis="eta"``) or against 1 - beta2 (``axis="beta2"``), both on log axes."""
    frame = result["solutions"]
    frame = frame[frame["reached"] & (frame["in_eta_sweep"] | frame["selected"])]
    if axis == "beta2":
        frame = result["solutions"]
        frame = frame[frame["reached"] & (frame["in_beta2_sweep"] | frame["selected"])]
        frame = frame.assign(one_minus_beta2=1.0 - frame["beta2"].astype(float))
        x, x_title = "one_minus_beta2", "1 − β₂ (log)"
        where = f"η = {charts.format_sci(result['eta_for_beta2'])}"
    else:
        x, x_title = "eta", "η (log)"
        where = f"β₂ = {result['beta2_for_eta']:g}"
    frame = frame.assign(
        test_error_bar=accuracy_stderr(frame["test_acc"].fillna(0.0), result["n_test"])
    )
    sharp = _sweep_points(
        frame,
        x,
        "sharpness",
        log_x=True,
        x_title=x_title,
        y_title="λ₁(H) at the solution",
        title=f"Sharpness at the solution ({where})",
    )
    acc = _sweep_points(
        frame,
        x,
        "test_acc",
        log_x=True,
        x_title=x_title,
        y_title="held-out accuracy (±1 s.e.)",
        title="Held-out accuracy at the solution",
        error="test_error_bar",
    )
    return alt.hconcat(sharp, acc)


def solutions_table(result: dict) -> tuple[pd.DataFrame, str]:
    """The selected setting's runs."""
    frame = result["solutions"]
    rows = frame[frame["selected"]]
    table = pd.DataFrame(
        {
            "batch": rows["batch"],
            "steps to solution": [
                _fmt(v) if r else "not reached"
                for v, r in zip(rows["steps"], rows["reached"], strict=True)
            ],
            "λ₁(H) at solution": [_fmt(v) for v in rows["sharpness"]],
            "held-out accuracy": [_fmt(v) for v in rows["test_acc"]],
            "best held-out accuracy before (step)": [
                f"{a:.3f} ({s})"
                for a, s in zip(rows["best_test_acc"], rows["best_test_step"], strict=True)
            ],
            "status": rows["status"],
        }
    )
    sel = result["selection"]
    caption = (
        f"Selected: η = {charts.format_sci(sel['eta'])}, β₁ = {sel['beta1']:g}, "
        f"β₂ = {sel['beta2']:g} (red rings). Solution = first time the train loss is below "
        f"{result['loss_threshold']:g}."
    )
    return table, caption


def comparison_panel(
    scale: experiments.Scale,
    *,
    adam_etas: Sequence[float],
    momentum_etas: Sequence[float],
    beta2: float,
    beta2_options: Sequence[float] = (),
    loss_threshold: float,
    steps: int,
    track_every: int,
    eig_tol: float = 1e-2,
) -> widgets.ControlPanel:
    """Panel (b) of notebook 05: Adam at ``adam_etas`` against EMA heavy ball at
    ``momentum_etas`` (full batch, same beta1): sharpness at the solution against the steps to
    reach it.

    The beta2 slider sets Adam's beta2 (the settings in ``beta2_options`` are trained with the
    first Run, so the slider switches between them at once); beta1 applies to both; eta picks
    the Adam run to highlight. Result keys: ``solutions`` (both optimizers, ``selected``
    column), ``matched`` (:func:`matched_sharpness`), ``selection``.
    """
    adam_etas = sorted(float(e) for e in adam_etas)
    momentum_etas = sorted(float(e) for e in momentum_etas)
    options = sorted({float(beta2), *(float(b) for b in beta2_options)})
    base = scale.base.replace(
        eig_tol=eig_tol,
        loss_threshold=loss_threshold,
        steps=steps,
        track_every=track_every,
        batch_size=None,
        warmup_steps=0,
    )

    def selection(values):
        return (
            experiments.snap(values["eta"], adam_etas),
            _beta(values["beta1"]),
            _beta(values["beta2"], options),
        )

    def configs_for(values):
        eta, beta1, beta2 = selection(values)
        b2s = sorted(set(options) | {beta2})
        adam = [
            base.replace(optimizer="adam", eta=e, beta1=beta1, beta2=b)
            for b in b2s
            for e in sorted(set(adam_etas) | {eta})
        ]
        momentum = [
            base.replace(optimizer="ema_hb", eta=e, beta1=beta1, beta2=None) for e in momentum_etas
        ]
        return momentum + adam

    def compute(values, progress=None):
        eta, beta1, beta2 = selection(values)
        results = experiments.run_configs(configs_for(values), progress)
        frame = solutions(results, loss_threshold)
        frame = frame[
            (frame["optimizer"] == "ema_hb") | np.isclose(frame["beta2"].astype(float), beta2)
        ].reset_index(drop=True)
        frame["selected"] = (frame["optimizer"] == "adam") & np.isclose(frame["eta"], eta)
        adam = frame[frame["optimizer"] == "adam"]
        momentum = frame[frame["optimizer"] == "ema_hb"]
        return {
            "solutions": frame,
            "matched": matched_sharpness(adam, momentum),
            "selection": {"eta": eta, "beta1": beta1, "beta2": beta2},
            "loss_threshold": loss_threshold,
        }

    return widgets.ControlPanel(
        compute,
        [comparison_chart, TableView(comparison_table)],
        ready=_ready(configs_for),
        run_button=True,
        auto_run=False,
        eta=_eta_widget(adam_etas[0], 3e-5, 1e-2),
        beta1=(0.9, 0.0, 0.99),
        beta2=_beta2_widget(beta2),
    )


def comparison_chart(result: dict) -> alt.LayerChart:
    """Sharpness at the solution against steps to the solution, Adam and EMA heavy ball, each
    point labelled with its eta; the selected Adam run ringed; a grey dash above each momentum
    run marks its threshold (2 + 2 beta1) / ((1 - beta1) eta)."""
    frame = result["solutions"]
    frame = frame[frame["reached"]].copy()
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
    ring = (
        alt.Chart(frame[frame["selected"]])
        .mark_point(size=260, filled=False, strokeWidth=2.5, color=HIGHLIGHT_COLOR)
        .encode(x=x, y=y, tooltip=tooltip)
    )
    momentum = frame[frame["optimizer"] == "ema_hb"]
    caps = momentum.assign(
        cap=thresholds.threshold(
            "ema_hb", momentum["eta"].to_numpy(float), result["selection"]["beta1"]
        )
    )
    cap = (
        alt.Chart(caps)
        .mark_tick(color=charts.NEUTRAL_COLOR, thickness=2, size=22, orient="horizontal")
        .encode(
            x=x,
            y=alt.Y("cap:Q"),
            tooltip=[
                alt.Tooltip("eta:Q", title="momentum η"),
                alt.Tooltip("cap:Q", format=".3g", title="its threshold"),
            ],
        )
    )
    sel = result["selection"]
    title = (
        f"Sharpness at the solution against training time (Adam β₂ = {sel['beta2']:g}, "
        f"β₁ = {sel['beta1']:g})"
    )
    return alt.layer(cap, lines, text, ring).properties(title=title, width=520, height=260)


def comparison_table(result: dict) -> tuple[pd.DataFrame, str]:
    """Adam runs inside momentum's range of training times, against momentum interpolated."""
    matched = result["matched"]
    frame = pd.DataFrame(
        {
            "Adam η": [charts.format_sci(e) for e in matched["eta"]],
            "steps": matched["steps"].astype(int),
            "Adam λ₁(H)": [_fmt(v) for v in matched["sharpness"]],
            "momentum λ₁(H) at the same steps": [_fmt(v) for v in matched["momentum_sharpness"]],
            "ratio": [f"{v:.2f}" for v in matched["ratio"]],
        }
    )
    caption = (
        "Momentum's value is interpolated (in log steps) between its two runs that bracket "
        "Adam's training time; Adam runs faster or slower than every momentum run are left out."
    )
    return frame, caption
