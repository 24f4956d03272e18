r"""Experiments, tidy tables, charts and panels of notebooks 02 (frozen Adam) and 03 (Adam at
the adaptive edge of stability).

Everything here trains the networks of :mod:`aeos_lab.models` through the engine of
:mod:`aeos_lab.train`, whose disk cache makes a second visit instant. Three layers, as in
:mod:`aeos_lab.stability`:

* compute functions returning dicts of tidy DataFrames and numbers; the notebooks'
  self-checks assert on these (``frozen_sweep``, ``equilibrium_sweeps``, ...);
* chart builders (Altair, on :mod:`aeos_lab.charts`) and small HTML tables;
* ``*_panel`` functions wiring both into a
  :class:`aeos_lab.widgets.ControlPanel` with sliders named ``eta``, ``beta1``, ``beta2`` whose
  Run button is only needed for settings that have not been trained yet. A setting whose runs
  are all in the engine's cache is shown at once.

The lab task
------------
The paper trains on 5,000 CIFAR-10 images. On two CPU cores that is out of reach, so these
notebooks use :data:`LAB_TASK`: the 1,500 training digits of :data:`aeos_lab.data.DEFAULT_TASK`
with every label replaced by a random class, and the paper's fully connected tanh network of
depth 5 at width 100 instead of 200 (a step costs about a third). Fitting random labels is pure
memorisation: the loss falls slowly and progressive sharpening goes on for the whole run. With
30% noise (the default task) the frozen-Adam and AEoS effects show too, but Adam's raw
sharpness rises less late in a run (measured: +12% against +34% at eta = 1e-4, beta2 = 0.99,
over steps 1000-1500), and it is that rise which notebooks 02 and 03 contrast with frozen Adam.
:data:`aeos_lab.experiments.PAPER_TASK` is the paper's CIFAR-10 setting, used when
``paper_scale`` is asked for and a GPU is present (:func:`choose_scale`).

Measured quantities (columns of the engine's records): ``sharpness`` = lambda_1(H),
``precond_sharpness`` = lambda_1(P^-1 H) (computed as lambda_1(P^-1/2 H P^-1/2)),
``threshold`` = the optimizer's stability threshold at the current learning rate (Table 1 of
the paper, for the frozen counterpart), ``ratio`` = precond_sharpness / threshold.

Running many configs
--------------------
:func:`run_all` trains configs one after the other. On this machine (two CPU cores) a
vmapped sweep of three learning rates (:func:`aeos_lab.train.sweep`) took about 2.5 times the
CPU time of three separate runs, and runs that differ only in eta, beta1 or beta2 share one
compilation either way, so the sequential loop is the faster choice here.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import altair as alt
import ipywidgets
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.flatten_util import ravel_pytree

from aeos_lab import experiments
from aeos_lab.core import optimizers, thresholds
from aeos_lab.core.validation import check_int_at_least
from aeos_lab.engine import analysis, cache, losses, train
from aeos_lab.engine.config import RunConfig
from aeos_lab.stability import TableView
from aeos_lab.viz import charts, widgets

__all__ = [
    "BEHAVIOUR_SHARE",
    "LAB_TASK",
    "LOG10_P_BINS",
    "OPTIMIZER_SETTINGS",
    "PAPER_SIZES_02",
    "PAPER_SIZES_03",
    "P_QUANTILES",
    "ZOOM_QUANTITIES",
    "EquilibriumGrid",
    "adam_config",
    "adam_precond",
    "choose_scale",
    "cnn_panel",
    "cnn_runs",
    "corner_case",
    "corner_panel",
    "equilibrium_panel",
    "equilibrium_sweeps",
    "frozen_config",
    "frozen_sweep",
    "frozen_sweep_panel",
    "isomorphism_check",
    "isomorphism_panel",
    "late_ratio",
    "late_rise",
    "optimizer_config",
    "optimizer_panel",
    "optimizer_runs",
    "oscillation_stats",
    "precond_source_panel",
    "precond_source_result",
    "precond_trace",
    "raw_rise_comparison",
    "raw_rise_panel",
    "threshold_crossings",
    "trajectories",
    "zoom",
    "zoom_config",
    "zoom_panel",
]

LAB_TASK = {
    "dataset": "digits",
    "n_train": 1500,
    "n_test": 297,
    "label_noise": 1.0,
    "model": "fc",
    "width": 100,
    "depth": 5,
}
"""The CPU task of notebooks 02 and 03 (see the module docstring)."""

PAPER_SIZES_02 = {
    "STEPS": 5000,
    "TRACK_EVERY": 100,
    "EIG_TOL": 1e-3,
    "BETA2": 0.999,
    "FREEZE_ETA": 2e-5,
    "FREEZE_AT": 1100,
    "FROZEN_ETAS": (1e-5, 2e-5, 4e-5),
    "SNAPSHOTS": (0, 100, 300, 600),
    "TRACE_EVERY": 20,
}
"""Notebook 02's parameters at paper scale (Fig. 3; App. G.2: P from step 1100 of Adam at eta
2e-5). The frozen learning rates and step counts are our choice: the paper does not list them.
Not run here (no GPU and no CIFAR-10 download on this machine)."""

PAPER_SIZES_03 = {
    "EIG_TOL": 1e-3,
    "EQ_STEPS": 3000,
    "EQ_TRACK": 50,
    "EQ_ETAS": (1e-5, 3e-5, 1e-4, 3e-4),
    "EQ_ETA": 1e-4,
    "FIG8_STEPS": 5000,
    "FIG8_TRACK": 100,
    "FIG8_BETA2": 0.99,
    "FIG8_ETAS": (5e-5, 1e-4, 2e-4, 4e-4),
    "FREEZE_ETA": 2e-5,
    "FREEZE_AT": 1100,
    "ZOOM_LENGTH": 200,
    "ZOOM_STARTS": {5e-5: 3000, 2e-4: 1500},
    "OPT_STEPS": 3000,
    "OPT_TRACK": 50,
    "OPT_ETAS": {
        "Adam, bias-corrected": tuple(np.logspace(np.log10(3e-5), -3, 5)),
        "AdamW": tuple(np.logspace(np.log10(3e-5), -3, 5)),
        "Adafactor": tuple(np.logspace(-5, -3, 5)),
        "AMSGrad": tuple(np.logspace(-5, -3, 5)),
        "Padam": tuple(np.logspace(-3, -1, 5)),
        "Nadam": tuple(np.logspace(-5, -3, 5)),
        "RMSprop": tuple(np.logspace(-4, -3, 5)),
        "Adagrad": tuple(np.logspace(-2, -1, 5)),
    },
    "CORNER_ETA": 2.236e-6,
    "CORNER_STEPS": 10000,
    "CORNER_FREEZE": 6000,
    "CNN_ETAS": (1e-5, 3e-5, 1e-4),
    "CNN_STEPS": 2000,
    "CNN_TRACK": 50,
}
"""Notebook 03's parameters at paper scale: learning rates of Figs. 1, 8, 9 (sec. 4, 6) and
Fig. 5's grids (App. G.2); the corner case at Fig. 16's eta and freeze step (the paper uses a
CNN there, the panel keeps the FC network). Step counts are our choice. Not run here (no GPU
and no CIFAR-10 download on this machine)."""


LAB_LABEL = (
    "the lab task: 1,500 digits with random labels, FC tanh network of width 100 and depth 5, "
    "full batch, MSE loss"
)


def choose_scale(paper_scale: bool, platform: str | None | bool = True) -> experiments.Scale:
    """:data:`LAB_TASK`, or the paper's CIFAR-10 task when ``paper_scale`` is asked for on a
    GPU (:func:`aeos_lab.experiments.choose_scale`)."""
    return experiments.choose_scale(
        paper_scale, RunConfig(**LAB_TASK), LAB_LABEL, platform=platform
    )


def _training_panel(
    compute: Callable,
    charts_: list,
    ready: Callable[[dict], bool],
    *,
    eta: tuple[float, float, float],
    beta1: float,
    beta2: float,
    beta1_low: float = 0.5,
    **controls,
) -> widgets.ControlPanel:
    """A panel over training runs: a Run button for new settings, ``ready`` for trained ones,
    an eta log slider (value, min, max), a beta1 slider from ``beta1_low`` to 0.99 and a beta2
    slider from 0.9 to 0.999; ``controls`` go on to :class:`aeos_lab.widgets.ControlPanel`."""
    return widgets.ControlPanel(
        compute,
        charts_,
        ready=ready,
        run_button=True,
        auto_run=False,
        eta=widgets.eta_slider(*eta, step=0.05),
        beta1=(beta1, beta1_low, 0.99),
        beta2=(beta2, 0.9, 0.999, 0.001),
        **controls,
    )


# ---------------------------------------------------------------------------------------------
# Tidy tables and summaries shared by both notebooks


def describe_eta(eta: float) -> str:
    return f"η={charts.format_sci(eta, 3)}"


def trajectories(results: Sequence, labels: Sequence[str] | None = None) -> pd.DataFrame:
    """The tidy table of ``results`` (:func:`aeos_lab.train.to_table`) plus a ``label`` column.

    Step 0 is dropped for adaptive optimizers: there nu = 0, so P = eps and the preconditioned
    sharpness is thousands of times the threshold (it would flatten every chart). Frozen Adam
    keeps its step 0 (its P is the frozen one from the start).
    """
    frames = []
    for i, result in enumerate(results):
        frame = train.to_table([result])
        if result.config.optimizer != "frozen_adam":
            frame = frame[frame["step"] > 0]
        frame["label"] = experiments.describe(result.config) if labels is None else labels[i]
        frames.append(frame)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def late_ratio(records: pd.DataFrame, fraction: float = 1 / 3) -> float:
    """Median of psharp / threshold over the last ``fraction`` of the run's steps."""
    return analysis.late_median(records, "ratio", fraction)


def late_rise(records: pd.DataFrame, column: str = "sharpness", fraction: float = 1 / 3) -> float:
    """Relative change of ``column`` over the last ``fraction`` of the run: (last - first) /
    first, first taken at the first record of that stretch (:func:`aeos_lab.analysis.rise`)."""
    return analysis.rise(records, column, start=1 - fraction)


def threshold_crossings(records: pd.DataFrame, column: str = "ratio") -> list[int]:
    """Steps at which ``column`` goes from <= 1 to > 1 between consecutive records (the steps
    where the preconditioned sharpness crosses its threshold upwards, Fig. 9's red lines)."""
    values = records[column].to_numpy()
    steps = records["step"].to_numpy()
    up = (values[:-1] <= 1.0) & (values[1:] > 1.0)
    return [int(s) for s in steps[1:][up]]


def oscillation_stats(records: pd.DataFrame, fraction: float = 1 / 3) -> dict:
    """How psharp / threshold behaves late in a run: ``median``, ``share_above`` (share of
    records with ratio > 1), ``low`` and ``high`` (10th and 90th percentiles).

    Hovering above the threshold (App. C: GD-like methods) shows as share_above near 1 and a
    10th percentile near or above 1; oscillating around it (heavy-ball methods) as a share
    well below 1 and a 10th percentile clearly under 1.
    """
    ratio = analysis.late(records, fraction)["ratio"].to_numpy()
    return {
        "median": float(np.median(ratio)),
        "share_above": float(np.mean(ratio > 1.0)),
        "low": float(np.quantile(ratio, 0.1)),
        "high": float(np.quantile(ratio, 0.9)),
    }


def _sci(value: float, digits: int = 3) -> str:
    return charts.format_sci(value, digits)


# ---------------------------------------------------------------------------------------------
# Chart helpers


def _emphasise(chart, field: str = "selected"):
    """Draw rows with ``field`` true fully opaque and thicker, the others faded."""
    main = charts.main_layer(chart)
    main.encoding.opacity = alt.condition(f"datum.{field}", alt.value(1.0), alt.value(0.45))
    main.encoding.strokeWidth = alt.condition(f"datum.{field}", alt.value(3.0), alt.value(1.5))
    return chart


def _step_rules(steps: Sequence[int], color: str = "#d62728", dash=(2, 3)) -> alt.Chart:
    frame = pd.DataFrame({"step": [int(s) for s in steps]})
    return (
        alt.Chart(frame)
        .mark_rule(color=color, strokeDash=list(dash), strokeWidth=1.2)
        .encode(x="step:Q")
    )


def trajectory_chart(
    table: pd.DataFrame,
    y: str,
    *,
    title: str,
    y_title: str,
    color: str = "eta",
    log_y: bool = False,
    threshold_rules: pd.DataFrame | None = None,
    eta_domain: Sequence[float] | None = None,
    emphasise: bool = False,
    width: int = 330,
    height: int = 200,
) -> alt.LayerChart | alt.Chart:
    """One quantity against the step, one line per run (coloured by ``color``), optional
    dashed threshold rules (:func:`aeos_lab.charts.threshold_frame`) and, with
    ``emphasise``, the rows with ``selected`` true drawn bold."""
    detail = ["label"] + (["selected"] if emphasise else [])
    detail = [d for d in detail if d != color]
    chart = charts.line_chart(
        table,
        y=y,
        color=color,
        detail=detail,
        log_y=log_y,
        thresholds=threshold_rules,
        eta_domain=eta_domain,
        x_title="step",
        y_title=y_title,
    )
    if emphasise:
        chart = _emphasise(chart)
    return chart.properties(title=title, width=width, height=height)


# ---------------------------------------------------------------------------------------------
# Notebook 02 (a): where frozen Adam's P comes from

P_QUANTILES = {"P_min": 0.0, "P_10%": 0.1, "P_median": 0.5, "P_90%": 0.9, "P_max": 1.0}
"""Quantiles of the entries of P recorded along an Adam run by :func:`precond_trace`."""

LOG10_P_BINS = np.arange(-8.0, 1.0001, 0.125)
"""Histogram bins of log10 P (P = sqrt(nu) + eps lies between eps = 1e-7 and ~1 here)."""


def _task_key(config: RunConfig) -> RunConfig:
    """``config`` with everything but the task (data, model, loss, eps, seed, dtype) reset: the
    key of the jitted kernels below, which take eta, beta1, beta2 as traced arguments."""
    return RunConfig(
        eps=config.eps,
        dataset=config.dataset,
        n_train=config.n_train,
        n_test=config.n_test,
        label_noise=config.label_noise,
        data_seed=config.data_seed,
        model=config.model,
        width=config.width,
        depth=config.depth,
        loss=config.loss,
        seed=config.seed,
        dtype=config.dtype,
    )


@functools.lru_cache(maxsize=4)
def _adam_kernels(key: RunConfig):
    """Jitted full-batch Adam (no bias correction) on the task of ``key``: ``init(hyper)``,
    ``advance(params, state, hyper, n)`` (n steps, n traced) and ``summary(params, state)``
    (loss and :data:`P_QUANTILES` of P). hyper = (eta, beta1, beta2)."""
    problem = train.build_problem(key)
    loss_of = losses.get_loss(key.loss)
    eps = {} if key.eps is None else {"eps": key.eps}

    def full_loss(params, x, y):
        return loss_of(problem.model.apply(params, x), y)

    def adam(hyper):
        return optimizers.adam(hyper[0], beta1=hyper[1], beta2=hyper[2], **eps)

    @jax.jit
    def init(hyper):
        return adam(hyper).init(problem.params0)

    @jax.jit
    def advance(params, state, hyper, n, x, y):
        opt = adam(hyper)

        def body(_, carry):
            p, s = carry
            updates, s = opt.update(jax.grad(full_loss)(p, x, y), s, p)
            return jax.tree.map(jnp.add, p, updates), s

        return jax.lax.fori_loop(0, n, body, (params, state))

    @jax.jit
    def summary(params, state, x, y):
        flat = ravel_pytree(optimizers.preconditioner(state))[0]
        levels = jnp.asarray(list(P_QUANTILES.values()), flat.dtype)
        return full_loss(params, x, y), jnp.quantile(flat, levels)

    return problem, init, advance, summary


def _layer_labels(params: dict) -> list[tuple[str, int]]:
    """(label, size) per top-level layer, in order: "layer 1", ..., "layer L (output)"."""
    names = list(params)
    out = []
    for i, name in enumerate(names):
        size = sum(int(np.size(leaf)) for leaf in jax.tree.leaves(params[name]))
        label = f"layer {i + 1}" + (" (output)" if i == len(names) - 1 else "")
        out.append((label, size))
    return out


def _log10_histogram(precond: dict, bins: np.ndarray = LOG10_P_BINS) -> pd.DataFrame:
    """Counts of log10 P per layer (columns layer, log10_P = bin centre, count; empty bins
    dropped). Values outside the bins are counted in the first or last bin."""
    frames = []
    labels = _layer_labels(precond)
    for (label, _), name in zip(labels, precond, strict=True):
        values = np.concatenate(
            [np.ravel(np.asarray(leaf)) for leaf in jax.tree.leaves(precond[name])]
        )
        logs = np.clip(np.log10(values.astype(float)), bins[0], bins[-1] - 1e-9)
        counts, _ = np.histogram(logs, bins=bins)
        centres = (bins[:-1] + bins[1:]) / 2
        keep = counts > 0
        frames.append(
            pd.DataFrame({"layer": label, "log10_P": centres[keep], "count": counts[keep]})
        )
    return pd.concat(frames, ignore_index=True)


def _trace_cache_key(kind: str, payload: dict) -> str:
    text = json.dumps({"kind": kind, **payload}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _precond_trace_key(config: RunConfig, snapshots: Sequence[int], every: int) -> str:
    payload = {
        "task": _task_key(config).key(),
        "hyper": [config.eta, config.beta1, config.beta2],
        "snapshots": sorted({int(s) for s in snapshots}),
        "every": int(every),
    }
    return _trace_cache_key("precond_trace", payload)


def precond_trace(
    config: RunConfig,
    snapshot_steps: Sequence[int],
    *,
    every: int = 10,
    progress: Callable | None = None,
    use_cache: bool = True,
) -> dict:
    """Adam (``config``'s eta, beta1, beta2, eps; full batch, no bias correction) from the
    initialisation, recording its preconditioner P_t = sqrt(nu_t) + eps.

    nu_0 = 0 and nu_{t+1} = beta2 nu_t + (1 - beta2) g_t^2, so P_0 = eps everywhere and P then
    follows the root-mean-square of recent gradients, entry by entry. Frozen Adam (``freeze_at``
    = t) uses P_t for its whole run.

    Returns ``trace`` (step, loss and the :data:`P_QUANTILES` every ``every`` steps up to the
    last snapshot), ``hist`` (step, layer, log10_P, count: a histogram of log10 P per layer at
    each of ``snapshot_steps``) and ``summary`` (one row per snapshot: step, loss, P_median,
    spread_decades = log10(max / min) over the entries with P >= 10 eps, at_eps = share of
    entries with P < 10 eps: parameters that never had a gradient).
    Results are kept in the engine's disk cache.
    """
    snapshots = sorted({check_int_at_least(int(s), 0, "snapshot_steps") for s in snapshot_steps})
    every = check_int_at_least(every, 1, "every")
    eps = config.eps if config.eps is not None else 1e-7
    key = _precond_trace_key(config, snapshots, every)
    stored = cache.load(key) if use_cache else None
    if stored is None:
        stored = _compute_precond_trace(config, snapshots, every, eps, progress)
        if use_cache:
            cache.save(key, stored)
    return {name: pd.DataFrame(rows) for name, rows in stored.items()}


def _compute_precond_trace(config, snapshots, every, eps, progress) -> dict:
    problem, init, advance, summary = _adam_kernels(_task_key(config))
    dtype = problem.x_train.dtype
    hyper = jnp.asarray([config.eta, config.beta1, config.beta2], dtype)
    x, y = problem.x_train, problem.y_train
    params, state = problem.params0, init(hyper)
    last = snapshots[-1]
    points = sorted(set(range(0, last + 1, every)) | set(snapshots))
    trace, hists, rows = [], [], []
    done = 0
    for point in points:
        if point > done:
            params, state = advance(params, state, hyper, point - done, x, y)
            done = point
        loss, quantiles = jax.device_get(summary(params, state, x, y))
        trace.append(
            {"step": point, "loss": float(loss)}
            | dict(zip(P_QUANTILES, map(float, quantiles), strict=True))
        )
        if point in snapshots:
            precond = jax.device_get(optimizers.preconditioner(state))
            hist = _log10_histogram(precond)
            hist.insert(0, "step", point)
            hists.append(hist)
            flat = np.concatenate([np.ravel(a) for a in jax.tree.leaves(precond)]).astype(float)
            live = flat[flat >= 10 * eps]
            rows.append(
                {
                    "step": point,
                    "loss": float(loss),
                    "P_median": float(np.median(flat)),
                    "spread_decades": float(np.log10(live.max() / live.min()))
                    if live.size
                    else 0.0,
                    "at_eps": float(np.mean(flat < 10 * eps)),
                }
            )
        if progress is not None:
            progress(point, last, f"Adam η={_sci(config.eta)}: recording P")
    return {
        "trace": pd.DataFrame(trace).to_dict("list"),
        "hist": pd.concat(hists, ignore_index=True).to_dict("list"),
        "summary": pd.DataFrame(rows).to_dict("list"),
    }


def precond_source_result(trace: dict, step: int, freeze_at: int | None = None) -> dict:
    """What panel (a) shows for one chosen snapshot ``step`` of a :func:`precond_trace`."""
    summary = trace["summary"]
    if step not in set(summary["step"]):
        raise ValueError(f"step must be one of the snapshots {list(summary['step'])}, got {step}")
    quantiles = trace["trace"].melt(id_vars=["step", "loss"], var_name="quantile", value_name="P")
    return {
        "quantiles": quantiles,
        "loss": trace["trace"][["step", "loss"]],
        "hist": trace["hist"][trace["hist"]["step"] == step].reset_index(drop=True),
        "row": summary.set_index("step").loc[step].to_dict() | {"step": step},
        "step": step,
        "freeze_at": freeze_at,
    }


def precond_quantile_chart(result: dict) -> alt.LayerChart:
    """Quantiles of P along the Adam run (log axis) with a rule at the chosen step."""
    frame = result["quantiles"][result["quantiles"]["step"] > 0]
    order = list(P_QUANTILES)
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
            color=alt.Color("quantile:N", sort=order, scale=alt.Scale(scheme="viridis")),
            tooltip=["step:Q", "quantile:N", alt.Tooltip("P:Q", format=".3g")],
        )
    )
    rule = _step_rules([result["step"]], color=charts.NEUTRAL_COLOR, dash=(6, 4))
    text = (
        alt.Chart(
            pd.DataFrame({"step": [result["step"]], "text": [f"P taken at t = {result['step']}"]})
        )
        .mark_text(align="left", dx=4, baseline="top", fontSize=11)
        .encode(x="step:Q", y=alt.YValue(4), text="text:N")
    )
    return alt.layer(lines, rule, text).properties(
        title="How Adam's P = √ν + ε spreads out", width=330, height=220
    )


def precond_histogram_chart(result: dict) -> alt.LayerChart:
    """Histogram of log10 P at the chosen step, stacked by layer, with a rule at log10 eps."""
    hist = result["hist"]
    bars = (
        alt.Chart(hist)
        .mark_bar()
        .encode(
            x=alt.X(
                "log10_P:Q",
                title="log₁₀ P (per parameter)",
                bin=alt.Bin(binned=True, step=float(LOG10_P_BINS[1] - LOG10_P_BINS[0])),
                scale=alt.Scale(domain=[float(LOG10_P_BINS[0]), float(LOG10_P_BINS[-1])]),
            ),
            x2=alt.X2("right:Q"),
            y=alt.Y("count:Q", title="parameters", stack=True),
            color=alt.Color("layer:N", title="layer"),
            tooltip=["layer:N", alt.Tooltip("log10_P:Q", format=".2f"), "count:Q"],
        )
        .transform_calculate(right=f"datum.log10_P + {float(LOG10_P_BINS[1] - LOG10_P_BINS[0])}")
    )
    eps_rule = (
        alt.Chart(pd.DataFrame({"log10_P": [-7.0], "text": ["ε = 1e-7"]}))
        .mark_rule(strokeDash=charts.THRESHOLD_DASH, color=charts.NEUTRAL_COLOR)
        .encode(x="log10_P:Q")
    )
    return alt.layer(bars, eps_rule).properties(
        title=f"P at step {result['step']}: one entry per parameter", width=330, height=220
    )


def precond_source_table(result: dict) -> tuple[pd.DataFrame, str]:
    row = result["row"]
    frame = pd.DataFrame(
        {
            "step t": [row["step"]],
            "train loss": [_sci(row["loss"])],
            "median P": [_sci(row["P_median"])],
            "spread of P (decades)": [f"{row['spread_decades']:.1f}"],
            "share of P still near ε": [f"{row['at_eps']:.1%}"],
        }
    )
    note = (
        f"Frozen Adam in (b) uses P from step {result['freeze_at']} of this run."
        if result["freeze_at"] is not None
        else ""
    )
    return frame, note


def precond_source_panel(
    base: RunConfig,
    *,
    snapshot_steps: Sequence[int],
    freeze_at: int,
    every: int = 10,
    eta_range: tuple[float, float] = (1e-5, 1e-2),
) -> widgets.ControlPanel:
    """Panel (a) of notebook 02: Adam's P along a run; ``step`` picks the snapshot shown.

    ``base`` gives the task and the initial eta, beta1, beta2 of the Adam run. A new (eta,
    beta1, beta2) needs Run; the step slider only picks among recorded snapshots.
    """
    snapshots = sorted(set(snapshot_steps) | {freeze_at})

    def config_of(values):
        return base.replace(eta=values["eta"], beta1=values["beta1"], beta2=values["beta2"])

    def compute(values, progress=None):
        trace = precond_trace(config_of(values), snapshots, every=every, progress=progress)
        return precond_source_result(trace, values["step"], freeze_at)

    def ready(values):
        key = _precond_trace_key(config_of(values), snapshots, every)
        return cache.load(key) is not None

    step_slider = ipywidgets.SelectionSlider(
        options=snapshots, value=freeze_at, description="step", continuous_update=False
    )
    return _training_panel(
        compute,
        [precond_quantile_chart, precond_histogram_chart, TableView(precond_source_table)],
        ready,
        eta=(base.eta, *eta_range),
        beta1=base.beta1,
        beta2=base.beta2,
        beta1_low=0.0,
        extra={"step": step_slider},
    )


# ---------------------------------------------------------------------------------------------
# Notebook 02 (b): frozen Adam at the edge of stability (Fig. 3)


def frozen_config(base: RunConfig, eta: float, *, freeze_at: int, freeze_eta: float) -> RunConfig:
    """Frozen Adam at ``eta``: P from step ``freeze_at`` of Adam at ``freeze_eta`` (same init,
    same beta1 and beta2 as ``base``), then EMA heavy ball preconditioned by that P."""
    return base.replace(
        optimizer="frozen_adam", eta=eta, freeze_at=freeze_at, freeze_eta=freeze_eta
    )


def adam_config(base: RunConfig, eta: float) -> RunConfig:
    return base.replace(optimizer="adam", eta=eta, freeze_at=None, freeze_eta=None)


def frozen_sweep(
    base: RunConfig,
    etas: Sequence[float],
    *,
    freeze_at: int,
    freeze_eta: float,
    selected: float | None = None,
    fraction: float = 1 / 3,
    progress: Callable | None = None,
) -> dict:
    """Frozen Adam and Adam from the same initialisation at each eta of ``etas`` (plus
    ``selected``, if it is not one of them).

    Returns ``frozen`` and ``adam`` (tidy tables, :func:`trajectories`, with a ``selected``
    column), ``thresholds`` (38/eta rules per eta, for beta1 = 0.9), and ``summary``: per eta,
    the late median of psharp / threshold of frozen Adam (``late_ratio``, over the last
    ``fraction`` of the steps) and the late relative rise of the raw sharpness under frozen
    Adam and under Adam (``frozen_rise``, ``adam_rise``, :func:`late_rise`).
    """
    etas = list(etas)
    if selected is not None and selected not in etas:
        etas.append(selected)
    frozen = [frozen_config(base, e, freeze_at=freeze_at, freeze_eta=freeze_eta) for e in etas]
    adam = [adam_config(base, e) for e in etas]
    results = experiments.run_configs(frozen + adam, progress)
    frozen_results, adam_results = results[: len(etas)], results[len(etas) :]
    tables = {}
    for name, group in (("frozen", frozen_results), ("adam", adam_results)):
        table = trajectories(group, [describe_eta(e) for e in etas])
        table["selected"] = np.isclose(table["eta"], selected) if selected is not None else False
        tables[name] = table
    beta1 = base.beta1 if base.beta1 is not None else 0.9
    rows = []
    for eta, fr, ad in zip(etas, frozen_results, adam_results, strict=True):
        rows.append(
            {
                "eta": eta,
                "threshold": thresholds.optimizer_threshold("frozen_adam", eta, beta1),
                "late_ratio": late_ratio(fr.records, fraction),
                "frozen_rise": late_rise(fr.records, "sharpness", fraction),
                "adam_rise": late_rise(ad.records, "sharpness", fraction),
                "adam_late_ratio": late_ratio(ad.records, fraction),
                "frozen_final_sharpness": float(fr.records["sharpness"].iloc[-1]),
                "adam_final_sharpness": float(ad.records["sharpness"].iloc[-1]),
                "diverged": fr.diverged,
                "selected": selected is not None and math.isclose(eta, selected),
            }
        )
    summary = pd.DataFrame(rows)
    rules = charts.threshold_frame(
        summary["threshold"].to_numpy(),
        thresholds.threshold_formula("adam", beta1),
        eta=summary["eta"].to_numpy(),
    )
    return {
        "frozen": tables["frozen"],
        "adam": tables["adam"],
        "thresholds": rules,
        "summary": summary,
        "selected": selected,
        "steps": base.steps,
        "fraction": fraction,
    }


def frozen_charts(eta_domain: Sequence[float]) -> list:
    """The four chart builders of panel (b): loss, preconditioned sharpness with 38/eta
    rules, raw sharpness, and raw sharpness of frozen Adam against Adam at the chosen eta."""

    def loss(result):
        return trajectory_chart(
            result["frozen"],
            "loss",
            title="Train loss (frozen Adam)",
            y_title="loss (log)",
            log_y=True,
            eta_domain=eta_domain,
            emphasise=True,
        )

    def psharp(result):
        return trajectory_chart(
            result["frozen"],
            "precond_sharpness",
            title="Preconditioned sharpness λ₁(P⁻¹H) and 38/η",
            y_title="λ₁(P⁻¹H) (log)",
            log_y=True,
            threshold_rules=result["thresholds"],
            eta_domain=eta_domain,
            emphasise=True,
        )

    def raw(result):
        return trajectory_chart(
            result["frozen"],
            "sharpness",
            title="Raw sharpness λ₁(H) (frozen Adam)",
            y_title="λ₁(H)",
            eta_domain=eta_domain,
            emphasise=True,
        )

    def versus(result):
        eta = result["selected"]
        both = pd.concat(
            [
                result["frozen"][np.isclose(result["frozen"]["eta"], eta)].assign(
                    run="frozen Adam"
                ),
                result["adam"][np.isclose(result["adam"]["eta"], eta)].assign(run="Adam"),
            ],
            ignore_index=True,
        )
        start = result["steps"] * (1 - result["fraction"])
        chart = charts.line_chart(both, y="sharpness", color="run", x_title="step", y_title="λ₁(H)")
        shade = (
            alt.Chart(pd.DataFrame({"start": [start], "stop": [result["steps"]]}))
            .mark_rect(opacity=0.08, color="black")
            .encode(x="start:Q", x2="stop:Q")
        )
        return alt.layer(shade, chart).properties(
            title=f"Raw sharpness at η = {_sci(eta)}: frozen Adam vs Adam (grey: last third)",
            width=330,
            height=200,
        )

    return [loss, psharp, raw, versus]


def frozen_table(result: dict) -> tuple[pd.DataFrame, str]:
    summary = result["summary"]
    frame = pd.DataFrame(
        {
            "η": [_sci(e) for e in summary["eta"]],
            "38/η": [_sci(t) for t in summary["threshold"]],
            "frozen: late λ₁(P⁻¹H) / (38/η)": [f"{r:.3f}" for r in summary["late_ratio"]],
            "frozen: rise of λ₁(H), last third": [f"{r:+.1%}" for r in summary["frozen_rise"]],
            "Adam: rise of λ₁(H), last third": [f"{r:+.1%}" for r in summary["adam_rise"]],
            "shown bold": np.where(summary["selected"], "◀", ""),
        }
    )
    caption = "Late = median over the last third of the run; rise = relative change over it."
    return frame, caption


def _frozen_and_adam_panel(
    sweep: Callable,
    charts_: list,
    base: RunConfig,
    etas: Sequence[float],
    *,
    freeze_at: int,
    freeze_eta: float,
    initial_eta: float,
    eta_range: tuple[float, float],
) -> widgets.ControlPanel:
    """A panel over the runs of :func:`frozen_sweep` (frozen Adam and Adam at every eta):
    ``sweep`` is :func:`frozen_sweep` or a function built on it with the same arguments."""
    etas = list(etas)

    def settings(values):
        sweep_base = base.replace(beta1=values["beta1"], beta2=values["beta2"])
        return sweep_base, experiments.snap(values["eta"], etas)

    def compute(values, progress=None):
        sweep_base, eta = settings(values)
        return sweep(
            sweep_base,
            etas,
            freeze_at=freeze_at,
            freeze_eta=freeze_eta,
            selected=eta,
            progress=progress,
        )

    def ready(values):
        sweep_base, eta = settings(values)
        grid = etas + ([eta] if eta not in etas else [])
        return experiments.trained(
            [
                config
                for e in grid
                for config in (
                    frozen_config(sweep_base, e, freeze_at=freeze_at, freeze_eta=freeze_eta),
                    adam_config(sweep_base, e),
                )
            ]
        )

    return _training_panel(
        compute,
        charts_,
        ready,
        eta=(initial_eta, *eta_range),
        beta1=base.beta1,
        beta2=base.beta2,
    )


def frozen_sweep_panel(
    base: RunConfig,
    etas: Sequence[float],
    *,
    freeze_at: int,
    freeze_eta: float,
    eta_range: tuple[float, float] = (1e-4, 1e-2),
) -> widgets.ControlPanel:
    """Panel (b) of notebook 02 (Fig. 3): frozen Adam at every eta of ``etas``.

    The eta slider picks the run drawn bold; an eta that is not in the sweep adds a run (and
    moves it along when the slider moves again), trained when Run is pressed. beta1 and beta2
    change the whole sweep (beta2 through the Adam run that supplies P).
    """
    return _frozen_and_adam_panel(
        frozen_sweep,
        [*frozen_charts(eta_range), TableView(frozen_table)],
        base,
        etas,
        freeze_at=freeze_at,
        freeze_eta=freeze_eta,
        initial_eta=list(etas)[len(etas) // 2],
        eta_range=eta_range,
    )


# ---------------------------------------------------------------------------------------------
# Notebook 02 (c): Prop. 1 on the network


def _x64():
    """Context manager enabling float64 in JAX for a block (jax >= 0.6: ``jax.enable_x64``)."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # older jax, e.g. Colab's  # pragma: no cover

    return enable_x64()  # pragma: no cover


@functools.lru_cache(maxsize=4)
def _isomorphism_kernel(key: RunConfig, steps: int):
    """Jitted (float64) runs of frozen Adam on f and EMA heavy ball on f~(z) = f(P^-1/2 z)."""
    problem = train.build_problem(key)
    loss_of = losses.get_loss(key.loss)

    def loss(params, x, y):
        return loss_of(problem.model.apply(params, x), y)

    def run(tx, objective, start, x, y):
        def body(carry, _):
            z, state = carry
            updates, state = tx.update(jax.grad(objective)(z, x, y), state, z)
            z = jax.tree.map(jnp.add, z, updates)
            return (z, state), z

        _, path = jax.lax.scan(body, (start, tx.init(start)), None, length=steps)
        return jax.tree.map(lambda s, p: jnp.concatenate([s[None], p]), start, path)

    @jax.jit
    def kernel(params0, precond, eta, beta1, x, y):
        sqrt_p = jax.tree.map(jnp.sqrt, precond)

        def reparam_loss(z, x, y):  # f~(z) = f(P^-1/2 z)
            return loss(jax.tree.map(jnp.divide, z, sqrt_p), x, y)

        frozen = run(optimizers.frozen_adam(eta, precond, beta1), loss, params0, x, y)
        z0 = jax.tree.map(jnp.multiply, sqrt_p, params0)
        tilde = run(optimizers.ema_hb(eta, beta1), reparam_loss, z0, x, y)
        plain = run(optimizers.ema_hb(eta, beta1), loss, params0, x, y)
        mapped = jax.tree.map(lambda s, p: s[None] * p, sqrt_p, frozen)  # P^1/2 x_t

        def norms(tree):  # per step Euclidean norm over all parameters
            return jnp.sqrt(
                sum(jnp.sum(a.reshape(a.shape[0], -1) ** 2, 1) for a in jax.tree.leaves(tree))
            )

        def diff(a, b):
            return jax.tree.map(jnp.subtract, a, b)

        first = jax.tree.map(lambda p: p[:1], frozen)
        first_tilde = jax.tree.map(lambda p: p[:1], tilde)
        losses_frozen = jax.vmap(lambda p: loss(p, x, y))(frozen)
        losses_tilde = jax.vmap(lambda z: reparam_loss(z, x, y))(tilde)
        return {
            "prop1_gap": norms(diff(mapped, tilde)),
            "tilde_travel": norms(diff(tilde, first_tilde)),
            "plain_gap": norms(diff(plain, frozen)),
            "frozen_travel": norms(diff(frozen, first)),
            "loss_frozen": losses_frozen,
            "loss_tilde": losses_tilde,
        }

    return problem, kernel


def isomorphism_check(config: RunConfig, precond: dict, *, steps: int = 30) -> dict:
    """Prop. 1 on the network, in float64.

    Runs ``steps`` updates of frozen Adam (PrecondEMAHB(eta, beta1, P)) on the training loss f
    from the initialisation x_0, EMA heavy ball on f~(z) = f(P^-1/2 z) from z_0 = P^1/2 x_0, and,
    for contrast, EMA heavy ball on f from x_0. Prop. 1 says z_t = P^1/2 x_t at every step.

    Returns ``steps`` (a DataFrame per step: ``prop1_gap`` = |z_t - P^1/2 x_t| / |z_t - z_0|,
    ``plain_gap`` = |x_t(HB) - x_t(frozen)| / |x_t(frozen) - x_0|, losses f(x_t) and f~(z_t))
    and the scalars ``max_prop1_gap`` and ``max_plain_gap`` (over steps >= 1), and
    ``max_loss_gap`` (largest |f(x_t) - f~(z_t)| / f(x_t)).
    """
    check_int_at_least(steps, 1, "steps")
    key = _task_key(config)
    with _x64():
        problem, kernel = _isomorphism_kernel(key, steps)
        as64 = functools.partial(jnp.asarray, dtype=jnp.float64)
        out = kernel(
            jax.tree.map(as64, problem.params0),
            jax.tree.map(as64, precond),
            as64(config.eta),
            as64(config.beta1),
            as64(problem.x_train),
            as64(problem.y_train),
        )
        out = {name: np.asarray(value, dtype=float) for name, value in out.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        frame = pd.DataFrame(
            {
                "step": np.arange(steps + 1),
                "prop1_gap": out["prop1_gap"] / out["tilde_travel"],
                "plain_gap": out["plain_gap"] / out["frozen_travel"],
                "loss_frozen": out["loss_frozen"],
                "loss_tilde": out["loss_tilde"],
            }
        )
    later = frame[frame["step"] >= 1]
    loss_gap = np.abs(later["loss_frozen"] - later["loss_tilde"]) / np.abs(later["loss_frozen"])
    return {
        "steps": frame,
        "max_prop1_gap": float(later["prop1_gap"].max()),
        "max_plain_gap": float(later["plain_gap"].max()),
        "max_loss_gap": float(loss_gap.max()),
        "eta": config.eta,
        "beta1": config.beta1,
    }


def adam_precond(config: RunConfig, step: int) -> dict:
    """Adam's P after ``step`` full-batch steps at ``config``'s eta, beta1, beta2 (a pytree)."""
    problem, init, advance, _ = _adam_kernels(_task_key(config))
    dtype = problem.x_train.dtype
    hyper = jnp.asarray([config.eta, config.beta1, config.beta2], dtype)
    state = init(hyper)
    params = problem.params0
    if step > 0:
        params, state = advance(params, state, hyper, step, problem.x_train, problem.y_train)
    return jax.device_get(optimizers.preconditioner(state))


def isomorphism_chart(result: dict) -> alt.LayerChart:
    """Relative gaps per step (log axis): Prop. 1's pair against frozen Adam vs plain HB."""
    frame = result["steps"]
    frame = frame[frame["step"] >= 1]
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
        thresholds=charts.threshold_frame(2.2e-16, "float64 ε"),
    )
    return chart.properties(
        title="Distance between iterates, relative to how far they moved", width=420, height=220
    )


def isomorphism_table(result: dict) -> tuple[pd.DataFrame, str]:
    frame = pd.DataFrame(
        {
            "comparison": [
                "EMA HB on f̃(z) = f(P^-1/2 z) vs P^1/2 × frozen Adam",
                "EMA HB on f vs frozen Adam (no P)",
                "f(x_t) vs f̃(z_t)",
            ],
            "largest relative gap": [
                _sci(result["max_prop1_gap"]),
                _sci(result["max_plain_gap"]),
                _sci(result["max_loss_gap"]),
            ],
        }
    )
    return frame, f"η = {_sci(result['eta'])}, β₁ = {result['beta1']:g}; computed in float64."


def isomorphism_panel(
    config: RunConfig, precond: dict, *, steps: int = 30, eta_range=(1e-5, 1e-1)
) -> widgets.ControlPanel:
    """Panel (c) of notebook 02: Prop. 1 for frozen Adam on the network, live (no training
    beyond ``steps`` updates, well under a second per setting after the first compilation)."""

    def compute(values):
        return isomorphism_check(
            config.replace(eta=values["eta"], beta1=values["beta1"]), precond, steps=steps
        )

    return widgets.ControlPanel(
        compute,
        [isomorphism_chart, TableView(isomorphism_table)],
        eta=widgets.eta_slider(config.eta, *eta_range, step=0.05),
        beta1=(config.beta1, 0.0, 0.99),
    )


# ---------------------------------------------------------------------------------------------
# Notebook 03 (a): the equilibrium across eta, beta1, beta2 (Fig. 1)


@dataclass(frozen=True)
class EquilibriumGrid:
    """The three sweeps of Fig. 1: ``etas`` at (beta1, beta2) = (0.9, 0.999); ``beta1s`` and
    ``beta2s`` at ``eta`` (the other beta at its default)."""

    etas: tuple
    beta1s: tuple
    beta2s: tuple
    eta: float
    beta1: float = 0.9
    beta2: float = 0.999

    def settings(self) -> dict[str, list[tuple[float, float, float]]]:
        """(eta, beta1, beta2) of each sweep, by sweep name."""
        return {
            "eta": [(e, self.beta1, self.beta2) for e in self.etas],
            "beta1": [(self.eta, b, self.beta2) for b in self.beta1s],
            "beta2": [(self.eta, self.beta1, b) for b in self.beta2s],
        }

    def snap(self, eta, beta1, beta2) -> tuple[float, float, float]:
        """Slider values moved onto the trained grid where they are close to it."""
        return (
            experiments.snap(eta, [*self.etas, self.eta]),
            experiments.snap(beta1, [*self.beta1s, self.beta1], rel=0.002),
            experiments.snap(beta2, [*self.beta2s, self.beta2], rel=0.0002),
        )


def _adam_at(base: RunConfig, eta, beta1, beta2) -> RunConfig:
    return base.replace(optimizer="adam", eta=eta, beta1=beta1, beta2=beta2)


def equilibrium_sweeps(
    base: RunConfig,
    grid: EquilibriumGrid,
    *,
    selected: tuple[float, float, float] | None = None,
    fraction: float = 1 / 3,
    progress: Callable | None = None,
) -> dict:
    """Adam on every setting of ``grid`` (and on ``selected`` = (eta, beta1, beta2)).

    Returns ``tables`` (sweep name -> tidy table with ``selected`` and ``value``, the swept
    hyperparameter as text), ``rules`` (sweep name -> threshold rules), ``chosen`` (tidy table
    of the selected run, long in ``quantity``: preconditioned and raw sharpness),
    ``chosen_threshold`` and ``chosen_formula``, and ``summary``: one row per sweep member
    (sweep, eta, beta1, beta2, threshold, late_ratio = median psharp / threshold over the last
    ``fraction`` of the run, diverged).
    """
    settings = grid.settings()
    selected = tuple(selected) if selected is not None else (grid.eta, grid.beta1, grid.beta2)
    unique = list(dict.fromkeys([s for group in settings.values() for s in group] + [selected]))
    results = dict(
        zip(
            unique,
            experiments.run_configs([_adam_at(base, *s) for s in unique], progress),
            strict=True,
        )
    )
    tables, rules, rows = {}, {}, []
    swept = {"eta": 0, "beta1": 1, "beta2": 2}
    for name, group in settings.items():
        index = swept[name]
        labels = [
            describe_eta(s[0]) if name == "eta" else f"{'β₁' if index == 1 else 'β₂'}={s[index]:g}"
            for s in group
        ]
        table = trajectories([results[s] for s in group], labels)
        table["selected"] = [
            tuple(v) == selected for v in table[["eta", "beta1", "beta2"]].itertuples(index=False)
        ]
        tables[name] = table
        values = [thresholds.optimizer_threshold("adam", s[0], s[1]) for s in group]
        formulas = [thresholds.threshold_formula("adam", s[1]) for s in group]
        rule_frames = [
            charts.threshold_frame(v, f, **({"eta": s[0]} if name == "eta" else {}))
            for v, f, s in zip(values, formulas, group, strict=True)
        ]
        rules[name] = pd.concat(rule_frames, ignore_index=True).drop_duplicates("threshold")
        for s, label, value in zip(group, labels, values, strict=True):
            result = results[s]
            rows.append(
                {
                    "sweep": name,
                    "label": label,
                    "eta": s[0],
                    "beta1": s[1],
                    "beta2": s[2],
                    "threshold": value,
                    "late_ratio": late_ratio(result.records, fraction),
                    "diverged": result.diverged,
                }
            )
    chosen = results[selected]
    records = trajectories([chosen])
    long = pd.concat(
        [
            records.assign(quantity="λ₁(P⁻¹H)", value=records["precond_sharpness"]),
            records.assign(quantity="λ₁(H)", value=records["sharpness"]),
        ],
        ignore_index=True,
    )
    threshold = thresholds.optimizer_threshold("adam", selected[0], selected[1])
    return {
        "tables": tables,
        "rules": rules,
        "chosen": long,
        "chosen_threshold": threshold,
        "chosen_formula": thresholds.threshold_formula("adam", selected[1]),
        "chosen_ratio": late_ratio(chosen.records, fraction),
        "selected": selected,
        "summary": pd.DataFrame(rows),
    }


def chosen_run_chart(result: dict) -> alt.LayerChart:
    """The selected run: preconditioned and raw sharpness (log) with its threshold."""
    eta, beta1, beta2 = result["selected"]
    rules = charts.threshold_frame(result["chosen_threshold"], result["chosen_formula"])
    chart = charts.line_chart(
        result["chosen"],
        y="value",
        color="quantity",
        log_y=True,
        thresholds=rules,
        x_title="step",
        y_title="sharpness (log)",
    )
    title = f"Your setting: η = {_sci(eta)}, β₁ = {beta1:g}, β₂ = {beta2:g}"
    return chart.properties(title=title, width=330, height=210)


def sweep_chart(result: dict, name: str, eta_domain: Sequence[float]) -> alt.LayerChart:
    """One sweep of Fig. 1: preconditioned sharpness (log) with each run's threshold."""
    color = "eta" if name == "eta" else "label"
    titles = {
        "eta": "Fig. 1a: η sweep (β₁ = 0.9, β₂ = 0.999)",
        "beta1": "Fig. 1b: β₁ sweep, thresholds (2+2β₁)/((1−β₁)η)",
        "beta2": "Fig. 1c: β₂ sweep (one threshold)",
    }
    return trajectory_chart(
        result["tables"][name],
        "precond_sharpness",
        title=titles[name],
        y_title="λ₁(P⁻¹H) (log)",
        color=color,
        log_y=True,
        threshold_rules=result["rules"][name],
        eta_domain=eta_domain,
        emphasise=True,
        width=300,
        height=200,
    )


def equilibrium_table(result: dict) -> tuple[pd.DataFrame, str]:
    summary = result["summary"]
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
        f"Your setting: late ratio {result['chosen_ratio']:.3f}. "
        "Late = median over the last third of the run."
    )
    return frame, caption


def equilibrium_panel(
    base: RunConfig, grid: EquilibriumGrid, *, eta_range: tuple[float, float] = (1e-4, 1e-2)
) -> widgets.ControlPanel:
    """Panel (a) of notebook 03: Fig. 1's three sweeps; the sliders choose the run shown on
    the first chart (with its threshold). A setting off the grid is trained on Run."""

    def compute(values, progress=None):
        selected = grid.snap(values["eta"], values["beta1"], values["beta2"])
        return equilibrium_sweeps(base, grid, selected=selected, progress=progress)

    def ready(values):
        settings = [s for group in grid.settings().values() for s in group]
        settings.append(grid.snap(values["eta"], values["beta1"], values["beta2"]))
        return experiments.trained([_adam_at(base, *s) for s in settings])

    builders = [chosen_run_chart] + [
        functools.partial(sweep_chart, name=name, eta_domain=eta_range)
        for name in ("eta", "beta1", "beta2")
    ]
    return _training_panel(
        compute,
        [*builders, TableView(equilibrium_table)],
        ready,
        eta=(grid.eta, *eta_range),
        beta1=grid.beta1,
        beta2=grid.beta2,
    )


# ---------------------------------------------------------------------------------------------
# Notebook 03 (b): raw sharpness keeps rising under Adam, not under frozen Adam (Figs. 3, 8)


def raw_rise_comparison(
    base: RunConfig,
    etas: Sequence[float],
    *,
    freeze_at: int,
    freeze_eta: float,
    selected: float | None = None,
    fraction: float = 1 / 3,
    progress: Callable | None = None,
) -> dict:
    """Adam and frozen Adam at each eta (the runs of :func:`frozen_sweep`), side by side.

    Returns ``table`` (tidy, both optimizers, with ``run`` = "Adam" or "frozen Adam" and
    ``selected``) and ``summary`` per (eta, run): late_ratio, rise (relative change of the raw
    sharpness over the last ``fraction`` of the run), first and last raw sharpness of that
    stretch.
    """
    sweep = frozen_sweep(
        base,
        etas,
        freeze_at=freeze_at,
        freeze_eta=freeze_eta,
        selected=selected,
        fraction=fraction,
        progress=progress,
    )
    table = pd.concat(
        [sweep["adam"].assign(run="Adam"), sweep["frozen"].assign(run="frozen Adam")],
        ignore_index=True,
    )
    rows = []
    for (eta, run), part in table.groupby(["eta", "run"], sort=True):
        stretch = analysis.late(part, fraction)
        rows.append(
            {
                "eta": eta,
                "run": run,
                "late_ratio": late_ratio(part, fraction),
                "rise": late_rise(part, "sharpness", fraction),
                "sharpness_from": float(stretch["sharpness"].iloc[0]),
                "sharpness_to": float(stretch["sharpness"].iloc[-1]),
                "selected": bool(part["selected"].iloc[0]),
            }
        )
    return {
        "table": table,
        "summary": pd.DataFrame(rows),
        "steps": base.steps,
        "fraction": fraction,
        "formula": thresholds.threshold_formula("adam", base.beta1),
    }


def _dashed_by_run(chart):
    main = charts.main_layer(chart)
    main.encoding.strokeDash = alt.StrokeDash(
        "run:N",
        title="run",
        sort=["Adam", "frozen Adam"],
        scale=alt.Scale(domain=["Adam", "frozen Adam"], range=[[1, 0], [5, 3]]),
    )
    return chart


def raw_rise_chart(result: dict, y: str, eta_domain: Sequence[float]):
    """Adam (solid) and frozen Adam (dashed), one colour per eta: ``y`` = "ratio" or
    "sharpness"."""
    table = result["table"]
    if y == "ratio":
        chart = charts.line_chart(
            table,
            y="ratio",
            detail=["run", "selected"],
            eta_domain=eta_domain,
            thresholds=charts.threshold_frame(1.0, f"λ₁(P⁻¹H) = {result['formula']}"),
            x_title="step",
            y_title="λ₁(P⁻¹H) / threshold",
        )
        title = "Preconditioned sharpness / threshold: both flat at 1"
    else:
        chart = charts.line_chart(
            table,
            y="sharpness",
            detail=["run", "selected"],
            eta_domain=eta_domain,
            x_title="step",
            y_title="λ₁(H)",
        )
        title = "Raw sharpness: Adam keeps climbing, frozen Adam stops"
    chart = _emphasise(_dashed_by_run(chart))
    start = result["steps"] * (1 - result["fraction"])
    shade = (
        alt.Chart(pd.DataFrame({"start": [start], "stop": [result["steps"]]}))
        .mark_rect(opacity=0.07, color="black")
        .encode(x="start:Q", x2="stop:Q")
    )
    return alt.layer(shade, chart).properties(title=title, width=330, height=220)


def raw_rise_table(result: dict) -> tuple[pd.DataFrame, str]:
    summary = result["summary"]
    frame = pd.DataFrame(
        {
            "η": [_sci(e) for e in summary["eta"]],
            "run": summary["run"],
            "late λ₁(P⁻¹H) / threshold": [f"{r:.3f}" for r in summary["late_ratio"]],
            "λ₁(H) over the last third": [
                f"{a:.1f} → {b:.1f}"
                for a, b in zip(summary["sharpness_from"], summary["sharpness_to"], strict=True)
            ],
            "rise": [f"{r:+.1%}" for r in summary["rise"]],
        }
    )
    return frame, "Grey band: the last third of the run, over which late values are taken."


def raw_rise_panel(
    base: RunConfig,
    etas: Sequence[float],
    *,
    freeze_at: int,
    freeze_eta: float,
    eta_range: tuple[float, float] = (1e-4, 1e-2),
) -> widgets.ControlPanel:
    """Panel (b) of notebook 03 (Figs. 3 and 8 side by side); the runs are those of notebook
    02's panel (b), so with the same settings they come from the cache."""
    return _frozen_and_adam_panel(
        raw_rise_comparison,
        [
            functools.partial(raw_rise_chart, y="ratio", eta_domain=eta_range),
            functools.partial(raw_rise_chart, y="sharpness", eta_domain=eta_range),
            TableView(raw_rise_table),
        ],
        base,
        etas,
        freeze_at=freeze_at,
        freeze_eta=freeze_eta,
        initial_eta=list(etas)[0],
        eta_range=eta_range,
    )


# ---------------------------------------------------------------------------------------------
# Notebook 03 (c): a 200-step zoom (Figs. 9 and 18)

ZOOM_QUANTITIES = {
    "precond_sharpness": ("λ₁(P⁻¹H)", False),
    "sharpness": ("λ₁(H)", False),
    "grad_norm": ("‖g‖ (log)", True),
    "P_change": ("mean of P, % change", False),
    "loss": ("train loss (log)", True),
}
"""Fig. 9's five rows: column -> (axis title, log axis)."""


def zoom_config(base: RunConfig, eta: float, start: int, length: int, k: int = 4) -> RunConfig:
    """Adam at ``eta`` for ``start + length`` steps, measured at every step of the last
    ``length`` (``dense_window``), with the top ``k`` eigenvalues."""
    return base.replace(
        optimizer="adam", eta=eta, steps=start + length, dense_window=(start, start + length), k=k
    )


def zoom(
    base: RunConfig, eta: float, start: int, length: int, *, k: int = 4, progress=None
) -> dict:
    """Fig. 9 and 18 for one run: the records inside the dense window and what they show.

    Returns ``window`` (records of the window, with ``top_sq`` = share x |P^-1/2 g|^2,
    ``rest_sq`` = the remainder and ``P_change`` = percent change of the mean of P since the
    window's first step), ``eigs`` (the top-k preconditioned eigenvalues, long format),
    ``crossings`` (steps where psharp crosses the
    threshold upwards), ``threshold``, ``late_ratio`` (median psharp / threshold in the
    window) and the mean share of |P^-1/2 g|^2 in the top-k eigenvectors of P^-1/2 H P^-1/2
    over all window steps (``mean_top_share``), over the bursts, the steps where
    |P^-1/2 g|^2 is in its top 10% (``burst_top_share``), and over the quiet half, where it is
    below its median (``quiet_top_share``).
    """
    (result,) = experiments.run_configs([zoom_config(base, eta, start, length, k)], progress)
    records = result.records
    window = records[(records["step"] >= start) & (records["step"] <= start + length)].copy()
    total_sq = window["precond_grad_norm"] ** 2
    window["top_sq"] = window["precond_grad_top_share"] * total_sq
    window["rest_sq"] = total_sq - window["top_sq"]
    window["P_change"] = 100 * (window["P_mean"] / window["P_mean"].iloc[0] - 1)
    share = window["precond_grad_top_share"]
    bursts = total_sq >= np.quantile(total_sq, 0.9)
    quiet = total_sq <= np.median(total_sq)
    eig_columns = ["precond_sharpness"] + [f"precond_sharpness_{i}" for i in range(2, k + 1)]
    eigs = window.melt(id_vars=["step"], value_vars=eig_columns, var_name="eigenvalue")
    eigs["eigenvalue"] = eigs["eigenvalue"].map({c: f"λ{i + 1}" for i, c in enumerate(eig_columns)})
    return {
        "window": window,
        "eigs": eigs,
        "crossings": threshold_crossings(window),
        "threshold": float(window["threshold"].iloc[-1]),
        "formula": thresholds.threshold_formula("adam", base.beta1),
        "mean_top_share": float(share.mean()),
        "burst_top_share": float(share[bursts].mean()),
        "quiet_top_share": float(share[quiet].mean()),
        "late_ratio": float(window["ratio"].median()),
        "eta": eta,
        "k": k,
    }


def zoom_chart(result: dict, quantity: str) -> alt.LayerChart:
    """One row of Fig. 9 with red rules where psharp crosses the threshold."""
    title, log = ZOOM_QUANTITIES[quantity]
    frame = result["window"][["step", quantity]]
    rules = None
    if quantity == "precond_sharpness":
        rules = charts.threshold_frame(result["threshold"], result["formula"])
    chart = charts.line_chart(
        frame,
        y=quantity,
        color=None,
        log_y=log,
        thresholds=rules,
        x_title="step",
        y_title=title,
    )
    layers = [chart]
    if result["crossings"]:
        layers.insert(0, _step_rules(result["crossings"]))
    return alt.layer(*layers).properties(width=620, height=95)


def zoom_grad_chart(result: dict) -> alt.Chart:
    """Fig. 18 bottom: |P^-1/2 g|^2, its part in the top-k eigenvectors, and the rest (log)."""
    window = result["window"]
    long = pd.concat(
        [
            pd.DataFrame(
                {"step": window["step"], "part": "all", "value": window["precond_grad_norm"] ** 2}
            ),
            pd.DataFrame(
                {
                    "step": window["step"],
                    "part": f"in the top {result['k']}",
                    "value": window["top_sq"],
                }
            ),
            pd.DataFrame({"step": window["step"], "part": "rest", "value": window["rest_sq"]}),
        ],
        ignore_index=True,
    )
    chart = charts.line_chart(
        long,
        y="value",
        color="part",
        log_y=True,
        x_title="step",
        y_title="‖P^-½ g‖² (log)",
    )
    layers = [chart] if not result["crossings"] else [_step_rules(result["crossings"]), chart]
    return alt.layer(*layers).properties(
        title=f"Fig. 18: where the preconditioned gradient lives (top {result['k']} eigenvectors)",
        width=620,
        height=130,
    )


def zoom_eig_chart(result: dict) -> alt.LayerChart:
    """Fig. 18 middle: the top-k eigenvalues of P^-1 H in the window, with the threshold."""
    chart = charts.line_chart(
        result["eigs"],
        y="value",
        color="eigenvalue",
        x_title="step",
        y_title="eigenvalue",
        thresholds=charts.threshold_frame(result["threshold"], result["formula"]),
    )
    return chart.properties(title=f"Top {result['k']} eigenvalues of P⁻¹H", width=620, height=130)


def zoom_table(result: dict) -> tuple[pd.DataFrame, str]:
    frame = pd.DataFrame(
        {
            "η": [_sci(result["eta"])],
            "upward crossings": [len(result["crossings"])],
            "median λ₁(P⁻¹H) / threshold": [f"{result['late_ratio']:.3f}"],
            f"share of ‖P^-½g‖² in the top {result['k']}: all steps": [
                f"{result['mean_top_share']:.1%}"
            ],
            "bursts (top 10% of ‖P^-½g‖²)": [f"{result['burst_top_share']:.1%}"],
            "quiet half": [f"{result['quiet_top_share']:.1%}"],
        }
    )
    return frame, "Red dotted lines: steps where λ₁(P⁻¹H) crosses the threshold upwards."


def zoom_panel(
    base: RunConfig,
    starts: dict[float, int],
    *,
    length: int = 200,
    k: int = 4,
    eta_range: tuple[float, float] = (1e-5, 1e-2),
) -> widgets.ControlPanel:
    """Panel (c) of notebook 03: ``starts`` maps each trained eta to the first step of its
    window. A new eta takes the window start of the nearest trained eta (on a log scale)."""
    etas = list(starts)

    def settings(values):
        eta = experiments.snap(values["eta"], etas)
        nearest = min(etas, key=lambda e: abs(math.log(e / eta)))
        return base.replace(beta1=values["beta1"], beta2=values["beta2"]), eta, starts[nearest]

    def compute(values, progress=None):
        run_base, eta, start = settings(values)
        return zoom(run_base, eta, start, length, k=k, progress=progress)

    def ready(values):
        run_base, eta, start = settings(values)
        return experiments.trained([zoom_config(run_base, eta, start, length, k)])

    builders = [functools.partial(zoom_chart, quantity=q) for q in ZOOM_QUANTITIES]
    return _training_panel(
        compute,
        [*builders, zoom_eig_chart, zoom_grad_chart, TableView(zoom_table)],
        ready,
        eta=(etas[0], *eta_range),
        beta1=base.beta1,
        beta2=base.beta2,
    )


# ---------------------------------------------------------------------------------------------
# Notebook 03 (d): the other adaptive optimizers (Fig. 5, App. C)

OPTIMIZER_SETTINGS: dict[str, tuple[str, dict]] = {
    "Adam, bias-corrected": ("adam", {"bias_correction": True}),
    "AdamW": ("adamw", {}),
    "Adafactor": (
        "adafactor",
        {"extra": (("decay_rate", 0.8), ("min_dim_size_to_factor", 32))},
    ),
    "AMSGrad": ("amsgrad", {}),
    "Padam": ("padam", {"extra": (("exponent", 0.25),)}),
    "Nadam": ("nadam", {}),
    "RMSprop": ("rmsprop", {"beta2": 0.995}),
    "Adagrad": ("adagrad", {}),
}
"""Fig. 5's eight optimizers: label -> (optimizer name, config changes). As in App. G: eps
1e-7, beta1 0.9 and beta2 0.999 where used, Adafactor with decay rate 0.8 and momentum 0.9,
Padam with exponent 1/4, RMSprop with decay 0.995. AdamW keeps its default weight decay 1e-4.
Adafactor factors matrices whose two dimensions are at least 32 (optax's default of 128
would leave the width-100 lab network unfactored)."""

BEHAVIOUR_SHARE = 0.75
"""A run "hovers above" its threshold when at least this share of its late measurements lie
above it; otherwise it "oscillates around" it (App. C)."""


def optimizer_config(base: RunConfig, label: str, eta: float) -> RunConfig:
    name, changes = OPTIMIZER_SETTINGS[label]
    return base.replace(optimizer=name, eta=eta, **changes)


def optimizer_runs(
    base: RunConfig,
    etas: dict[str, Sequence[float]],
    *,
    selected: tuple[str, float] | None = None,
    fraction: float = 1 / 3,
    progress: Callable | None = None,
) -> dict:
    """Every optimizer of ``etas`` (label -> learning rates) from the same initialisation.

    Returns ``tables`` (label -> tidy table with ``selected``), ``rules`` (label -> threshold
    rules per eta), ``summary`` (one row per run: label, optimizer, eta, formula, threshold,
    late_ratio and the :func:`oscillation_stats` of the last ``fraction``, and ``behaviour``:
    "hovers above" or "oscillates around") and ``selected``.
    """
    labels = list(etas)
    if selected is None:
        selected = (labels[0], etas[labels[0]][0])
    plan = [(label, eta) for label in labels for eta in etas[label]]
    if selected not in plan:
        plan.append(selected)
    results = dict(
        zip(
            plan,
            experiments.run_configs([optimizer_config(base, *p) for p in plan], progress),
            strict=True,
        )
    )
    tables, rules, rows = {}, {}, []
    for label in labels:
        members = [p for p in plan if p[0] == label]
        table = trajectories([results[p] for p in members], [describe_eta(p[1]) for p in members])
        table["selected"] = np.isclose(table["eta"], selected[1]) & (label == selected[0])
        tables[label] = table
        name = OPTIMIZER_SETTINGS[label][0]
        beta1 = base.beta1 if base.beta1 is not None else 0.9
        formula = thresholds.threshold_formula(name)
        values = [thresholds.optimizer_threshold(name, p[1], beta1) for p in members]
        rules[label] = charts.threshold_frame(
            values, thresholds.threshold_formula(name, beta1), eta=[p[1] for p in members]
        )
        for p, value in zip(members, values, strict=True):
            stats = oscillation_stats(results[p].records, fraction)
            rows.append(
                {
                    "label": label,
                    "optimizer": name,
                    "eta": p[1],
                    "formula": formula,
                    "threshold": value,
                    "late_ratio": stats["median"],
                    **stats,
                    "behaviour": "hovers above"
                    if stats["share_above"] >= BEHAVIOUR_SHARE
                    else "oscillates around",
                    "diverged": results[p].diverged,
                    "selected": p == selected,
                }
            )
    return {"tables": tables, "rules": rules, "summary": pd.DataFrame(rows), "selected": selected}


def optimizer_grid_chart(result: dict, eta_domain: Sequence[float], columns: int = 4):
    """Fig. 5: one small chart per optimizer, preconditioned sharpness (log) against the
    optimizer's own threshold, written in the title."""
    panels = []
    for label, table in result["tables"].items():
        formula = thresholds.threshold_formula(OPTIMIZER_SETTINGS[label][0])
        panels.append(
            trajectory_chart(
                table,
                "precond_sharpness",
                title=f"{label}: {formula}",
                y_title="λ₁(P⁻¹H) (log)",
                log_y=True,
                threshold_rules=result["rules"][label],
                eta_domain=eta_domain,
                emphasise=True,
                width=175,
                height=140,
            )
        )
    return alt.concat(*panels, columns=columns).resolve_scale(color="shared")


def optimizer_ratio_chart(result: dict, eta_domain: Sequence[float]) -> alt.LayerChart:
    """The chosen optimizer: psharp / threshold over the run (hover above or oscillate?)."""
    label = result["selected"][0]
    table = result["tables"][label]
    chart = charts.ratio_chart(
        table,
        detail=["label", "selected"],
        eta_domain=eta_domain,
        label="λ₁(P⁻¹H) / threshold",
        x_title="step",
    )
    return _emphasise(chart).properties(
        title=f"{label}: preconditioned sharpness / its threshold", width=420, height=200
    )


def optimizer_table(result: dict) -> tuple[pd.DataFrame, str]:
    summary = result["summary"]
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
        f"Late = last third of each run. 'Hovers above' = at least {BEHAVIOUR_SHARE:.0%} of the "
        "late measurements above the threshold."
    )
    return frame, caption


def optimizer_panel(
    base: RunConfig,
    etas: dict[str, Sequence[float]],
    *,
    eta_range: tuple[float, float] = (1e-5, 1e-1),
) -> widgets.ControlPanel:
    """Panel (d) of notebook 03: the ``optimizer`` picker chooses the run shown below the grid
    (with ``eta``); a learning rate off the grid is trained on Run."""
    labels = list(etas)

    def chosen(values):
        label = values["optimizer"]
        return label, experiments.snap(values["eta"], list(etas[label]))

    def settings(values):
        return base.replace(beta1=values["beta1"], beta2=values["beta2"])

    def compute(values, progress=None):
        return optimizer_runs(settings(values), etas, selected=chosen(values), progress=progress)

    def ready(values):
        run_base = settings(values)
        plan = [(label, e) for label in labels for e in etas[label]] + [chosen(values)]
        return experiments.trained([optimizer_config(run_base, *p) for p in plan])

    first = labels[0]
    return _training_panel(
        compute,
        [
            functools.partial(optimizer_grid_chart, eta_domain=eta_range),
            functools.partial(optimizer_ratio_chart, eta_domain=eta_range),
            TableView(optimizer_table),
        ],
        ready,
        eta=(etas[first][0], *eta_range),
        beta1=base.beta1,
        beta2=base.beta2,
        optimizers=labels,
        optimizer=first,
    )


# ---------------------------------------------------------------------------------------------
# Notebook 03 (e): the corner case at tiny learning rates (Figs. 15, 16)


def corner_case(
    base: RunConfig, eta: float, *, freeze_at: int, progress: Callable | None = None
) -> dict:
    """Adam at a tiny ``eta``, and the same run with P frozen from step ``freeze_at`` on.

    Returns ``table`` (tidy, ``run`` = "Adam" or "P frozen at step ..."), the ratio
    psharp / threshold ``at_freeze`` (the record at freeze_at), ``final`` per run, and the
    growth of the ratio after the freeze per run (``gain``: final / at_freeze), plus the
    relative change of the median of P over the same stretch (``p_change``).
    """
    adam = base.replace(optimizer="adam", eta=eta)
    frozen = adam.replace(freeze_precond_at=freeze_at)
    labels = ["Adam", f"P frozen at step {freeze_at}"]
    results = experiments.run_configs([adam, frozen], progress)
    table = trajectories(results, labels).drop(columns="run").rename(columns={"label": "run"})
    rows = []
    for label, result in zip(labels, results, strict=True):
        records = result.records
        at = records[records["step"] >= freeze_at].iloc[0]
        last = records.iloc[-1]
        rows.append(
            {
                "run": label,
                "at_freeze": float(at["ratio"]),
                "final": float(last["ratio"]),
                "gain": float(last["ratio"] / at["ratio"]),
                "p_change": float(last["P_median"] / at["P_median"] - 1),
                "sharpness_change": float(last["sharpness"] / at["sharpness"] - 1),
            }
        )
    return {
        "table": table,
        "summary": pd.DataFrame(rows),
        "freeze_at": freeze_at,
        "eta": eta,
        "formula": thresholds.threshold_formula("adam", base.beta1),
    }


def corner_chart(result: dict, y: str) -> alt.LayerChart:
    """``y`` = "ratio" (psharp / threshold), "P_median" or "sharpness" for both runs."""
    titles = {
        "ratio": ("λ₁(P⁻¹H) / threshold", False, "Preconditioned sharpness / threshold"),
        "P_median": ("median of P (log)", True, "The preconditioner"),
        "sharpness": ("λ₁(H)", False, "Raw sharpness"),
    }
    y_title, log, title = titles[y]
    rules = charts.threshold_frame(1.0, "threshold") if y == "ratio" else None
    chart = charts.line_chart(
        result["table"],
        y=y,
        color="run",
        log_y=log,
        thresholds=rules,
        x_title="step",
        y_title=y_title,
    )
    freeze = _step_rules([result["freeze_at"]], color=charts.NEUTRAL_COLOR, dash=(6, 4))
    return alt.layer(freeze, chart).properties(
        title=f"{title}, η = {_sci(result['eta'])}", width=300, height=190
    )


def corner_table(result: dict) -> tuple[pd.DataFrame, str]:
    summary = result["summary"]
    frame = pd.DataFrame(
        {
            "run": summary["run"],
            f"ratio at step {result['freeze_at']}": [f"{r:.3f}" for r in summary["at_freeze"]],
            "ratio at the end": [f"{r:.3f}" for r in summary["final"]],
            "× since the freeze": [f"{g:.2f}" for g in summary["gain"]],
            "median P since the freeze": [f"{c:+.0%}" for c in summary["p_change"]],
            "λ₁(H) since the freeze": [f"{c:+.0%}" for c in summary["sharpness_change"]],
        }
    )
    return frame, f"Threshold {result['formula']}; the dashed line marks the freeze."


def corner_panel(
    base: RunConfig, eta: float, *, freeze_at: int, eta_range=(1e-6, 1e-3)
) -> widgets.ControlPanel:
    """Panel (e) of notebook 03."""

    def settings(values):
        return base.replace(beta1=values["beta1"], beta2=values["beta2"]), values["eta"]

    def compute(values, progress=None):
        run_base, run_eta = settings(values)
        return corner_case(run_base, run_eta, freeze_at=freeze_at, progress=progress)

    def ready(values):
        run_base, run_eta = settings(values)
        adam = run_base.replace(optimizer="adam", eta=run_eta)
        return experiments.trained([adam, adam.replace(freeze_precond_at=freeze_at)])

    return _training_panel(
        compute,
        [
            functools.partial(corner_chart, y="ratio"),
            functools.partial(corner_chart, y="P_median"),
            functools.partial(corner_chart, y="sharpness"),
            TableView(corner_table),
        ],
        ready,
        eta=(eta, *eta_range),
        beta1=base.beta1,
        beta2=base.beta2,
    )


# ---------------------------------------------------------------------------------------------
# Notebook 03 (f): the CNN (Fig. 4)


def cnn_runs(
    base: RunConfig,
    etas: Sequence[float],
    *,
    selected: float | None = None,
    fraction: float = 1 / 3,
    progress: Callable | None = None,
) -> dict:
    """Adam on the paper's CNN (``base`` with model="cnn") at each eta (plus ``selected``).

    Returns ``table`` (tidy, with ``selected``), ``rules`` (38/eta per eta) and ``summary``
    (eta, threshold, late_ratio, final loss, status).
    """
    etas = list(etas)
    if selected is not None and selected not in etas:
        etas.append(selected)
    configs = [base.replace(model="cnn", optimizer="adam", eta=e) for e in etas]
    results = experiments.run_configs(configs, progress)
    table = trajectories(results, [describe_eta(e) for e in etas])
    table["selected"] = np.isclose(table["eta"], selected) if selected is not None else False
    beta1 = base.beta1 if base.beta1 is not None else 0.9
    values = [thresholds.optimizer_threshold("adam", e, beta1) for e in etas]
    summary = pd.DataFrame(
        {
            "eta": etas,
            "threshold": values,
            "late_ratio": [late_ratio(r.records, fraction) for r in results],
            "final_loss": [float(r.records["loss"].iloc[-1]) for r in results],
            "status": [r.status for r in results],
        }
    )
    rules = charts.threshold_frame(values, thresholds.threshold_formula("adam", beta1), eta=etas)
    return {"table": table, "rules": rules, "summary": summary, "device": results[0].device}


def cnn_chart(result: dict, y: str, eta_domain: Sequence[float]):
    if y == "precond_sharpness":
        return trajectory_chart(
            result["table"],
            y,
            title="CNN: preconditioned sharpness and 38/η",
            y_title="λ₁(P⁻¹H) (log)",
            log_y=True,
            threshold_rules=result["rules"],
            eta_domain=eta_domain,
            emphasise=True,
        )
    return trajectory_chart(
        result["table"],
        "loss",
        title="CNN: train loss",
        y_title="loss (log)",
        log_y=True,
        eta_domain=eta_domain,
        emphasise=True,
    )


def cnn_table(result: dict) -> tuple[pd.DataFrame, str]:
    summary = result["summary"]
    frame = pd.DataFrame(
        {
            "η": [_sci(e) for e in summary["eta"]],
            "38/η": [_sci(t) for t in summary["threshold"]],
            "late ratio": [f"{r:.3f}" for r in summary["late_ratio"]],
            "final loss": [_sci(v) for v in summary["final_loss"]],
            "stopped by": summary["status"],
        }
    )
    return frame, f"Trained on: {result['device']}."


def cnn_panel(
    base: RunConfig, etas: Sequence[float], *, eta_range=(1e-5, 1e-2)
) -> widgets.ControlPanel:
    """Panel (f) of notebook 03: Adam on the CNN at each eta; the slider adds a run."""
    etas = list(etas)

    def settings(values):
        return base.replace(beta1=values["beta1"], beta2=values["beta2"]), experiments.snap(
            values["eta"], etas
        )

    def compute(values, progress=None):
        run_base, eta = settings(values)
        return cnn_runs(run_base, etas, selected=eta, progress=progress)

    def ready(values):
        run_base, eta = settings(values)
        grid = etas + ([eta] if eta not in etas else [])
        return experiments.trained(
            [run_base.replace(model="cnn", optimizer="adam", eta=e) for e in grid]
        )

    return _training_panel(
        compute,
        [
            functools.partial(cnn_chart, y="precond_sharpness", eta_domain=eta_range),
            functools.partial(cnn_chart, y="loss", eta_domain=eta_range),
            TableView(cnn_table),
        ],
        ready,
        eta=(etas[0], *eta_range),
        beta1=base.beta1,
        beta2=base.beta2,
    )
