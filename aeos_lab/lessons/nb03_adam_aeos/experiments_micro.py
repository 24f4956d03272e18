r"""Experiments of notebook 03's first part: Adam at the adaptive edge of stability on the
242-parameter micro network (:data:`aeos_lab.engine.tasks.MICRO_TASK`: a tanh MLP 4-12-12-2 on
256 Gaussian points with Gaussian targets, MSE, full batch), small enough that a whole run, its
sharpness measured every ``micro_track`` steps, recomputes on every slider release.

Adam without bias correction (Eq. 1), with g_t the full-batch gradient:

    nu_{t+1} = beta2 nu_t + (1 - beta2) g_t^2,   P_{t+1} = sqrt(nu_{t+1}) + eps,
    m_{t+1} = beta1 m_t + (1 - beta1) g_t,       x_{t+1} = x_t - eta P_{t+1}^-1 m_{t+1}.

Frozen (P fixed) it is EMA heavy ball on P^-1/2 H P^-1/2, stable while lambda_1(P^-1 H) <
(2 + 2 beta1) / ((1 - beta1) eta): 18/eta at beta1 = 0.8, 38/eta at 0.9, 78/eta at 0.95. The
adaptive edge of stability: Adam's lambda_1(P_t^-1 H_t) rises to that threshold and stays.

* :func:`micro_equilibrium`: Fig. 1's three sweeps (trained once, :func:`sweep_runs`) and
  Adam at the sliders' setting, trained now, in the typed result of the network panel
  (:class:`~.experiments.Equilibrium`).
* :func:`micro_cycle`: the same Adam run continued for a window measured at every step
  (Fig. 9): :class:`~.experiments.Zoom`, with the threshold crossings, the gradient bursts and
  P's response.
* :func:`grid_check`: the late median of lambda_1(P^-1 H) / threshold over a grid of slider
  settings, and the share of it inside a band.

Runs here bypass the run cache (``cache=False``): they are recomputed on every call, one after
another on a CPU: on this 2-core machine a vmapped batch was slower than a loop and needs a
compilation of its own; the grid check vmaps on an accelerator (the engine's default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING

import pandas as pd

from aeos_lab.core import thresholds
from aeos_lab.engine import analysis, train
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.tasks import MICRO_TASK
from aeos_lab.lessons.nb03_adam_aeos.experiments import (
    Equilibrium,
    EquilibriumGrid,
    Zoom,
    adam_at,
    equilibrium_of,
    zoom_config,
    zoom_of,
)

if TYPE_CHECKING:
    from aeos_lab.lessons.nb03_adam_aeos.params import Params

__all__ = [
    "GridCheck",
    "check_configs",
    "cycle_config",
    "grid_check",
    "micro_base",
    "micro_cycle",
    "micro_equilibrium",
    "micro_grid",
    "sweep_runs",
]

Setting = tuple[float, float, float]
"""(eta, beta1, beta2)."""


def micro_base(P: Params) -> RunConfig:
    """Adam on the micro task at (``P.micro_eta``, ``P.beta1``, ``P.beta2``) for
    ``P.micro_steps`` updates, measured every ``P.micro_track`` steps to relative accuracy
    ``P.micro_eig_tol``."""
    task = RunConfig(**MICRO_TASK, eta=P.micro_eta, beta1=P.beta1, beta2=P.beta2)
    return task.replace(steps=P.micro_steps, track_every=P.micro_track, eig_tol=P.micro_eig_tol)


def micro_grid(P: Params) -> EquilibriumGrid:
    """Fig. 1's three sweeps on the micro network: ``P.micro_etas`` at (``P.beta1``,
    ``P.beta2``), ``P.micro_beta1s`` and ``P.micro_beta2s`` at ``P.micro_eta``."""
    sweeps = (tuple(P.micro_etas), tuple(P.micro_beta1s), tuple(P.micro_beta2s))
    return EquilibriumGrid(*sweeps, eta=P.micro_eta, beta1=P.beta1, beta2=P.beta2)


def _train(configs: Sequence[RunConfig], vectorize: bool | None = False) -> list:
    """The runs of ``configs``, trained now (no cache); ``vectorize`` as in
    :func:`aeos_lab.engine.train.sweep` (None: its default, vmapped on an accelerator only)."""
    return train.sweep(list(configs), cache=False, vectorize=vectorize, progress=False)


# ---------------------------------------------------------------------------------------------
# (a) Fig. 1's sweeps and your run


def sweep_runs(base: RunConfig, grid: EquilibriumGrid) -> dict[Setting, object]:
    """Adam at every setting of ``grid``'s three sweeps from the initialisation of ``base``,
    trained now: setting -> :class:`~aeos_lab.engine.train.RunResult`."""
    settings = list(dict.fromkeys(s for group in grid.settings().values() for s in group))
    return dict(zip(settings, _train([adam_at(base, *s) for s in settings]), strict=True))


def micro_equilibrium(
    base: RunConfig,
    grid: EquilibriumGrid,
    selected: Setting,
    *,
    sweeps: dict | None = None,
    fraction: float = 1 / 3,
) -> Equilibrium:
    """Fig. 1 on the micro network: ``grid``'s sweeps (``sweeps`` from :func:`sweep_runs`;
    trained now when None) and Adam at ``selected`` = (eta, beta1, beta2), trained now unless
    it is one of the sweeps' settings; see :class:`~.experiments.Equilibrium` (late = the last
    ``fraction`` of the run)."""
    results = dict(sweep_runs(base, grid) if sweeps is None else sweeps)
    selected = tuple(float(v) for v in selected)
    if selected not in results:
        (results[selected],) = _train([adam_at(base, *selected)])
    return equilibrium_of(grid, results, selected, fraction)


# ---------------------------------------------------------------------------------------------
# (b) the instability cycle, measured at every step (Fig. 9)


def cycle_config(base: RunConfig, setting: Setting, window: int) -> RunConfig:
    """Adam at ``setting`` = (eta, beta1, beta2) for ``base.steps + window`` updates, measured
    every ``base.track_every`` steps and at every step of the last ``window``
    (:func:`~.experiments.zoom_config` with k = 1: the top eigenvector only). The first
    ``base.steps`` are (a)'s run at the same setting, and they compile to the same kernel."""
    eta, beta1, beta2 = setting
    return zoom_config(base.replace(beta1=beta1, beta2=beta2), eta, base.steps, window, k=1)


def micro_cycle(base: RunConfig, setting: Setting, window: int) -> Zoom:
    """:func:`cycle_config` trained now, seen in its window: the crossings of the threshold,
    the gradient bursts and P's response (:func:`~.experiments.zoom_of`)."""
    (result,) = _train([cycle_config(base, setting, window)])
    return zoom_of(result, base.steps, window)


# ---------------------------------------------------------------------------------------------
# the self-check of (a): a grid of slider settings


@dataclass(frozen=True)
class GridCheck:
    """Adam on the micro network over a grid of (eta, beta1, beta2) (:func:`grid_check`).

    ``table``: one row per setting: eta, beta1, beta2, ``threshold`` = (2 + 2 beta1) / ((1 -
    beta1) eta) and its ``formula``, ``late_ratio`` (median of lambda_1(P^-1 H) / threshold over
    the last ``fraction`` of the run), ``inside`` (late_ratio within ``band``), ``diverged``.
    ``rate``: the share of the settings inside the band; ``steps``: updates per run."""

    table: pd.DataFrame
    rate: float
    band: tuple[float, float]
    steps: int
    fraction: float


def check_configs(
    base: RunConfig,
    etas: Sequence[float],
    beta1s: Sequence[float],
    beta2s: Sequence[float],
) -> list[RunConfig]:
    """Adam at every (eta, beta1, beta2) of the product of ``etas``, ``beta1s`` and
    ``beta2s`` (eta slowest), from the initialisation of ``base``."""
    return [adam_at(base, *s) for s in product(etas, beta1s, beta2s)]


def grid_check(
    base: RunConfig,
    etas: Sequence[float],
    beta1s: Sequence[float],
    beta2s: Sequence[float],
    *,
    band: tuple[float, float] = (0.85, 1.15),
    fraction: float = 1 / 3,
    vectorize: bool | None = None,
) -> GridCheck:
    """Train :func:`check_configs` now and measure how many late medians lie in ``band``; see
    :class:`GridCheck`. ``vectorize`` (default: the engine's choice, one vmapped batch on an
    accelerator, one run after another on a CPU, where a vmapped batch was slower and batches
    of more than about 20 micro runs hung inside XLA on the 2-core machine here)."""
    configs = check_configs(base, etas, beta1s, beta2s)
    rows = []
    for config, result in zip(configs, _train(configs, vectorize), strict=True):
        used = config.hyperparameters
        late = analysis.late_median(result.records, "ratio", fraction)
        rows.append(
            {
                "eta": config.eta,
                "beta1": used["beta1"],
                "beta2": used["beta2"],
                "threshold": thresholds.optimizer_threshold("adam", config.eta, used["beta1"]),
                "formula": thresholds.threshold_formula("adam", used["beta1"]),
                "late_ratio": late,
                "inside": bool(band[0] <= late <= band[1]),
                "diverged": result.diverged,
            }
        )
    table = pd.DataFrame(rows)
    rate = float(table["inside"].mean())
    return GridCheck(table, rate, (float(band[0]), float(band[1])), base.steps, fraction)
