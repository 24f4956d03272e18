r"""Experiments of notebook 04: minibatch Adam (Cohen et al. 2022, sec. 5, Fig. 6), linear
warmup (Fig. 7) and what breaks without a warmup, or with too high a peak.

Adam (no bias correction) with a learning rate eta_t at step t:

    m_{t+1} = beta1 m_t + (1 - beta1) g_t,    nu_{t+1} = beta2 nu_t + (1 - beta2) g_t^2,
    x_{t+1} = x_t - eta_t m_{t+1} / P_{t+1},  P = sqrt(nu) + eps,

where g_t is the gradient of a random minibatch (or of the whole training set, full batch).
At each measurement the engine computes, on the FULL training set, the loss, the sharpness
lambda_1(H) and psharp = lambda_1(P^-1/2 H P^-1/2) (the same eigenvalues as P^-1 H), with P
from Adam's state at that moment; in a minibatch run nu averages squared MINIBATCH gradients.
The threshold compared with psharp is that of full-batch frozen Adam (EMA heavy ball) at the
learning rate of the latest step:

    threshold_t = (2 + 2 beta1) / ((1 - beta1) eta_t),   38/eta_t at beta1 = 0.9,

and ``ratio`` = psharp / threshold_t. Linear warmup over W steps: eta_t = eta min(1, (t+1)/W).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from aeos_lab.core import thresholds
from aeos_lab.core.validation import check_int_at_least
from aeos_lab.engine import analysis, runs
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.tasks import choose_scale
from aeos_lab.lessons.nb04_minibatch_warmup.params import VARIANTS

if TYPE_CHECKING:
    from aeos_lab.lessons.nb04_minibatch_warmup.params import Params

__all__ = [
    "BankGrid",
    "BatchGrid",
    "BatchSweep",
    "Breakdown",
    "Warmup",
    "WarmupRun",
    "WarmupTracking",
    "adam_config",
    "bank_grid",
    "bank_runs",
    "batch_configs",
    "batch_grid",
    "batch_labels",
    "batch_summary",
    "batch_sweep",
    "breakdown",
    "breakdown_configs",
    "breakdown_setting",
    "breakdown_summary",
    "outcome",
    "run_base",
    "threshold_path",
    "warmup_config",
    "warmup_label",
    "warmup_run",
    "warmup_setting",
    "warmup_tracking",
]


def run_base(P: Params) -> RunConfig:
    """The task of ``P`` (``P.base``) with the lesson's eigensolver tolerance ``P.eig_tol``."""
    return P.base.replace(eig_tol=P.eig_tol)


def adam_config(
    base: RunConfig,
    *,
    eta: float,
    beta1: float,
    beta2: float,
    steps: int,
    track_every: int,
    batch_size: int | None = None,
    warmup: int = 0,
) -> RunConfig:
    """Adam at the (peak) learning rate ``eta`` for ``steps`` steps, with minibatches of
    ``batch_size`` examples (None: full batch), warmed up linearly over ``warmup`` steps (0:
    none), measured every ``track_every`` steps, without a loss threshold."""
    return base.replace(
        optimizer="adam",
        eta=float(eta),
        beta1=beta1,
        beta2=beta2,
        batch_size=batch_size,
        warmup_steps=int(warmup),
        steps=int(steps),
        track_every=track_every,
        loss_threshold=None,
    )


# ---------------------------------------------------------------------------------------------
# (a) batch size (Fig. 6)


@dataclass(frozen=True)
class BatchGrid:
    """The runs of the batch-size sweep: Adam at every batch size of ``batch_sizes`` (None =
    full batch) and every learning rate of ``etas`` plus ``eta``, the one the time series
    shows (None: the smallest of ``etas``), with ``beta1``, ``beta2``, for ``steps`` steps,
    measured every ``track_every`` steps."""

    batch_sizes: tuple[int | None, ...]
    etas: tuple[float, ...]
    eta: float | None
    beta1: float
    beta2: float
    steps: int
    track_every: int

    @property
    def shown(self) -> float:
        """The learning rate the time series shows."""
        return float(min(self.etas) if self.eta is None else self.eta)

    @property
    def grid(self) -> list[float]:
        """``etas`` and ``eta`` in increasing order, without repeats."""
        return sorted({float(e) for e in self.etas} | {self.shown})


def batch_grid(P: Params, eta: float | None, beta1: float, beta2: float) -> BatchGrid:
    """The batch-size sweep of ``P`` (``P.batch_sizes`` x ``P.batch_etas``, ``P.batch_steps``
    steps measured every ``P.track_every``) showing ``eta`` (None: the smallest of
    ``P.batch_etas``), at Adam's ``beta1`` and ``beta2``."""
    etas = tuple(sorted(float(e) for e in P.batch_etas))
    return BatchGrid(P.batch_sizes, etas, eta, beta1, beta2, P.batch_steps, P.track_every)


def batch_configs(base: RunConfig, grid: BatchGrid) -> list[RunConfig]:
    """Every run of :func:`batch_sweep`: batch sizes outer, learning rates (increasing) inner."""
    return [
        adam_config(
            base,
            eta=eta,
            beta1=grid.beta1,
            beta2=grid.beta2,
            steps=grid.steps,
            track_every=grid.track_every,
            batch_size=batch_size,
        )
        for batch_size in grid.batch_sizes
        for eta in grid.grid
    ]


def batch_summary(results: Sequence, fraction: float = 0.5) -> pd.DataFrame:
    """One row per run (:func:`aeos_lab.engine.analysis.summarize`): eta, beta1, beta2, the
    late medians ``late_precond_sharpness`` and ``late_ratio`` (over the last ``fraction`` of
    the steps), the final threshold, loss and status, plus ``examples`` (per step) and the
    ``batch`` label; sorted by eta, then examples per step."""
    summary = analysis.summarize(list(results), fraction)
    summary["examples"] = [runs.examples_per_step(r.config) for r in results]
    summary["batch"] = [runs.batch_label(r.config) for r in results]
    return summary.sort_values(["eta", "examples"]).reset_index(drop=True)


@dataclass(frozen=True)
class BatchSweep:
    """Adam at several batch sizes and learning rates (:func:`batch_sweep`).

    ``table``: the tidy records of every run (:func:`aeos_lab.engine.analysis.table`) from step
    ``min_step`` on, with a ``batch`` label column; ``summary``: one row per run
    (:func:`batch_summary`, late = the last ``fraction`` of the steps); ``thresholds``: per
    learning rate of the sweep (columns ``eta``, ``threshold``), the full-batch threshold
    (2 + 2 beta1) / ((1 - beta1) eta); ``eta``: the learning rate the time series shows;
    ``formula``: the threshold's formula, e.g. "38/η"; ``shown_batch``: the ``batch`` label of
    the run the charts and the table single out (None: none)."""

    table: pd.DataFrame
    summary: pd.DataFrame
    thresholds: pd.DataFrame
    eta: float
    formula: str
    fraction: float
    min_step: int
    shown_batch: str | None = None


def batch_sweep(
    base: RunConfig,
    grid: BatchGrid,
    *,
    min_step: int | None = None,
    fraction: float = 0.5,
    show_batch: str | None = None,
    progress: Callable | None = None,
) -> BatchSweep:
    """The runs of ``grid`` (:func:`batch_configs`); ``min_step`` (default one measurement
    interval) leaves off the first records, where P = eps makes psharp huge; ``show_batch``
    (a :func:`batch_labels` label) singles out the runs of one batch size. See
    :class:`BatchSweep`."""
    results = runs.run_configs(batch_configs(base, grid), progress)
    min_step = grid.track_every if min_step is None else min_step
    table = analysis.table(results, min_step=min_step)
    labels = {r.config.key(): runs.batch_label(r.config) for r in results}
    table["batch"] = table["run"].map(labels)
    if show_batch is not None and show_batch not in set(labels.values()):
        raise ValueError(f"show_batch must be one of {sorted(set(labels.values()))}")
    rules = [thresholds.optimizer_threshold("adam", e, grid.beta1) for e in grid.grid]
    return BatchSweep(
        table=table,
        summary=batch_summary(results, fraction),
        thresholds=pd.DataFrame({"eta": grid.grid, "threshold": rules}),
        eta=grid.shown,
        formula=thresholds.threshold_formula("adam", grid.beta1 or 0.0),
        fraction=fraction,
        min_step=min_step,
        shown_batch=show_batch,
    )


def batch_labels(base: RunConfig, batch_sizes: Sequence[int | None]) -> dict[str, str]:
    """The batch-size choices of panel (a): a short name ("64", "full batch") -> the ``batch``
    label of those runs (:func:`aeos_lab.engine.runs.batch_label`, e.g. "batch 64")."""
    out = {}
    for size in batch_sizes:
        label = runs.batch_label(base.replace(batch_size=size))
        out["full batch" if label.startswith("full") else str(size)] = label
    return out


# ---------------------------------------------------------------------------------------------
# (b) linear warmup (Fig. 7)


@dataclass(frozen=True)
class Warmup:
    """Full-batch Adam warmed up linearly to the peak ``eta`` over ``warmup`` steps (0: no
    warmup), then ``after`` steps at ``eta``: eta_t = eta min(1, (t + 1) / warmup); Adam's
    ``beta1``, ``beta2``; a measurement every ``track_every`` steps."""

    eta: float
    warmup: int
    after: int
    beta1: float
    beta2: float
    track_every: int

    def __post_init__(self):
        check_int_at_least(self.warmup, 0, "warmup")
        check_int_at_least(self.after, 1, "after")


def warmup_setting(P: Params, eta: float, warmup: int, beta1: float, beta2: float) -> Warmup:
    """(b)'s run: a warmup of ``warmup`` steps to the peak ``eta``, then ``P.after_warmup``
    steps, measured every ``P.track_every``."""
    return Warmup(float(eta), int(warmup), P.after_warmup, beta1, beta2, P.track_every)


def breakdown_setting(P: Params, eta: float, warmup: int, beta1: float, beta2: float) -> Warmup:
    """(c)'s setting: the peak ``eta`` with a warmup of ``warmup`` steps (and without), then
    ``P.break_after`` steps, measured every ``P.break_track_every``."""
    return Warmup(float(eta), int(warmup), P.break_after, beta1, beta2, P.break_track_every)


def warmup_config(base: RunConfig, setting: Warmup, warmup: int | None = None) -> RunConfig:
    """The run of ``setting`` (:class:`Warmup`), for ``setting.warmup + setting.after`` steps;
    ``warmup`` replaces the warmup length (not the run's length)."""
    return adam_config(
        base,
        eta=setting.eta,
        beta1=setting.beta1,
        beta2=setting.beta2,
        steps=setting.warmup + setting.after,
        track_every=setting.track_every,
        warmup=setting.warmup if warmup is None else warmup,
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
    beta1 = config.hyperparameters.get("beta1", 0.0)
    thr = thresholds.optimizer_threshold(config.optimizer, lr, beta1)
    return pd.DataFrame({"step": grid, "lr": lr, "threshold": np.asarray(thr, float)})


@dataclass(frozen=True)
class WarmupTracking:
    """How closely psharp follows the threshold at eta_t during warmup
    (:func:`warmup_tracking`).

    ``reached_step``: the first measured step (>= 1) inside the warmup with ratio >= reach
    (None if never); ``band_min`` / ``band_max``: the extreme ratios from there to the end of
    warmup (None if never reached); ``within``: whether they lie inside the band;
    ``tracked_points``: how many measurements that covers; ``after_ratio``: the median ratio
    after warmup (None without any measurement there); ``final_loss``: the last train loss."""

    reached_step: int | None
    band_min: float | None
    band_max: float | None
    within: bool
    tracked_points: int
    after_ratio: float | None
    final_loss: float


def warmup_tracking(
    records: pd.DataFrame,
    warmup_steps: int,
    *,
    reach: float,
    band: tuple[float, float],
) -> WarmupTracking:
    """psharp during a warmup of ``warmup_steps`` steps against the falling threshold.

    ``records`` need columns step, ratio (psharp / threshold at eta_t) and loss. psharp has
    reached the threshold at the first measurement inside the warmup with ratio >= ``reach``;
    from there to the end of warmup the ratio should stay inside ``band``. See
    :class:`WarmupTracking`.
    """
    check_int_at_least(warmup_steps, 1, "warmup_steps")
    steps, ratio = records["step"].to_numpy(), records["ratio"].to_numpy(float)
    during = (steps >= 1) & (steps <= warmup_steps)
    hits = np.flatnonzero(during & (ratio >= reach))
    after = ratio[steps > warmup_steps]
    after_ratio = float(np.median(after)) if after.size else None
    final_loss = float(records["loss"].iloc[-1])
    if not hits.size:
        return WarmupTracking(None, None, None, False, 0, after_ratio, final_loss)
    first = int(steps[hits[0]])
    tracked = ratio[during & (steps >= first)]
    return WarmupTracking(
        reached_step=first,
        band_min=float(tracked.min()),
        band_max=float(tracked.max()),
        within=bool(band[0] <= tracked.min() and tracked.max() <= band[1]),
        tracked_points=int(tracked.size),
        after_ratio=after_ratio,
        final_loss=final_loss,
    )


@dataclass(frozen=True)
class WarmupRun:
    """One full-batch Adam run with a linear warmup (:func:`warmup_run`).

    ``records``: its measurements from step 1 on (at step 0 P = eps), with the engine's columns
    (step, lr = eta_t, loss, sharpness, precond_sharpness, threshold = the threshold at eta_t,
    ratio, ...); ``path``: the threshold at eta_t on a fine grid of steps
    (:func:`threshold_path`); ``tracking``: :func:`warmup_tracking` (None without warmup);
    ``eta``: the peak; ``warmup_steps``, ``steps``: warmup length and run length; ``status``:
    how the engine ended the run; ``formula``: the threshold's formula at constant eta, e.g.
    "38/η"; ``reach``, ``band``: the tracking criteria."""

    records: pd.DataFrame
    path: pd.DataFrame
    tracking: WarmupTracking | None
    eta: float
    warmup_steps: int
    steps: int
    status: str
    formula: str
    reach: float
    band: tuple[float, float]


def warmup_run(
    base: RunConfig,
    setting: Warmup,
    *,
    reach: float,
    band: tuple[float, float],
    progress: Callable | None = None,
) -> WarmupRun:
    """The run of ``setting`` (:func:`warmup_config`), tracked with ``reach`` and ``band``
    (:func:`warmup_tracking`); see :class:`WarmupRun`."""
    config = warmup_config(base, setting)
    (result,) = runs.run_configs([config], progress)
    records = result.records[result.records["step"] >= 1].reset_index(drop=True)
    tracking = None
    if config.warmup_steps:
        tracking = warmup_tracking(records, config.warmup_steps, reach=reach, band=band)
    return WarmupRun(
        records=records,
        path=threshold_path(config),
        tracking=tracking,
        eta=config.eta,
        warmup_steps=config.warmup_steps,
        steps=config.steps,
        status=result.status,
        formula=thresholds.threshold_formula(
            config.optimizer, config.hyperparameters.get("beta1", 0.0)
        ),
        reach=reach,
        band=tuple(band),
    )


# ---------------------------------------------------------------------------------------------
# (c) what breaks


def outcome(records: pd.DataFrame, diverged: bool, stall: float) -> str:
    """How a run ended: "diverged" (the engine stopped it: loss non-finite or above 1e4),
    "stalled" (its final train loss is still above ``stall`` times the initial loss) or
    "trained"."""
    if diverged:
        return "diverged"
    loss = records["loss"].to_numpy(float)
    if not np.isfinite(loss[-1]) or loss[-1] > stall * loss[0]:
        return "stalled"
    return "trained"


def warmup_label(config: RunConfig) -> str:
    """A run's label: "no warmup", or e.g. "warmup 200"."""
    return "no warmup" if not config.warmup_steps else f"warmup {config.warmup_steps}"


def breakdown_configs(base: RunConfig, setting: Warmup) -> list[RunConfig]:
    """Full-batch Adam at the peak ``setting.eta`` for ``warmup + after`` steps, without warmup
    and with the warmup of ``setting`` (one run when that is 0)."""
    return [warmup_config(base, setting, w) for w in dict.fromkeys([0, setting.warmup])]


def breakdown_summary(results: Sequence, stall: float) -> pd.DataFrame:
    """One row per run: ``warmup`` label, ``warmup_steps``, ``eta``, engine ``status``,
    :func:`outcome`, ``initial_loss``, ``final_loss``, ``max_loss`` (largest train loss after
    step 0), ``final_sharpness`` (raw) and ``final_test_acc``."""
    rows = []
    for result in results:
        records = result.records
        rows.append(
            {
                "warmup": warmup_label(result.config),
                "warmup_steps": result.config.warmup_steps,
                "eta": result.config.eta,
                "status": result.status,
                "outcome": outcome(records, result.diverged, stall),
                "initial_loss": float(records["loss"].iloc[0]),
                "final_loss": float(records["loss"].iloc[-1]),
                "max_loss": float(records["loss"].iloc[1:].max()),
                "final_sharpness": float(records["sharpness"].iloc[-1]),
                "final_test_acc": float(records["test_acc"].iloc[-1]),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Breakdown:
    """Adam at one peak learning rate without and with warmup (:func:`breakdown`).

    ``table``: the tidy records of the runs from step 0 (:func:`aeos_lab.engine.analysis.table`)
    with a ``warmup`` label column; ``summary``: one row per run, no warmup first
    (:func:`breakdown_summary`); ``eta``: the peak; ``steps``: the length of each run;
    ``stall``: the criterion of "stalled" (:func:`outcome`)."""

    table: pd.DataFrame
    summary: pd.DataFrame
    eta: float
    steps: int
    stall: float


def breakdown(
    base: RunConfig, setting: Warmup, *, stall: float, progress: Callable | None = None
) -> Breakdown:
    """The runs of :func:`breakdown_configs`; ``stall`` defines "stalled" (:func:`outcome`).
    See :class:`Breakdown`."""
    configs = breakdown_configs(base, setting)
    results = runs.run_configs(configs, progress)
    table = analysis.table(results)
    labels = {r.config.key(): warmup_label(r.config) for r in results}
    table["warmup"] = table["run"].map(labels)
    return Breakdown(
        table=table,
        summary=breakdown_summary(results, stall),
        eta=configs[0].eta,
        steps=configs[0].steps,
        stall=stall,
    )


# ---------------------------------------------------------------------------------------------
# The bank: every panel's settings on the sliders' grids, and the runs they need


def _lines(make: Callable, start: Mapping, lines: Sequence[Mapping[str, Sequence]]) -> tuple:
    """``make(**values)`` along each of ``lines``: the full product of its axes (name ->
    values), every other value at ``start``; in order, without repeats."""
    settings = []
    for axes in lines:
        for point in itertools.product(*axes.values()):
            settings.append(make(**{**start, **dict(zip(axes, point, strict=True))}))
    return tuple(dict.fromkeys(settings))


def _with(start, values) -> list:
    """``values`` and ``start``, sorted, without repeats."""
    return sorted({*values, start})


@dataclass(frozen=True)
class BankGrid:
    """The settings of each network panel that the bank of precomputed runs holds: the
    on-grid slider settings (any other one trains on Run). All at beta1 = ``P.beta1``.

    ``batch`` (panel (a), :class:`BatchGrid`): every eta of ``P.batch_eta_grid`` and
    ``P.batch_etas`` shown at ``P.beta2`` (with the sweep's own etas, that is the full product
    batch sizes x learning rates of Fig. 6), and the sweep's etas at each beta2 of
    ``P.batch_beta2_grid``. ``warmup`` (panel (b), :class:`Warmup`): each length of
    ``P.warmup_grid`` at the peak ``P.warmup_peak`` (Fig. 7: warmup lengths at the peak), and
    each peak of ``P.warmup_peak_grid`` with ``P.warmup`` steps of warmup, at ``P.beta2``.
    ``breakdown`` (panel (c), :class:`Warmup`): each peak of ``P.break_eta_grid`` with
    ``P.break_warmup`` steps, and each warmup of ``P.break_warmup_grid`` at the two peaks
    ``P.break_eta`` and ``P.break_high_eta``, at ``P.beta2``. Every slider's start value is on
    its grid."""

    batch: tuple[BatchGrid, ...]
    warmup: tuple[Warmup, ...]
    breakdown: tuple[Warmup, ...]


def bank_grid(P: Params) -> BankGrid:
    """The on-grid settings of the three panels for ``P``: see :class:`BankGrid`."""
    betas = {"beta1": P.beta1, "beta2": P.beta2}
    sweep_etas = sorted(float(e) for e in P.batch_etas)
    batch = _lines(
        lambda eta, beta1, beta2: batch_grid(P, eta, beta1, beta2),
        {"eta": sweep_etas[0], **betas},
        [
            {"eta": _with(sweep_etas[0], [*P.batch_eta_grid, *sweep_etas])},
            {"eta": sweep_etas, "beta2": _with(P.beta2, P.batch_beta2_grid)},
        ],
    )
    warmup = _lines(
        lambda **values: warmup_setting(P, **values),
        {"eta": P.warmup_peak, "warmup": P.warmup, **betas},
        [
            {"warmup": _with(P.warmup, P.warmup_grid)},
            {"eta": _with(P.warmup_peak, P.warmup_peak_grid)},
        ],
    )
    peaks = _with(P.break_eta, [P.break_high_eta])
    breakdown = _lines(
        lambda **values: breakdown_setting(P, **values),
        {"eta": P.break_eta, "warmup": P.break_warmup, **betas},
        [
            {"eta": _with(P.break_eta, [*P.break_eta_grid, *peaks])},
            {"eta": peaks, "warmup": _with(P.break_warmup, P.break_warmup_grid)},
        ],
    )
    return BankGrid(batch, warmup, breakdown)


def bank_runs(P: Params) -> list[RunConfig]:
    """Every run the three panels draw at their on-grid settings (:func:`bank_grid`), each
    once, on ``P``'s task (:func:`run_base`): what ``aeos-lab bank build`` precomputes.

    For ``params.FULL`` on the default task that is 41 runs: (a) 18 (3 batch sizes x the 4
    etas of the grid at beta2 = 0.999, 3 x the 2 sweep etas at 0.99; 600 steps, 7
    measurements each), (b) 7 full-batch runs of warmup + 300 steps (5 warmup lengths at
    1e-3, 2 more peaks at 1000 steps of warmup), (c) 16 full-batch runs of warmup + 200
    steps measured every 25 (5 peaks at warmup 200 with and without it, warmups 0 and 1000 at
    1e-2 and 1e-1). Parameters without a task (``params.FULL`` itself) run on the lesson's
    CPU task.
    """
    if P.scale is None:
        P = P.replace(scale=choose_scale(False, VARIANTS.cpu_task, platform=None))
    base, grid = run_base(P), bank_grid(P)
    configs = [c for g in grid.batch for c in batch_configs(base, g)]
    configs += [warmup_config(base, s) for s in grid.warmup]
    configs += [c for s in grid.breakdown for c in breakdown_configs(base, s)]
    return list({c.key(): c for c in configs}.values())
