"""The paper figures of notebook 01 (Table 1, Figs. 2, 12, 14, 17, Prop. 1): for each id of
``aeos_lab/figures.json``, ``<id>(P, progress) -> result`` computes it on the lesson's
:class:`~.params.Params` and ``<id>_data(result)`` gives the tidy table behind it (one row per
plotted point, written as CSV by ``aeos-lab reproduce``); ``views.<id>`` draws it.

Each function runs the panel experiments of :mod:`.experiments` at the figure's settings, in
float64 (:func:`aeos_lab.core.precision.float64`), as the notebook does: its iterates reach
1e-100, where float32 would bottom out near 1e-38.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from aeos_lab.core.precision import float64
from aeos_lab.lessons.nb01_quadratics.experiments import (
    Growth,
    MomentumGradients,
    Preconditioning,
    Rmsprop,
    StabilityMap,
    critical_eta,
    divergence_runs,
    growth_curves,
    momentum_gradients,
    preconditioning,
    rmsprop_runs,
    stability_map,
    stability_maps,
)
from aeos_lab.lessons.nb01_quadratics.params import Params, PrecondSetting

__all__ = [
    "EtaSweep",
    "GradientSweep",
    "Prop1",
    "RmspropSweep",
    "Table1",
    "fig12",
    "fig12_data",
    "fig14",
    "fig14_data",
    "fig17",
    "fig17_data",
    "fig2",
    "fig2_data",
    "prop1",
    "prop1_data",
    "table1",
    "table1_data",
]


def _each_in_float64(run, settings) -> tuple:
    """``run(setting)`` for each setting, in float64."""
    with float64():
        return tuple(run(setting) for setting in settings)


@dataclass(frozen=True, eq=False)
class Table1:
    """Table 1: each momentum method's map after max(map_steps) updates, no marker."""

    maps: tuple[StabilityMap, ...]


def table1(P: Params, progress=None) -> Table1:
    """The five maps of panel (b) at its largest N, on P's grid (float64)."""
    steps = max(P.map_steps)
    with float64():
        maps = stability_maps(
            grid_size=P.map_grid,
            steps=[steps],
            eta_lambda_range=P.map_range,
            beta1_max=P.beta1_max,
        )
        return Table1(tuple(stability_map(maps, m, steps) for m in maps.grids))


def table1_data(result: Table1) -> pd.DataFrame:
    """Every map's cells: eta_lambda, beta1, steps, max_abs_x, method, label, formula,
    threshold_eta_lambda, past_threshold, grew."""
    columns = ["eta_lambda", "beta1", "steps", "max_abs_x", "method", "label", "formula"]
    columns += ["threshold_eta_lambda", "past_threshold", "grew"]
    frames = [
        m.grid.assign(method=m.method, label=m.label, formula=m.formula)[columns]
        for m in result.maps
    ]
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True, eq=False)
class EtaSweep:
    """Fig. 2: EMA heavy ball at several eta, one beta1. ``runs``: method, step, abs_x, eta,
    beta1, threshold (38/eta at beta1 = 0.9), diverging, run (e.g. "η = 39 (diverges)").
    ``critical_eta``: the eta where curvature 1 meets the threshold."""

    beta1: float
    critical_eta: float
    runs: pd.DataFrame


def fig2(P: Params, progress=None) -> EtaSweep:
    """:func:`divergence_runs` of EMA heavy ball at each of P.fig2_etas (float64)."""
    frames = []
    with float64():
        for eta in P.fig2_etas:
            result = divergence_runs(eta, P.beta1, steps=P.steps, methods=["ema_hb"])
            row = result.summary.iloc[0]
            verdict = "diverges" if row["diverging"] else "stable"
            frames.append(
                result.runs.assign(
                    eta=eta,
                    beta1=P.beta1,
                    threshold=row["threshold"],
                    diverging=bool(row["diverging"]),
                    run=f"η = {eta:g} ({verdict})",
                )
            )
    runs = pd.concat(frames, ignore_index=True)
    return EtaSweep(P.beta1, critical_eta("ema_hb", P.beta1), runs)


def fig2_data(result: EtaSweep) -> pd.DataFrame:
    """The runs as drawn: method, step, abs_x, eta, beta1, threshold, diverging, run."""
    return result.runs


@dataclass(frozen=True, eq=False)
class RmspropSweep:
    """Fig. 12: :func:`rmsprop_runs` at one eta for each beta2, in order."""

    results: tuple[Rmsprop, ...]


def fig12(P: Params, progress=None) -> RmspropSweep:
    """RMSprop at P.rmsprop_eta for each of P.fig12_beta2s (float64)."""

    def run(beta2):
        return rmsprop_runs(P.rmsprop_eta, beta2, steps=P.rmsprop_steps, nu0=P.nu0)

    return RmspropSweep(_each_in_float64(run, P.fig12_beta2s))


def fig12_data(result: RmspropSweep) -> pd.DataFrame:
    """Per beta2 and step: abs_x, nu, precond, sharpness, ratio, eta, beta2, frozen_abs_x."""
    frames = []
    for r in result.results:
        frozen = r.trajectories[r.trajectories["run"] != "RMSprop"]["abs_x"].to_numpy()
        frames.append(r.runs.assign(eta=r.eta, beta2=r.beta2, frozen_abs_x=frozen))
    return pd.concat(frames, ignore_index=True)


def fig14(P: Params, progress=None) -> Growth:
    """:func:`growth_curves` at (P.growth_eta, P.beta1), P.growth_points per curve."""
    with float64():
        return growth_curves(P.growth_eta, P.beta1, points=P.growth_points)


def fig14_data(result: Growth) -> pd.DataFrame:
    """Both grids' curves: method, lam, lam_ratio, growth, grid ("linear" or "log"), eta, beta1."""
    frame = pd.concat(
        [result.curves.assign(grid="linear"), result.log_curves.assign(grid="log")],
        ignore_index=True,
    )
    return frame.assign(eta=result.eta, beta1=result.beta1)


@dataclass(frozen=True, eq=False)
class GradientSweep:
    """Fig. 17: :func:`momentum_gradients` at each heavy-ball eta, in order."""

    results: tuple[MomentumGradients, ...]


def fig17(P: Params, progress=None) -> GradientSweep:
    """Heavy ball from m0 = P.m0 at each of P.fig17_etas, P.fig17_steps updates (float64)."""

    def run(eta):
        return momentum_gradients(eta, P.beta1, steps=P.fig17_steps, m0=P.m0)

    return GradientSweep(_each_in_float64(run, P.fig17_etas))


def fig17_data(result: GradientSweep) -> pd.DataFrame:
    """Per heavy-ball eta: the runs (method, step, x, momentum, grad_sq), hb_eta, beta1."""
    frames = [r.runs.assign(hb_eta=r.eta, beta1=r.beta1) for r in result.results]
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True, eq=False)
class Prop1:
    """Prop. 1: :func:`preconditioning` at each setting of ``cases``, in order."""

    cases: tuple[PrecondSetting, ...]
    results: tuple[Preconditioning, ...]


def prop1(P: Params, progress=None) -> Prop1:
    """Panel (e) at each of P.prop1_cases on P.eigenvalues, P.steps updates (float64)."""

    def run(case):
        return preconditioning(case, eigenvalues=P.eigenvalues, steps=P.steps)

    return Prop1(P.prop1_cases, _each_in_float64(run, P.prop1_cases))


def prop1_data(result: Prop1) -> pd.DataFrame:
    """Per case: the runs (run, step, norm_x), case (1, 2, ...), its setting, lam1_H,
    lam1_PHP, threshold and isomorphism_gap."""
    frames = [
        r.runs.assign(
            case=index + 1,
            **case._asdict(),
            lam1_H=r.lam1_h,
            lam1_PHP=r.lam1_php,
            threshold=r.threshold,
            isomorphism_gap=r.isomorphism_gap,
        )
        for index, (case, r) in enumerate(zip(result.cases, result.results, strict=True))
    ]
    return pd.concat(frames, ignore_index=True)
