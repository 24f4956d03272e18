r"""Experiments of notebook 02: frozen Adam (Cohen et al. 2022, sec. 4, Fig. 3).

Frozen Adam is preconditioned EMA heavy ball with Adam's P = sqrt(nu) + eps taken from step
``freeze_at`` of an Adam run at ``freeze_eta`` and held fixed (the paper's PrecondEMAHB):

    m_{t+1} = beta1 m_t + (1 - beta1) g_t,    x_{t+1} = x_t - eta P^-1 m_{t+1}.

Its stability threshold is heavy ball's, applied to lambda_1(P^-1 H):
(2 + 2 beta1) / ((1 - beta1) eta), 38/eta at beta1 = 0.9.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from aeos_lab.core import thresholds
from aeos_lab.core.formatting import format_sci
from aeos_lab.engine import analysis, runs
from aeos_lab.engine.config import RunConfig

__all__ = ["FrozenSweep", "adam_config", "describe_eta", "frozen_config", "frozen_sweep"]


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
    ``selected`` column; ``summary``: per eta, the
    threshold, the late median of psharp / threshold of frozen Adam (``late_ratio``) and of
    Adam (``adam_late_ratio``), the late relative rise of the raw sharpness under each
    (``frozen_rise``, ``adam_rise``), their final raw sharpness, ``diverged`` and
    ``selected``. Late = the last ``fraction`` of the ``steps``. ``formula`` is the
    threshold's formula, e.g. "38/η"."""

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
    beta1 = base.beta1 if base.beta1 is not None else 0.9
    rows = []
    for eta, fr, ad in zip(grid, frozen_results, adam_results, strict=True):
        rows.append(
            {
                "eta": eta,
                "threshold": thresholds.optimizer_threshold("frozen_adam", eta, beta1),
                "late_ratio": analysis.late_median(fr.records, "ratio", fraction),
                "frozen_rise": analysis.rise(fr.records, "sharpness", 1 - fraction),
                "adam_rise": analysis.rise(ad.records, "sharpness", 1 - fraction),
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
