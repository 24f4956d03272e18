r"""Experiments of notebook 05: where Adam ends up (Cohen et al. 2022, secs. 6-7 and app. F;
Figs. 10, 11 and 19).

Adam (bias correction off, the paper's setting) is EMA heavy ball preconditioned by
P = sqrt(nu) + eps:

    m_{t+1} = beta1 m_t + (1 - beta1) g_t,   nu_{t+1} = beta2 nu_t + (1 - beta2) g_t^2,
    x_{t+1} = x_t - eta P_{t+1}^-1 m_{t+1}.

Its edge of stability caps the preconditioned sharpness lambda_1(P^-1 H) at
(2 + 2 beta1) / ((1 - beta1) eta) = 38/eta (beta1 = 0.9), but not the raw sharpness
lambda_1(H): Adam can grow P instead of leaving a sharp region. EMA heavy ball (P = I) has the
same threshold on lambda_1(H) itself.

**The solution** of a run is its first measurement with the loss on the full training set below
``loss_threshold`` (:func:`solution_point`); a full-batch run stops exactly there, a minibatch
run trains a fixed number of steps and its solution is read off its records. The experiments
report lambda_1(H) and the held-out accuracy at the solution:

* :func:`solutions_sweep` (panel (a), Figs. 10 and 19): Adam over an eta sweep (at
  ``beta2_for_eta``) and a beta2 sweep (at ``eta_for_beta2``), full batch and with a large batch;
* :func:`comparison` (panel (b), Fig. 11): Adam against EMA heavy ball at equal training speed
  (steps to the solution), matched by :func:`matched_sharpness`.

Each experiment has a ``*_configs`` function (the runs a setting needs: a panel draws a setting
at once when they are all trained) and a setup (:class:`SolutionsSetup`,
:class:`ComparisonSetup`, made from the notebook's parameters by :func:`solutions_setup` and
:func:`comparison_setup`) holding what the sliders do not change. The settings the bank of
precomputed runs holds are :func:`solutions_grid` and :func:`comparison_grid`; their runs,
:func:`bank_runs`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from aeos_lab.core import thresholds
from aeos_lab.core.validation import check_int_at_least, check_positive
from aeos_lab.engine import analysis, runs
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.data import DEFAULT_TASK
from aeos_lab.lessons.nb05_sharp_solutions.params import Params

__all__ = [
    "Comparison",
    "ComparisonSetup",
    "Selection",
    "SharpnessSweep",
    "SolutionsSetup",
    "Sweep",
    "Trend",
    "accuracy_stderr",
    "bank_runs",
    "comparison",
    "comparison_configs",
    "comparison_grid",
    "comparison_setup",
    "eta_grid",
    "matched_sharpness",
    "solution_config",
    "solution_point",
    "solutions",
    "solutions_configs",
    "solutions_grid",
    "solutions_setup",
    "solutions_sweep",
    "stable_etas",
    "sweep_configs",
]

Progress = Callable[[int, int, str], None]


class Selection(NamedTuple):
    """The setting the sliders select: Adam's ``eta``, ``beta1`` (both optimizers) and
    ``beta2``, snapped onto the trained grids by the panels."""

    eta: float
    beta1: float
    beta2: float


# ---------------------------------------------------------------------------------------------
# What holds at the solution


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
    """Binomial standard error sqrt(a (1 - a) / n) of an accuracy a measured on n examples."""
    check_int_at_least(n, 1, "n")
    accuracy = np.asarray(accuracy, float)
    return np.sqrt(accuracy * (1.0 - accuracy) / n)


_AT_SOLUTION = ("steps", "sharpness", "precond_sharpness", "loss", "train_acc", "test_acc")


def solutions(results: Sequence, loss_threshold: float) -> pd.DataFrame:
    """One row per run (:class:`~aeos_lab.engine.results.RunResult`): its hyperparameters
    (``optimizer``, ``eta``, ``beta1``, ``beta2`` (None for EMA heavy ball), ``batch`` label,
    ``batch_size``), the engine's ``status`` and what holds at its solution (the first record
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
            "eta": config.eta,
            "beta1": config.hyperparameters.get("beta1"),
            "beta2": config.hyperparameters.get("beta2"),
            "batch": runs.batch_label(config),
            "batch_size": config.batch_size,
            "status": result.status,
            "reached": point is not None,
        }
        records = result.records
        if point is None:
            row.update(dict.fromkeys(_AT_SOLUTION, np.nan))
        else:
            row.update(steps=int(point["step"]), **{n: float(point[n]) for n in _AT_SOLUTION[1:]})
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
    each Adam run's (only Adam runs inside momentum's range are kept):

        momentum_sharpness(s) = interp(log s; log steps_i, sharpness_i),
        ratio = sharpness / momentum_sharpness.

    Columns: eta, beta2, steps, sharpness (Adam's), momentum_sharpness, ratio; by steps.
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


def solution_config(
    base: RunConfig,
    optimizer: str,
    eta: float,
    beta1: float,
    beta2: float | None,
    *,
    loss_threshold: float,
    steps: int,
    track_every: int,
    batch_size: int | None = None,
) -> RunConfig:
    """A run trained to its solution: ``optimizer`` at (eta, beta1, beta2), ``batch_size``
    examples per step (None: full batch), no warmup, at most ``steps`` steps, measured every
    ``track_every``.

    A full-batch run stops at ``loss_threshold``. The engine never stops a minibatch run at a
    loss threshold, so minibatch configs get none (and share their compiled kernels with the
    other minibatch runs): they run ``steps`` steps, and :func:`solution_point` reads their
    solution off the records.
    """
    return base.replace(
        optimizer=optimizer,
        eta=float(eta),
        beta1=beta1,
        beta2=None if beta2 is None else float(beta2),
        batch_size=batch_size,
        loss_threshold=None if batch_size is not None else loss_threshold,
        steps=steps,
        track_every=track_every,
        warmup_steps=0,
    )


def _unique(configs: Sequence[RunConfig]) -> list[RunConfig]:
    return list({config.key(): config for config in configs}.values())


# ---------------------------------------------------------------------------------------------
# (a) Sharpness and held-out accuracy at the solution against eta and beta2 (Figs. 10, 19)


@dataclass(frozen=True)
class Sweep:
    """One batch setting of the sharpness sweeps: Adam at each of ``etas`` (at the setup's
    ``beta2_for_eta``) and at each of ``beta2s`` (at its ``eta_for_beta2``), with
    ``batch_size`` examples per step (None: full batch), at most ``steps`` steps, measured
    every ``track_every``."""

    batch_size: int | None
    etas: tuple[float, ...]
    beta2s: tuple[float, ...]
    steps: int
    track_every: int


@dataclass(frozen=True)
class SolutionsSetup:
    """What :func:`solutions_sweep` keeps fixed: the task ``base`` (with the eigenvalue
    tolerance), the batch settings ``sweeps`` (full batch first), the beta2 of the eta sweeps
    ``beta2_for_eta``, the eta of the beta2 sweeps ``eta_for_beta2`` and ``loss_threshold``."""

    base: RunConfig
    sweeps: tuple[Sweep, ...]
    eta_for_beta2: float
    beta2_for_eta: float
    loss_threshold: float

    @property
    def etas(self) -> list[float]:
        """Every learning rate of the sweeps (the grid the eta slider snaps to)."""
        return sorted({*(e for s in self.sweeps for e in s.etas), self.eta_for_beta2})

    @property
    def beta2s(self) -> list[float]:
        """Every beta2 of the sweeps (the grid the beta2 slider snaps to)."""
        return sorted({*(b for s in self.sweeps for b in s.beta2s), self.beta2_for_eta})

    @property
    def n_test(self) -> int:
        """Held-out examples of the task (297 digits on the default task)."""
        base = self.base
        return base.n_test or (DEFAULT_TASK["n_test"] if base.dataset == "digits" else 1000)


def solutions_setup(P: Params) -> SolutionsSetup:
    """The setup of panel (a) and Fig. 10 from the notebook's parameters: full batch over
    ``P.etas`` and ``P.beta2s`` up to ``P.max_steps`` steps, and (unless ``P.large_batch`` is
    None) ``P.large_batch`` examples per step over ``P.large_batch_etas`` and
    ``P.large_batch_beta2s`` for ``P.large_batch_steps`` steps."""
    sweeps = [
        Sweep(None, tuple(sorted(P.etas)), tuple(sorted(P.beta2s)), P.max_steps, P.track_every)
    ]
    if P.large_batch is not None:
        sweeps.append(
            Sweep(
                P.large_batch,
                tuple(sorted(P.large_batch_etas)),
                tuple(sorted(P.large_batch_beta2s)),
                P.large_batch_steps,
                P.large_batch_track_every,
            )
        )
    return SolutionsSetup(
        P.base.replace(eig_tol=P.eig_tol),
        tuple(sweeps),
        P.eta_for_beta2,
        P.beta2_for_eta,
        P.loss_threshold,
    )


def sweep_configs(setup: SolutionsSetup, sweep: Sweep, beta1: float) -> list[RunConfig]:
    """Adam configs of one batch setting's two sweeps: ``sweep.etas`` at
    ``setup.beta2_for_eta`` and ``sweep.beta2s`` at ``setup.eta_for_beta2`` (a run in both
    appears once); see :func:`solution_config`."""
    pairs = [(e, setup.beta2_for_eta) for e in sweep.etas]
    pairs += [(setup.eta_for_beta2, b) for b in sweep.beta2s]
    return _unique([_sweep_config(setup, sweep, beta1, eta, beta2) for eta, beta2 in pairs])


def _sweep_config(setup, sweep, beta1, eta, beta2) -> RunConfig:
    return solution_config(
        setup.base,
        "adam",
        eta,
        beta1,
        beta2,
        loss_threshold=setup.loss_threshold,
        steps=sweep.steps,
        track_every=sweep.track_every,
        batch_size=sweep.batch_size,
    )


def solutions_configs(setup: SolutionsSetup, selection: Selection) -> list[RunConfig]:
    """Every run :func:`solutions_sweep` needs for ``selection``: each batch setting's sweeps
    at ``selection.beta1``, and the selected (eta, beta2) at full batch (a setting outside the
    sweeps trains at full batch)."""
    configs = []
    for sweep in setup.sweeps:
        configs += sweep_configs(setup, sweep, selection.beta1)
        if sweep.batch_size is None:
            eta, beta2 = selection.eta, selection.beta2
            configs.append(_sweep_config(setup, sweep, selection.beta1, eta, beta2))
    return _unique(configs)


class Trend(NamedTuple):
    """Full-batch sharpness at the solution along one sweep: ``runs`` (the sweep's rows of
    :attr:`SharpnessSweep.solutions`, by the swept value), ``fit`` (the rows the trend is
    measured on: for eta its stable range, :func:`stable_etas`; for beta2 every run) and
    ``rho``, Spearman's rank correlation of the swept value with lambda_1(H) over ``fit``
    (NaN with fewer than 3 rows)."""

    runs: pd.DataFrame
    fit: pd.DataFrame
    rho: float


def _trend(runs_: pd.DataFrame, fit: pd.DataFrame, x: str) -> Trend:
    rho = analysis.spearman(fit[x], fit["sharpness"]) if len(fit) >= 3 else float("nan")
    return Trend(runs_, fit, rho)


@dataclass(frozen=True)
class SharpnessSweep:
    """Adam's solutions over the sweeps of a :class:`SolutionsSetup` (:func:`solutions_sweep`).

    ``solutions``: :func:`solutions` of every run, with ``test_acc_stderr`` (the binomial
    standard error of ``test_acc``, :func:`accuracy_stderr` on ``n_test`` examples),
    ``in_eta_sweep`` and ``in_beta2_sweep`` (the run belongs to its batch setting's eta or
    beta2 sweep) and ``selected`` (the run has the selected eta, beta1 and beta2: one ring per
    batch setting that trained it). ``selection``, ``n_test``, ``loss_threshold``,
    ``eta_for_beta2`` and ``beta2_for_eta`` as in the setup. ``eta_trend`` and
    ``beta2_trend``: the full-batch sweeps (:class:`Trend`).
    """

    solutions: pd.DataFrame
    selection: Selection
    n_test: int
    loss_threshold: float
    eta_for_beta2: float
    beta2_for_eta: float
    eta_trend: Trend
    beta2_trend: Trend


def solutions_sweep(
    setup: SolutionsSetup, selection: Selection, progress: Progress | None = None
) -> SharpnessSweep:
    """Train (or load) :func:`solutions_configs` and tabulate each run at its solution.

    The paper observed (Fig. 10) that Adam ends sharper at a small eta or a small beta2. Its
    explanation, which it calls speculative (end of sec. 6): a small eta (slowly moving weights)
    or a small beta2 (a quickly adapting P, nu remembers about 1 / (1 - beta2) steps) lets P
    absorb the instability at the edge of stability instead of the iterate escaping to a
    flatter region."""
    results = runs.run_configs(solutions_configs(setup, selection), progress)
    frame = solutions(results, setup.loss_threshold)
    frame["test_acc_stderr"] = accuracy_stderr(frame["test_acc"], setup.n_test)
    by_batch = {sweep.batch_size: sweep for sweep in setup.sweeps}
    in_eta, in_beta2 = [], []
    for result in results:
        config, sweep = result.config, by_batch[result.config.batch_size]
        in_eta.append(
            bool(
                np.isclose(config.beta2, setup.beta2_for_eta)
                and np.isclose(config.eta, sweep.etas).any()
            )
        )
        in_beta2.append(
            bool(
                np.isclose(config.eta, setup.eta_for_beta2)
                and np.isclose(config.beta2, sweep.beta2s).any()
            )
        )
    frame["in_eta_sweep"], frame["in_beta2_sweep"] = in_eta, in_beta2
    frame["selected"] = _selected(frame, selection)
    full = frame[frame["batch_size"].isna()]
    eta_runs = full[full["in_eta_sweep"]].sort_values("eta")
    beta2_runs = full[full["in_beta2_sweep"]].sort_values("beta2")
    return SharpnessSweep(
        frame,
        selection,
        setup.n_test,
        setup.loss_threshold,
        setup.eta_for_beta2,
        setup.beta2_for_eta,
        _trend(eta_runs, stable_etas(eta_runs), "eta"),
        _trend(beta2_runs, beta2_runs, "beta2"),
    )


def _selected(frame: pd.DataFrame, selection: Selection) -> pd.Series:
    return (
        np.isclose(frame["eta"], selection.eta, rtol=1e-6)
        & np.isclose(frame["beta1"], selection.beta1, atol=1e-9)
        & np.isclose(frame["beta2"].astype(float), selection.beta2, atol=1e-9)
    )


# ---------------------------------------------------------------------------------------------
# (b) Adam against EMA heavy ball at equal training speed (Fig. 11)


@dataclass(frozen=True)
class ComparisonSetup:
    """What :func:`comparison` keeps fixed: the task ``base`` (with the eigenvalue tolerance),
    Adam's ``adam_etas`` and the ``beta2s`` it is trained at, EMA heavy ball's
    ``momentum_etas``, and the runs' ``loss_threshold``, ``steps`` and ``track_every`` (full
    batch)."""

    base: RunConfig
    adam_etas: tuple[float, ...]
    momentum_etas: tuple[float, ...]
    beta2s: tuple[float, ...]
    loss_threshold: float
    steps: int
    track_every: int


def comparison_setup(P: Params) -> ComparisonSetup:
    """The setup of panel (b) and Fig. 11: Adam over ``P.compare_etas`` at ``P.compare_beta2``
    and ``P.compare_beta2_options``, EMA heavy ball over ``P.momentum_etas``."""
    return ComparisonSetup(
        P.base.replace(eig_tol=P.eig_tol),
        tuple(sorted(float(e) for e in P.compare_etas)),
        tuple(sorted(float(e) for e in P.momentum_etas)),
        tuple(sorted({float(P.compare_beta2), *(float(b) for b in P.compare_beta2_options)})),
        P.loss_threshold,
        P.max_steps,
        P.track_every,
    )


def comparison_configs(setup: ComparisonSetup, selection: Selection) -> list[RunConfig]:
    """Every run :func:`comparison` needs: EMA heavy ball at each momentum eta (at
    ``selection.beta1``), then Adam at each of its etas (and the selected one) for each beta2
    of the setup (and the selected one)."""
    common = dict(
        loss_threshold=setup.loss_threshold, steps=setup.steps, track_every=setup.track_every
    )
    beta1 = selection.beta1
    momentum = [
        solution_config(setup.base, "ema_hb", e, beta1, None, **common) for e in setup.momentum_etas
    ]
    adam = [
        solution_config(setup.base, "adam", e, beta1, b, **common)
        for b in sorted({*setup.beta2s, selection.beta2})
        for e in sorted({*setup.adam_etas, selection.eta})
    ]
    return momentum + adam


@dataclass(frozen=True)
class Comparison:
    """Adam against EMA heavy ball at equal training speed (:func:`comparison`).

    ``solutions``: :func:`solutions` of every momentum run and of the Adam runs at the selected
    beta2, with ``selected`` (the Adam run at the selected eta). ``matched``:
    :func:`matched_sharpness` of those Adam runs against momentum. ``thresholds``: per momentum
    run that reached its solution, its ``eta``, ``steps`` and stability ``threshold``
    (2 + 2 beta1) / ((1 - beta1) eta), which caps its lambda_1(H); ``formula`` that threshold
    as a formula (e.g. "38/η"). ``selection`` and ``loss_threshold`` as given.
    """

    solutions: pd.DataFrame
    matched: pd.DataFrame
    thresholds: pd.DataFrame
    formula: str
    selection: Selection
    loss_threshold: float


def comparison(
    setup: ComparisonSetup, selection: Selection, progress: Progress | None = None
) -> Comparison:
    """Train (or load) :func:`comparison_configs` and compare the optimizers' sharpness at
    the solution at matched steps-to-solution (Fig. 11).

    EMA heavy ball with beta1 = 0.9 is Adam with P = I, so its threshold 38/eta bounds
    lambda_1(H) directly; Adam's only bounds lambda_1(P^-1 H)."""
    results = runs.run_configs(comparison_configs(setup, selection), progress)
    frame = solutions(results, setup.loss_threshold)
    is_momentum = frame["optimizer"] == "ema_hb"
    frame = frame[is_momentum | np.isclose(frame["beta2"].astype(float), selection.beta2)]
    frame = frame.reset_index(drop=True)
    frame["selected"] = (frame["optimizer"] == "adam") & np.isclose(frame["eta"], selection.eta)
    adam = frame[frame["optimizer"] == "adam"]
    momentum = frame[frame["optimizer"] == "ema_hb"]
    reached = momentum[momentum["reached"]]
    caps = reached[["eta", "steps"]].assign(
        threshold=thresholds.threshold("ema_hb", reached["eta"].to_numpy(float), selection.beta1)
    )
    return Comparison(
        frame,
        matched_sharpness(adam, momentum),
        caps.reset_index(drop=True),
        thresholds.threshold_formula("ema_hb", selection.beta1),
        selection,
        setup.loss_threshold,
    )


# ---------------------------------------------------------------------------------------------
# The bank: every run the panels need at every on-grid slider setting


def eta_grid(P: Params) -> list[float]:
    """The learning rates both panels' eta sliders land on: every eta of the sweeps of (a)
    (:attr:`SolutionsSetup.etas`) and Adam's etas in (b) (``P.compare_etas``)."""
    return sorted({*solutions_setup(P).etas, *(float(e) for e in P.compare_etas)})


def solutions_grid(P: Params) -> list[Selection]:
    """The settings of panel (a) the bank holds, all at beta1 = ``P.beta1``: the cross of the
    paper's two sweeps (every eta of :func:`eta_grid` at ``P.beta2_for_eta``, every beta2 of
    :attr:`SolutionsSetup.beta2s` at ``P.eta_for_beta2``) and the full product of the eta grid
    with ``P.product_beta2s``. Any other pair of grid values trains one full-batch run on Run.
    """
    setup, etas = solutions_setup(P), eta_grid(P)
    pairs = [(eta, setup.beta2_for_eta) for eta in etas]
    pairs += [(setup.eta_for_beta2, beta2) for beta2 in setup.beta2s]
    pairs += [(eta, float(beta2)) for beta2 in P.product_beta2s for eta in etas]
    return list(dict.fromkeys(Selection(eta, P.beta1, beta2) for eta, beta2 in pairs))


def comparison_grid(P: Params) -> list[Selection]:
    """The settings of panel (b) the bank holds, at beta1 = ``P.beta1``: the full product of
    :func:`eta_grid` with Adam's beta2s in the comparison (:attr:`ComparisonSetup.beta2s`) and
    ``P.product_beta2s`` (whose Adam runs :func:`solutions_grid` holds already)."""
    beta2s = sorted({*comparison_setup(P).beta2s, *(float(b) for b in P.product_beta2s)})
    return [Selection(eta, P.beta1, beta2) for beta2 in beta2s for eta in eta_grid(P)]


def bank_runs(P: Params) -> list[RunConfig]:
    """Every run the network panels draw at their on-grid settings (:func:`solutions_grid`,
    :func:`comparison_grid`), each once: what ``aeos-lab bank build`` precomputes.

    For ``params.FULL`` on the default task that is 25 runs: 17 full-batch Adam runs (the 9 of
    the sweeps' cross and the 8 other grid etas at beta2 0.9 and 0.99), 5 Adam runs with 500
    examples per step (700 steps each) and 3 EMA heavy-ball runs; (b)'s Adam runs are all
    among (a)'s. Full-batch runs stop at their solution (270-860 steps, 9,400 in all), the
    large-batch ones run 3,500 steps. Trained here on 2 CPU cores shared with other work, they
    took 441 s (44 ms a full-batch step, 18 ms a large-batch one, compilation included); on
    idle cores a full-batch step takes about 12 ms.
    """
    solutions, comparisons = solutions_setup(P), comparison_setup(P)
    configs = [c for s in solutions_grid(P) for c in solutions_configs(solutions, s)]
    configs += [c for s in comparison_grid(P) for c in comparison_configs(comparisons, s)]
    return _unique(configs)
