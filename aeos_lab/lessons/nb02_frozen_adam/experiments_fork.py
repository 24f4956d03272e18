r"""The fork test of notebook 02: does Adam behave like frozen Adam over a short horizon?

The paper models Adam, over a few steps, as frozen Adam (P held fixed), so that notebook 01's
growth factor of EMA heavy ball applies to the preconditioned Hessian. :func:`fork_test` tests
that on the micro network (:data:`aeos_lab.engine.tasks.MICRO_TASK`, full batch, MSE):

1. Adam (Eq. 1, no bias correction) trains from the initialisation; lambda_1(P^-1 H) is
   measured every ``every`` steps (Lanczos). The fork step k is the first measurement at or
   after step ``search_from`` where lambda_1(P^-1 H) / (38/eta) (at beta1 = 0.9) reaches
   ``target``: the start of an excursion past the threshold.
2. At step k the dense Hessian H_k (a few hundred parameters) gives lambda_1 and the top
   eigenvector u of P_k^-1/2 H_k P_k^-1/2, and notebook 01's rho = growth_factor("ema_hb", eta,
   beta1, lambda_1) predicts how fast the gradient grows along u per step.
3. Two branches run ``horizon`` steps from Adam's state: Adam continuing (P updated) and frozen
   Adam (P = P_k, m continuing). Each records c_t = u . P_k^-1/2 g_t (:mod:`aeos_lab.core.fork`).

The growth of each branch is a log-linear fit of |c_t| over t = 1 .. ``fit_steps``; the branches
part at the first t where |c| of Adam differs from frozen Adam's by more than ``part_tol``.
Nothing is stored on disk; the last 16 settings are kept in memory, so changing only the horizon
shown recomputes nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from aeos_lab.core import fork, split, thresholds
from aeos_lab.engine import train
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.tasks import MICRO_TASK

__all__ = [
    "ADAM",
    "FROZEN",
    "PREDICTED",
    "ForkTest",
    "fork_kernel",
    "fork_test",
    "micro_loss",
]

ADAM, FROZEN, PREDICTED = "Adam", "frozen Adam", "predicted ρᵗ"
"""Labels of the two branches and of notebook 01's prediction in :attr:`ForkTest.frame`."""


def micro_loss(config: RunConfig | None = None):
    """(loss_fn, x0): :func:`aeos_lab.engine.train.flat_loss` of ``config`` (default: the
    :data:`MICRO_TASK`)."""
    return train.flat_loss(RunConfig(**MICRO_TASK) if config is None else config)


@functools.lru_cache(maxsize=8)
def fork_kernel(loss_fn, *, every: int, blocks: int, horizon: int, eig_tol: float):
    """The two compiled halves of the test for one loss and one set of static sizes:
    ``search(x0, eta, beta1, beta2, start, target) -> (state, step, ratios, hessian)`` and
    ``branches(state, u, eta, beta1, beta2) -> ForkBranches``. Compiled once (seconds); the
    hyperparameters are traced, so moving a slider does not recompile."""

    @jax.jit
    def search(x0, eta, beta1, beta2, start, target):
        state, step, ratios = fork.adam_search(
            loss_fn,
            x0,
            eta=eta,
            beta1=beta1,
            beta2=beta2,
            every=every,
            blocks=blocks,
            start=start,
            target=target,
            tol=eig_tol,
        )
        return state, step, ratios, jax.hessian(loss_fn)(state.x)

    @jax.jit
    def branches(state, u, eta, beta1, beta2):
        return fork.fork(
            loss_fn, state, u, eta=eta, beta1=beta1, beta2=beta2, horizon=horizon, tol=eig_tol
        )

    return search, branches


@dataclass(frozen=True)
class ForkTest:
    """One fork test (:func:`fork_test`).

    ``frame``: one row per (branch, t), t = 0 .. ``horizon``: ``branch`` (:data:`ADAM`,
    :data:`FROZEN` or :data:`PREDICTED`), ``t``, ``c`` (c_t = u . P_k^-1/2 g_t; for the
    prediction |c_1| rho^(t-1)), ``abs_c``, ``loss`` and ``ratio`` = the branch's
    lambda_1(P^-1 H) / threshold (Adam: its own P_t; frozen Adam: P_k). ``search``: the
    measurements before the fork (``step``, ``ratio``).
    ``fork_step``: k (None when no measurement reached ``target`` within the run); ``lam``:
    lambda_1(P_k^-1 H_k) (dense); ``ratio`` = lam / ``threshold``; ``predicted``: rho;
    ``growth_frozen``, ``growth_adam``: the fitted per-step growth of |c_t| over t = 1 ..
    ``fit_steps``; ``parted_at``: the first t where the branches' |c| differ by more than
    ``part_tol`` (None: not within the horizon)."""

    frame: pd.DataFrame
    search: pd.DataFrame
    eta: float
    beta1: float
    beta2: float
    target: float
    search_from: int
    fork_step: int | None
    lam: float
    threshold: float
    formula: str
    ratio: float
    predicted: float
    growth_frozen: float
    growth_adam: float
    parted_at: int | None
    horizon: int
    fit_steps: int
    part_tol: float

    @property
    def frozen_error(self) -> float:
        """growth_frozen / predicted - 1: how far frozen Adam's growth is from notebook 01's."""
        return self.growth_frozen / self.predicted - 1.0

    @property
    def adam_error(self) -> float:
        """growth_adam / predicted - 1."""
        return self.growth_adam / self.predicted - 1.0


@functools.lru_cache(maxsize=16)
def _branches(
    eta, beta1, beta2, target, search_from, every, max_steps, max_horizon, eig_tol, config
):
    """Adam up to the fork and both branches over ``max_horizon`` steps, as numpy arrays:
    (state, step, ratios, lambda_1 at the fork, branches). Cached by value, so that moving the
    horizon shown (:func:`fork_test`'s ``horizon``) recomputes nothing."""
    loss_fn, x0 = micro_loss(config)
    search, branches = fork_kernel(
        loss_fn, every=every, blocks=max_steps // every, horizon=max_horizon, eig_tol=eig_tol
    )
    dtype = x0.dtype
    hyper = [jnp.asarray(v, dtype) for v in (eta, beta1, beta2)]
    state, step, ratios, hessian = search(
        x0, *hyper, jnp.asarray(search_from, jnp.int32), jnp.asarray(target, dtype)
    )
    lam, u = split.top_eigenpair(state.precond, hessian)
    out = jax.tree.map(np.asarray, branches(state, u, *hyper))
    return state, int(step), np.asarray(ratios), lam, out


def fork_test(
    *,
    eta: float,
    beta1: float,
    beta2: float,
    target: float,
    search_from: int,
    every: int,
    max_steps: int,
    horizon: int,
    fit_steps: int,
    part_tol: float,
    eig_tol: float = 1e-3,
    max_horizon: int | None = None,
    config: RunConfig | None = None,
) -> ForkTest:
    """Run the fork test on the micro task (see the module docstring). ``max_horizon`` (>=
    ``horizon``) is the horizon that is computed (a static size: keeping it fixed while the
    ``horizon`` shown changes avoids a recompilation); the result keeps the first ``horizon``
    steps."""
    max_horizon = horizon if max_horizon is None else max_horizon
    if not 1 <= horizon <= max_horizon:
        raise ValueError(f"horizon must lie in [1, {max_horizon}], got {horizon}")
    if not 2 <= fit_steps <= horizon:
        raise ValueError(f"fit_steps must lie in [2, horizon = {horizon}], got {fit_steps}")
    _, step, ratios, lam, out = _branches(
        float(eta),
        float(beta1),
        float(beta2),
        float(target),
        int(search_from),
        every,
        max_steps,
        max_horizon,
        eig_tol,
        config,
    )
    reached = step >= search_from and step // every >= 1 and ratios[step // every - 1] >= target
    threshold = float(thresholds.optimizer_threshold("adam", eta, beta1))
    rho = fork.predicted_growth(lam, eta, beta1)
    keep = slice(0, horizon + 1)
    c_adam, c_frozen = np.asarray(out.c_adam)[keep], np.asarray(out.c_frozen)[keep]
    t = np.arange(horizon + 1)
    predicted = np.abs(c_frozen[1]) * rho ** (t - 1.0)
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "branch": label,
                    "t": t,
                    "c": c,
                    "abs_c": np.abs(c),
                    "loss": np.asarray(loss)[keep],
                    "ratio": np.asarray(top)[keep] / threshold,
                }
            )
            for label, c, loss, top in (
                (ADAM, c_adam, out.loss_adam, out.lam_adam),
                (FROZEN, c_frozen, out.loss_frozen, out.lam_frozen),
            )
        ]
        + [pd.DataFrame({"branch": PREDICTED, "t": t, "c": predicted, "abs_c": predicted})],
        ignore_index=True,
    )
    measured = np.isfinite(ratios)
    search_frame = pd.DataFrame(
        {"step": every * (1 + np.flatnonzero(measured)), "ratio": ratios[measured]}
    )
    fit = slice(1, fit_steps + 1)
    return ForkTest(
        frame=frame,
        search=search_frame,
        eta=float(eta),
        beta1=float(beta1),
        beta2=float(beta2),
        target=float(target),
        search_from=int(search_from),
        fork_step=step if reached else None,
        lam=lam,
        threshold=threshold,
        formula=thresholds.threshold_formula("adam", beta1),
        ratio=lam / threshold,
        predicted=rho,
        growth_frozen=fork.growth_per_step(c_frozen, fit.start, fit.stop),
        growth_adam=fork.growth_per_step(c_adam, fit.start, fit.stop),
        parted_at=fork.part_step(c_adam, c_frozen, part_tol),
        horizon=horizon,
        fit_steps=fit_steps,
        part_tol=part_tol,
    )
