r"""Exercise checks of notebook 03 (Adam at the adaptive edge of stability).

1. :func:`check_beta1_prediction` (part 1 (a)): a prediction of the threshold and of the late
   ratio lambda_1(P^-1 H) / threshold at beta1 = 0.7, then the run on the micro network.
2. :func:`check_adam_step` (section (f)): the learner's Adam step with bias correction (Eq. 2),
   run for a few steps on a small quadratic next to ``optax.adam`` and the library's
   ``optimizers.adam(..., bias_correction=True)``.
3. :func:`check_bias_factor` (section (f)): the factor (1 - beta1^t) / sqrt(1 - beta2^t) by
   which Eq. 2 multiplies sqrt(nu), and where it peaks.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import numpy as np
import optax

from aeos_lab.core import optimizers, thresholds
from aeos_lab.engine import analysis, train
from aeos_lab.lessons import exercises
from aeos_lab.lessons.exercises import answer, expect, expect_close
from aeos_lab.lessons.nb03_adam_aeos import experiments, experiments_micro

__all__ = [
    "bias_factor",
    "check_adam_step",
    "check_beta1_prediction",
    "check_bias_factor",
    "prediction_run",
]

QUADRATIC = np.diag([4.0, 1.0, 0.25])
"""The quadratic f(x) = x^T A x / 2 that exercise 1 steps on (gradient A x)."""
START = np.array([1.0, -2.0, 0.5])
STEPS = 8


def _library_trajectory(transform: optax.GradientTransformation) -> np.ndarray:
    """``STEPS`` updates of ``transform`` on :data:`QUADRATIC` from :data:`START` (in JAX's
    default precision: float32 unless x64 is enabled)."""
    x, a = jnp.asarray(START), jnp.asarray(QUADRATIC)
    state = transform.init(x)
    path = []
    for _ in range(STEPS):
        updates, state = transform.update(a @ x, state, x)
        x = optax.apply_updates(x, updates)
        path.append(np.asarray(x, dtype=float))
    return np.array(path)


def check_adam_step(adam_step: Callable) -> bool | None:
    """Exercise 2: ``adam_step(x, m, nu, g, t, eta, beta1, beta2, eps) -> (x, m, nu)`` (update
    number ``t`` = 1, 2, ...) against ``optax.adam`` and the library's bias-corrected Adam, for
    :data:`STEPS` steps on :data:`QUADRATIC`, at two settings of (eta, beta1, beta2)."""

    def judge() -> str:
        details = []
        for eta, beta1, beta2 in ((0.1, 0.9, 0.999), (0.05, 0.8, 0.99)):
            eps = 1e-7
            x, m, nu = START.copy(), np.zeros(3), np.zeros(3)
            path = []
            for t in range(1, STEPS + 1):
                out = adam_step(x, m, nu, QUADRATIC @ x, t, eta, beta1, beta2, eps)
                expect(
                    isinstance(out, tuple) and len(out) == 3,
                    "adam_step must return the tuple (x, m, nu)",
                )
                x, m, nu = (np.asarray(v, dtype=float) for v in out)
                path.append(x)
            ours = optimizers.adam(eta, beta1, beta2, eps, bias_correction=True)
            want = _library_trajectory(ours)
            what = f"x after each of {STEPS} steps at eta={eta}, beta1={beta1}, beta2={beta2}"
            # tolerance: the library runs in JAX's float32 (unless x64 is on), yours in float64
            details.append(expect_close(np.array(path), want, what, rtol=1e-3, atol=1e-5))
            from_optax = _library_trajectory(optax.adam(eta, beta1, beta2, eps))
            expect_close(np.array(path), from_optax, f"{what} (optax.adam)", rtol=1e-3, atol=1e-5)
        return "; ".join(details) + "; optax.adam takes the same steps."

    return exercises.check("Exercise 2", judge)


bias_factor = optimizers.bias_correction_factor
"""Exercise 3's answer: (1 - beta1^t) / sqrt(1 - beta2^t)."""


def check_bias_factor(factor: Callable, peak_t, peak_value) -> bool | None:
    """Exercise 3: the learner's ``factor(t, beta1, beta2)`` at several steps and betas, and the
    step ``peak_t`` (1 to 5000) where it peaks at (0.9, 0.999) with its value ``peak_value``."""

    def judge() -> str:
        steps = np.array([1, 2, 5, 12, 20, 100, 1000, 5000])
        for beta1, beta2 in ((0.9, 0.999), (0.8, 0.99)):
            got = np.asarray(factor(steps, beta1, beta2), dtype=float)
            expect_close(got, bias_factor(steps, beta1, beta2), f"factor at {beta1}, {beta2}")
        peak_step, peak = answer(peak_t), answer(peak_value)
        everything = bias_factor(np.arange(1, 5001))
        want_t = int(np.argmax(everything)) + 1
        expect(int(peak_step) == want_t, f"the factor peaks at t = {want_t}, not {peak_step}")
        expect_close(peak, everything.max(), "the peak value", rtol=1e-3)
        return (
            f"the factor starts at {bias_factor(1):.2f} (t = 1), peaks at {everything.max():.2f} "
            f"(t = {want_t}) and falls to {bias_factor(1000):.2f} by t = 1000: P is scaled UP "
            "early in training, by a factor that shrinks towards 1"
        )

    return exercises.check("Exercise 3", judge)


PREDICTION_BETA1 = 0.7


def prediction_run(P) -> float:
    """Adam on the micro network at (``P.micro_eta``, beta1 = 0.7, ``P.beta2``), as in part 1:
    the late median of lambda_1(P^-1 H) / threshold over its last third."""
    base = experiments_micro.micro_base(P)
    config = experiments.adam_at(base, P.micro_eta, PREDICTION_BETA1, P.beta2)
    (result,) = train.sweep([config], cache=False, vectorize=False, progress=False)
    return analysis.late_median(result.records, "ratio", 1 / 3)


def check_beta1_prediction(coefficient, late_ratio, P) -> bool | None:
    """Exercise 1: ``coefficient`` = eta x the threshold at beta1 = 0.7 ((2 + 2 beta1) / (1 -
    beta1)), exact; ``late_ratio``, the predicted late median ratio, within the half-width of
    ``P.check_band`` of the run's (:func:`prediction_run`): the band the self-check holds the
    micro network's late medians to (late oscillation of a few percent, and an equilibrium
    only approximately at 1)."""
    band = (P.check_band[1] - P.check_band[0]) / 2

    def judge() -> str:
        want = thresholds.optimizer_threshold("adam", 1.0, PREDICTION_BETA1)
        expect_close(answer(coefficient), want, "eta x threshold at beta1 = 0.7", rtol=1e-3)
        predicted = float(answer(late_ratio))
        measured = prediction_run(P)
        expect(
            abs(predicted - measured) <= band,
            f"you predicted a late ratio of {predicted:.2f}; the run at beta1 = 0.7 measured "
            f"{measured:.3f} (accepted: within {band:.2g} of it)",
        )
        return (
            f"threshold {want:.2f}/eta; the run at beta1 = 0.7 ends with a late median ratio of "
            f"{measured:.3f}, your prediction {predicted:.2f} (accepted within {band:.2g})"
        )

    return exercises.check("Exercise 1", judge)
