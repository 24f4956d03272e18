r"""Exercises of notebook 02: the learner writes power iteration on Hessian-vector products,
frozen Adam's update, and the preconditioned Hessian-vector product P^-1/2 H P^-1/2 v; each
check runs the learner's code next to the library's (:mod:`aeos_lab.core.optimizers`,
:mod:`aeos_lab.core.curvature`) on a small problem and says whether they agree
(:func:`aeos_lab.lessons.exercises.check`).

* :func:`check_top_eigenvalue`: ``top(loss_fn, x) -> lambda_1`` of the Hessian of ``loss_fn``
  at the flat vector ``x`` (power iteration on jax.jvp of jax.grad), on the micro network at its
  initialisation, against ``curvature.sharpness``.
* :func:`check_frozen_adam_step`: ``step(x, m, g, precond, eta, beta1) -> (x_new, m_new)``
  with m_new = beta1 m + (1 - beta1) g and x_new = x - eta m_new / P, run for a few steps on a
  6-dimensional quadratic against ``optimizers.frozen_adam``.
* :func:`check_precond_hvp`: ``phvp(loss_fn, x, precond, v) -> P^-1/2 H P^-1/2 v`` against
  ``curvature.preconditioned_hvp``, with P = Adam's P on the micro network at the step part 1
  freezes it; the detail reports lambda_1(P^-1 H) there against its threshold.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from aeos_lab.core import curvature, optimizers, thresholds
from aeos_lab.engine import traces, train
from aeos_lab.lessons import exercises
from aeos_lab.lessons.nb02_frozen_adam import experiments_micro

if TYPE_CHECKING:
    from aeos_lab.lessons.nb02_frozen_adam.params import Params

__all__ = [
    "check_frozen_adam_step",
    "check_precond_hvp",
    "check_top_eigenvalue",
    "micro_loss",
    "micro_precond",
]

STEPS = 5
"""Steps of the learner's frozen Adam compared with the library's."""


def micro_loss(P: Params):
    """(loss_fn, x0): the micro network's full-batch MSE as a function of one flat parameter
    vector (242 numbers), and that vector at the initialisation every run of part 1 starts
    from."""
    return train.flat_loss(experiments_micro.micro_base(P))


def micro_precond(P: Params):
    """Adam's P (flat, 242 numbers) after ``P.micro_freeze_at`` steps at ``P.micro_eta``, beta1
    and ``P.micro_beta2``: the P that frozen Adam keeps in part 1 at the sliders' start."""
    return _micro_precond(
        experiments_micro.micro_base(P).replace(
            optimizer="adam", eta=P.micro_eta, beta1=P.beta1, beta2=P.micro_beta2
        ),
        P.micro_freeze_at,
    )


@functools.lru_cache(maxsize=2)
def _micro_precond(config, step):
    return ravel_pytree(traces.adam_precond(config, step))[0]


# ---------------------------------------------------------------------------------------------
# Exercise 2: frozen Adam's update by hand


def _quadratic(seed: int = 0, dim: int = 6):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    a = q @ np.diag(np.geomspace(0.1, 10.0, dim)) @ q.T
    b = rng.standard_normal(dim)
    precond = 10.0 ** rng.uniform(-2, 0, dim)  # entries over two decades, like a real P
    return a, b, precond, rng.standard_normal(dim)


def check_frozen_adam_step(step, eta: float = 0.01, beta1: float = 0.9) -> bool | None:
    """Exercise 2: ``step(x, m, g, precond, eta, beta1) -> (x_new, m_new)`` is frozen Adam's
    update; run :data:`STEPS` of it from m = 0 on f(x) = x^T A x / 2 - b^T x and compare every
    iterate with ``optimizers.frozen_adam``."""

    def judge() -> str:
        a, b, precond, x0 = _quadratic()
        x, m = x0.copy(), np.zeros_like(x0)
        tx = optimizers.frozen_adam(eta, jnp.asarray(precond), beta1)
        lib_x = jnp.asarray(x0)
        state = tx.init(lib_x)
        mine, theirs = [], []
        for _ in range(STEPS):
            out = step(x, m, a @ x - b, precond, eta, beta1)
            exercises.expect(
                isinstance(out, tuple) and len(out) == 2,
                "step should return the pair (x_new, m_new)",
            )
            x, m = (np.asarray(v, dtype=float) for v in out)
            updates, state = tx.update(a @ np.asarray(lib_x) - b, state, lib_x)
            lib_x = optax.apply_updates(lib_x, updates)
            mine.append(x)
            theirs.append(np.asarray(lib_x, dtype=float))
        detail = exercises.expect_close(
            np.stack(mine), np.stack(theirs), f"x over {STEPS} steps", rtol=1e-4, atol=1e-6
        )
        return f"{detail} with optimizers.frozen_adam (eta = {eta:g}, beta1 = {beta1:g})."

    return exercises.check("Exercise 2", judge)


# ---------------------------------------------------------------------------------------------
# Exercise 1: power iteration on Hessian-vector products


def check_top_eigenvalue(top, P: Params) -> bool | None:
    """Exercise 1: ``top(loss_fn, x)`` is lambda_1 of the Hessian of ``loss_fn`` at ``x``; on
    the micro network at its initialisation it must agree with the library's Lanczos
    eigensolver to 0.5% (power iteration's own accuracy after a hundred or so products)."""

    def judge() -> str:
        loss_fn, x0 = micro_loss(P)
        got = float(top(loss_fn, x0))
        want = float(curvature.sharpness(loss_fn, x0, tol=1e-5)[0][0])
        detail = exercises.expect_close(got, want, "lambda_1(H) at the initialisation", 5e-3)
        return (
            f"{detail} with curvature.sharpness: {got:.4g} against {want:.4g}, which is "
            f"{want / thresholds.optimizer_threshold('gd', P.gd_eta):.2f} of 2/eta at "
            f"eta = {P.gd_eta:g} (section (a) starts there)."
        )

    return exercises.check("Exercise 1", judge)


# ---------------------------------------------------------------------------------------------
# Exercise 3: the preconditioned Hessian-vector product


def check_precond_hvp(phvp, P: Params) -> bool | None:
    """Exercise 3: ``phvp(loss_fn, x, precond, v)`` is P^-1/2 H P^-1/2 v; compared with
    ``curvature.preconditioned_hvp`` for two random v at the micro network's initialisation,
    with Adam's P from part 1; the detail gives lambda_1(P^-1 H) there (the library's)."""

    def judge() -> str:
        loss_fn, x0 = micro_loss(P)
        precond = micro_precond(P)
        vs = jax.random.normal(jax.random.key(1), (2, x0.size), x0.dtype)
        got = np.stack([np.asarray(phvp(loss_fn, x0, precond, v), dtype=float) for v in vs])
        want = np.stack(
            [np.asarray(curvature.preconditioned_hvp(loss_fn, x0, precond, v)) for v in vs]
        )
        detail = exercises.expect_close(got, want, "P^-1/2 H P^-1/2 v", rtol=1e-3, atol=1e-4)
        psharp = float(curvature.sharpness(loss_fn, x0, precond=precond, tol=1e-4)[0][0])
        line = thresholds.optimizer_threshold("frozen_adam", P.micro_eta, P.beta1)
        formula = thresholds.threshold_formula("adam", P.beta1)
        return (
            f"{detail} with curvature.preconditioned_hvp. With this P, lambda_1(P^-1 H) at the "
            f"initialisation is {psharp:.4g}: {psharp / line:.2f} of {formula} = {line:.4g} at "
            f"eta = {P.micro_eta:g}, while lambda_1(H) there is about 3."
        )

    return exercises.check("Exercise 3", judge)
