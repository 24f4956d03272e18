r"""Exercises of notebook 01: the learner writes the linear algebra behind Table 1 and Fig. 14 and
each check compares it with :mod:`aeos_lab.core.thresholds` (or with
:func:`.experiments.precond_sharpness`) through :func:`aeos_lab.lessons.exercises.check`.

* :func:`check_companion_matrix`: ``ema_hb_matrix(eta, beta1, lam)``, the 2x2 matrix M with
  (x_{t+1}, m_{t+1}) = M (x_t, m_t) for EMA heavy ball on f(x) = lam x^2 / 2; compared entry by
  entry with ``thresholds.companion_matrix`` at a few points, and its spectral radius must sit
  below 1 at 0.98 lam* and above 1 at 1.02 lam*.
* :func:`check_threshold`: ``ema_hb_threshold(eta, beta1)``, the closed form obtained by putting
  z = -1 into the characteristic polynomial; compared with ``thresholds.threshold`` on a grid
  of (eta, beta1).
* :func:`check_growth_factor`: ``growth(eta, beta1, lam)``, the largest root modulus of EMA heavy
  ball's characteristic polynomial; compared with ``thresholds.growth_factor`` on both sides of
  the threshold, including the plateau of complex roots and 1.1 lam* (about 1.77 at
  beta1 = 0.9).
* :func:`check_precond_sharpness`: ``preconditioned_sharpness(H, p)``, lambda_1 of
  P^-1/2 H P^-1/2 for a 2x2 H and a diagonal P = diag(p); compared with
  :func:`.experiments.precond_sharpness` on the settings of the notebook's Prop. 1 cases.

Every check runs in well under a second: plain numpy on 2x2 matrices.
"""

from __future__ import annotations

import numpy as np

from aeos_lab.core import thresholds
from aeos_lab.lessons import exercises
from aeos_lab.lessons.nb01_quadratics import experiments

__all__ = [
    "check_companion_matrix",
    "check_growth_factor",
    "check_precond_sharpness",
    "check_threshold",
]

# (eta, beta1, lam) points where the learner's matrix is compared with the library's
_MATRIX_POINTS = ((8.0, 0.9, 1.0), (3.0, 0.5, 2.0), (0.2, 0.99, 150.0), (1.0, 0.0, 0.7))
_ETAS = (0.2, 1.0, 8.0)
_BETAS = (0.0, 0.5, 0.9, 0.99)
# lam / lam* ratios for the growth factor: decaying real roots, the complex plateau at
# sqrt(beta1), the threshold, and past it (1.1 is Fig. 14's right edge)
_RATIOS = (0.001, 0.02, 0.5, 0.9, 0.99, 1.0, 1.02, 1.1, 2.0)


def _radius(matrix) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(matrix, dtype=float)))))


def check_companion_matrix(ema_hb_matrix) -> bool | None:
    """Exercise 1: ``ema_hb_matrix(eta, beta1, lam)`` against ``thresholds.companion_matrix``
    ("ema_hb"), then its spectral radius on both sides of 38/eta (eta = 1, beta1 = 0.9)."""

    def judge():
        for eta, beta1, lam in _MATRIX_POINTS:
            got = np.asarray(ema_hb_matrix(eta, beta1, lam), dtype=float)
            want = thresholds.companion_matrix("ema_hb", eta, beta1, lam)
            exercises.expect_close(
                got, want, f"M at eta={eta:g}, beta1={beta1:g}, lam={lam:g}", rtol=1e-9, atol=1e-12
            )
        lam_star = thresholds.threshold("ema_hb", 1.0, 0.9)
        below = _radius(ema_hb_matrix(1.0, 0.9, 0.98 * lam_star))
        above = _radius(ema_hb_matrix(1.0, 0.9, 1.02 * lam_star))
        exercises.expect(
            below < 1.0 < above,
            f"spectral radius {below:.4f} at 0.98 x 38 and {above:.4f} at 1.02 x 38: "
            "it should cross 1 at the threshold",
        )
        return (
            f"your M equals the library's at {len(_MATRIX_POINTS)} points; at eta = 1, "
            f"beta1 = 0.9 its spectral radius is {below:.4f} at lam = 0.98 x 38 and "
            f"{above:.4f} at 1.02 x 38"
        )

    return exercises.check("Exercise 1", judge)


def check_threshold(ema_hb_threshold) -> bool | None:
    """Exercise 2: ``ema_hb_threshold(eta, beta1)`` against ``thresholds.threshold("ema_hb")``
    on every (eta, beta1) of a small grid."""

    def judge():
        got, want = [], []
        for eta in _ETAS:
            for beta1 in _BETAS:
                got.append(float(ema_hb_threshold(eta, beta1)))
                want.append(thresholds.threshold("ema_hb", eta, beta1))
        exercises.expect_close(got, want, "lam*(eta, beta1) on the grid", rtol=1e-9)
        adam = float(ema_hb_threshold(1.0, 0.9))
        return (
            f"your lam* matches Table 1 at {len(got)} (eta, beta1) pairs; "
            f"lam*(1, 0.9) = {adam:.6g}, i.e. 38/eta"
        )

    return exercises.check("Exercise 2", judge)


def check_growth_factor(growth) -> bool | None:
    """Exercise 3: ``growth(eta, beta1, lam)`` against ``thresholds.growth_factor("ema_hb")`` at
    several lam / lam* for beta1 in (0.5, 0.9)."""

    def judge():
        got, want = [], []
        for beta1 in (0.5, 0.9):
            lam_star = thresholds.threshold("ema_hb", 0.2, beta1)
            for ratio in _RATIOS:
                got.append(float(growth(0.2, beta1, ratio * lam_star)))
                want.append(thresholds.growth_factor("ema_hb", 0.2, beta1, ratio * lam_star))
        exercises.expect_close(got, want, f"growth factor at lam / lam* in {_RATIOS}", rtol=1e-7)
        edge = float(growth(0.2, 0.9, 1.1 * thresholds.threshold("ema_hb", 0.2, 0.9)))
        plateau = float(growth(0.2, 0.9, 0.5 * thresholds.threshold("ema_hb", 0.2, 0.9)))
        return (
            f"your growth factor matches the library at {len(got)} points; at beta1 = 0.9 it is "
            f"{plateau:.4f} = sqrt(0.9) at 0.5 lam* and {edge:.3f} per step at 1.1 lam*"
        )

    return exercises.check("Exercise 3", judge)


def check_precond_sharpness(preconditioned_sharpness, cases, eigenvalues) -> bool | None:
    """Exercise 4: ``preconditioned_sharpness(H, p)`` against
    :func:`.experiments.precond_sharpness` on H = R(angle) diag(eigenvalues) R(angle)^T with
    P = diag(p1, p2) for each of ``cases`` (the notebook's ``P.prop1_cases``)."""

    def judge():
        got, want, seen = [], [], []
        for case in cases:
            hessian = experiments.rotated_hessian(eigenvalues, case.angle)
            p = np.array([case.p1, case.p2])
            got.append(float(preconditioned_sharpness(hessian, p)))
            want.append(experiments.precond_sharpness(hessian, p))
            seen.append(f"{got[-1]:.4g} (p = {case.p1:g}, {case.p2:g}, angle {case.angle:g})")
        exercises.expect_close(got, want, "lambda_1(P^-1/2 H P^-1/2)", rtol=1e-8)
        return "your preconditioned sharpness matches the library: " + "; ".join(seen)

    return exercises.check("Exercise 4", judge)
