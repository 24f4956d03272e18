r"""Experiments of notebook 03: full-batch Adam at the adaptive edge of stability (Cohen et al.
2022, sec. 4 and 6), sections (c) to (h) (part 2, the network; part 1's micro network is in
:mod:`.experiments_micro`); each section's
``figN(P, progress)`` computes a paper figure from the notebook's parameters.

Adam (no bias correction) updates, with g_t the full-batch gradient,

    m_{t+1} = beta1 m_t + (1 - beta1) g_t,    nu_{t+1} = beta2 nu_t + (1 - beta2) g_t^2,
    P_{t+1} = sqrt(nu_{t+1}) + eps,           x_{t+1} = x_t - eta P_{t+1}^-1 m_{t+1}.

With P held fixed this is EMA heavy ball on P^-1/2 H P^-1/2, stable while
lambda_1(P^-1 H) < (2 + 2 beta1) / ((1 - beta1) eta) (38/eta at beta1 = 0.9). The AEoS: Adam's
preconditioned sharpness lambda_1(P_t^-1 H_t) climbs to that threshold and stays there. Every
run records ``sharpness`` = lambda_1(H), ``precond_sharpness`` = lambda_1(P^-1 H),
``threshold`` and ``ratio`` = precond_sharpness / threshold; "late" means the last ``fraction``
(a third) of a run's steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from aeos_lab.core import thresholds
from aeos_lab.engine import analysis, runs
from aeos_lab.engine.config import RunConfig, optimizer_defaults
from aeos_lab.lessons.nb02_frozen_adam.experiments import (
    FrozenSweep,
    adam_config,
    describe_eta,
    frozen_sweep,
    sweep_etas,
)
from aeos_lab.lessons.nb03_adam_aeos.params import Params

__all__ = [
    "BEHAVIOUR_SHARE",
    "OPTIMIZER_SETTINGS",
    "SWEEPS",
    "CnnRuns",
    "CornerCase",
    "Equilibrium",
    "EquilibriumGrid",
    "OptimizerRuns",
    "RawRise",
    "Zoom",
    "adam_at",
    "bank_runs",
    "cnn_base",
    "cnn_configs",
    "cnn_runs",
    "corner_base",
    "corner_case",
    "corner_configs",
    "equilibrium_base",
    "equilibrium_configs",
    "equilibrium_grid",
    "equilibrium_of",
    "equilibrium_sweeps",
    "fig8_base",
    "live_betas",
    "optimizer_base",
    "optimizer_config",
    "optimizer_configs",
    "optimizer_runs",
    "raw_rise",
    "raw_rise_comparison",
    "run_base",
    "zoom",
    "zoom_config",
    "zoom_of",
    "zoom_start",
]


# ---------------------------------------------------------------------------------------------
# Run configs from the parameters


def run_base(P: Params, steps: int, track_every: int, **changes) -> RunConfig:
    """``P``'s task (``P.base``) with beta1 and beta2 at ``P.beta1``, ``P.beta2``, ``steps``
    updates, measured every ``track_every`` steps to relative accuracy ``P.eig_tol``;
    ``changes`` on top."""
    config = P.base.replace(
        beta1=P.beta1, beta2=P.beta2, steps=steps, track_every=track_every, eig_tol=P.eig_tol
    )
    return config.replace(**changes)


def equilibrium_base(P: Params) -> RunConfig:
    """The runs of (a), Fig. 1."""
    return run_base(P, P.eq_steps, P.eq_track)


def fig8_base(P: Params) -> RunConfig:
    """The runs of (b) and (c), Figs. 8, 9 and 18: beta2 = ``P.fig8_beta2``."""
    return run_base(P, P.fig8_steps, P.fig8_track, eta=P.freeze_eta, beta2=P.fig8_beta2)


def optimizer_base(P: Params) -> RunConfig:
    """The runs of (d), Fig. 5."""
    return run_base(P, P.opt_steps, P.opt_track)


def corner_base(P: Params) -> RunConfig:
    """The runs of (e), Figs. 15 and 16."""
    return run_base(P, P.corner_steps, P.corner_track)


def cnn_base(P: Params) -> RunConfig:
    """The runs of (f), Fig. 4: the paper's CNN on ``P.cnn_n_train`` examples of the task
    (all of them when None)."""
    task = {} if P.cnn_n_train is None else {"n_train": P.cnn_n_train}
    return run_base(P, P.cnn_steps, P.cnn_track, model="cnn", **task)


def adam_at(base: RunConfig, eta: float, beta1: float, beta2: float) -> RunConfig:
    """Adam at (eta, beta1, beta2) from the initialisation of ``base``."""
    return adam_config(base.replace(beta1=beta1, beta2=beta2), eta)


def _beta1(base: RunConfig) -> float:
    """The beta1 Adam uses in runs from ``base`` (Adam's own default where unset)."""
    return base.beta1 if base.beta1 is not None else optimizer_defaults("adam")["beta1"]


# ---------------------------------------------------------------------------------------------
# (c) The equilibrium across eta, beta1 and beta2 (Fig. 1)

SWEEPS = ("eta", "beta1", "beta2")
"""The three sweeps of Fig. 1, by the hyperparameter each one varies."""


@dataclass(frozen=True)
class EquilibriumGrid:
    """The three sweeps of Fig. 1: ``etas`` at (``beta1``, ``beta2``); ``beta1s`` and
    ``beta2s`` at ``eta`` (the other beta at ``beta1`` or ``beta2``)."""

    etas: tuple
    beta1s: tuple
    beta2s: tuple
    eta: float
    beta1: float = 0.9
    beta2: float = 0.999

    def settings(self) -> dict[str, list[tuple[float, float, float]]]:
        """(eta, beta1, beta2) of each sweep, by sweep name (:data:`SWEEPS`)."""
        return {
            "eta": [(e, self.beta1, self.beta2) for e in self.etas],
            "beta1": [(self.eta, b, self.beta2) for b in self.beta1s],
            "beta2": [(self.eta, self.beta1, b) for b in self.beta2s],
        }

    def snap(self, eta, beta1, beta2) -> tuple[float, float, float]:
        """Slider values moved onto the trained grid where they are close to it (eta within
        3%, beta1 within 0.2%, beta2 within 0.02%)."""
        return (
            runs.snap(eta, [*self.etas, self.eta]),
            runs.snap(beta1, [*self.beta1s, self.beta1], rel=0.002),
            runs.snap(beta2, [*self.beta2s, self.beta2], rel=0.0002),
        )


def equilibrium_grid(P: Params) -> EquilibriumGrid:
    """Fig. 1's grid of ``P``."""
    return EquilibriumGrid(
        etas=tuple(P.eq_etas),
        beta1s=tuple(P.eq_beta1s),
        beta2s=tuple(P.eq_beta2s),
        eta=P.eq_eta,
        beta1=P.beta1,
        beta2=P.beta2,
    )


def _chosen(grid: EquilibriumGrid, selected: tuple | None) -> tuple[float, float, float]:
    """``selected`` as a tuple, by default the grid's centre (eta, beta1, beta2)."""
    return tuple(selected) if selected is not None else (grid.eta, grid.beta1, grid.beta2)


def _equilibrium_settings(grid: EquilibriumGrid, selected: tuple | None) -> list[tuple]:
    """Every setting of the grid once, then ``selected`` (default: the grid's centre)."""
    every = [s for group in grid.settings().values() for s in group]
    return list(dict.fromkeys([*every, _chosen(grid, selected)]))


def equilibrium_configs(
    base: RunConfig, grid: EquilibriumGrid, selected: tuple | None = None
) -> list[RunConfig]:
    """Every run of :func:`equilibrium_sweeps`: Adam at each setting of ``grid`` and at
    ``selected`` = (eta, beta1, beta2)."""
    return [adam_at(base, *s) for s in _equilibrium_settings(grid, selected)]


@dataclass(frozen=True)
class Equilibrium:
    """Fig. 1: Adam on the three sweeps of a grid (:func:`equilibrium_sweeps`).

    ``sweeps``: tidy table of every sweep member's run
    (:func:`aeos_lab.engine.analysis.trajectories`, step 0 left off) with ``label`` (the swept
    value as text), ``selected`` (the run is the chosen setting) and ``sweep`` (a name of
    :data:`SWEEPS`); a run in several sweeps appears once per sweep.
    ``summary``: one row per sweep member: sweep, label, eta, beta1, beta2, ``threshold`` =
    (2 + 2 beta1) / ((1 - beta1) eta), its ``formula`` (e.g. "38/η"), ``late_ratio`` = median
    of psharp / threshold over the last ``fraction`` of the run, ``diverged``.
    ``chosen``: the selected run, long in ``quantity`` ("λ₁(P⁻¹H)" or "λ₁(H)") with ``value``;
    ``chosen_threshold``, ``chosen_formula`` and ``chosen_ratio`` (its late median ratio);
    ``selected`` = (eta, beta1, beta2).
    """

    sweeps: pd.DataFrame
    summary: pd.DataFrame
    chosen: pd.DataFrame
    chosen_threshold: float
    chosen_formula: str
    chosen_ratio: float
    selected: tuple[float, float, float]


def _sweep_label(name: str, setting: tuple[float, float, float]) -> str:
    if name == "eta":
        return describe_eta(setting[0])
    index = SWEEPS.index(name)
    return f"{'β₁' if index == 1 else 'β₂'}={setting[index]:g}"


def equilibrium_sweeps(
    base: RunConfig,
    grid: EquilibriumGrid,
    *,
    selected: tuple[float, float, float] | None = None,
    fraction: float = 1 / 3,
    progress: Callable | None = None,
) -> Equilibrium:
    """Adam on every setting of ``grid`` (and on ``selected`` = (eta, beta1, beta2), default
    the grid's centre), from the initialisation of ``base``; see :class:`Equilibrium`."""
    selected = _chosen(grid, selected)
    configs = equilibrium_configs(base, grid, selected)
    unique = _equilibrium_settings(grid, selected)
    results = dict(zip(unique, runs.run_configs(configs, progress), strict=True))
    return equilibrium_of(grid, results, selected, fraction)


def equilibrium_of(
    grid: EquilibriumGrid, results: dict, selected: tuple, fraction: float = 1 / 3
) -> Equilibrium:
    """The :class:`Equilibrium` of finished runs: ``results`` maps each setting (eta, beta1,
    beta2) of ``grid`` and ``selected`` to its :class:`~aeos_lab.engine.train.RunResult`."""
    selected = tuple(selected)
    tables, rows = [], []
    for name, group in grid.settings().items():
        labels = [_sweep_label(name, s) for s in group]
        table = analysis.trajectories([results[s] for s in group], labels)
        table["selected"] = [
            tuple(v) == selected for v in table[["eta", "beta1", "beta2"]].itertuples(index=False)
        ]
        tables.append(table.assign(sweep=name))
        for s, label in zip(group, labels, strict=True):
            rows.append(
                {
                    "sweep": name,
                    "label": label,
                    "eta": s[0],
                    "beta1": s[1],
                    "beta2": s[2],
                    "threshold": thresholds.optimizer_threshold("adam", s[0], s[1]),
                    "formula": thresholds.threshold_formula("adam", s[1]),
                    "late_ratio": analysis.late_median(results[s].records, "ratio", fraction),
                    "diverged": results[s].diverged,
                }
            )
    chosen = results[selected]
    records = analysis.trajectories([chosen])
    long = pd.concat(
        [
            records.assign(quantity="λ₁(P⁻¹H)", value=records["precond_sharpness"]),
            records.assign(quantity="λ₁(H)", value=records["sharpness"]),
        ],
        ignore_index=True,
    )
    return Equilibrium(
        sweeps=pd.concat(tables, ignore_index=True),
        summary=pd.DataFrame(rows),
        chosen=long,
        chosen_threshold=thresholds.optimizer_threshold("adam", selected[0], selected[1]),
        chosen_formula=thresholds.threshold_formula("adam", selected[1]),
        chosen_ratio=analysis.late_median(chosen.records, "ratio", fraction),
        selected=selected,
    )


# ---------------------------------------------------------------------------------------------
# (d) The raw sharpness keeps rising under Adam, not under frozen Adam (Figs. 3 and 8)


@dataclass(frozen=True)
class RawRise:
    """Adam and frozen Adam side by side (:func:`raw_rise_comparison`).

    ``table``: tidy table of both optimizers' runs with ``run`` ("Adam" or "frozen Adam") and
    ``selected``. ``summary``: one row per (eta, run): ``late_ratio`` (median psharp /
    threshold over the last ``fraction`` of the ``steps``), the raw sharpness's relative change
    over that stretch from a fitted line (:func:`~aeos_lab.engine.analysis.fitted_trend`):
    ``trend`` (e.g. 0.21 for a 21% rise), its standard error ``trend_stderr`` and the number of
    measurements ``trend_points`` (NaN trend and error with fewer than 3 measurements), the
    raw sharpness at the stretch's ends ``sharpness_from`` and ``sharpness_to`` (for
    orientation only: a rise is judged by the fitted line, not by two endpoints), and
    ``selected``. ``formula``: the threshold's formula, e.g. "38/η"."""

    table: pd.DataFrame
    summary: pd.DataFrame
    steps: int
    fraction: float
    formula: str


def raw_rise(sweep: FrozenSweep) -> RawRise:
    """The runs of a frozen sweep (:class:`FrozenSweep`) side by side: per (eta, run), the
    late median ratio and the rise of the raw sharpness over the sweep's late stretch; see
    :class:`RawRise`."""
    table = pd.concat(
        [sweep.adam.assign(run="Adam"), sweep.frozen.assign(run="frozen Adam")],
        ignore_index=True,
    )
    rows = []
    for (eta, run), part in table.groupby(["eta", "run"], sort=True):
        stretch = analysis.late(part, sweep.fraction)
        if len(stretch) >= 3:
            trend = analysis.fitted_trend(part, "sharpness", sweep.fraction)
        else:  # too few measurements for a line (e.g. the smoke test's tiny runs)
            trend = analysis.Trend(float("nan"), float("nan"), len(stretch))
        rows.append(
            {
                "eta": eta,
                "run": run,
                "late_ratio": analysis.late_median(part, "ratio", sweep.fraction),
                "trend": trend.change,
                "trend_stderr": trend.stderr,
                "trend_points": trend.points,
                "sharpness_from": float(stretch["sharpness"].iloc[0]),
                "sharpness_to": float(stretch["sharpness"].iloc[-1]),
                "selected": bool(part["selected"].iloc[0]),
            }
        )
    return RawRise(table, pd.DataFrame(rows), sweep.steps, sweep.fraction, sweep.formula)


def raw_rise_comparison(base: RunConfig, etas: Sequence[float], **sweep) -> RawRise:
    """Adam and frozen Adam at each eta of ``etas``: :func:`raw_rise` of notebook 02's
    :func:`~aeos_lab.lessons.nb02_frozen_adam.experiments.frozen_sweep` (``sweep``: its
    keywords ``freeze_at``, ``freeze_eta``, ``selected``, ``fraction``, ``progress``), so with
    the same settings the runs come from the cache and its ``frozen_sweep_configs`` names
    them. Frozen Adam keeps P from step ``freeze_at`` of Adam at ``freeze_eta``."""
    return raw_rise(frozen_sweep(base, etas, **sweep))


# ---------------------------------------------------------------------------------------------
# (e) A window measured at every step (Figs. 9 and 18)


@dataclass(frozen=True)
class Zoom:
    """One run of Figs. 9 and 18: the records inside its dense window (:func:`zoom`).

    ``window``: the records of steps start to start + length, with ``top_sq`` = share x
    |P^-1/2 g|^2 (the part of the preconditioned gradient's squared norm in the top-``k``
    eigenvectors of P^-1/2 H P^-1/2), ``rest_sq`` = the remainder and ``P_change`` = percent
    change of the mean of P since the window's first step. ``eigs``: the top-``k``
    eigenvalues of P^-1 H, long in ``eigenvalue`` ("λ1", "λ2", ...) with ``value``.
    ``crossings``: steps where psharp crosses the threshold upwards; ``threshold`` and its
    ``formula``; ``late_ratio``: median psharp / threshold in the window. The mean share of
    |P^-1/2 g|^2 in the top-k eigenvectors over all window steps (``mean_top_share``), over
    the bursts, the steps where |P^-1/2 g|^2 is in its top 10% (``burst_top_share``), and over
    the quiet half, where it is at or below its median (``quiet_top_share``). The gradient
    bursts and P's response: ``burst_gain`` = sqrt(mean |P^-1/2 g|^2 over the bursts / its
    median), and the mean per-step percent change of the mean of P over the bursts
    (``burst_p_step``) and over the quiet half (``quiet_p_step``). ``share_above``: the share
    of the window's measurements with psharp above the threshold, and ``points``: how many
    measurements the window holds (what "hovers above" or "oscillates around" rests on)."""

    window: pd.DataFrame
    eigs: pd.DataFrame
    crossings: list[int]
    threshold: float
    formula: str
    mean_top_share: float
    burst_top_share: float
    quiet_top_share: float
    late_ratio: float
    eta: float
    k: int
    burst_gain: float
    burst_p_step: float
    quiet_p_step: float
    share_above: float = float("nan")
    points: int = 0


def zoom_config(base: RunConfig, eta: float, start: int, length: int, k: int = 4) -> RunConfig:
    """The run of :func:`zoom`: Adam at ``eta`` for ``start + length`` steps, measured at every
    step of the last ``length`` (``dense_window``), with the top ``k`` eigenvalues."""
    window = (start, start + length)
    return adam_config(base, eta).replace(steps=start + length, dense_window=window, k=k)


def zoom_start(starts, eta: float) -> int:
    """The window start of ``eta``: that of the trained eta nearest to it on a log scale
    (``starts``: eta -> first step, a mapping or (eta, step) pairs)."""
    starts = dict(starts)
    nearest = min(starts, key=lambda e: abs(np.log(e / eta)))
    return starts[nearest]


def zoom(
    base: RunConfig,
    eta: float,
    start: int,
    length: int,
    *,
    k: int = 4,
    progress: Callable | None = None,
) -> Zoom:
    """Adam at ``eta`` measured at every step of the window [start, start + length]; see
    :class:`Zoom` and :func:`zoom_of`."""
    (result,) = runs.run_configs([zoom_config(base, eta, start, length, k)], progress)
    return zoom_of(result, start, length)


def zoom_of(result, start: int, length: int) -> Zoom:
    """The :class:`Zoom` of a finished run (a :class:`~aeos_lab.engine.train.RunResult`
    measured at every step of [start, start + length], e.g. of :func:`zoom_config`).

    In the coordinates z = P^1/2 x, where frozen Adam is plain heavy ball, the gradient is
    P^-1/2 g and the Hessian P^-1/2 H P^-1/2; the engine's ``precond_grad_top_share`` is the
    share of |P^-1/2 g|^2 in that Hessian's top-``k`` eigenvectors. Bursts are the steps where
    |P^-1/2 g|^2 is in its top 10%, the quiet half those at or below its median; P's response
    is the percent change of the mean of P from one step to the next, averaged over each."""
    config = result.config
    records = result.records
    window = records[(records["step"] >= start) & (records["step"] <= start + length)].copy()
    total_sq = window["precond_grad_norm"] ** 2
    window["top_sq"] = window["precond_grad_top_share"] * total_sq
    window["rest_sq"] = total_sq - window["top_sq"]
    window["P_change"] = 100 * (window["P_mean"] / window["P_mean"].iloc[0] - 1)
    p_step = 100 * window["P_mean"].pct_change()
    share = window["precond_grad_top_share"]
    bursts = total_sq >= np.quantile(total_sq, 0.9)
    quiet = total_sq <= np.median(total_sq)
    k = config.k
    eig_columns = ["precond_sharpness"] + [f"precond_sharpness_{i}" for i in range(2, k + 1)]
    eigs = window.melt(id_vars=["step"], value_vars=eig_columns, var_name="eigenvalue")
    eigs["eigenvalue"] = eigs["eigenvalue"].map({c: f"λ{i + 1}" for i, c in enumerate(eig_columns)})
    return Zoom(
        window=window,
        eigs=eigs,
        crossings=analysis.threshold_crossings(window),
        threshold=float(window["threshold"].iloc[-1]),
        formula=thresholds.threshold_formula("adam", config.hyperparameters["beta1"]),
        mean_top_share=float(share.mean()),
        burst_top_share=float(share[bursts].mean()),
        quiet_top_share=float(share[quiet].mean()),
        late_ratio=float(window["ratio"].median()),
        eta=config.eta,
        k=k,
        burst_gain=float(np.sqrt(total_sq[bursts].mean() / np.median(total_sq))),
        burst_p_step=float(p_step[bursts].mean()),
        quiet_p_step=float(p_step[quiet].mean()),
        share_above=float((window["ratio"] > 1.0).mean()),
        points=len(window),
    )


# ---------------------------------------------------------------------------------------------
# (f) The other adaptive optimizers (Fig. 5, App. C)

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
would leave the width-100 lab network unfactored). Frozen, each is a momentum method whose
threshold (Table 1) applies to lambda_1(P^-1 H): EMA heavy ball (2 + 2 beta1) / ((1 - beta1)
eta) for Adam, AdamW, Adafactor, AMSGrad and Padam; EMA Nesterov (2 + 2 beta1) / ((1 - beta1)
(1 + 2 beta1) eta) for Nadam; GD's 2/eta for RMSprop and Adagrad."""

BEHAVIOUR_SHARE = 0.75
"""A run "hovers above" its threshold when at least this share of its late measurements lie
above it; otherwise it "oscillates around" it (App. C)."""


@dataclass(frozen=True)
class OptimizerRuns:
    """Fig. 5: several adaptive optimizers from one initialisation (:func:`optimizer_runs`).

    ``runs``: tidy table of every run with ``label`` (its eta), ``selected`` and
    ``optimizer_label`` (a key of :data:`OPTIMIZER_SETTINGS`); ``labels``: the optimizers in
    order. ``summary``: one row per run: label, optimizer, eta, ``formula`` (the threshold in
    beta1, e.g. "(2+2β₁)/((1−β₁)η)"), ``evaluated_formula`` (at the run's beta1, e.g.
    "38/η"), ``threshold``, ``late_ratio`` and the
    :class:`~aeos_lab.engine.analysis.Oscillation` of psharp / threshold over the last
    ``fraction`` (median, share_above, low, high, count), ``behaviour`` ("hovers above" when
    share_above >= :data:`BEHAVIOUR_SHARE`, else "oscillates around"), diverged, selected.
    ``selected``: (label, eta) of the run drawn on its own; ``behaviour_share``: the share
    that separates the two behaviours."""

    runs: pd.DataFrame
    summary: pd.DataFrame
    labels: tuple[str, ...]
    selected: tuple[str, float]
    behaviour_share: float = BEHAVIOUR_SHARE


def optimizer_config(base: RunConfig, label: str, eta: float) -> RunConfig:
    """The optimizer called ``label`` (:data:`OPTIMIZER_SETTINGS`) at ``eta``."""
    name, changes = OPTIMIZER_SETTINGS[label]
    return base.replace(optimizer=name, eta=eta, **changes)


def live_betas(base: RunConfig, label: str) -> tuple[str, ...]:
    """Which of ``beta1`` and ``beta2`` change the run of the optimizer called ``label`` from
    ``base`` (e.g. none for Adagrad, ``beta1`` for Adafactor, none for RMSprop, whose beta2
    is fixed at App. G's 0.995): a beta is live when moving it changes the hyperparameters the
    optimizer uses."""
    config = optimizer_config(base, label, 1e-3)
    used = config.hyperparameters
    live = []
    for name in ("beta1", "beta2"):
        current = used.get(name, getattr(config, name))
        moved = 0.5 if current != 0.5 else 0.6
        changed = optimizer_config(base.replace(**{name: moved}), label, 1e-3).hyperparameters
        if changed != used:
            live.append(name)
    return tuple(live)


def _plan(etas, selected: tuple[str, float] | None) -> tuple[list, tuple[str, float]]:
    """Every (label, eta) of ``etas`` (label -> learning rates, or pairs), then ``selected``
    (default: the first optimizer's first eta) if it is not among them."""
    etas = dict(etas)
    first = next(iter(etas))
    selected = tuple(selected) if selected is not None else (first, etas[first][0])
    plan = [(label, eta) for label in etas for eta in etas[label]]
    return plan + ([selected] if selected not in plan else []), selected


def optimizer_configs(base: RunConfig, etas, selected=None) -> list[RunConfig]:
    """Every run of :func:`optimizer_runs`."""
    return [optimizer_config(base, *p) for p in _plan(etas, selected)[0]]


def optimizer_runs(
    base: RunConfig,
    etas,
    *,
    selected: tuple[str, float] | None = None,
    fraction: float = 1 / 3,
    progress: Callable | None = None,
) -> OptimizerRuns:
    """Every optimizer of ``etas`` (label -> learning rates, a mapping or pairs) at each of
    its learning rates, plus ``selected`` = (label, eta), from the initialisation of ``base``;
    see :class:`OptimizerRuns`."""
    plan, selected = _plan(etas, selected)
    configs = runs.run_configs(optimizer_configs(base, etas, selected), progress)
    results = dict(zip(plan, configs, strict=True))
    labels = tuple(dict(etas))
    beta1 = _beta1(base)
    tables, rows = [], []
    for label in labels:
        members = [p for p in plan if p[0] == label]
        table = analysis.trajectories(
            [results[p] for p in members], [describe_eta(p[1]) for p in members]
        )
        table["selected"] = np.isclose(table["eta"], selected[1]) & (label == selected[0])
        tables.append(table.assign(optimizer_label=label))
        name = OPTIMIZER_SETTINGS[label][0]
        for p in members:
            stats = analysis.oscillation_stats(results[p].records, fraction)
            rows.append(
                {
                    "label": label,
                    "optimizer": name,
                    "eta": p[1],
                    "formula": thresholds.threshold_formula(name),
                    "evaluated_formula": thresholds.threshold_formula(name, beta1),
                    "threshold": thresholds.optimizer_threshold(name, p[1], beta1),
                    "late_ratio": stats.median,
                    **stats._asdict(),
                    "behaviour": "hovers above"
                    if stats.share_above >= BEHAVIOUR_SHARE
                    else "oscillates around",
                    "diverged": results[p].diverged,
                    "selected": p == selected,
                }
            )
    frame = pd.concat(tables, ignore_index=True)
    return OptimizerRuns(frame, pd.DataFrame(rows), labels, selected)


# ---------------------------------------------------------------------------------------------
# (g) The corner case at tiny learning rates (Figs. 15 and 16)


@dataclass(frozen=True)
class CornerCase:
    """Adam at a tiny eta and the same run with P frozen mid-way (:func:`corner_case`).

    ``table``: tidy table of both runs, ``run`` = "Adam" or "P frozen at step <freeze_at>"
    (step 0, where P = eps, left off). ``summary``: one row per run: psharp / threshold at the
    record of step ``freeze_at`` (``at_freeze``) and at the end (``final``), ``gain`` = final /
    at_freeze, and the relative changes of the median of P (``p_change``) and of the raw
    sharpness (``sharpness_change``) over the same stretch. ``formula``: the threshold's."""

    table: pd.DataFrame
    summary: pd.DataFrame
    freeze_at: int
    eta: float
    formula: str


def corner_configs(base: RunConfig, eta: float, *, freeze_at: int) -> list[RunConfig]:
    """The two runs of :func:`corner_case`: Adam at ``eta``, and the same run whose P stops
    updating at step ``freeze_at`` (``freeze_precond_at``: P_t = P_{freeze_at} after it)."""
    adam = adam_config(base, eta)
    return [adam, adam.replace(freeze_precond_at=freeze_at)]


def corner_case(
    base: RunConfig, eta: float, *, freeze_at: int, progress: Callable | None = None
) -> CornerCase:
    """Adam at a tiny ``eta``, and the same run with P frozen from step ``freeze_at`` on.

    App. D's mechanism: momentum's gradient bursts keep raising nu, so P grows and cancels
    the sharpening of H; freezing P should then send lambda_1(P^-1 H) up to the threshold.
    See :class:`CornerCase` for what is measured."""
    labels = ["Adam", f"P frozen at step {freeze_at}"]
    results = runs.run_configs(corner_configs(base, eta, freeze_at=freeze_at), progress)
    table = analysis.trajectories(results, labels)
    table = table.drop(columns="run").rename(columns={"label": "run"})
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
    formula = thresholds.threshold_formula("adam", _beta1(base))
    return CornerCase(table, pd.DataFrame(rows), freeze_at, eta, formula)


# ---------------------------------------------------------------------------------------------
# (h) The CNN (Fig. 4)


@dataclass(frozen=True)
class CnnRuns:
    """Adam on the paper's CNN at several eta (:func:`cnn_runs`).

    ``table``: tidy table of the runs with ``selected``. ``summary``: per eta, ``threshold``
    (38/eta at beta1 = 0.9), ``late_ratio`` (median psharp / threshold over the last
    ``fraction``), ``final_loss`` and ``status`` (what stopped the run). ``formula``: the
    threshold's formula; ``device``: where the runs trained."""

    table: pd.DataFrame
    summary: pd.DataFrame
    formula: str
    device: str


def cnn_configs(
    base: RunConfig, etas: Sequence[float], selected: float | None = None
) -> list[RunConfig]:
    """Every run of :func:`cnn_runs`: Adam on the CNN (``model="cnn"``) at each eta."""
    return [adam_config(base.replace(model="cnn"), e) for e in sweep_etas(etas, selected)]


def cnn_runs(
    base: RunConfig,
    etas: Sequence[float],
    *,
    selected: float | None = None,
    fraction: float = 1 / 3,
    progress: Callable | None = None,
) -> CnnRuns:
    """Adam on the paper's CNN (three convolution-ReLU-max-pool blocks, three dense layers;
    ``base`` with model="cnn") at each eta of ``etas`` (plus ``selected``); see
    :class:`CnnRuns`."""
    etas = sweep_etas(etas, selected)
    results = runs.run_configs(cnn_configs(base, etas), progress)
    table = analysis.trajectories(results, [describe_eta(e) for e in etas])
    table["selected"] = np.isclose(table["eta"], selected) if selected is not None else False
    beta1 = _beta1(base)
    summary = pd.DataFrame(
        {
            "eta": etas,
            "threshold": [thresholds.optimizer_threshold("adam", e, beta1) for e in etas],
            "late_ratio": [analysis.late_median(r.records, "ratio", fraction) for r in results],
            "final_loss": [float(r.records["loss"].iloc[-1]) for r in results],
            "status": [r.status for r in results],
        }
    )
    formula = thresholds.threshold_formula("adam", beta1)
    return CnnRuns(table, summary, formula, results[0].device)


# ---------------------------------------------------------------------------------------------
# What the bank holds (:mod:`.experiments_bank`)


def bank_runs(P: Params) -> list[RunConfig]:
    """Every run part 2's panels show at every setting the bank holds for them, without
    repeats (:func:`.experiments_bank.bank_runs`; read by ``aeos_lab.precompute``)."""
    from aeos_lab.lessons.nb03_adam_aeos import experiments_bank  # it imports this module

    return experiments_bank.bank_runs(P)
