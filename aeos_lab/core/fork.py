r"""The fork test: does Adam behave like frozen Adam over a short horizon?

The paper's analysis (Cohen et al. 2022, sec. 3 and App. A.2) treats Adam, over a few steps,
as frozen Adam: EMA heavy ball with the preconditioner P held at its current value, that is
EMA heavy ball on the preconditioned Hessian A = P^-1/2 H P^-1/2. On a quadratic, the
component of the preconditioned gradient along A's top eigenvector u then changes by the
factor rho = ``thresholds.growth_factor("ema_hb", eta, beta1, lambda_1(A))`` per step
(notebook 01): it grows once lambda_1(A) = lambda_1(P^-1 H) passes (2 + 2 beta1) /
((1 - beta1) eta).

The fork test checks this on a real loss. From one state of Adam at step k (weights x_k,
momentum m_k, second moment nu_k, P_k = sqrt(nu_k) + eps) it runs two branches for h steps:

* Adam, continuing: nu and so P keep updating (:func:`aeos_lab.core.optimizers.adam`);
* frozen Adam: P = P_k fixed, m continuing (:func:`aeos_lab.core.optimizers.frozen_adam`),

and records in both c_t = u . P_k^-1/2 g_t, with u the top eigenvector of
P_k^-1/2 H_k P_k^-1/2 at the fork (dense Hessian: for small models only). In coordinates
y = P_k^1/2 x frozen Adam is EMA heavy ball and P_k^-1/2 g is the gradient in y, so c_t is the
quantity whose growth rho predicts. |c_t| is fitted log-linearly (:func:`growth_per_step`):
the sign of c_t flips every step above the threshold (the larger root of the recurrence is
negative), the fit uses |c_t|.

Everything here works on a loss of one flat parameter vector, ``loss_fn(x) -> scalar``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from aeos_lab.core import curvature, optimizers, thresholds

__all__ = [
    "ForkBranches",
    "ForkState",
    "adam_search",
    "fork",
    "growth_per_step",
    "part_step",
    "predicted_growth",
]


class ForkState(NamedTuple):
    """Adam's state at the fork: weights ``x``, momentum ``m``, second moment ``nu`` (flat
    arrays) and ``precond`` = P = sqrt(nu) + eps, the P of Adam's latest update."""

    x: jax.Array
    m: jax.Array
    nu: jax.Array
    precond: jax.Array


class ForkBranches(NamedTuple):
    """The two branches of :func:`fork`, t = 0 .. horizon (t = 0 is the fork itself).

    ``c_adam``, ``c_frozen``: c_t = u . P_k^-1/2 g_t in each branch. ``loss_adam``,
    ``loss_frozen``: the loss. ``lam_adam``: lambda_1(P_t^-1 H_t) along the Adam branch (its own
    P); ``lam_frozen``: lambda_1(P_k^-1 H_t) along the frozen branch."""

    c_adam: jax.Array
    c_frozen: jax.Array
    loss_adam: jax.Array
    loss_frozen: jax.Array
    lam_adam: jax.Array
    lam_frozen: jax.Array


def _top(loss_fn, x, precond, v0, tol):
    """lambda_1(P^-1 H) at x (:func:`curvature.sharpness`, block Lanczos), warm-started from
    ``v0``; returns (value, vector)."""
    values, vectors, _ = curvature.sharpness(loss_fn, x, precond=precond, v0=v0, tol=tol)
    return values[0], vectors[0]


def adam_search(
    loss_fn: Callable,
    x0,
    *,
    eta,
    beta1,
    beta2,
    eps: float = 1e-7,
    every: int,
    blocks: int,
    start,
    target,
    tol: float = 1e-3,
):
    """Adam (Eq. 1, no bias correction) from ``x0`` with m = nu = 0, measuring
    lambda_1(P^-1 H) / threshold (threshold = (2 + 2 beta1) / ((1 - beta1) eta); Lanczos to
    relative accuracy ``tol``) every ``every`` steps, for at most ``blocks`` measurements.
    Stops at the first measurement at step >= ``start`` whose ratio is >= ``target``.

    Returns (state, step, ratios): the :class:`ForkState` where it stopped, the step (an int32
    scalar; ``every * blocks`` when the target was never reached) and the ratio of each
    measurement (length ``blocks``, NaN after the stop). Jit-friendly: eta, beta1, beta2, start
    and target may be traced; ``every`` and ``blocks`` must be static."""
    tx = optimizers.adam(eta, beta1, beta2, eps)
    grad_fn = jax.grad(loss_fn)
    threshold = (2.0 + 2.0 * beta1) / ((1.0 - beta1) * eta)

    def one_step(carry, _):
        x, state = carry
        updates, state = tx.update(grad_fn(x), state, x)
        return (x + updates, state), None

    def cond(carry):
        block, done = carry[2], carry[5]
        return (block < blocks) & ~done

    def body(carry):
        x, state, block, ratios, v, _ = carry
        (x, state), _ = jax.lax.scan(one_step, (x, state), None, length=every)
        top, v = _top(loss_fn, x, state.precond, v, tol)
        ratio = top / threshold
        ratios = ratios.at[block].set(ratio)
        done = ((block + 1) * every >= start) & (ratio >= target)
        return x, state, block + 1, ratios, v, done

    x0 = jnp.asarray(x0)
    ratios = jnp.full((blocks,), jnp.nan, dtype=x0.dtype)
    v0 = jax.random.normal(jax.random.key(0), x0.shape, x0.dtype)
    block0 = jnp.asarray(0, jnp.int32)
    init = (x0, tx.init(x0), block0, ratios, v0, jnp.asarray(False))
    x, state, block, ratios, _, _ = jax.lax.while_loop(cond, body, init)
    fork_state = ForkState(x, state.momentum, state.nu, state.precond)
    return fork_state, block * every, ratios


def fork(
    loss_fn: Callable,
    start: ForkState,
    u,
    *,
    eta,
    beta1,
    beta2,
    eps: float = 1e-7,
    horizon: int,
    tol: float = 1e-3,
):
    """Run Adam and frozen Adam (P = ``start.precond``) from ``start`` for ``horizon`` steps
    and record both branches (see :class:`ForkBranches`); ``u`` is the top eigenvector of
    P_k^-1/2 H_k P_k^-1/2 (:func:`aeos_lab.core.split.top_eigenpair`). Each step also measures
    the branch's lambda_1(P^-1 H) by Lanczos (accuracy ``tol``, warm-started). ``horizon``
    must be static under jit; the hyperparameters may be traced."""
    p_k = start.precond
    u = jnp.asarray(u, dtype=start.x.dtype)
    project = u / jnp.sqrt(p_k)  # c = u . P_k^-1/2 g = (P_k^-1/2 u) . g

    adam = optimizers.adam(eta, beta1, beta2, eps)
    frozen = optimizers.frozen_adam(eta, p_k, beta1)
    adam_state = adam.init(start.x)._replace(momentum=start.m, nu=start.nu, precond=p_k)
    frozen_state = frozen.init(start.x)._replace(momentum=start.m)

    def record(x, precond, v):
        loss, g = jax.value_and_grad(loss_fn)(x)
        top, v = _top(loss_fn, x, precond, v, tol)
        return (jnp.dot(project, g), loss, top), g, v

    def step(tx):
        def body(carry, _):
            x, state, v = carry
            row, g, v = record(x, state.precond, v)
            updates, state = tx.update(g, state, x)
            return (x + updates, state, v), row

        return body

    def branch(tx, state):
        # horizon + 1 records (t = 0 .. horizon); the update after the last one is discarded.
        # One scan, rather than a scan plus a final record, traces the Lanczos solver once per
        # branch: it dominates the compilation time.
        _, rows = jax.lax.scan(step(tx), (start.x, state, u), None, length=horizon + 1)
        return rows

    c_adam, loss_adam, lam_adam = branch(adam, adam_state)
    c_frozen, loss_frozen, lam_frozen = branch(frozen, frozen_state)
    return ForkBranches(c_adam, c_frozen, loss_adam, loss_frozen, lam_adam, lam_frozen)


def growth_per_step(c, start: int, stop: int) -> float:
    """The per-step growth factor of |c_t| from a least-squares line through log|c_t| over
    t = ``start`` .. ``stop`` - 1: exp(slope). Needs at least two finite, nonzero values."""
    c = np.abs(np.asarray(c, dtype=float)[start:stop])
    t = np.arange(start, start + len(c))
    keep = np.isfinite(c) & (c > 0)
    if keep.sum() < 2:
        raise ValueError(f"need two finite nonzero values of c in [{start}, {stop}), got {c}")
    slope = np.polyfit(t[keep], np.log(c[keep]), 1)[0]
    return float(np.exp(slope))


def part_step(c_adam, c_frozen, tolerance: float) -> int | None:
    """The first t at which |c_adam| and |c_frozen| differ by more than the fraction
    ``tolerance`` of |c_frozen| (None if they never do)."""
    a = np.abs(np.asarray(c_adam, dtype=float))
    f = np.abs(np.asarray(c_frozen, dtype=float))
    apart = np.abs(a - f) > tolerance * f
    hits = np.flatnonzero(apart)
    return int(hits[0]) if len(hits) else None


def predicted_growth(lam, eta, beta1) -> float:
    """Notebook 01's growth factor rho of EMA heavy ball at curvature ``lam``
    (:func:`aeos_lab.core.thresholds.growth_factor`), frozen Adam's method."""
    return float(thresholds.growth_factor("ema_hb", eta, beta1, float(lam)))
