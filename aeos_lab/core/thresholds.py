r"""Stability thresholds of gradient descent with and without momentum on quadratics.

Reference: Cohen et al. (2022), "Adaptive Gradient Methods at the Edge of Stability", Table 1,
Lemmas 1-2 (Appendix A.1) and Appendix C (asymptotic growth factor, Fig. 14).

The five momentum methods
-------------------------
On a quadratic, every method acts on each Hessian eigendirection on its own, so it suffices to
study f(x) = lam x^2 / 2, whose gradient is g_t = lam x_t. With momentum factor b = beta1 and
c = 1 ("standard") or c = 1 - b ("EMA")::

    m_{t+1} = b m_t + c g_t
    x_{t+1} = x_t - eta d_t,   d_t = g_t                   (GD; beta1 ignored)
                               d_t = m_{t+1}               (heavy ball, HB)
                               d_t = b m_{t+1} + c g_t     (Nesterov)

Companion matrices
------------------
With the state s_t = (x_t, m_t) the update is s_{t+1} = M s_t, where::

    GD:        M = [[1 - eta lam,              0         ],
                    [lam,                      0         ]]
    HB:        M = [[1 - eta c lam,            -eta b    ],
                    [c lam,                    b         ]]
    Nesterov:  M = [[1 - eta c lam (1 + b),    -eta b^2  ],
                    [c lam,                    b         ]]

(GD keeps m only as a dead copy of the gradient, so it is HB with b = 0.) The characteristic
polynomial is z^2 - tr(M) z + det(M), with

    HB:        tr = 1 + b - eta c lam,          det = b
    Nesterov:  tr = (1 + b)(1 - eta c lam),     det = b (1 - eta c lam)

which are the x-only recurrences of Lemmas 1-2 (EMA = standard with eta replaced by
(1 - b) eta). The asymptotic growth factor of the eigendirection is the spectral radius

    rho(lam) = |tr + s sqrt(tr^2 - 4 det)| / 2,   s = sign(tr) (s = 1 if tr = 0),

with a complex square root: for real roots this picks the root of larger modulus without
cancellation, for a complex pair both roots have modulus sqrt(det).

Thresholds (Table 1)
--------------------
The iterate diverges along the direction iff rho(lam) > 1, that is iff lam exceeds::

    gd                 2 / eta
    standard_hb        (2 + 2 b) / eta
    ema_hb             (2 + 2 b) / ((1 - b) eta)
    standard_nesterov  (2 + 2 b) / ((1 + 2 b) eta)
    ema_nesterov       (2 + 2 b) / ((1 - b)(1 + 2 b) eta)

At the threshold a root of the characteristic polynomial sits at z = -1. Below it, for
lam in (0, threshold), rho < 1 (rho = 1 at lam = 0); above it rho > 1. rho itself is not
monotone: for heavy ball it falls to sqrt(b) on a plateau of complex roots before rising again.

Adaptive optimizers with a frozen preconditioner P are these methods run on the
preconditioned Hessian P^-1/2 H P^-1/2 (App. A.2), so an optimizer's threshold is that of its
frozen counterpart (``FROZEN_COUNTERPART``): Adam-like heavy-ball methods -> EMA heavy ball
(38/eta at beta1 = 0.9), Nadam -> EMA Nesterov, RMSprop and Adagrad -> GD. Adafactor without
momentum is beta1 = 0, where EMA heavy ball's threshold reduces to 2/eta.

Inputs
------
``threshold`` uses plain arithmetic, so it broadcasts over numpy arrays (e.g. one eta per
warmup step) and also accepts jax arrays. ``numeric_threshold`` and ``growth_factor`` work in
numpy float64 with broadcasting over eta, beta1 (and lam). Python scalar inputs give Python
floats back.
"""

from __future__ import annotations

import numpy as np

from aeos_lab.core.validation import _is_traced, canonical_name, check_beta, check_positive

__all__ = [
    "FROZEN_COUNTERPART",
    "MOMENTUM_METHODS",
    "companion_matrix",
    "growth_factor",
    "numeric_threshold",
    "optimizer_threshold",
    "threshold",
    "threshold_formula",
]

MOMENTUM_METHODS = ("gd", "standard_hb", "ema_hb", "standard_nesterov", "ema_nesterov")

FROZEN_COUNTERPART = {
    **{method: method for method in MOMENTUM_METHODS},
    "adam": "ema_hb",
    "adamw": "ema_hb",
    "amsgrad": "ema_hb",
    "padam": "ema_hb",
    "adafactor": "ema_hb",
    "frozen_adam": "ema_hb",
    "nadam": "ema_nesterov",
    "rmsprop": "gd",
    "adagrad": "gd",
}

_FORMULAS = {
    "gd": "2/η",
    "standard_hb": "(2+2β₁)/η",
    "ema_hb": "(2+2β₁)/((1−β₁)η)",
    "standard_nesterov": "(2+2β₁)/((1+2β₁)η)",
    "ema_nesterov": "(2+2β₁)/((1−β₁)(1+2β₁)η)",
}

_MAX_DOUBLINGS = 200
_MAX_BISECTIONS = 200
_BISECTION_RTOL = 1e-13


# ---------------------------------------------------------------------------------------------
# Validation (array-aware versions of the checks in aeos_lab._validation)


def _method(method: str) -> str:
    return canonical_name(method, MOMENTUM_METHODS, what="method")


def _optimizer(optimizer: str) -> str:
    return canonical_name(optimizer, FROZEN_COUNTERPART, what="optimizer")


def _as_checkable(value, name: str):
    """Reject schedules; turn lists and tuples into numpy arrays."""
    if callable(value):
        raise ValueError(
            f"{name} must be a number or an array of numbers, got a callable; "
            f"evaluate the schedule first, e.g. {name}=schedule(np.arange(steps))"
        )
    if isinstance(value, (list, tuple)):
        return np.asarray(value, dtype=float)
    return value


def _first_bad(array: np.ndarray, bad: np.ndarray):
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return float(array[index]), index


def _to_float_array(value, name: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number or array, got {value!r}") from None


def _check_positive_array(value, name: str = "eta"):
    """Every element finite and > 0 (scalars go through ``check_positive``)."""
    value = _as_checkable(value, name)
    if _is_traced(value):
        return value
    if np.ndim(value) == 0:
        return check_positive(value, name)
    array = _to_float_array(value, name)
    bad = ~(np.isfinite(array) & (array > 0))
    if bad.any():
        element, index = _first_bad(array, bad)
        raise ValueError(
            f"{name} must be finite and > 0 everywhere, got {element!r} at index {index}"
        )
    return value


def _check_beta_array(value, name: str = "beta1"):
    """Every element in [0, 1) (scalars go through ``check_beta``)."""
    value = _as_checkable(value, name)
    if _is_traced(value):
        return value
    if np.ndim(value) == 0:
        return check_beta(value, name)
    array = _to_float_array(value, name)
    bad = ~((array >= 0) & (array < 1))
    if bad.any():
        element, index = _first_bad(array, bad)
        raise ValueError(f"{name} must lie in [0, 1) everywhere, got {element!r} at index {index}")
    return value


def _check_finite_array(value, name: str = "lam"):
    value = _as_checkable(value, name)
    array = _to_float_array(value, name)
    if not np.isfinite(array).all():
        bad = ~np.isfinite(array)
        detail = f" at index {_first_bad(array, bad)[1]}" if array.ndim else ""
        raise ValueError(f"{name} must be finite, got {value!r}{detail}")
    return array


def _scalar_or_array(result: np.ndarray, *inputs):
    """Python float when every input was a scalar, else the numpy array."""
    if all(np.ndim(x) == 0 for x in inputs):
        return float(result)
    return result


# ---------------------------------------------------------------------------------------------
# Closed forms (Table 1)


def threshold(method: str, eta, beta1=0.0):
    """Closed-form stability threshold of ``method`` (paper Table 1).

    ``gd``: 2/eta; ``standard_hb``: (2+2b)/eta; ``ema_hb``: (2+2b)/((1-b) eta);
    ``standard_nesterov``: (2+2b)/((1+2b) eta); ``ema_nesterov``: (2+2b)/((1-b)(1+2b) eta),
    with b = beta1 (ignored by ``gd`` but still validated). Broadcasts over arrays of eta and
    beta1, e.g. a threshold per step of a learning-rate warmup.
    """
    method = _method(method)
    eta = _check_positive_array(eta, "eta")
    b = _check_beta_array(beta1, "beta1")
    if method == "gd":
        return 2.0 / eta + 0.0 * b
    if method == "standard_hb":
        return (2.0 + 2.0 * b) / eta
    if method == "ema_hb":
        return (2.0 + 2.0 * b) / ((1.0 - b) * eta)
    if method == "standard_nesterov":
        return (2.0 + 2.0 * b) / ((1.0 + 2.0 * b) * eta)
    return (2.0 + 2.0 * b) / ((1.0 - b) * (1.0 + 2.0 * b) * eta)


def optimizer_threshold(optimizer: str, eta, beta1=0.9):
    """Threshold of the frozen counterpart of ``optimizer`` (see ``FROZEN_COUNTERPART``).

    E.g. Adam -> EMA heavy ball, (2+2b)/((1-b) eta) = 38/eta at b = 0.9; Nadam -> EMA Nesterov;
    RMSprop and Adagrad -> GD, 2/eta whatever beta1 is. Names are case-insensitive and accept
    '-' for '_' ("Frozen-Adam").
    """
    return threshold(FROZEN_COUNTERPART[_optimizer(optimizer)], eta, beta1)


def threshold_formula(name: str, beta1=None) -> str:
    """Unicode formula of the threshold, for chart labels.

    ``name`` is a momentum method or an optimizer name (then its frozen counterpart's formula
    is given): ``threshold_formula("adam") == "(2+2β₁)/((1−β₁)η)"``. With a numeric ``beta1``
    the constant is evaluated instead: ``threshold_formula("adam", 0.9) == "38/η"``.
    """
    method = FROZEN_COUNTERPART[_optimizer(name)]
    if beta1 is None:
        return _FORMULAS[method]
    check_beta(beta1, "beta1")
    return f"{threshold(method, 1.0, float(beta1)):.4g}/η"


# ---------------------------------------------------------------------------------------------
# Linear recurrence: companion matrix, growth factor, numeric threshold


def _trace_det(method: str, eta, b, lam):
    """tr(M) and det(M) of the companion matrix, in closed form (see module docstring)."""
    if method == "gd":
        return 1.0 - eta * lam, 0.0 * (eta * lam)
    c = 1.0 - b if method.startswith("ema") else 1.0
    if method.endswith("hb"):
        return 1.0 + b - eta * c * lam, b + 0.0 * (eta * lam)
    return (1.0 + b) * (1.0 - eta * c * lam), b * (1.0 - eta * c * lam)


def _spectral_radius(trace, det):
    """Largest root modulus of z^2 - trace z + det, vectorised and free of cancellation."""
    root = np.sqrt(np.asarray(trace * trace - 4.0 * det, dtype=complex))
    sign = np.where(trace < 0, -1.0, 1.0)
    return np.abs(trace + sign * root) / 2.0


def companion_matrix(method: str, eta, beta1, lam) -> np.ndarray:
    """Matrix M with (x_{t+1}, m_{t+1}) = M (x_t, m_t) on f(x) = lam x^2 / 2.

    Built entry by entry from the update rule (see the module docstring), with shape
    ``broadcast(eta, beta1, lam).shape + (2, 2)``.
    """
    method = _method(method)
    eta = np.asarray(_check_positive_array(eta, "eta"), dtype=float)
    b = np.asarray(_check_beta_array(beta1, "beta1"), dtype=float)
    lam = _check_finite_array(lam, "lam")
    eta, b, lam = np.broadcast_arrays(eta, b, lam)
    if method == "gd":
        b = np.zeros_like(b)
    c = 1.0 - b if method.startswith("ema") else np.ones_like(b)
    if method.endswith("nesterov"):
        # d = b m_{t+1} + c g = b^2 m_t + c lam (1 + b) x_t
        top = np.stack([1.0 - eta * c * lam * (1.0 + b), -eta * b * b], axis=-1)
    else:
        # d = m_{t+1} = b m_t + c lam x_t  (GD: b = 0, c = 1)
        top = np.stack([1.0 - eta * c * lam, -eta * b], axis=-1)
    bottom = np.stack([c * lam, b], axis=-1)
    return np.stack([top, bottom], axis=-2)


def growth_factor(method: str, eta, beta1, lam):
    """Asymptotic growth factor per step along an eigendirection with eigenvalue ``lam``.

    The spectral radius of ``companion_matrix(method, eta, beta1, lam)``, from the trace and
    determinant of the 2x2 matrix (paper App. C, Fig. 14). It equals 1 at ``threshold``, is
    below 1 for 0 < lam < threshold and above 1 past it (negative lam also gives > 1).
    Broadcasts over eta, beta1 and lam.
    """
    method = _method(method)
    eta_in, beta_in = eta, beta1
    eta = np.asarray(_check_positive_array(eta, "eta"), dtype=float)
    b = np.asarray(_check_beta_array(beta1, "beta1"), dtype=float)
    lam_array = _check_finite_array(lam, "lam")
    trace, det = _trace_det(method, eta, b, lam_array)
    radius = _spectral_radius(trace, det)
    return _scalar_or_array(radius, eta_in, beta_in, lam)


def numeric_threshold(method: str, eta, beta1=0.0):
    """Threshold found numerically: the lam > 0 where the growth factor crosses 1.

    Independent of the closed forms in ``threshold``. The bracket starts at [0, 1/eta] and its
    upper end doubles until the growth factor exceeds 1; then bisection on the predicate
    "growth factor > 1" narrows it to ~1e-13 relative. The predicate (not the growth factor)
    is monotone in lam > 0, which is what bisection needs. Broadcasts over eta and beta1.
    """
    method = _method(method)
    eta_in, beta_in = eta, beta1
    eta = np.asarray(_check_positive_array(eta, "eta"), dtype=float)
    b = np.asarray(_check_beta_array(beta1, "beta1"), dtype=float)
    eta, b = np.broadcast_arrays(eta, b)

    def unstable(lam):
        return _spectral_radius(*_trace_det(method, eta, b, lam)) > 1.0

    low = np.zeros(eta.shape)
    high = 1.0 / eta
    for _ in range(_MAX_DOUBLINGS):
        stable = ~unstable(high)
        if not stable.any():
            break
        low = np.where(stable, high, low)
        high = np.where(stable, 2.0 * high, high)
    else:
        raise RuntimeError(f"no unstable eigenvalue found for {method} (eta={eta_in!r})")
    for _ in range(_MAX_BISECTIONS):
        if np.all(high - low <= _BISECTION_RTOL * high):
            break
        middle = 0.5 * (low + high)
        above = unstable(middle)
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
    return _scalar_or_array(0.5 * (low + high), eta_in, beta_in)
