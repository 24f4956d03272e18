"""The paper figures of notebook 03, Figs. 1, 8, 9, 18, 5, 15 (with 16) and 4: ``<id>``
computes each on the lesson's parameters, ``<id>_data`` gives the tidy table behind it and
``views.<id>`` draws it (see :mod:`aeos_lab.figures`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from aeos_lab.lessons.nb03_adam_aeos import experiments as x
from aeos_lab.lessons.nb03_adam_aeos.params import Params

__all__ = [
    "fig1",
    "fig15",
    "fig15_data",
    "fig18",
    "fig18_data",
    "fig1_data",
    "fig4",
    "fig4_data",
    "fig5",
    "fig5_data",
    "fig8",
    "fig8_data",
    "fig9",
    "fig9_data",
]


def fig1(P: Params, progress: Callable | None = None) -> x.Equilibrium:
    """The three sweeps of ``P`` at the grid's centre."""
    return x.equilibrium_sweeps(x.equilibrium_base(P), x.equilibrium_grid(P), progress=progress)


def fig1_data(result: x.Equilibrium) -> pd.DataFrame:
    return result.sweeps


def fig8(P: Params, progress: Callable | None = None) -> x.RawRise:
    """Adam and frozen Adam at ``P.fig8_etas``, the first one drawn bold."""
    frozen = {"freeze_at": P.freeze_at, "freeze_eta": P.freeze_eta}
    base = x.fig8_base(P)
    return x.raw_rise_comparison(
        base, P.fig8_etas, selected=P.fig8_etas[0], progress=progress, **frozen
    )


def fig8_data(result: x.RawRise) -> pd.DataFrame:
    return result.table


def fig9(P: Params, progress: Callable | None = None) -> tuple[x.Zoom, ...]:
    """The window of each (eta, start) of ``P.zoom_starts``, measured at every step."""
    base = x.fig8_base(P)
    return tuple(
        x.zoom(base, eta, start, P.zoom_length, k=P.zoom_k, progress=progress)
        for eta, start in P.zoom_starts
    )


def fig9_data(results: Sequence[x.Zoom]) -> pd.DataFrame:
    """The windows of ``results`` in one tidy table, with each run's ``eta``."""
    return pd.concat([r.window.assign(eta=r.eta) for r in results], ignore_index=True)


fig18, fig18_data = fig9, fig9_data  # Fig. 18 draws the same windows


def fig5(P: Params, progress: Callable | None = None) -> x.OptimizerRuns:
    """Every optimizer of ``P.opt_etas``."""
    return x.optimizer_runs(x.optimizer_base(P), P.opt_etas, progress=progress)


def fig5_data(result: x.OptimizerRuns) -> pd.DataFrame:
    return result.runs


def fig15(P: Params, progress: Callable | None = None) -> x.CornerCase:
    """The corner case of ``P`` (Figs. 15 and 16)."""
    return x.corner_case(
        x.corner_base(P), P.corner_eta, freeze_at=P.corner_freeze, progress=progress
    )


def fig15_data(result: x.CornerCase) -> pd.DataFrame:
    return result.table


def fig4(P: Params, progress: Callable | None = None) -> x.CnnRuns:
    """Adam on the CNN at ``P.cnn_etas``."""
    return x.cnn_runs(x.cnn_base(P), P.cnn_etas, progress=progress)


def fig4_data(result: x.CnnRuns) -> pd.DataFrame:
    return result.table
