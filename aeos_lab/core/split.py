r"""Splitting a change of the preconditioned sharpness into the part from P and the part from H.

Adam's stability is governed by lambda(P, H) = lambda_1(P^-1 H), the top eigenvalue of
P^-1 H, computed as that of the symmetric matrix P^-1/2 H P^-1/2 (same spectrum, since
P^-1 H = P^-1/2 (P^-1/2 H P^-1/2) P^1/2). Between two measurements both the diagonal
preconditioner (P_0 -> P_1) and the Hessian (H_0 -> H_1) change. Write
lambda_ab = lambda(P_a, H_b). The total change lambda_11 - lambda_00 splits, to first order, by
holding one factor fixed and changing the other:

    P part      = lambda_10 - lambda_00     (the new P on the old Hessian)
    H part      = lambda_01 - lambda_00     (the old P on the new Hessian)
    interaction = total - P part - H part = lambda_11 - lambda_10 - lambda_01 + lambda_00

The interaction is second order: it shrinks like the product of the two changes as the interval
between measurements shrinks. The symmetric (Shapley) split averages the two orders in which the
factors can change, so its two parts sum exactly to the total:

    Shapley P part = ((lambda_10 - lambda_00) + (lambda_11 - lambda_01)) / 2
    Shapley H part = ((lambda_01 - lambda_00) + (lambda_11 - lambda_10)) / 2

Two facts the tests rely on: with P fixed, every change comes from H (P part = 0, H part =
total); with H fixed and P scaled by c > 0, lambda scales by 1/c and every change comes from P.

Everything here is numpy on dense matrices (float64): meant for small networks, such as the
242-parameter micro network, whose Hessian is a 242 x 242 matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

__all__ = [
    "Split",
    "preconditioned_matrix",
    "preconditioned_top",
    "split_change",
    "split_path",
    "top_eigenpair",
]


def _as_precond(p) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if not np.all(np.isfinite(p) & (p > 0)):
        raise ValueError("a preconditioner must be finite and > 0 everywhere")
    return p


def _as_hessian(h) -> np.ndarray:
    h = np.asarray(h, dtype=np.float64)
    if h.ndim < 2 or h.shape[-1] != h.shape[-2]:
        raise ValueError(f"a Hessian must be square, got shape {h.shape}")
    if not np.all(np.isfinite(h)):
        raise ValueError("a Hessian must be finite")
    return 0.5 * (h + np.swapaxes(h, -1, -2))  # symmetric up to rounding; make it exactly so


def preconditioned_matrix(p, h) -> np.ndarray:
    """P^-1/2 H P^-1/2 (exactly symmetric, float64) for diagonal P (the vector ``p``, shape
    (..., n)) and symmetric ``h`` (shape (..., n, n)); leading axes broadcast. Its eigenvalues
    are those of P^-1 H."""
    p, h = _as_precond(p), _as_hessian(h)
    if p.shape[-1] != h.shape[-1]:
        raise ValueError(f"P has {p.shape[-1]} entries but H is {h.shape[-1]} x {h.shape[-1]}")
    s = 1.0 / np.sqrt(p)
    return s[..., :, None] * h * s[..., None, :]


def preconditioned_top(p, h) -> np.ndarray:
    """lambda_1(P^-1 H), the top eigenvalue of :func:`preconditioned_matrix`.

    LAPACK runs on one thread: for matrices this small, OpenBLAS's threads only contend (on a
    loaded 2-core machine, 81 eigenvalue problems of size 242 took 13 s threaded, 0.4 s not)."""
    a = preconditioned_matrix(p, h)
    with threadpool_limits(limits=1, user_api="blas"):
        return np.linalg.eigvalsh(a)[..., -1]


def top_eigenpair(p, h) -> tuple[float, np.ndarray]:
    """(lambda_1, u) of :func:`preconditioned_matrix` for one P and one H: lambda_1(P^-1 H) and
    the top eigenvector of P^-1/2 H P^-1/2 (one LAPACK thread, as above)."""
    a = preconditioned_matrix(p, h)
    with threadpool_limits(limits=1, user_api="blas"):
        values, vectors = np.linalg.eigh(a)
    return float(values[-1]), vectors[:, -1]


@dataclass(frozen=True)
class Split:
    """The four values lambda_ab = lambda_1(P_a^-1 H_b) of one interval (or arrays of them, one
    per interval) and the splits of the change lambda_11 - lambda_00 derived from them (see the
    module docstring)."""

    lam_00: np.ndarray
    lam_10: np.ndarray
    lam_01: np.ndarray
    lam_11: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.lam_11 - self.lam_00

    @property
    def p_part(self) -> np.ndarray:
        """First order: the new P on the old Hessian, lambda_10 - lambda_00."""
        return self.lam_10 - self.lam_00

    @property
    def h_part(self) -> np.ndarray:
        """First order: the old P on the new Hessian, lambda_01 - lambda_00."""
        return self.lam_01 - self.lam_00

    @property
    def interaction(self) -> np.ndarray:
        """What the two first-order parts leave out: total - P part - H part."""
        return self.total - self.p_part - self.h_part

    @property
    def shapley_p(self) -> np.ndarray:
        """The P part averaged over both orders of change."""
        return 0.5 * ((self.lam_10 - self.lam_00) + (self.lam_11 - self.lam_01))

    @property
    def shapley_h(self) -> np.ndarray:
        """The H part averaged over both orders; shapley_p + shapley_h = total exactly."""
        return 0.5 * ((self.lam_01 - self.lam_00) + (self.lam_11 - self.lam_10))


def split_change(p0, p1, h0, h1) -> Split:
    """The split of lambda_1(P_1^-1 H_1) - lambda_1(P_0^-1 H_0) for diagonal preconditioners
    ``p0``, ``p1`` (vectors) and symmetric Hessians ``h0``, ``h1`` (leading axes: several
    intervals at once)."""
    return Split(
        preconditioned_top(p0, h0),
        preconditioned_top(p1, h0),
        preconditioned_top(p0, h1),
        preconditioned_top(p1, h1),
    )


def split_path(ps, hs) -> Split:
    """The split of every interval between consecutive measurements: ``ps`` (m, n) holds P at
    m measurements, ``hs`` (m, n, n) the Hessians there; the result holds m - 1 intervals.
    lambda_1(P_i^-1 H_i) is computed once for each measurement (3m - 2 eigenvalue problems)."""
    ps, hs = _as_precond(ps), _as_hessian(hs)
    if ps.ndim != 2 or hs.ndim != 3 or len(ps) != len(hs) or len(ps) < 2:
        raise ValueError(
            f"ps must be (m, n) and hs (m, n, n) with m >= 2, got {ps.shape} and {hs.shape}"
        )
    same = preconditioned_top(ps, hs)
    return Split(
        same[:-1],
        preconditioned_top(ps[1:], hs[:-1]),
        preconditioned_top(ps[:-1], hs[1:]),
        same[1:],
    )
