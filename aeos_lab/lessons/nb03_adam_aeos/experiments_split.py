r"""Notebook 03, "why Adam keeps sharpening at the edge": the change of lambda_1(P^-1 H) between
consecutive measurements split into the part from P changing and the part from H changing.

Adam trains live on the 242-parameter micro network (:data:`aeos_lab.engine.tasks.MICRO_TASK`),
by the engine's own kernels (:func:`aeos_lab.engine.train.states`, the same run as part 1's
panels at the same setting). At every ``track``-th step we keep the parameters x_t and Adam's
P_t = sqrt(nu_t) + eps, and form the dense Hessian H_t = H(x_t) (242 x 242, ``jax.hessian``).
Between measurements t and t' = t + track (:func:`aeos_lab.core.split.split_path`):

    P part = lambda_1(P_t'^-1 H_t) - lambda_1(P_t^-1 H_t)     (P changes, H held)
    H part = lambda_1(P_t^-1 H_t') - lambda_1(P_t^-1 H_t)     (H changes, P held)
    interaction = total - P part - H part.

Sec. 6's account: at the adaptive edge Adam stays there because P keeps growing (negative P
part) while the Hessian keeps sharpening (positive H part), and the two nearly cancel. The paper
states this in words; this split is our own measurement of it, not a figure of the paper.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import numpy as np
import pandas as pd
from jax.flatten_util import ravel_pytree

from aeos_lab.core import optimizers, split, thresholds
from aeos_lab.engine import analysis, train
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.tasks import MICRO_TASK

__all__ = ["SplitRun", "split_base", "split_run"]

Setting = tuple[float, float, float]
"""(eta, beta1, beta2)."""


def split_base(steps: int, track: int) -> RunConfig:
    """Adam on the micro task for ``steps`` updates, paused every ``track`` steps (the
    hyperparameters are set per call of :func:`split_run`)."""
    return RunConfig(**MICRO_TASK, steps=steps, track_every=track)


@functools.lru_cache(maxsize=4)
def _hessians(task: RunConfig):
    """A jitted map from stacked flat parameters (m, n) to the full-batch Hessians (m, n, n) of
    ``task``'s training loss. One Hessian at a time (``lax.map``), reverse over reverse: on the
    2-core machine here, measured for 21 Hessians under load, it used 0.36 s of CPU against
    0.59 s for ``jax.hessian`` (forward over reverse), and a vmapped batch was slower still."""
    loss, _ = train.flat_loss(task)
    return jax.jit(lambda xs: jax.lax.map(jax.jacrev(jax.jacrev(loss)), xs))


@dataclass(frozen=True)
class SplitRun:
    """Adam at (eta, beta1, beta2) on the micro network with the split of every interval.

    ``measurements``: one row per measurement: ``step``, ``precond_sharpness`` =
    lambda_1(P^-1 H), ``ratio`` = that / ``threshold``, ``sharpness`` = lambda_1(H), ``P_mean``.
    ``frame``: one row per interval from ``edge_step`` on (the edge window): ``start``,
    ``step`` (its end), the first-order ``p_part``, ``h_part`` and ``interaction``, the
    symmetric ``shapley_p`` and ``shapley_h`` (they sum to ``total`` exactly), ``total``, and
    the running sums ``cum_p``, ``cum_h`` (Shapley) and ``cum_total`` from ``edge_step``.
    ``edge_step``: the first measurement after step 0 whose ratio is at least ``edge`` (at step
    0 Adam's P is eps and the ratio is huge; P then grows within tens of steps and the ratio
    drops far below 1 before sharpening brings it back up).
    Summary over the edge window: ``cum_p`` and ``cum_h`` (Shapley parts, summed), ``total``
    (the change of lambda_1(P^-1 H) across the window; = cum_p + cum_h), ``first_p``,
    ``first_h`` and ``cum_interaction`` (the first-order parts and what they leave out; the
    three sum to ``total``), ``sharpness_trend`` (fitted relative change of lambda_1(H) over
    the window, :func:`~aeos_lab.engine.analysis.fitted_trend`), ``opposed_share`` (the share
    of intervals whose Shapley H part is > 0 and P part < 0), ``edge_median`` (median ratio
    over the window), ``start_value`` (lambda_1(P^-1 H) at ``edge_step``) and ``intervals``."""

    eta: float
    beta1: float
    beta2: float
    threshold: float
    formula: str
    measurements: pd.DataFrame
    frame: pd.DataFrame
    edge_step: int
    edge: float
    cum_p: float
    cum_h: float
    total: float
    first_p: float
    first_h: float
    cum_interaction: float
    start_value: float
    sharpness_trend: analysis.Trend
    opposed_share: float
    edge_median: float
    intervals: int
    diverged: bool

    def cancellation(self) -> float:
        """|cum_p + cum_h| / max(|cum_p|, |cum_h|): how little of either part survives in
        their sum (0: they cancel exactly; 1: one of them is zero)."""
        big = max(abs(self.cum_p), abs(self.cum_h))
        return abs(self.cum_p + self.cum_h) / big if big > 0 else float("nan")


def _states(config: RunConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps, flat parameters (m, n) and flat P (m, n) of ``config``'s run at every
    ``track_every``-th step (fewer if it stops early)."""
    steps, xs, ps = [], [], []
    at = range(0, config.steps + 1, config.track_every)
    for step, params, opt_state in train.states(config, at):
        steps.append(step)
        xs.append(ravel_pytree(params)[0])
        ps.append(ravel_pytree(optimizers.preconditioner(opt_state))[0])
    return np.asarray(steps), np.stack(xs), np.stack(ps)


def split_run(base: RunConfig, setting: Setting, *, edge: float = 0.9) -> SplitRun:
    """Train Adam at ``setting`` = (eta, beta1, beta2) from ``base`` (:func:`split_base`) now
    and split each interval's change of lambda_1(P^-1 H); see :class:`SplitRun`."""
    eta, beta1, beta2 = (float(v) for v in setting)
    config = base.replace(eta=eta, beta1=beta1, beta2=beta2)
    steps, xs, ps = _states(config)
    hessians = np.asarray(_hessians(base.task())(xs), dtype=np.float64)
    finite = np.all(np.isfinite(hessians), axis=(1, 2)) & np.all(np.isfinite(ps), axis=1)
    diverged = bool(not finite.all()) or len(steps) < len(
        range(0, base.steps + 1, base.track_every)
    )
    keep = int(np.argmin(finite)) if not finite.all() else len(steps)
    steps, ps, hessians = steps[:keep], ps[:keep], hessians[:keep]
    threshold = float(thresholds.optimizer_threshold("adam", eta, beta1))
    path = split.split_path(ps, hessians)
    lam = np.append(path.lam_00, path.lam_11[-1])
    raw = split.preconditioned_top(np.ones_like(ps), hessians)  # lambda_1(H)
    measurements = pd.DataFrame(
        {
            "step": steps,
            "precond_sharpness": lam,
            "ratio": lam / threshold,
            "sharpness": raw,
            "P_mean": ps.mean(axis=1),
        }
    )
    above = np.flatnonzero((measurements["ratio"].to_numpy() >= edge) & (steps > 0))
    first = int(above[0]) if len(above) else len(steps) - 1
    window = slice(first, None)
    parts = pd.DataFrame(
        {
            "start": steps[:-1],
            "step": steps[1:],
            "p_part": path.p_part,
            "h_part": path.h_part,
            "interaction": path.interaction,
            "total": path.total,
            "shapley_p": path.shapley_p,
            "shapley_h": path.shapley_h,
        }
    ).iloc[window]
    frame = parts.reset_index(drop=True)
    for name, column in (("cum_p", "shapley_p"), ("cum_h", "shapley_h"), ("cum_total", "total")):
        frame[name] = frame[column].cumsum()
    at_edge = measurements.iloc[window]
    if len(at_edge) >= 3:
        trend = analysis.fitted_trend(at_edge, "sharpness", 1.0)
    else:  # the run reached the edge too late (or never) for a trend
        trend = analysis.Trend(float("nan"), float("nan"), len(at_edge))
    opposed = (frame["shapley_h"] > 0) & (frame["shapley_p"] < 0)
    return SplitRun(
        eta=eta,
        beta1=beta1,
        beta2=beta2,
        threshold=threshold,
        formula=thresholds.threshold_formula("adam", beta1),
        measurements=measurements,
        frame=frame,
        edge_step=int(steps[first]),
        edge=float(edge),
        cum_p=float(frame["shapley_p"].sum()),
        cum_h=float(frame["shapley_h"].sum()),
        total=float(frame["total"].sum()),
        first_p=float(frame["p_part"].sum()),
        first_h=float(frame["h_part"].sum()),
        cum_interaction=float(frame["interaction"].sum()),
        start_value=float(lam[first]),
        sharpness_trend=trend,
        opposed_share=float(opposed.mean()) if len(frame) else float("nan"),
        edge_median=float(at_edge["ratio"].median()),
        intervals=len(frame),
        diverged=diverged,
    )
