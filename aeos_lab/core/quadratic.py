r"""Optimizers on quadratics, jitted and vectorised over eta, beta1 and beta2 (notebook 01).

:func:`simulate` runs any optimizer of :mod:`aeos_lab.optimizers` (the same optax
transformations used for networks, so every update rule has one implementation) on

    f(x) = a x^2 / 2            (``hessian`` a scalar a; then d = 1), or
    f(x) = x^T A x / 2          (``hessian`` a symmetric (d, d) matrix A),

whose gradient is g = A x. On a quadratic each momentum method is a linear recurrence, and
it diverges exactly when an eigenvalue of the (preconditioned) Hessian P^-1/2 A P^-1/2 passes
the method's threshold (paper Table 1, Prop. 1; see :mod:`aeos_lab.thresholds`). Adaptive
methods are not linear: RMSprop with nu_0 = 1 past 2/eta oscillates explosively until the
large gradients raise nu and halt the divergence (paper App. B, Fig. 12).

Vectorisation and speed. ``eta``, ``beta1`` and ``beta2`` are scalars or arrays that broadcast
together; the outputs get their broadcast shape as leading axes. The compiled function is
cached per (optimizer, steps, non-float hyperparameters) and jax.jit caches it per input shape,
so new values of eta, beta1, beta2, x0, m0, precond, the Hessian's entries or float
hyperparameters (eps, initial_nu, ...) reuse the compiled code. Optimizers without a beta1 (gd,
rmsprop, adagrad) or a beta2 ignore it, but the output still broadcasts over it.

Divergent runs overflow to inf / nan without raising; :func:`max_abs` and :func:`diverged`
summarise them.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from aeos_lab.core import optimizers as _opt
from aeos_lab.core.validation import (
    _is_traced,
    canonical_name,
    check_beta,
    check_int_at_least,
    check_positive,
)

__all__ = ["QuadraticRun", "diverged", "max_abs", "simulate"]


class QuadraticRun(NamedTuple):
    """Trajectories of :func:`simulate`, numpy arrays; ``...`` is the (eta, beta1, beta2) shape.

    ``x``, ``momentum``, ``nu``, ``precond``: (..., steps + 1, d), index t = after t updates
    (t = 0: the initial values). ``momentum`` is the buffer m_t (NaN for gd, rmsprop, adagrad,
    which keep none); ``nu`` is :func:`aeos_lab.optimizers.second_moment` (NaN for non-adaptive
    methods); ``precond`` the P_t of the latest update (P_0 from the initial statistics).
    ``grad_norm`` = ||A x_t|| and ``loss`` = x_t^T A x_t / 2: (..., steps + 1).
    """

    x: np.ndarray
    momentum: np.ndarray
    nu: np.ndarray
    precond: np.ndarray
    grad_norm: np.ndarray
    loss: np.ndarray


# ---------------------------------------------------------------------------------------------
# Validation


def _check_every(value, name: str, check, valid):
    """Every element must pass ``valid``; the first one that fails goes through ``check``.

    ``check`` is the scalar check of ``aeos_lab._validation`` (it writes the message).
    """
    if _is_traced(value):
        return
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number or an array of them") from None
    if array.ndim == 0:
        check(float(array), name)
        return
    bad = ~valid(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        try:
            check(float(array[index]), name)
        except ValueError as error:
            raise ValueError(f"{error} (at index {index})") from None


def _check_hessian(hessian) -> np.ndarray:
    try:
        matrix = np.asarray(hessian, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("hessian must be a scalar or a symmetric (d, d) matrix") from None
    if matrix.ndim == 0:
        matrix = matrix.reshape(1, 1)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ValueError(
            f"hessian must be a scalar or a square symmetric (d, d) matrix, got shape "
            f"{np.shape(hessian)}"
        )
    if not np.all(np.isfinite(matrix)):
        raise ValueError("hessian must be finite")
    scale = max(float(np.max(np.abs(matrix))), np.finfo(float).tiny)
    if np.max(np.abs(matrix - matrix.T)) > 1e-10 * scale:
        raise ValueError(f"hessian must be symmetric (A == A.T); got shape {matrix.shape}")
    return matrix


def _check_vector(value, name: str, d: int, positive: bool = False) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a scalar or a vector of shape ({d},)") from None
    if array.shape not in ((), (d,)):
        raise ValueError(f"{name} must be a scalar or a vector of shape ({d},), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    if positive and not np.all(array > 0):
        raise ValueError(f"{name} must be finite and > 0 everywhere")
    return np.broadcast_to(array, (d,))


def _float_dtype(x0):
    dtype = getattr(x0, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jnp.floating):
        return jnp.dtype(dtype)
    return jnp.asarray(1.0).dtype


def _is_dynamic(value) -> bool:
    """Float hyperparameters are traced (no recompilation); bools, ints, others are static."""
    return isinstance(value, (float, np.floating)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# The compiled simulator


@functools.lru_cache(maxsize=64)
def _compiled(name: str, steps: int, static_items: tuple, dynamic_names: tuple, flags: tuple):
    takes_beta1, takes_beta2, has_precond = flags
    factory = _opt.OPTIMIZERS[name]

    def single(hessian, x0, m0, precond, eta, beta1, beta2, dynamic_values):
        kwargs = dict(static_items)
        kwargs.update(zip(dynamic_names, dynamic_values, strict=True))
        if takes_beta1:
            kwargs["beta1"] = beta1
        if takes_beta2:
            kwargs["beta2"] = beta2
        if has_precond:
            kwargs["precond"] = precond
        optimizer = factory(eta, **kwargs)
        state = optimizer.init(x0)
        if state.momentum is not None:
            state = state._replace(momentum=m0)

        def record(x, state):
            grad = hessian @ x
            nan = jnp.full_like(x, jnp.nan)
            nu = _opt.second_moment(state)
            return {
                "x": x,
                "momentum": nan if state.momentum is None else state.momentum,
                "nu": nan if nu is None else nu,
                "precond": state.precond,
                "grad_norm": jnp.linalg.norm(grad),
                "loss": 0.5 * x @ grad,
            }

        def step(carry, _):
            x, state = carry
            updates, state = optimizer.update(hessian @ x, state, x)
            x = x + updates
            return (x, state), record(x, state)

        _, history = jax.lax.scan(step, (x0, state), None, length=steps)
        first = record(x0, state)
        return jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, history)

    batched = jax.vmap(single, in_axes=(None, None, None, None, 0, 0, 0, None))
    return jax.jit(batched)


def simulate(
    optimizer: str,
    hessian,
    eta,
    beta1=0.0,
    beta2=0.999,
    *,
    steps: int,
    x0=1.0,
    m0=0.0,
    precond=None,
    **hyperparams,
) -> QuadraticRun:
    """Run ``optimizer`` for ``steps`` updates on f(x) = x^T A x / 2 (A = ``hessian``).

    Args:
      optimizer: a name of ``aeos_lab.optimizers.OPTIMIZERS`` ("gd", "ema_hb", "frozen_adam",
        "rmsprop", "adam", ...).
      hessian: a scalar a (f = a x^2/2, d = 1) or a symmetric (d, d) matrix A.
      eta, beta1, beta2: scalars or arrays broadcasting together; every element is validated
        (eta finite > 0, betas in [0, 1)). The outputs lead with their broadcast shape.
      steps: number of updates (>= 1).
      x0, m0: initial iterate and momentum buffer, scalars or (d,) vectors (Fig. 17 uses
        x0 = 1, m0 = 0.2). m0 is ignored by methods without momentum.
      precond: a fixed diagonal P, scalar or (d,) vector > 0, for the five momentum methods
        (preconditioned versions) and frozen_adam (required there).
      **hyperparams: other keywords of the optimizer, e.g. eps, initial_nu (rmsprop's nu_0,
        Fig. 12 uses 1.0), bias_correction, exponent, weight_decay.

    The dtype is x0's if it is a floating array, else jax's default float (float64 only with
    ``jax_enable_x64``). Returns a :class:`QuadraticRun` of numpy arrays.
    """
    name = canonical_name(optimizer, _opt.OPTIMIZERS)
    takes = set(_opt.hyperparameter_names(name))
    given = dict(hyperparams)
    if precond is not None:
        given["precond"] = precond
    _opt.check_hyperparameters(name, given)
    steps = check_int_at_least(steps, 1, "steps")
    _check_every(eta, "eta", check_positive, lambda a: np.isfinite(a) & (a > 0))
    _check_every(beta1, "beta1", check_beta, lambda a: (a >= 0) & (a < 1))
    _check_every(beta2, "beta2", check_beta, lambda a: (a >= 0) & (a < 1))

    matrix = _check_hessian(hessian)
    d = matrix.shape[0]
    dtype = _float_dtype(x0)
    x_start = _check_vector(x0, "x0", d)
    m_start = _check_vector(m0, "m0", d)
    p_vector = None if precond is None else _check_vector(precond, "precond", d, positive=True)

    # Validate the remaining hyperparameters with concrete values (inside jit they are traced).
    probe = dict(hyperparams)
    if "beta1" in takes:
        probe["beta1"] = float(np.ravel(beta1)[0])
    if "beta2" in takes:
        probe["beta2"] = float(np.ravel(beta2)[0])
    if p_vector is not None:
        probe["precond"] = p_vector
    _opt.OPTIMIZERS[name](1.0, **probe).init(jnp.asarray(x_start, dtype=dtype))

    static = tuple(sorted((k, v) for k, v in hyperparams.items() if not _is_dynamic(v)))
    dynamic = sorted((k, v) for k, v in hyperparams.items() if _is_dynamic(v))
    flags = ("beta1" in takes, "beta2" in takes, p_vector is not None)
    run = _compiled(name, steps, static, tuple(k for k, _ in dynamic), flags)

    eta_b, beta1_b, beta2_b = np.broadcast_arrays(
        np.asarray(eta, dtype=float), np.asarray(beta1, dtype=float), np.asarray(beta2, dtype=float)
    )
    batch_shape = eta_b.shape

    def flat(a):
        return jnp.asarray(np.reshape(a, -1), dtype=dtype)

    history = run(
        jnp.asarray(matrix, dtype=dtype),
        jnp.asarray(x_start, dtype=dtype),
        jnp.asarray(m_start, dtype=dtype),
        jnp.asarray(np.ones(d) if p_vector is None else p_vector, dtype=dtype),
        flat(eta_b),
        flat(beta1_b),
        flat(beta2_b),
        tuple(jnp.asarray(v, dtype=dtype) for _, v in dynamic),
    )
    out = {k: np.asarray(v).reshape(batch_shape + v.shape[1:]) for k, v in history.items()}
    return QuadraticRun(**out)


def max_abs(run: QuadraticRun) -> np.ndarray:
    """Largest |x_t| over steps and coordinates, per batch element (NaN counts as inf)."""
    magnitude = np.abs(run.x)
    magnitude = np.where(np.isnan(magnitude), np.inf, magnitude)
    return magnitude.max(axis=(-2, -1))


def diverged(run: QuadraticRun, bound: float = 1e6) -> np.ndarray:
    """True where some |x_t| exceeded ``bound`` (or overflowed), per batch element."""
    return max_abs(run) > bound
