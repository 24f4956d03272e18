"""Exercises of notebook 04 (minibatches and warmup): the learner's code, checked against the
library.

1. :func:`check_warmup_threshold` (section (b)): the threshold (2 + 2 beta1) / ((1 - beta1)
   eta_t) along a linear warmup eta_t = eta min(1, (t + 1) / W), compared with the engine's
   schedule (:meth:`aeos_lab.engine.config.RunConfig.warmup_eta`) and
   :func:`aeos_lab.core.thresholds.optimizer_threshold`;
2. :func:`check_meeting_step` (section (b)): the first measurement at which psharp reaches the
   falling threshold, on the warmup run of section (b) (:func:`warmup_records`), compared with
   :func:`.experiments.warmup_tracking`;
3. :func:`check_adam_update` (section (c)): the t-th update of Adam, with and without bias
   correction, under a gradient that has been the same at every step (the first updates of
   training, before the gradient has changed much), compared with our Adam
   (:func:`aeos_lab.core.optimizers.adam`) and, with bias correction, with ``optax.adam``.

Exercises 1 and 3 need no training; exercise 2 reads the run panel (b) draws at its start
setting (in the bank of precomputed runs on the default task), so each check takes a second
or two.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from aeos_lab.core import optimizers, thresholds
from aeos_lab.engine import runs
from aeos_lab.engine.config import RunConfig
from aeos_lab.lessons import exercises
from aeos_lab.lessons.nb04_minibatch_warmup import experiments
from aeos_lab.lessons.nb04_minibatch_warmup.params import Params

__all__ = [
    "adam_step_factors",
    "check_adam_update",
    "check_meeting_step",
    "check_warmup_threshold",
    "library_adam_updates",
    "warmup_records",
]

# gradients from far below eps / sqrt(1 - beta2) (where eps dominates P) to far above it
GRADIENT = np.array([1e-9, -1e-7, 3e-6, -1e-4, 2e-2, -0.7, 5.0])


@partial(jax.jit, static_argnames=("bias_correction", "steps"))
def _adam_updates(grad, eta, beta1, beta2, eps, *, bias_correction: bool, steps: int):
    """Every update of our Adam over ``steps`` steps with the constant gradient ``grad``."""
    opt = optimizers.adam(eta, beta1, beta2, eps, bias_correction=bias_correction)
    params = jnp.zeros_like(grad)

    def step(state, _):
        update, state = opt.update(grad, state, params)
        return state, update

    _, updates = jax.lax.scan(step, opt.init(params), None, length=steps)
    return updates


def library_adam_updates(
    g, ts, eta: float, beta1: float, beta2: float, eps: float, bias_correction: bool
) -> dict[int, np.ndarray]:
    """The t-th update x_t - x_{t-1} of our Adam, for each t of ``ts`` (1-based), when every
    gradient so far was ``g``."""
    grad = jnp.asarray(g, dtype=jnp.float32)
    updates = _adam_updates(
        grad, eta, beta1, beta2, eps, bias_correction=bias_correction, steps=max(ts)
    )
    return {t: np.asarray(updates[t - 1], dtype=float) for t in ts}


def _optax_adam_update(g, t: int, eta: float, beta1: float, beta2: float, eps: float):
    opt = optax.adam(eta, beta1, beta2, eps)
    grad = jnp.asarray(g, dtype=jnp.float32)
    state = opt.init(grad)
    for _ in range(t):
        update, state = opt.update(grad, state)
    return np.asarray(update, dtype=float)


adam_step_factors = optimizers.bias_correction_factor
"""|update| / eta of Adam without bias correction at step t under a constant gradient."""


def check_adam_update(candidate: Callable) -> bool | None:
    """Exercise 3: ``candidate(g, t, eta, beta1, beta2, eps, bias_correction)`` -> the t-th
    update (an array like ``g``) against our Adam (and optax's, with bias correction), at
    t = 1, 2, 12 and 100, beta2 = 0.999 and 0.99, with and without bias correction."""

    def judge() -> str:
        eta, beta1, eps = 1e-2, 0.9, 1e-7
        for bias_correction in (False, True):
            for beta2 in (0.999, 0.99):
                ts = (1, 2, 12, 100)
                library = library_adam_updates(
                    GRADIENT, ts, eta, beta1, beta2, eps, bias_correction
                )
                for t in ts:
                    what = f"update {t} at beta2 = {beta2}, bias_correction={bias_correction}"
                    got = candidate(GRADIENT.copy(), t, eta, beta1, beta2, eps, bias_correction)
                    want = library[t]
                    exercises.expect_close(got, want, what, rtol=1e-4, atol=1e-12)
        want = _optax_adam_update(GRADIENT, 12, eta, beta1, 0.999, eps)
        got = candidate(GRADIENT.copy(), 12, eta, beta1, 0.999, eps, True)
        exercises.expect_close(got, want, "update 12 against optax.adam", rtol=1e-4, atol=1e-12)
        first, peak = adam_step_factors(1), adam_step_factors(np.arange(1, 200)).max()
        return (
            f"all 16 settings agree with our Adam, and the bias-corrected one with optax.adam. "
            f"Without bias correction a weight with a steady gradient moves {first:.2f} eta at "
            f"the first step and up to {peak:.2f} eta (step 12); with it, eta."
        )

    return exercises.check("Exercise 3", judge)


def check_warmup_threshold(candidate: Callable) -> bool | None:
    """Exercise 1: ``candidate(t, eta, warmup, beta1)`` -> the threshold of EMA heavy ball at
    the learning rate of update t (0-based) of a linear warmup of ``warmup`` steps to ``eta``
    (0: no warmup), against the engine's schedule and the library's threshold."""

    def judge() -> str:
        cases = [(1e-3, 1000, 0.9), (1e-3, 200, 0.9), (1e-2, 0, 0.9), (3e-4, 500, 0.5)]
        compared = 0
        for eta, warmup, beta1 in cases:
            config = RunConfig(eta=eta, warmup_steps=warmup)
            for t in sorted({0, 1, 99, 299, max(warmup - 1, 0), warmup, 5000}):
                compared += 1
                want = thresholds.optimizer_threshold("adam", config.warmup_eta(t), beta1)
                got = candidate(t, eta, warmup, beta1)
                exercises.expect_close(
                    got,
                    want,
                    f"threshold at update {t} of a {warmup}-step warmup to eta = {eta:g} "
                    f"(beta1 = {beta1})",
                    rtol=1e-6,
                )
        start = candidate(0, 1e-3, 1000, 0.9)
        at_300 = candidate(299, 1e-3, 1000, 0.9)
        return (
            f"{compared} values agree with the engine's schedule. Warming up to 1e-3 over 1000 "
            f"steps, the threshold starts at {start:.3g} and is {at_300:.3g} after 300 updates."
        )

    return exercises.check("Exercise 1", judge)


def warmup_records(P: Params) -> pd.DataFrame:
    """The measurements of panel (b)'s start setting (a warmup of ``P.warmup`` steps to
    ``P.warmup_peak``) from step 1 on: columns ``step``, ``lr`` (eta_t of the latest update)
    and ``precond_sharpness`` (psharp); from the bank on the default task, else trained."""
    setting = experiments.warmup_setting(P, P.warmup_peak, P.warmup, P.beta1, P.beta2)
    (result,) = runs.run_configs([experiments.warmup_config(experiments.run_base(P), setting)])
    records = result.records[result.records["step"] >= 1]
    return records[["step", "lr", "precond_sharpness"]].reset_index(drop=True)


def check_meeting_step(candidate: Callable, P: Params) -> bool | None:
    """Exercise 2: ``candidate(records, warmup, beta1, reach)`` -> the first measured step
    inside the warmup at which psharp >= ``reach`` x the threshold at eta_t, on
    :func:`warmup_records`, against :func:`.experiments.warmup_tracking`."""

    def judge() -> str:
        records = warmup_records(P)
        ratio = records["precond_sharpness"] / thresholds.optimizer_threshold(
            "adam", records["lr"].to_numpy(), P.beta1
        )
        tracking = experiments.warmup_tracking(
            records.assign(ratio=ratio, loss=0.0), P.warmup, reach=P.reach, band=P.band
        )
        got = candidate(records.copy(), P.warmup, P.beta1, P.reach)
        exercises.expect(
            got == tracking.reached_step,
            f"your meeting step is {got}, the library's {tracking.reached_step} (first "
            f"measurement with psharp >= {P.reach} x (2 + 2 beta1) / ((1 - beta1) eta_t))",
        )
        row = records[records["step"] == got].iloc[0]
        return (
            f"psharp meets the threshold at step {got} of {P.warmup}, when eta_t = "
            f"{row['lr']:.2g} is {row['lr'] / P.warmup_peak:.0%} of the peak "
            f"(psharp {row['precond_sharpness']:.3g})."
        )

    return exercises.check("Exercise 2", judge)
