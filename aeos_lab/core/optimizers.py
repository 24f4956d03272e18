r"""Optax optimizers that expose their diagonal preconditioner P.

Every optimizer here is one update rule written in the paper's form (Cohen et al., 2022, §2)::

    x_{t+1} = x_t - eta_t P_{t+1}^{-1} d_{t+1}

made of two independent parts: a *momentum scheme*, which turns the gradient g = g_{t+1} into
a direction d, and a *preconditioner rule*, which gives the diagonal P_{t+1} (a pytree shaped
like the params). The state of every optimizer is a :class:`PreconditionedState`, and
:func:`preconditioner` returns the P of the latest update from any optax state that contains
one (``optax.chain`` tuples, ``optax.inject_hyperparams``' ``inner_state``, ...).

Momentum schemes (b = beta1; the names of ``thresholds.MOMENTUM_METHODS``)
-----------------------------------------------------------------------------
::

    gd                 d = g                                       (no momentum buffer)
    standard_hb        m' = b m + g,            d = m'
    ema_hb             m' = b m + (1 - b) g,    d = m'
    standard_nesterov  m' = b m + g,            d = b m' + g
    ema_nesterov       m' = b m + (1 - b) g,    d = b m' + (1 - b) g

Preconditioner rules (elementwise; t = number of updates so far, this one included)
-----------------------------------------------------------------------------------
::

    identity      P = 1                              gd, standard_hb, ema_hb, standard_nesterov,
                                                     ema_nesterov (precond=None)
    fixed         P = precond                        the same five with precond=P;
                                                     frozen_adam(eta, P, b) = PrecondEMAHB
    EMA (Eq. 1)   nu' = b2 nu + (1 - b2) g^2
                  P = nu'^p + eps                    rmsprop, adam, adamw, nadam (p = 1/2),
                                                     padam (p = exponent, default 1/4)
    EMA, bias-corrected (Eq. 2)
                  P = (1 - b^t) ((nu' / (1 - b2^t))^p + eps)
    amsgrad       nu' as EMA,  nu_max' = max(nu_max, nu')       P = sqrt(nu_max') + eps
                  bias-corrected: nu_max' = max(nu_max, nu' / (1 - b2^t)),
                                  P = (1 - b^t) (sqrt(nu_max') + eps)
    adagrad       nu' = nu + g^2  (nu_0 = initial_accumulator)  P = sqrt(nu') + eps
    adafactor     optax's factored second moment (Shazeer & Stern, 2018): with
                  rho_t = 1 - t^(-decay_rate) and G = g^2 + eps,
                  a matrix leaf whose two largest dims are both >= min_dim_size_to_factor keeps
                  row and column statistics  R' = rho_t R + (1 - rho_t) mean_cols(G),
                  C' = rho_t C + (1 - rho_t) mean_rows(G); other leaves keep
                  v' = rho_t v + (1 - rho_t) G.  The expanded diagonal is
                  v_hat = R' C'^T / mean(R')  (or v'), and P = sqrt(v_hat)  (eps already sits
                  inside G, so nothing is added outside the square root).

The optimizers
--------------
::

    gd, standard_hb, ema_hb,          the scheme of that name, identity or fixed P
    standard_nesterov, ema_nesterov
    frozen_adam(eta, precond, b)      ema_hb with a fixed P (the paper's PrecondEMAHB)
    freeze(name, eta, precond, ...)   any adaptive optimizer with P held fixed: its own momentum
                                      scheme (and AdamW's weight decay) on a fixed P, the
                                      frozen counterpart of thresholds.FROZEN_COUNTERPART
    adam(eta, b, b2, eps)             ema_hb + EMA rule, p = 1/2  (bias correction off)
    adamw(..., weight_decay=wd)       adam, bias correction on, and
                                      x_{t+1} = x_t - eta_t (P^{-1} m' + wd x_t)
    nadam                             ema_nesterov + EMA rule, p = 1/2 (bias correction off)
    amsgrad                           ema_hb + amsgrad rule (bias correction off)
    padam(..., exponent=p)            ema_hb + EMA rule with exponent p (bias correction off)
    rmsprop(eta, b2, eps, nu_0)       gd + EMA rule
    adagrad(eta, eps, nu_0)           gd + adagrad rule
    adafactor(eta, b, decay_rate)     ema_hb on the raw gradient + adafactor rule

``nadam(bias_correction=True)`` follows ``optax.nadam``: the update is
-eta [b m'/(1 - b^{t+1}) + (1 - b) g/(1 - b^t)] / (sqrt(nu'/(1 - b2^t)) + eps). We write it as
P = (1 - b^{t+1}) (sqrt(nu'/(1 - b2^t)) + eps) (Eq. 2 with the look-ahead power t + 1) and
d = b m' + (1 - b) g (1 - b^{t+1}) / (1 - b^t), so d -> the ema_nesterov direction as t grows.

State, schedules, dtypes
------------------------
``PreconditionedState(count, momentum, nu, precond)``: ``count`` updates applied so far;
``momentum`` the buffer m (None for the gd scheme); ``nu`` the rule's statistics (None for
identity/fixed P; a pytree like the params for EMA and adagrad rules; ``MaxMoments(nu,
nu_max)`` for amsgrad; ``optax.FactoredState`` for adafactor; :func:`second_moment` reads a
per-parameter tree out of it); ``precond`` the P of the latest update. At init ``precond``
is the P the rule builds from its initial statistics with the bias factors of the first
update (t = 1): eps for Adam without bias correction (so the preconditioned sharpness at step 0
is huge), (1 - b) eps with bias correction, sqrt(nu_0) + eps for rmsprop with nu_0,
sqrt(eps) for adafactor (what a zero gradient would give), ones for the identity.
``eta`` is a float or an optax schedule evaluated at ``count`` before the increment (optax's
convention). Hyperparameters may be traced jax scalars (no Python control flow depends on
their values). Updates and state keep the dtype of the gradients.

Conventions versus optax
------------------------
* eps placement. Ours is outside the square root (paper Eq. 1-2), like ``optax.adam``.
  ``optax.rmsprop`` defaults to ``eps_in_sqrt=True`` (1/sqrt(nu + eps)); it matches ours with
  ``eps_in_sqrt=False``. ``optax.adagrad`` always puts eps inside (1/sqrt(nu + eps)) and gives
  a zero update where the accumulator is 0; it matches ours only with eps = 0.
  ``optax.adafactor`` adds eps to g^2, and so do we.
* Defaults. eps = 1e-7 everywhere (paper App. G) against optax's 1e-8 (adam family) and 1e-30
  (adafactor); rmsprop's beta2 = 0.99 against optax's decay = 0.9; adagrad's initial
  accumulator 0 against optax's 0.1; adamw's weight_decay = 1e-4 as optax.
* Bias correction. ``optax.adam`` always corrects both moments; ours is off by default for adam,
  nadam, amsgrad, padam (the paper's main setting) and on for adamw. When on, the updates agree
  with optax but our P contains the momentum factor (1 - b^t) of Eq. 2, so P is (1 - b^t) times
  optax's denominator sqrt(nu_hat) + eps. There is no optax switch for Adam without bias
  correction (``optax.scale_by_rms(..., eps_in_sqrt=False)`` chained after ``optax.ema(b,
  debias=False)`` is the same rule with P applied before the EMA, which is a different method).
* AMSGrad. ``optax.amsgrad`` by default corrects m and takes the running max of the *corrected*
  nu (``bias_correction_mu/nu=True``); PyTorch and Keras instead max the raw nu and correct
  afterwards. ``amsgrad(bias_correction=False)`` (default) equals ``optax.amsgrad(...,
  bias_correction_mu=False, bias_correction_nu=False)``; ``bias_correction=True`` equals the
  optax default.
* Nadam. With bias correction we reproduce ``optax.nadam`` (see above); Dozat's extra b2 factor
  is omitted by both.
* Adafactor. ``optax.adafactor`` applies momentum (an undebiased EMA) to the already
  preconditioned, learning-rate-scaled update; the paper's framework (and ours) keeps the EMA
  of the raw gradient and divides by the current P. Without momentum (beta1 = 0) ours equals
  ``optax.adafactor(eta, decay_rate=..., eps=..., multiply_by_parameter_scale=False,
  clipping_threshold=None, momentum=None)``; we offer neither parameter-scale multiplication nor
  update clipping, since they make the update non-diagonal in g.
* AdamW. As optax: the decay is multiplied by eta_t (PyTorch's convention, not the schedule-only
  multiplier of Loshchilov & Hutter) and the decay term is not preconditioned.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from aeos_lab.core.thresholds import FROZEN_COUNTERPART
from aeos_lab.core.validation import (
    _is_traced,
    canonical_name,
    check_beta,
    check_int_at_least,
    check_nonnegative,
    check_positive,
    check_same_structure,
)

__all__ = [
    "ADAPTIVE",
    "OPTIMIZERS",
    "MaxMoments",
    "PreconditionedState",
    "adafactor",
    "adagrad",
    "adam",
    "adamw",
    "bias_correction_factor",
    "amsgrad",
    "check_hyperparameters",
    "ema_hb",
    "ema_nesterov",
    "find_preconditioned_state",
    "freeze",
    "frozen_adam",
    "gd",
    "hyperparameter_names",
    "make_optimizer",
    "nadam",
    "padam",
    "preconditioner",
    "rmsprop",
    "second_moment",
    "standard_hb",
    "standard_nesterov",
]


class PreconditionedState(NamedTuple):
    """State of every optimizer in this module (see the module docstring)."""

    count: jax.Array  # updates applied so far, int32 scalar
    momentum: Any  # momentum buffer m (pytree like params), None for the gd scheme
    nu: Any  # preconditioner statistics, rule-specific (None for identity / fixed P)
    precond: Any  # diagonal P of the latest update (pytree like params)


class MaxMoments(NamedTuple):
    """AMSGrad statistics: the EMA nu and its running elementwise maximum."""

    nu: Any
    nu_max: Any


class _Rule(NamedTuple):
    """A preconditioner rule: init(params) -> (stats, P); update(g, stats, P, t) -> (stats, P)."""

    init: Callable
    update: Callable


# ---------------------------------------------------------------------------------------------
# Validation


def _check_eta(eta):
    if callable(eta):
        return eta
    return check_positive(eta, "eta")


def _check_in_unit_interval(value, name: str):
    """``value`` in (0, 1] (Padam exponent, Adafactor decay rate)."""
    if _is_traced(value):
        return value
    check_positive(value, name)
    if float(value) > 1.0:
        raise ValueError(f"{name} must lie in (0, 1], got {value!r}")
    return value


def _check_precond_values(precond):
    """Every concrete leaf of ``precond`` finite and > 0 (traced leaves are skipped)."""
    for leaf in jax.tree.leaves(precond):
        if _is_traced(leaf):
            continue
        array = np.asarray(leaf, dtype=float)
        if not np.all(np.isfinite(array) & (array > 0)):
            raise ValueError(f"precond must be finite and > 0 everywhere, got min {array.min()!r}")
    return precond


# ---------------------------------------------------------------------------------------------
# Momentum schemes


def _momentum_step(scheme: str, beta1, momentum, grads, grad_scale=None):
    """New momentum buffer and direction d of ``scheme`` (see the module docstring).

    ``grad_scale`` multiplies the gradient term of the Nesterov look-ahead only (Nadam's bias
    correction).
    """
    if scheme == "gd":
        return None, grads
    ema = scheme.startswith("ema")

    def accumulate(m, g):
        return beta1 * m + (1 - beta1) * g if ema else beta1 * m + g

    new_momentum = jax.tree.map(accumulate, momentum, grads)
    if scheme.endswith("hb"):
        return new_momentum, new_momentum

    def look_ahead(m, g):
        g_term = (1 - beta1) * g if ema else g
        if grad_scale is not None:
            g_term = grad_scale * g_term
        return beta1 * m + g_term

    return new_momentum, jax.tree.map(look_ahead, new_momentum, grads)


# ---------------------------------------------------------------------------------------------
# Preconditioner rules


def _fixed_rule(precond) -> _Rule:
    """P = 1 (``precond=None``) or a fixed P for every update."""

    def init(params):
        if precond is None:
            return None, jax.tree.map(jnp.ones_like, params)
        check_same_structure(precond, params, "precond")
        fixed = jax.tree.map(lambda p, x: jnp.asarray(p, dtype=jnp.result_type(x)), precond, params)
        return None, fixed

    def update(grads, stats, current, count):
        del grads, count
        return stats, current

    return _Rule(init, update)


def _root(exponent):
    if isinstance(exponent, (int, float)) and exponent == 0.5:
        return jnp.sqrt
    return lambda v: v**exponent


def _ema_rule(
    beta1, beta2, eps, *, exponent=0.5, bias_correction, initial_nu=0.0, keep_max=False, lead=0
) -> _Rule:
    """Adam / RMSprop / Padam / AMSGrad preconditioner (paper Eq. 1-2).

    ``lead`` shifts the power of the momentum bias factor (1 for Nadam's look-ahead).
    """
    root = _root(exponent)

    def from_moment(nu, t):
        if bias_correction:
            factor = 1 - beta1 ** (t + lead)
            return jax.tree.map(lambda v: factor.astype(v.dtype) * (root(v) + eps), nu)
        return jax.tree.map(lambda v: root(v) + eps, nu)

    def corrected(nu, t):
        if bias_correction:
            factor = 1 - beta2**t
            return jax.tree.map(lambda v: v / factor.astype(v.dtype), nu)
        return nu

    first = jnp.ones([], jnp.int32)

    def init(params):
        nu = jax.tree.map(lambda x: jnp.full_like(x, initial_nu), params)
        if keep_max:
            nu_max = corrected(nu, first)
            return MaxMoments(nu, nu_max), from_moment(nu_max, first)
        return nu, from_moment(corrected(nu, first), first)

    def update(grads, stats, current, t):
        del current
        nu = stats.nu if keep_max else stats
        nu = jax.tree.map(lambda g, v: (1 - beta2) * (g * g) + beta2 * v, grads, nu)
        if keep_max:
            nu_max = jax.tree.map(jnp.maximum, stats.nu_max, corrected(nu, t))
            return MaxMoments(nu, nu_max), from_moment(nu_max, t)
        return nu, from_moment(corrected(nu, t), t)

    return _Rule(init, update)


def _adagrad_rule(eps, initial_accumulator) -> _Rule:
    """nu' = nu + g^2, P = sqrt(nu') + eps."""

    def init(params):
        nu = jax.tree.map(lambda x: jnp.full_like(x, initial_accumulator), params)
        return nu, jax.tree.map(lambda v: jnp.sqrt(v) + eps, nu)

    def update(grads, stats, current, t):
        del current, t
        nu = jax.tree.map(lambda g, v: g * g + v, grads, stats)
        return nu, jax.tree.map(lambda v: jnp.sqrt(v) + eps, nu)

    return _Rule(init, update)


def _factored_dims(shape, min_dim_size_to_factor: int):
    """optax's factoring rule: (second largest, largest) axis, or None if not factored."""
    if len(shape) < 2:
        return None
    order = np.argsort(shape)
    if shape[order[-2]] < min_dim_size_to_factor:
        return None
    return int(order[-2]), int(order[-1])


def _adafactor_rule(decay_rate, eps, min_dim_size_to_factor: int) -> _Rule:
    """optax.scale_by_factored_rms statistics, expanded to a per-parameter P = sqrt(v_hat)."""
    stats_transform = optax.scale_by_factored_rms(
        factored=True,
        decay_rate=decay_rate,
        min_dim_size_to_factor=min_dim_size_to_factor,
        epsilon=eps,
    )

    def expand(v_row, v_col, v, leaf):
        dims = _factored_dims(leaf.shape, min_dim_size_to_factor)
        if dims is None:
            return jnp.sqrt(v)
        d1, d0 = dims
        reduced_d1 = d1 - 1 if d1 > d0 else d1
        row_mean = jnp.mean(v_row, axis=reduced_d1, keepdims=True)
        row = jnp.expand_dims(jnp.sqrt(v_row / row_mean), axis=d0)
        col = jnp.expand_dims(jnp.sqrt(v_col), axis=d1)
        return row * col

    def init(params):
        floor = jax.tree.map(lambda x: jnp.sqrt(jnp.full_like(x, eps)), params)
        return stats_transform.init(params), floor

    def update(grads, stats, current, t):
        del t
        # The params argument only supplies shapes and dtypes: the gradients do the same.
        _, stats = stats_transform.update(grads, stats, grads)
        precond = jax.tree.map(expand, stats.v_row, stats.v_col, stats.v, current)
        return stats, precond

    return _Rule(init, update)


# ---------------------------------------------------------------------------------------------
# The one transformation behind every optimizer


def _transformation(
    eta,
    scheme: str,
    beta1,
    rule: _Rule,
    *,
    weight_decay=None,
    nesterov_bias_correction: bool = False,
) -> optax.GradientTransformation:
    """x_{t+1} = x_t - eta_t (P_{t+1}^{-1} d_{t+1} [+ weight_decay x_t])."""

    def init_fn(params):
        stats, precond = rule.init(params)
        momentum = None if scheme == "gd" else jax.tree.map(jnp.zeros_like, params)
        precond = _cast_like(params)(precond)
        return PreconditionedState(jnp.zeros([], jnp.int32), momentum, stats, precond)

    def update_fn(grads, state, params=None):
        if weight_decay is not None and params is None:
            raise ValueError("this optimizer applies weight decay and needs params in update")
        t = state.count + 1
        stats, precond = rule.update(grads, state.nu, state.precond, t)
        grad_scale = None
        if nesterov_bias_correction:
            grad_scale = (1 - beta1 ** (t + 1)) / (1 - beta1**t)
        momentum, direction = _momentum_step(scheme, beta1, state.momentum, grads, grad_scale)
        step = eta(state.count) if callable(eta) else eta

        def leaf_update(d, p, x):
            value = d / p
            if weight_decay is not None:
                value = value + weight_decay * x
            return -step * value

        decay_params = params if weight_decay is not None else direction
        cast = _cast_like(grads)
        updates = cast(jax.tree.map(leaf_update, direction, precond, decay_params))
        new_state = PreconditionedState(
            t,
            None if momentum is None else cast(momentum),
            _cast_stats(stats, state.nu),
            cast(precond),
        )
        return updates, new_state

    return optax.GradientTransformation(init_fn, update_fn)


def _cast_like(reference):
    return lambda tree: jax.tree.map(lambda v, r: v.astype(jnp.result_type(r)), tree, reference)


def _cast_stats(new, old):
    """Keep the statistics' dtypes (traced float64 hyperparameters must not upcast them)."""
    if new is None:
        return None
    return jax.tree.map(lambda v, r: jnp.asarray(v).astype(jnp.result_type(r)), new, old)


# ---------------------------------------------------------------------------------------------
# Factories


def _momentum_method(scheme: str, eta, beta1, precond):
    _check_eta(eta)
    if scheme != "gd":
        check_beta(beta1, "beta1")
    if precond is not None:
        _check_precond_values(precond)
    return _transformation(eta, scheme, beta1, _fixed_rule(precond))


def gd(eta, precond=None) -> optax.GradientTransformation:
    """Gradient descent, x' = x - eta P^-1 g (P = 1 unless ``precond`` is given)."""
    return _momentum_method("gd", eta, 0.0, precond)


def standard_hb(eta, beta1=0.9, precond=None) -> optax.GradientTransformation:
    """Heavy ball, m' = b m + g, x' = x - eta P^-1 m'. Threshold (2 + 2b)/eta."""
    return _momentum_method("standard_hb", eta, beta1, precond)


def ema_hb(eta, beta1=0.9, precond=None) -> optax.GradientTransformation:
    """EMA heavy ball, m' = b m + (1 - b) g, x' = x - eta P^-1 m'. Threshold (2+2b)/((1-b)eta)."""
    return _momentum_method("ema_hb", eta, beta1, precond)


def standard_nesterov(eta, beta1=0.9, precond=None) -> optax.GradientTransformation:
    """Nesterov, m' = b m + g, x' = x - eta P^-1 (b m' + g). Threshold (2+2b)/((1+2b) eta)."""
    return _momentum_method("standard_nesterov", eta, beta1, precond)


def ema_nesterov(eta, beta1=0.9, precond=None) -> optax.GradientTransformation:
    """EMA Nesterov, m' = b m + (1-b) g, x' = x - eta P^-1 (b m' + (1-b) g).

    Threshold (2 + 2b) / ((1 - b)(1 + 2b) eta).
    """
    return _momentum_method("ema_nesterov", eta, beta1, precond)


def frozen_adam(eta, precond, beta1=0.9) -> optax.GradientTransformation:
    """Adam with its preconditioner held fixed at ``precond`` = sqrt(nu) + eps.

    The paper's PrecondEMAHB(eta, b, P): m' = b m + (1 - b) g, x' = x - eta P^-1 m'.
    """
    if precond is None:
        raise ValueError("precond is required for frozen_adam (a pytree like the params, > 0)")
    return _momentum_method("ema_hb", eta, beta1, precond)


def _check_adam_family(eta, beta1, beta2, eps, initial_nu=0.0):
    _check_eta(eta)
    check_beta(beta1, "beta1")
    check_beta(beta2, "beta2")
    check_nonnegative(eps, "eps")
    check_nonnegative(initial_nu, "initial_nu")


def adam(
    eta, beta1=0.9, beta2=0.999, eps=1e-7, bias_correction=False, initial_nu=0.0
) -> optax.GradientTransformation:
    """Adam: EMA heavy ball with P = sqrt(nu') + eps, nu' = b2 nu + (1 - b2) g^2 (Eq. 1).

    With ``bias_correction``: P = (1 - b1^t)(sqrt(nu'/(1 - b2^t)) + eps) (Eq. 2).
    """
    _check_adam_family(eta, beta1, beta2, eps, initial_nu)
    rule = _ema_rule(beta1, beta2, eps, bias_correction=bias_correction, initial_nu=initial_nu)
    return _transformation(eta, "ema_hb", beta1, rule)


def bias_correction_factor(t, beta1=0.9, beta2=0.999):
    """(1 - b1^t) / sqrt(1 - b2^t) at update ``t`` (1-based, arrays broadcast): Eq. 2's P over
    Eq. 1's sqrt(nu') (eps aside), and so, under a constant gradient much larger than
    eps / sqrt(1 - b2), the size of Adam's t-th update without bias correction in units of eta.
    At (0.9, 0.999): 3.16 at t = 1, largest (6.57) at t = 12, back to 1 as t grows."""
    t = np.asarray(t, dtype=float)
    return (1 - beta1**t) / np.sqrt(1 - beta2**t)


def adamw(
    eta,
    beta1=0.9,
    beta2=0.999,
    eps=1e-7,
    weight_decay=1e-4,
    bias_correction=True,
    initial_nu=0.0,
) -> optax.GradientTransformation:
    """AdamW: Adam's P and decoupled weight decay, x' = x - eta (P^-1 m' + weight_decay x)."""
    _check_adam_family(eta, beta1, beta2, eps, initial_nu)
    check_nonnegative(weight_decay, "weight_decay")
    rule = _ema_rule(beta1, beta2, eps, bias_correction=bias_correction, initial_nu=initial_nu)
    return _transformation(eta, "ema_hb", beta1, rule, weight_decay=weight_decay)


def nadam(
    eta, beta1=0.9, beta2=0.999, eps=1e-7, bias_correction=False, initial_nu=0.0
) -> optax.GradientTransformation:
    """Nadam: EMA Nesterov direction b m' + (1 - b) g with Adam's P.

    With ``bias_correction`` it reproduces ``optax.nadam`` (see the module docstring).
    """
    _check_adam_family(eta, beta1, beta2, eps, initial_nu)
    rule = _ema_rule(
        beta1,
        beta2,
        eps,
        bias_correction=bias_correction,
        initial_nu=initial_nu,
        lead=1,
    )
    return _transformation(
        eta, "ema_nesterov", beta1, rule, nesterov_bias_correction=bool(bias_correction)
    )


def amsgrad(
    eta, beta1=0.9, beta2=0.999, eps=1e-7, bias_correction=False
) -> optax.GradientTransformation:
    """AMSGrad: EMA heavy ball with P = sqrt(nu_max') + eps, nu_max' = max(nu_max, nu').

    With ``bias_correction`` (optax's default): nu_max' = max(nu_max, nu'/(1 - b2^t)) and
    P = (1 - b1^t)(sqrt(nu_max') + eps).
    """
    _check_adam_family(eta, beta1, beta2, eps)
    rule = _ema_rule(beta1, beta2, eps, bias_correction=bias_correction, keep_max=True)
    return _transformation(eta, "ema_hb", beta1, rule)


def padam(
    eta,
    beta1=0.9,
    beta2=0.999,
    eps=1e-7,
    exponent=0.25,
    bias_correction=False,
    initial_nu=0.0,
) -> optax.GradientTransformation:
    """Padam: Adam with P = nu'^exponent + eps (exponent in (0, 1]; 1/2 is Adam)."""
    _check_adam_family(eta, beta1, beta2, eps, initial_nu)
    _check_in_unit_interval(exponent, "exponent")
    rule = _ema_rule(
        beta1,
        beta2,
        eps,
        exponent=exponent,
        bias_correction=bias_correction,
        initial_nu=initial_nu,
    )
    return _transformation(eta, "ema_hb", beta1, rule)


def rmsprop(eta, beta2=0.99, eps=1e-7, initial_nu=0.0) -> optax.GradientTransformation:
    """RMSprop (paper Eq. 1): nu' = b2 nu + (1 - b2) g^2, x' = x - eta g / (sqrt(nu') + eps)."""
    _check_eta(eta)
    check_beta(beta2, "beta2")
    check_nonnegative(eps, "eps")
    check_nonnegative(initial_nu, "initial_nu")
    rule = _ema_rule(0.0, beta2, eps, bias_correction=False, initial_nu=initial_nu)
    return _transformation(eta, "gd", 0.0, rule)


def adagrad(eta, eps=1e-7, initial_accumulator=0.0) -> optax.GradientTransformation:
    """Adagrad: nu' = nu + g^2 (nu_0 = initial_accumulator), x' = x - eta g / (sqrt(nu') + eps)."""
    _check_eta(eta)
    check_nonnegative(eps, "eps")
    check_nonnegative(initial_accumulator, "initial_accumulator")
    return _transformation(eta, "gd", 0.0, _adagrad_rule(eps, initial_accumulator))


def adafactor(
    eta, beta1=0.9, decay_rate=0.8, eps=1e-7, min_dim_size_to_factor=128
) -> optax.GradientTransformation:
    """Adafactor as a diagonal preconditioner: m' = b m + (1 - b) g, x' = x - eta m'/sqrt(v_hat).

    v_hat is optax's factored second moment of g^2 + eps with decay 1 - t^(-decay_rate),
    expanded per parameter (module docstring). Momentum acts on the raw gradient (the paper's
    form), unlike ``optax.adafactor(momentum=...)``. Defaults are the paper's App. G settings.
    """
    _check_eta(eta)
    check_beta(beta1, "beta1")
    _check_in_unit_interval(decay_rate, "decay_rate")
    check_nonnegative(eps, "eps")
    check_int_at_least(min_dim_size_to_factor, 1, "min_dim_size_to_factor")
    rule = _adafactor_rule(decay_rate, eps, int(min_dim_size_to_factor))
    return _transformation(eta, "ema_hb", beta1, rule)


OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    "gd": gd,
    "standard_hb": standard_hb,
    "ema_hb": ema_hb,
    "standard_nesterov": standard_nesterov,
    "ema_nesterov": ema_nesterov,
    "frozen_adam": frozen_adam,
    "adam": adam,
    "adamw": adamw,
    "nadam": nadam,
    "amsgrad": amsgrad,
    "padam": padam,
    "rmsprop": rmsprop,
    "adagrad": adagrad,
    "adafactor": adafactor,
}


ADAPTIVE = ("adam", "adamw", "nadam", "amsgrad", "padam", "rmsprop", "adagrad", "adafactor")
"""The optimizers whose P follows the gradients (a rule other than identity or fixed)."""


def freeze(name: str, eta, precond=None, **hyperparams) -> optax.GradientTransformation:
    """Adaptive optimizer ``name`` with its preconditioner held fixed: its frozen counterpart.

    The update keeps the optimizer's own momentum scheme (:data:`FROZEN_COUNTERPART`) and, for
    AdamW, its weight decay, with P no longer updated::

        adam, amsgrad, padam, adafactor   m' = b m + (1 - b) g,  x' = x - eta P^-1 m'
        adamw                             m' as adam,  x' = x - eta (P^-1 m' + wd x)
        nadam                             m' as adam,  x' = x - eta P^-1 (b m' + (1 - b) g)
        rmsprop, adagrad                  x' = x - eta P^-1 g

    Nadam's bias-correction factor on the look-ahead gradient is dropped with the rest of the
    rule: after a freeze it is plain preconditioned EMA Nesterov. ``hyperparams`` are those
    ``name`` takes (checked as by :func:`make_optimizer`); only ``beta1`` and
    ``weight_decay`` act after the freeze.

    The state keeps the layout of ``name``'s own state, and :meth:`update` passes its
    statistics and its P through unchanged, so a run can switch to this transformation at any
    step and carry on with the P of its latest update (that is how
    ``RunConfig(freeze_precond_at=...)`` works). ``precond`` is the P that :meth:`init` starts
    from (ones when omitted).
    """
    key = check_hyperparameters(name, hyperparams)
    if key not in ADAPTIVE:
        raise ValueError(
            f"freeze takes an adaptive optimizer ({', '.join(ADAPTIVE)}); {key} has no "
            "preconditioner of its own to freeze"
        )
    _check_eta(eta)
    defaults = {
        p: spec.default for p, spec in inspect.signature(OPTIMIZERS[key]).parameters.items()
    }
    scheme = FROZEN_COUNTERPART[key]
    beta1 = hyperparams.get("beta1", defaults.get("beta1", 0.0)) if scheme != "gd" else 0.0
    weight_decay = (
        hyperparams.get("weight_decay", defaults["weight_decay"]) if key == "adamw" else None
    )
    if precond is not None:
        _check_precond_values(precond)
    return _transformation(eta, scheme, beta1, _fixed_rule(precond), weight_decay=weight_decay)


def hyperparameter_names(name: str) -> tuple[str, ...]:
    """Keyword hyperparameters that optimizer ``name`` takes besides ``eta``."""
    factory = OPTIMIZERS[canonical_name(name, OPTIMIZERS)]
    return tuple(p for p in inspect.signature(factory).parameters if p != "eta")


def check_hyperparameters(name: str, hyperparams) -> str:
    """Canonical optimizer name; ValueError naming any keyword ``name`` does not take."""
    key = canonical_name(name, OPTIMIZERS)
    allowed = hyperparameter_names(key)
    unknown = [k for k in hyperparams if k not in allowed]
    if unknown:
        raise ValueError(
            f"{key} takes no hyperparameter {unknown[0]!r}; it takes: eta, {', '.join(allowed)}"
        )
    params = inspect.signature(OPTIMIZERS[key]).parameters
    for p, spec in params.items():
        if p != "eta" and spec.default is inspect.Parameter.empty and p not in hyperparams:
            raise ValueError(f"{key} requires the hyperparameter {p!r}")
    return key


def make_optimizer(name: str, eta, **hyperparams) -> optax.GradientTransformation:
    """Build optimizer ``name`` ("adam", "frozen-adam", ...) from ``OPTIMIZERS``.

    Raises ValueError for an unknown name and for a hyperparameter that optimizer does not take.
    """
    key = check_hyperparameters(name, hyperparams)
    return OPTIMIZERS[key](eta, **hyperparams)


# ---------------------------------------------------------------------------------------------
# Reading the state


def find_preconditioned_state(opt_state) -> PreconditionedState:
    """The first :class:`PreconditionedState` inside ``opt_state`` (depth-first).

    Looks through tuples (``optax.chain``), NamedTuples (e.g. ``InjectHyperparamsState``'s
    ``inner_state``), lists and dicts. ValueError if there is none.
    """
    found = _search(opt_state)
    if found is None:
        raise ValueError(
            "opt_state holds no PreconditionedState; build the optimizer with aeos_lab.optimizers"
        )
    return found


def _search(node):
    if isinstance(node, PreconditionedState):
        return node
    if isinstance(node, dict):
        children = node.values()
    elif isinstance(node, (tuple, list)):
        children = node
    else:
        return None
    for child in children:
        found = _search(child)
        if found is not None:
            return found
    return None


def preconditioner(opt_state):
    """The diagonal P of the latest update (a pytree like the params).

    This is the P frozen Adam would use from now on. At init it is the P built from the initial
    statistics (eps for Adam: see the module docstring); identity methods give ones.
    """
    return find_preconditioned_state(opt_state).precond


def second_moment(opt_state):
    """The per-parameter second-moment tree of the latest update, or None.

    nu for the EMA rules (rmsprop, adam, adamw, nadam, padam) and amsgrad (the EMA, not its
    running max); the accumulator for adagrad; the expanded v_hat = P^2 for adafactor; None
    for the identity and fixed preconditioners.
    """
    state = find_preconditioned_state(opt_state)
    stats = state.nu
    if stats is None:
        return None
    if isinstance(stats, MaxMoments):
        return stats.nu
    if hasattr(stats, "v_row"):  # optax's FactoredState (adafactor)
        return jax.tree.map(jnp.square, state.precond)
    return stats
