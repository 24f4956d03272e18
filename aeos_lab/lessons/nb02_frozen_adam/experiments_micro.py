r"""Experiments of notebook 02's first part: the edge of stability on the 242-parameter micro
network (:data:`aeos_lab.engine.tasks.MICRO_TASK`, a tanh MLP 4-12-12-2 on 256 Gaussian points
with Gaussian targets, MSE, full batch), small enough that a whole run, with its sharpness
measured every ``track_every`` steps, recomputes on every slider release.

* :func:`gd_edge`: plain gradient descent, x_{t+1} = x_t - eta grad f(x_t). On a quadratic it
  is stable while lambda_1(H) < 2/eta; on a network lambda_1(H) rises (progressive sharpening)
  until it reaches 2/eta and then hovers there while the loss keeps falling, not monotonically
  (the edge of stability, Cohen et al. 2021).
* :func:`adam_vs_frozen`: Adam without bias correction (Eq. 1) and frozen Adam, whose P is
  Adam's P_{freeze_at} from the same Adam run, restarted from the initialisation:
  m_{t+1} = beta1 m_t + (1 - beta1) g_t, x_{t+1} = x_t - eta P^-1 m_{t+1}. Both hold
  lambda_1(P^-1 H) at (2 + 2 beta1) / ((1 - beta1) eta), 38/eta at beta1 = 0.9; the raw
  sharpness lambda_1(H) keeps rising under Adam (whose P adapts) and stops under frozen Adam.

Runs here bypass the run cache (``cache=False``): they are recomputed on every call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import pandas as pd

from aeos_lab.core import thresholds
from aeos_lab.engine import analysis, train
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.tasks import MICRO_TASK

if TYPE_CHECKING:
    from aeos_lab.lessons.nb02_frozen_adam.params import Params

__all__ = [
    "ADAM",
    "FROZEN",
    "REACHED",
    "AdamVsFrozen",
    "GDEdge",
    "RunSummary",
    "adam_frozen_configs",
    "adam_vs_frozen",
    "gd_config",
    "gd_edge",
    "micro_base",
]

REACHED = 0.95
"""A run has reached its threshold at the first measurement with lambda / threshold >= this."""


def micro_base(P: Params) -> RunConfig:
    """The micro task with ``P``'s run length, measurement spacing and eigenvalue accuracy."""
    return RunConfig(
        **MICRO_TASK,
        steps=P.micro_steps,
        track_every=P.micro_track_every,
        eig_tol=P.micro_eig_tol,
    )


def _reached_at(records: pd.DataFrame) -> int | None:
    hits = records.loc[records["ratio"] >= REACHED, "step"]
    return int(hits.iloc[0]) if len(hits) else None


# ---------------------------------------------------------------------------------------------
# (a) plain gradient descent rises to 2/eta


def gd_config(base: RunConfig, eta: float) -> RunConfig:
    """Plain full-batch gradient descent at ``eta`` on ``base``'s task and measurements."""
    return base.replace(optimizer="gd", eta=float(eta))


@dataclass(frozen=True)
class GDEdge:
    """Gradient descent on the micro network at one eta (:func:`gd_edge`).

    ``records``: the run's measurements (step, loss, sharpness = lambda_1(H), threshold = 2/eta,
    ratio = lambda_1(H) / (2/eta), ...). ``threshold`` and ``formula`` ("2/η") give the line
    the sharpness meets. ``start_ratio``: the ratio at step 0; ``reached_at``: the first
    measured step with ratio >= :data:`REACHED` (None if never); ``late_ratio``: its median
    over the last ``fraction`` of the ``steps``; ``sharpness_fit`` and ``loss_fit``: the
    :func:`analysis.fitted_trend` of lambda_1(H) and of the loss over that late part (relative
    change from a fitted line, its standard error, the number of measurements), whose changes
    are ``sharpness_trend`` and ``loss_trend``."""

    records: pd.DataFrame
    eta: float
    threshold: float
    formula: str
    steps: int
    fraction: float
    start_ratio: float
    reached_at: int | None
    late_ratio: float
    sharpness_trend: float
    loss_trend: float
    diverged: bool
    sharpness_fit: analysis.Trend
    loss_fit: analysis.Trend


def gd_edge(base: RunConfig, eta: float, *, fraction: float = 1 / 3) -> GDEdge:
    """Train :func:`gd_config` now (no cache) and summarise it (see :class:`GDEdge`)."""
    (result,) = train.sweep([gd_config(base, eta)], cache=False, progress=False)
    records = result.records
    sharpness_fit = analysis.fitted_trend(records, "sharpness", fraction)
    loss_fit = analysis.fitted_trend(records, "loss", fraction)
    return GDEdge(
        records=records,
        eta=float(eta),
        threshold=float(thresholds.optimizer_threshold("gd", eta)),
        formula=thresholds.threshold_formula("gd"),
        steps=base.steps,
        fraction=fraction,
        start_ratio=float(records["ratio"].iloc[0]),
        reached_at=_reached_at(records),
        late_ratio=analysis.late_median(records, "ratio", fraction),
        sharpness_trend=sharpness_fit.change,
        loss_trend=loss_fit.change,
        diverged=result.diverged,
        sharpness_fit=sharpness_fit,
        loss_fit=loss_fit,
    )


# ---------------------------------------------------------------------------------------------
# (b) Adam against frozen Adam


ADAM, FROZEN = "Adam", "frozen Adam"
"""Labels of the two runs of :func:`adam_vs_frozen`."""


def adam_frozen_configs(
    base: RunConfig, *, eta: float, beta1: float, beta2: float, freeze_at: int
) -> list[RunConfig]:
    """[Adam, frozen Adam] at (``eta``, ``beta1``, ``beta2``); frozen Adam's P is Adam's P after
    ``freeze_at`` steps of the same Adam run (``freeze_eta`` = ``eta``)."""
    adam = base.replace(optimizer="adam", eta=float(eta), beta1=beta1, beta2=beta2)
    return [adam, adam.replace(optimizer="frozen_adam", freeze_at=freeze_at, freeze_eta=eta)]


class RunSummary(NamedTuple):
    """One run of :class:`AdamVsFrozen`: the median of lambda_1(P^-1 H) / threshold over the
    late part (``late_ratio``), the :func:`analysis.fitted_trend` of the raw sharpness
    lambda_1(H) there (``sharpness_fit``, whose change is ``sharpness_trend``), its final raw
    sharpness and loss, and whether it diverged."""

    late_ratio: float
    sharpness_trend: float
    final_sharpness: float
    final_loss: float
    diverged: bool
    sharpness_fit: analysis.Trend


@dataclass(frozen=True)
class AdamVsFrozen:
    """Adam and frozen Adam from one initialisation at one setting (:func:`adam_vs_frozen`).

    ``runs``: tidy records of both (:func:`aeos_lab.engine.analysis.trajectories`; ``label``
    is :data:`ADAM` or :data:`FROZEN`; Adam's step 0, where P = eps, is left out).
    ``adam``, ``frozen``: their :class:`RunSummary`. ``threshold``: (2 + 2 beta1) / ((1 - beta1)
    eta), the line both hold lambda_1(P^-1 H) at, written ``formula`` (e.g. "38/η"). Late = the
    last ``fraction`` of the ``steps``; P is frozen at step ``freeze_at``."""

    runs: pd.DataFrame
    adam: RunSummary
    frozen: RunSummary
    eta: float
    beta1: float
    beta2: float
    freeze_at: int
    threshold: float
    formula: str
    steps: int
    fraction: float


def _summary(result, fraction: float) -> RunSummary:
    records = result.records
    sharpness_fit = analysis.fitted_trend(records, "sharpness", fraction)
    return RunSummary(
        late_ratio=analysis.late_median(records, "ratio", fraction),
        sharpness_trend=sharpness_fit.change,
        final_sharpness=float(records["sharpness"].iloc[-1]),
        final_loss=float(records["loss"].iloc[-1]),
        diverged=result.diverged,
        sharpness_fit=sharpness_fit,
    )


def adam_vs_frozen(
    base: RunConfig,
    *,
    eta: float,
    beta1: float,
    beta2: float,
    freeze_at: int,
    fraction: float = 1 / 3,
) -> AdamVsFrozen:
    """Train :func:`adam_frozen_configs` now (no cache) and summarise both (see
    :class:`AdamVsFrozen`)."""
    configs = adam_frozen_configs(base, eta=eta, beta1=beta1, beta2=beta2, freeze_at=freeze_at)
    adam, frozen = train.sweep(configs, cache=False, progress=False)
    return AdamVsFrozen(
        runs=analysis.trajectories([adam, frozen], [ADAM, FROZEN]),
        adam=_summary(adam, fraction),
        frozen=_summary(frozen, fraction),
        eta=float(eta),
        beta1=float(beta1),
        beta2=float(beta2),
        freeze_at=freeze_at,
        threshold=float(thresholds.optimizer_threshold("frozen_adam", eta, beta1)),
        formula=thresholds.threshold_formula("adam", beta1),
        steps=base.steps,
        fraction=fraction,
    )
