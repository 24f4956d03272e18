r"""Experiments of notebook 02: where frozen Adam's P comes from, frozen Adam at the edge of
stability (Cohen et al. 2022, sec. 4, Fig. 3), and Prop. 1 on the network.

Adam without bias correction keeps, per parameter (Eq. 1),

    m_{t+1} = beta1 m_t + (1 - beta1) g_t,    nu_{t+1} = beta2 nu_t + (1 - beta2) g_t^2,
    P_{t+1} = sqrt(nu_{t+1}) + eps,           x_{t+1} = x_t - eta P_{t+1}^-1 m_{t+1}.

Frozen Adam is preconditioned EMA heavy ball with Adam's P = sqrt(nu) + eps taken from step
``freeze_at`` of an Adam run at ``freeze_eta`` and held fixed (the paper's PrecondEMAHB):

    m_{t+1} = beta1 m_t + (1 - beta1) g_t,    x_{t+1} = x_t - eta P^-1 m_{t+1}.

Its stability threshold is heavy ball's, applied to lambda_1(P^-1 H):
(2 + 2 beta1) / ((1 - beta1) eta), 38/eta at beta1 = 0.9. Prop. 1: in the coordinates
z = P^1/2 x it is plain EMA heavy ball on f~(z) = f(P^-1/2 z), whose Hessian P^-1/2 H P^-1/2
has the eigenvalues of P^-1 H.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from aeos_lab.core import thresholds
from aeos_lab.core.formatting import format_sci
from aeos_lab.engine import analysis, runs, traces
from aeos_lab.engine.config import RunConfig

if TYPE_CHECKING:
    from aeos_lab.lessons.nb02_frozen_adam.params import Params

__all__ = [
    "FrozenSweep",
    "PrecondSource",
    "adam_config",
    "bank_runs",
    "bank_traces",
    "describe_eta",
    "frozen_config",
    "frozen_precond",
    "frozen_sweep",
    "frozen_sweep_configs",
    "precond_source",
    "precond_source_at",
    "prop1_check",
    "run_base",
    "source_trace_config",
    "sweep_configs",
    "sweep_etas",
    "sweep_grid",
    "trace_config",
    "trace_grid",
    "trace_seconds",
    "traced",
]


def run_base(P: Params) -> RunConfig:
    """The config every run of the lesson starts from: the task of ``P`` with Adam at
    ``freeze_eta``, ``beta1``, ``beta2`` for ``steps`` steps, the sharpness measured every
    ``track_every`` steps to relative accuracy ``eig_tol``."""
    return P.base.replace(
        eta=P.freeze_eta,
        beta1=P.beta1,
        beta2=P.beta2,
        steps=P.steps,
        track_every=P.track_every,
        eig_tol=P.eig_tol,
    )


# ---------------------------------------------------------------------------------------------
# (c) where frozen Adam's P comes from


def source_trace_config(
    base: RunConfig, *, snapshots: Sequence[int], freeze_at: int, every: int
) -> traces.TraceConfig:
    """The P trace of :func:`precond_source`: Adam at ``base``'s eta, beta1, beta2 and eps,
    P's quantiles every ``every`` steps and its histogram at ``snapshots`` and ``freeze_at``."""
    return traces.TraceConfig(base, tuple(sorted({*snapshots, freeze_at})), every)


def traced(spec: traces.TraceConfig) -> bool:
    """Whether the P trace ``spec`` is in the bank or the run cache (then it loads at once)."""
    return traces.is_cached(spec)


def trace_seconds(spec: traces.TraceConfig) -> float | None:
    """About how long computing the P trace ``spec`` takes on this machine: 0 when it is
    available (:func:`traced`), else :func:`aeos_lab.engine.runs.estimate_seconds` of the Adam
    run it trains (to its last snapshot, on the same task); None without a timing."""
    if traced(spec):
        return 0.0
    last = spec.snapshots[-1]
    return runs.estimate_seconds([spec.run.replace(steps=max(last, 1), track_every=max(last, 1))])


@dataclass(frozen=True)
class PrecondSource:
    """Adam's P = sqrt(nu) + eps along a run, seen at one snapshot (:func:`precond_source`).

    ``quantiles``: tidy (step, loss, quantile, P): the quantiles of the entries of P_t named
    in ``quantile_order`` (smallest first) at every recorded step t. ``hist``: (step, layer,
    log10_P, count): a histogram of log10 P per layer at ``step``, over the bins with edges
    ``log10_bins``. ``loss``, ``median_p``, ``spread_decades`` (log10(max / min) over the
    entries with P >= 10 eps) and ``at_eps`` (share of entries with P < 10 eps: parameters
    that never had a gradient) describe P at ``step``. ``freeze_at``: the step whose P frozen
    Adam keeps; ``eps``: Adam's eps, where every entry starts (nu_0 = 0). ``source``: where
    the trace came from ("computed now", "your run cache" or the bank's provenance line)."""

    quantiles: pd.DataFrame
    quantile_order: tuple[str, ...]
    hist: pd.DataFrame
    log10_bins: np.ndarray
    step: int
    loss: float
    median_p: float
    spread_decades: float
    at_eps: float
    freeze_at: int
    eps: float
    source: str


def precond_source(
    base: RunConfig,
    *,
    snapshots: Sequence[int],
    freeze_at: int,
    step: int,
    every: int = 10,
    progress: Callable | None = None,
) -> PrecondSource:
    """Adam from the initialisation at ``base``'s eta, beta1, beta2, recording P
    (:func:`aeos_lab.engine.traces.precond_trace`, cached), seen at snapshot ``step`` (one of
    ``snapshots`` or ``freeze_at``; ValueError otherwise)."""
    spec = source_trace_config(base, snapshots=snapshots, freeze_at=freeze_at, every=every)
    return precond_source_at(spec, step, freeze_at=freeze_at, progress=progress)


def precond_source_at(
    spec: traces.TraceConfig, step: int, *, freeze_at: int, progress: Callable | None = None
) -> PrecondSource:
    """:func:`precond_source` of the P trace ``spec`` (e.g. :func:`trace_config`), seen at
    snapshot ``step``; ``freeze_at`` is the snapshot frozen Adam keeps."""
    trace = traces.precond_trace(spec.run, spec.snapshots, every=spec.every, progress=progress)
    row = trace.snapshot(step)
    hist = trace.hist
    return PrecondSource(
        quantiles=trace.trace.melt(id_vars=["step", "loss"], var_name="quantile", value_name="P"),
        quantile_order=tuple(traces.P_QUANTILES),
        hist=hist[hist["step"] == step].reset_index(drop=True),
        log10_bins=traces.LOG10_P_BINS,
        step=step,
        loss=float(row["loss"]),
        median_p=float(row["P_median"]),
        spread_decades=float(row["spread_decades"]),
        at_eps=float(row["at_eps"]),
        freeze_at=freeze_at,
        eps=spec.run.hyperparameters["eps"],
        source=trace.source,
    )


# ---------------------------------------------------------------------------------------------
# (d) frozen Adam at the edge of stability (Fig. 3)


def describe_eta(eta: float) -> str:
    """The label of a run in a learning-rate sweep, e.g. ``"η=1e-4"``."""
    return f"η={format_sci(eta, 3)}"


def frozen_config(base: RunConfig, eta: float, *, freeze_at: int, freeze_eta: float) -> RunConfig:
    """Frozen Adam at ``eta``: P from step ``freeze_at`` of Adam at ``freeze_eta`` (same init,
    same beta1 and beta2 as ``base``), then EMA heavy ball preconditioned by that P."""
    return base.replace(
        optimizer="frozen_adam", eta=eta, freeze_at=freeze_at, freeze_eta=freeze_eta
    )


def adam_config(base: RunConfig, eta: float) -> RunConfig:
    """Adam at ``eta`` from the same initialisation as ``base``."""
    return base.replace(optimizer="adam", eta=eta, freeze_at=None, freeze_eta=None)


def sweep_etas(etas: Sequence[float], selected: float | None) -> list[float]:
    """``etas`` plus ``selected`` when it is not one of them (a slider off the grid)."""
    etas = [float(e) for e in etas]
    if selected is not None and selected not in etas:
        etas.append(float(selected))
    return etas


def frozen_sweep_configs(
    base: RunConfig,
    etas: Sequence[float],
    *,
    freeze_at: int,
    freeze_eta: float,
    selected: float | None = None,
) -> list[RunConfig]:
    """Every run of :func:`frozen_sweep`: frozen Adam at each eta, then Adam at each eta."""
    grid = sweep_etas(etas, selected)
    frozen = [frozen_config(base, e, freeze_at=freeze_at, freeze_eta=freeze_eta) for e in grid]
    return frozen + [adam_config(base, e) for e in grid]


@dataclass(frozen=True)
class FrozenSweep:
    """Frozen Adam and Adam from one initialisation at each eta (:func:`frozen_sweep`).

    ``frozen`` and ``adam``: tidy tables (:func:`aeos_lab.engine.analysis.trajectories`) with a
    ``selected`` column; ``summary``: per eta, the threshold, the late median of psharp /
    threshold of frozen Adam (``late_ratio``) and of Adam (``adam_late_ratio``), the late change
    of the raw sharpness under each from a fitted line
    (:func:`aeos_lab.engine.analysis.fitted_trend`: ``frozen_rise``, ``adam_rise``, their
    standard errors ``frozen_rise_se``, ``adam_rise_se`` and the number of measurements
    ``rise_points``), their final raw sharpness, ``diverged`` and ``selected``. Late = the
    last ``fraction`` of the ``steps``. ``formula`` is the threshold's formula, e.g. "38/η"."""

    frozen: pd.DataFrame
    adam: pd.DataFrame
    summary: pd.DataFrame
    selected: float | None
    steps: int
    fraction: float
    formula: str


def frozen_sweep(
    base: RunConfig,
    etas: Sequence[float],
    *,
    freeze_at: int,
    freeze_eta: float,
    selected: float | None = None,
    fraction: float = 1 / 3,
    progress: Callable | None = None,
) -> FrozenSweep:
    """Frozen Adam and Adam from the same initialisation at each eta of ``etas`` (plus
    ``selected``, if it is not one of them); see :class:`FrozenSweep`."""
    grid = sweep_etas(etas, selected)
    configs = frozen_sweep_configs(
        base, etas, freeze_at=freeze_at, freeze_eta=freeze_eta, selected=selected
    )
    results = runs.run_configs(configs, progress)
    frozen_results, adam_results = results[: len(grid)], results[len(grid) :]
    tables = {}
    for name, group in (("frozen", frozen_results), ("adam", adam_results)):
        table = analysis.trajectories(group, [describe_eta(e) for e in grid])
        table["selected"] = np.isclose(table["eta"], selected) if selected is not None else False
        tables[name] = table
    beta1 = base.hyperparameters["beta1"]
    rows = []
    for eta, fr, ad in zip(grid, frozen_results, adam_results, strict=True):
        frozen_fit = analysis.fitted_trend(fr.records, "sharpness", fraction)
        adam_fit = analysis.fitted_trend(ad.records, "sharpness", fraction)
        rows.append(
            {
                "eta": eta,
                "threshold": thresholds.optimizer_threshold("frozen_adam", eta, beta1),
                "late_ratio": analysis.late_median(fr.records, "ratio", fraction),
                "frozen_rise": frozen_fit.change,
                "adam_rise": adam_fit.change,
                "frozen_rise_se": frozen_fit.stderr,
                "adam_rise_se": adam_fit.stderr,
                "rise_points": frozen_fit.points,
                "adam_late_ratio": analysis.late_median(ad.records, "ratio", fraction),
                "frozen_final_sharpness": float(fr.records["sharpness"].iloc[-1]),
                "adam_final_sharpness": float(ad.records["sharpness"].iloc[-1]),
                "diverged": fr.diverged,
                "selected": selected is not None and math.isclose(eta, selected),
            }
        )
    return FrozenSweep(
        frozen=tables["frozen"],
        adam=tables["adam"],
        summary=pd.DataFrame(rows),
        selected=selected,
        steps=base.steps,
        fraction=fraction,
        formula=thresholds.threshold_formula("adam", beta1),
    )


# ---------------------------------------------------------------------------------------------
# (e) Prop. 1 on the network


def frozen_precond(base: RunConfig, *, freeze_at: int, freeze_eta: float) -> dict:
    """The P frozen Adam keeps: Adam's after ``freeze_at`` full-batch steps at ``freeze_eta``
    (``base``'s beta1, beta2, eps), a pytree like the network's parameters."""
    return traces.adam_precond(base.replace(eta=freeze_eta), freeze_at)


def prop1_check(
    base: RunConfig, precond: dict, *, eta: float, beta1: float, steps: int
) -> traces.Prop1Check:
    """Prop. 1 on ``base``'s network in float64: ``steps`` updates of frozen Adam at (``eta``,
    ``beta1``) with P = ``precond`` from x_0 against EMA heavy ball on f~(z) = f(P^-1/2 z) from
    z_0 = P^1/2 x_0, where z_t = P^1/2 x_t should hold at every step, and against EMA heavy
    ball on f (no P), where it should not (:func:`aeos_lab.engine.traces.isomorphism_check`)."""
    config = base.replace(eta=eta, beta1=beta1)
    return traces.isomorphism_check(config, precond, steps=steps)


# ---------------------------------------------------------------------------------------------
# the grids of panels (c) and (d), and what the bank holds for them


def trace_grid(P: Params) -> list[dict]:
    """The settings (eta, beta1, beta2) of panel (c) on its grid: a star through (``freeze_eta``,
    ``beta1``, ``beta2``) along ``trace_etas``, ``trace_beta1s`` and ``trace_beta2s``."""
    center = {"eta": P.freeze_eta, "beta1": P.beta1, "beta2": P.beta2}
    axes = {"eta": P.trace_etas, "beta1": P.trace_beta1s, "beta2": P.trace_beta2s}
    return runs.star(center, axes)


def sweep_grid(P: Params) -> list[dict]:
    """The settings (beta1, beta2) of panel (d) on its grid: a star through (``beta1``,
    ``beta2``) along ``frozen_beta1s`` and ``frozen_beta2s``; the eta slider picks one of
    ``frozen_etas``, all of which every setting trains."""
    center = {"beta1": P.beta1, "beta2": P.beta2}
    return runs.star(center, {"beta1": P.frozen_beta1s, "beta2": P.frozen_beta2s})


def trace_config(P: Params, *, eta: float, beta1: float, beta2: float) -> traces.TraceConfig:
    """Panel (c)'s P trace at (``eta``, ``beta1``, ``beta2``): :func:`source_trace_config` with
    ``P``'s snapshots, ``freeze_at`` and ``trace_every``."""
    adam = run_base(P).replace(eta=eta, beta1=beta1, beta2=beta2)
    return source_trace_config(
        adam, snapshots=P.snapshots, freeze_at=P.freeze_at, every=P.trace_every
    )


def sweep_configs(
    P: Params, *, beta1: float, beta2: float, selected: float | None = None
) -> list[RunConfig]:
    """Panel (d)'s runs at (``beta1``, ``beta2``): :func:`frozen_sweep_configs` over
    ``P.frozen_etas`` (plus ``selected`` off them) with ``P``'s freeze_at and freeze_eta."""
    return frozen_sweep_configs(
        run_base(P).replace(beta1=beta1, beta2=beta2),
        P.frozen_etas,
        freeze_at=P.freeze_at,
        freeze_eta=P.freeze_eta,
        selected=selected,
    )


def bank_traces(P: Params) -> list[traces.TraceConfig]:
    """Every P trace panel (c) shows at a setting on its grid (:func:`trace_grid`)."""
    return [trace_config(P, **setting) for setting in trace_grid(P)]


def bank_preconds(P: Params) -> list[traces.PrecondConfig]:
    """The P panel (e) freezes (:func:`frozen_precond`), so the bank holds it."""
    return [traces.PrecondConfig(run_base(P).replace(eta=P.freeze_eta), P.freeze_at)]


def bank_runs(P: Params) -> list[RunConfig]:
    """Every run panel (d) (and Fig. 3) shows at a setting on its grid (:func:`sweep_grid`),
    without repeats."""
    configs = [c for setting in sweep_grid(P) for c in sweep_configs(P, **setting)]
    return list({c.key(): c for c in configs}.values())
