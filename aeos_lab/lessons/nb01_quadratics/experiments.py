r"""Experiments of notebook 01 (stability on quadratics), each a plain function returning a typed
result: runs on f(x) = lam x^2 / 2 (``lam`` = 1 unless said otherwise) or, for
preconditioning, on f(x) = x^T H x / 2 with a 2x2 H.

The iterates come from :func:`aeos_lab.core.quadratic.simulate` (the optax optimizers of
:mod:`aeos_lab.core.optimizers`), the closed forms from :mod:`aeos_lab.core.thresholds`. Every
jitted simulation has fixed shapes per panel (a slider changes values, never shapes), so a
panel compiles while it is built and never again. The paper figures' compute functions are in
:mod:`.experiments_figures`.

Measured divergence
-------------------
A linear recurrence either decays or grows geometrically, possibly with oscillations. The
*envelope growth* of a run measures the per-step factor from the trajectory itself::

    growth = (max_{last w steps} |x_t| / max_{the w steps before} |x_t|)^(1 / w),

with w a quarter of the run. For x_t = c r^t it returns |r| exactly. A run is called diverging
when its envelope grows (growth > 1) AND its late envelope exceeds |x_0|; the second condition
guards against slow oscillations (period longer than w) that can fool the ratio alone.
Overflow (inf or NaN) counts as diverging.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from aeos_lab.core import quadratic, thresholds
from aeos_lab.core.validation import canonical_name, check_beta, check_int_at_least, check_positive
from aeos_lab.lessons.nb01_quadratics.params import PrecondSetting

__all__ = [
    "DISPLAY_RANGE",
    "GROWTH_METHODS",
    "METHOD_LABELS",
    "Divergence",
    "Growth",
    "MomentumGradients",
    "Preconditioning",
    "Rmsprop",
    "RmspropBursts",
    "StabilityMap",
    "StabilityMaps",
    "clip_for_display",
    "critical_eta",
    "divergence_runs",
    "envelope_growth",
    "growth_curves",
    "is_diverging",
    "judge_grid",
    "map_agreement",
    "momentum_gradients",
    "precond_sharpness",
    "preconditioning",
    "preconditioning_runs",
    "rmsprop_bursts",
    "rmsprop_runs",
    "rotated_hessian",
    "stability_boundary",
    "stability_grid",
    "stability_map",
    "stability_maps",
]

METHOD_LABELS = {
    "gd": "GD",
    "standard_hb": "HB standard",
    "ema_hb": "HB EMA",
    "standard_nesterov": "Nesterov standard",
    "ema_nesterov": "Nesterov EMA",
}
"""Short names of the five momentum methods (thresholds.MOMENTUM_METHODS, in that order) in
results, legends and tables."""

GROWTH_METHODS = ("gd", "ema_hb", "ema_nesterov")
"""Fig. 14's three methods, in the EMA form so that one eta gives them equal effective steps."""

DISPLAY_RANGE = (1e-12, 1e12)
"""|x| outside this range is left off the charts (the line leaves the plot), not clipped."""

_ORBIT_TOLERANCE = 0.01


def _label(method: str) -> str:
    return METHOD_LABELS[canonical_name(method, thresholds.MOMENTUM_METHODS, what="method")]


# ---------------------------------------------------------------------------------------------
# Measuring divergence


def clip_for_display(values, low: float = DISPLAY_RANGE[0], high: float = DISPLAY_RANGE[1]):
    """``values`` as floats with NaN outside [low, high] (inf and NaN also become NaN).

    Charts then stop a line where it leaves the plotted range instead of drawing overflow.
    """
    array = np.asarray(values, dtype=float)
    inside = np.isfinite(array) & (array >= low) & (array <= high)
    return np.where(inside, array, np.nan)


def _magnitude(values) -> np.ndarray:
    magnitude = np.abs(np.asarray(values, dtype=float))
    return np.where(np.isnan(magnitude), np.inf, magnitude)


def _window(length: int, window: int | None) -> int:
    window = max(1, length // 4) if window is None else check_int_at_least(window, 1, "window")
    if 2 * window > length:
        raise ValueError(
            f"window must be at most half the trajectory ({length // 2}), got {window}"
        )
    return window


def envelope_growth(values, window: int | None = None):
    """Measured per-step growth of |values| along the last axis (see the module docstring).

    ``(max of the last window / max of the window before) ** (1 / window)``; the window
    defaults to a quarter of the trajectory. inf where the run overflowed (or grew from 0),
    0 where it reached exactly 0. Returns a float for a 1-D input, else an array over the
    leading axes.
    """
    magnitude = _magnitude(values)
    w = _window(magnitude.shape[-1], window)
    late = magnitude[..., -w:].max(axis=-1)
    early = magnitude[..., -2 * w : -w].max(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        growth = (late / early) ** (1.0 / w)
    growth = np.where(np.isinf(late), np.inf, np.where(late == 0, 0.0, growth))
    return float(growth) if growth.ndim == 0 else growth


def is_diverging(values, window: int | None = None):
    """True where |values| grows: envelope growth > 1 and the late envelope > |values[0]|."""
    magnitude = _magnitude(values)
    w = _window(magnitude.shape[-1], window)
    late = magnitude[..., -w:].max(axis=-1)
    result = (envelope_growth(magnitude, w) > 1.0) & (late > magnitude[..., 0])
    return bool(result) if np.ndim(result) == 0 else result


def critical_eta(method: str, beta1=0.0, lam=1.0):
    """The eta at which curvature ``lam`` sits exactly at ``method``'s threshold.

    Table 1's thresholds are c(beta1) / eta, so lam = c / eta gives eta* = c(beta1) / lam,
    e.g. 38 / lam for EMA heavy ball at beta1 = 0.9.
    """
    check_positive(lam, "lam")
    return thresholds.threshold(method, 1.0, beta1) / lam


# ---------------------------------------------------------------------------------------------
# (a) Divergence past the threshold


@dataclass(frozen=True, eq=False)
class Divergence:
    """Panel (a) and Fig. 2: methods on f(x) = lam x^2 / 2 from x0 (m0 = 0) at one (eta, beta1).

    ``runs``: method (label), step, abs_x = |x_t| with :func:`clip_for_display`.
    ``summary``: one row per method: method, threshold (lam* of Table 1 at this eta, beta1),
    formula (e.g. "38/η"), ratio = lam / lam* (= eta / eta*), predicted_growth (spectral radius
    of the companion matrix), measured_growth (:func:`envelope_growth`) and diverging
    (:func:`is_diverging`).
    """

    eta: float
    beta1: float
    lam: float
    runs: pd.DataFrame
    summary: pd.DataFrame


def divergence_runs(
    eta: float,
    beta1: float,
    *,
    steps: int,
    lam: float = 1.0,
    x0: float = 1.0,
    methods: Sequence[str] = thresholds.MOMENTUM_METHODS,
) -> Divergence:
    """Run each of ``methods`` on f(x) = lam x^2 / 2 from x0 (m0 = 0) for ``steps`` updates.

    Each method is a linear recurrence in x (Lemmas 1-2): x_{t+1} = (1 - eta lam) x_t for GD,
    x_{t+1} = (1 + b - eta c lam) x_t - b x_{t-1} for heavy ball, with c = 1 (standard) or
    1 - b (EMA), b = beta1; it diverges iff lam > lam* = c(beta1) / eta.
    """
    check_int_at_least(steps, 4, "steps")
    frames, rows = [], []
    for method in methods:
        label = _label(method)
        run = quadratic.simulate(method, lam, eta, beta1, steps=steps, x0=x0)
        abs_x = np.abs(run.x[:, 0])
        lam_star = thresholds.threshold(method, eta, beta1)
        rows.append(
            {
                "method": label,
                "threshold": lam_star,
                "formula": thresholds.threshold_formula(method, beta1),
                "ratio": lam / lam_star,
                "predicted_growth": thresholds.growth_factor(method, eta, beta1, lam),
                "measured_growth": envelope_growth(abs_x),
                "diverging": is_diverging(abs_x),
            }
        )
        frames.append(
            pd.DataFrame(
                {"method": label, "step": np.arange(steps + 1), "abs_x": clip_for_display(abs_x)}
            )
        )
    runs = pd.concat(frames, ignore_index=True)
    return Divergence(eta, beta1, lam, runs, pd.DataFrame(rows))


# ---------------------------------------------------------------------------------------------
# (b) Stability map


def stability_grid(
    method: str,
    eta_lambda,
    beta1,
    steps: Sequence[int],
    *,
    tail: float = 0.1,
) -> pd.DataFrame:
    """max |x_t| over the last ``tail`` of N steps, on a grid of (eta*lam, beta1), for each N.

    One simulation of ``max(steps)`` updates on f(x) = x^2/2 from x0 = 1 (eta = eta*lam since
    lam = 1) serves every N in ``steps``: the value for N is the largest |x_t| with
    N - ceil(tail N) < t <= N (overflow counts as inf). Columns: eta_lambda, beta1, steps,
    max_abs_x. Values above 1 mean the iterate grew.
    """
    eta_lambda = np.asarray(eta_lambda, dtype=float)
    beta1 = np.asarray(beta1, dtype=float)
    steps = sorted(check_int_at_least(n, 1, "steps") for n in steps)
    grid_eta, grid_beta = np.meshgrid(eta_lambda, beta1)
    run = quadratic.simulate(method, 1.0, grid_eta, grid_beta, steps=steps[-1])
    magnitude = _magnitude(run.x[..., 0])
    frames = []
    for n in steps:
        window = max(1, math.ceil(tail * n))
        value = magnitude[..., n - window + 1 : n + 1].max(axis=-1)
        frames.append(
            pd.DataFrame(
                {
                    "eta_lambda": grid_eta.ravel(),
                    "beta1": grid_beta.ravel(),
                    "steps": n,
                    "max_abs_x": value.ravel(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def stability_boundary(
    method: str, beta1, eta_lambda_range: tuple[float, float] | None = None
) -> pd.DataFrame:
    """The closed-form boundary eta*lam = c(beta1) of Table 1 as a line (eta_lambda, beta1).

    E.g. (2 + 2 beta1) / (1 - beta1) for EMA heavy ball, 2 for GD (a vertical line). Points
    outside ``eta_lambda_range`` are dropped.
    """
    beta1 = np.asarray(beta1, dtype=float)
    frame = pd.DataFrame({"eta_lambda": critical_eta(method, beta1), "beta1": beta1})
    if eta_lambda_range is not None:
        low, high = eta_lambda_range
        frame = frame[(frame["eta_lambda"] >= low) & (frame["eta_lambda"] <= high)]
    return frame.reset_index(drop=True)


def judge_grid(grid: pd.DataFrame, method: str) -> pd.DataFrame:
    """``grid`` (a :func:`stability_grid`) with columns threshold_eta_lambda (c(beta1) of
    ``method``), past_threshold (eta_lambda > c(beta1)) and grew (max_abs_x > 1)."""
    threshold = critical_eta(method, grid["beta1"].to_numpy())
    return grid.assign(
        threshold_eta_lambda=threshold,
        past_threshold=grid["eta_lambda"].to_numpy() > threshold,
        grew=grid["max_abs_x"].to_numpy() > 1.0,
    )


def map_agreement(grid: pd.DataFrame, method: str) -> float:
    """Share of grid cells where "grew" (max_abs_x > 1) matches eta*lam > c(beta1)."""
    judged = judge_grid(grid, method)
    return float(np.mean(judged["past_threshold"] == judged["grew"]))


@dataclass(frozen=True, eq=False)
class StabilityMaps:
    """The maps of several methods, simulated once (panel (b) builds them; its controls only
    choose). ``grids`` and ``boundaries`` by method name: :func:`stability_grid` for every N
    of ``steps``, :func:`stability_boundary` on 200 values of beta1 from 0 to ``beta1_max``."""

    eta_lambda_range: tuple[float, float]
    steps: tuple[int, ...]
    grids: Mapping[str, pd.DataFrame]
    boundaries: Mapping[str, pd.DataFrame]


def stability_maps(
    *,
    grid_size: tuple[int, int],
    steps: Sequence[int],
    eta_lambda_range: tuple[float, float],
    beta1_max: float,
    methods: Sequence[str] = thresholds.MOMENTUM_METHODS,
) -> StabilityMaps:
    """Maps of ``methods`` on ``grid_size`` = (eta*lam points, geometric over
    ``eta_lambda_range``; beta1 points, linear from 0 to ``beta1_max``): one compilation and
    one run of max(``steps``) updates per method."""
    eta_lambda = np.geomspace(*eta_lambda_range, grid_size[0])
    betas = np.linspace(0.0, beta1_max, grid_size[1])
    fine_betas = np.linspace(0.0, beta1_max, 200)
    return StabilityMaps(
        tuple(eta_lambda_range),
        tuple(steps),
        {m: stability_grid(m, eta_lambda, betas, steps) for m in methods},
        {m: stability_boundary(m, fine_betas, eta_lambda_range) for m in methods},
    )


@dataclass(frozen=True, eq=False)
class StabilityMap:
    """One method's map after N = ``steps`` updates (panel (b), one map of Table 1).

    ``grid``: eta_lambda, beta1, steps, max_abs_x (largest |x_t| over the last 10% of the
    steps), threshold_eta_lambda (c(beta1)), past_threshold (eta_lambda > c(beta1)) and grew
    (max_abs_x > 1). ``boundary``: the closed-form line (eta_lambda, beta1). ``agreement``:
    share of cells where grew == past_threshold. ``formula``: lam* of Table 1 in beta1 and eta.
    ``marker``: the sliders' (eta*lam, beta1), or None; ``past``: whether it lies past the
    threshold (None without a marker).
    """

    method: str
    label: str
    formula: str
    steps: int
    grid: pd.DataFrame
    boundary: pd.DataFrame
    agreement: float
    marker: tuple[float, float] | None = None
    past: bool | None = None


def stability_map(
    maps: StabilityMaps,
    method: str,
    steps: int,
    marker: tuple[float, float] | None = None,
) -> StabilityMap:
    """``method``'s map after ``steps`` updates, taken from ``maps`` (no simulation), with the
    point ``marker`` = (eta*lam, beta1) placed against the threshold eta*lam = c(beta1)."""
    method = canonical_name(method, maps.grids, what="method")
    grid = maps.grids[method]
    grid = judge_grid(grid[grid["steps"] == steps].reset_index(drop=True), method)
    where = None
    if marker is not None:
        marker = (float(marker[0]), float(marker[1]))
        where = bool(marker[0] > critical_eta(method, marker[1]))
    return StabilityMap(
        method,
        METHOD_LABELS[method],
        thresholds.threshold_formula(method),
        steps,
        grid,
        maps.boundaries[method],
        float(np.mean(grid["past_threshold"] == grid["grew"])),
        marker,
        where,
    )


# ---------------------------------------------------------------------------------------------
# (c) Growth factor


@dataclass(frozen=True, eq=False)
class Growth:
    """Panel (c) and Fig. 14: asymptotic growth factors rho(lam) at one (eta, beta1).

    ``curves`` (method, lam, lam_ratio = lam / lam*, growth) on linearly spaced ratios from 0
    to ``up_to``; ``log_curves`` (the same columns) on geometrically spaced ratios from 1e-3 to
    ``up_to`` (for a log axis); ``summary`` per method: threshold, formula, ``growth_<r>`` for
    each r of the edge ratios (rho at r lam*), growth_edge (at ``up_to``), lam_ratio
    (= ``up_to``), steps_to_10x = ln 10 / ln rho there (how many steps the unstable direction
    takes to grow tenfold) and end_text (e.g. "×1.77/step").
    """

    eta: float
    beta1: float
    curves: pd.DataFrame
    log_curves: pd.DataFrame
    summary: pd.DataFrame


def growth_curves(
    eta: float,
    beta1: float,
    *,
    methods: Sequence[str] = GROWTH_METHODS,
    up_to: float = 1.1,
    points: int = 150,
    edge_ratios: Sequence[float] = (1.02, 1.05, 1.1),
) -> Growth:
    """Growth factor rho(lam) for lam from 0 to ``up_to`` lam* (Fig. 14), ``points`` per curve.

    rho is :func:`aeos_lab.core.thresholds.growth_factor`, the largest root modulus of the
    method's recurrence z^2 = tr(M) z - det(M): rho(lam*) = 1, rho < 1 below, > 1 past it.
    """
    check_int_at_least(points, 10, "points")
    grids = {
        "curves": np.linspace(0.0, up_to, points),
        "log_curves": np.geomspace(1e-3, up_to, points),
    }
    frames, rows = {name: [] for name in grids}, []
    for method in methods:
        label = _label(method)
        lam_star = thresholds.threshold(method, eta, beta1)
        for name, ratios in grids.items():
            growth = thresholds.growth_factor(method, eta, beta1, ratios * lam_star)
            frames[name].append(
                pd.DataFrame(
                    {
                        "method": label,
                        "lam": ratios * lam_star,
                        "lam_ratio": ratios,
                        "growth": growth,
                    }
                )
            )
        edge = thresholds.growth_factor(method, eta, beta1, up_to * lam_star)
        rows.append(
            {
                "method": label,
                "threshold": lam_star,
                "formula": thresholds.threshold_formula(method, beta1),
                **{
                    f"growth_{r:g}": thresholds.growth_factor(method, eta, beta1, r * lam_star)
                    for r in edge_ratios
                },
                "growth_edge": edge,
                "lam_ratio": up_to,
                "steps_to_10x": math.log(10.0) / math.log(edge) if edge > 1 else math.inf,
                "end_text": f"×{edge:.2f}/step",
            }
        )
    curves = {name: pd.concat(parts, ignore_index=True) for name, parts in frames.items()}
    return Growth(eta, beta1, curves["curves"], curves["log_curves"], pd.DataFrame(rows))


# ---------------------------------------------------------------------------------------------
# (d) Large gradients while stable


@dataclass(frozen=True, eq=False)
class MomentumGradients:
    """Panel (d) and Fig. 17: EMA heavy ball (eta, beta1) from (x0, m0) against GD at the same
    asymptotic rate.

    ``runs``: method, step, x, momentum (NaN for GD), grad_sq = (lam x_t)^2. ``summary`` per
    method: eta, ratio (lam / its own lam*), stable (ratio < 1), rate (heavy ball's rho),
    grad_growth = max_t g_t^2 / g_0^2, peak_step and monotone (|g_t| never increases).
    """

    eta: float
    beta1: float
    runs: pd.DataFrame
    summary: pd.DataFrame


def momentum_gradients(
    eta: float,
    beta1: float,
    *,
    steps: int = 30,
    x0: float = 1.0,
    m0: float = 0.2,
    lam: float = 1.0,
) -> MomentumGradients:
    """EMA heavy ball from (x0, m0) against GD with the same long-run rate, ``steps`` updates.

    Fig. 17 uses x0 = 1, m0 = 0.2, beta1 = 0.9, 30 steps. Heavy ball's iterate shrinks
    asymptotically by rho = growth_factor("ema_hb", eta, beta1, lam) per step. GD runs at
    eta_GD = (1 + rho) / lam, where its factor 1 - eta_GD lam = -rho has the same modulus: the
    two runs decay (or grow) equally fast in the long run, and GD is stable iff heavy ball is.
    On f = lam x^2 / 2 GD's gradient is multiplied by exactly -rho every step, so while stable
    it can only shrink; heavy ball's state (x, m) evolves by a non-normal 2x2 matrix, so
    ||M^t s|| (and the gradient) can grow for a while before it decays.
    """
    rate = thresholds.growth_factor("ema_hb", eta, beta1, lam)
    eta_gd = (1.0 + rate) / lam
    hb = quadratic.simulate("ema_hb", lam, eta, beta1, steps=steps, x0=x0, m0=m0)
    gd = quadratic.simulate("gd", lam, eta_gd, steps=steps, x0=x0)
    frames, rows = [], []
    for method, run, step_size in (("ema_hb", hb, eta), ("gd", gd, eta_gd)):
        label = _label(method)
        x = run.x[:, 0]
        with np.errstate(over="ignore", invalid="ignore"):
            grad_sq = (lam * x) ** 2
            monotone = bool(np.all(np.diff(np.abs(x)) <= 1e-12 * np.abs(x[:-1])))
        frames.append(
            pd.DataFrame(
                {
                    "method": label,
                    "step": np.arange(steps + 1),
                    "x": x,
                    "momentum": run.momentum[:, 0],
                    "grad_sq": grad_sq,
                }
            )
        )
        ratio = lam / thresholds.threshold(method, step_size, beta1)
        rows.append(
            {
                "method": label,
                "eta": step_size,
                "ratio": ratio,
                "stable": bool(ratio < 1),
                "rate": rate,
                "grad_growth": float(np.max(grad_sq) / grad_sq[0]),
                "peak_step": int(np.argmax(grad_sq)),
                "monotone": monotone,
            }
        )
    runs = pd.concat(frames, ignore_index=True)
    return MomentumGradients(eta, beta1, runs, pd.DataFrame(rows))


# ---------------------------------------------------------------------------------------------
# (e) Preconditioning


def rotated_hessian(eigenvalues: Sequence[float] = (1.0, 20.0), angle: float = 0.0) -> np.ndarray:
    """H = R diag(eigenvalues) R^T with R the rotation by ``angle`` degrees (2x2)."""
    theta = math.radians(float(angle))
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    return (rotation * np.asarray(eigenvalues, dtype=float)) @ rotation.T


def precond_sharpness(hessian, precond) -> float:
    """lambda_1(P^-1/2 H P^-1/2) for a diagonal P given as a vector (the same as of P^-1 H)."""
    inv_sqrt = 1.0 / np.sqrt(np.asarray(precond, dtype=float))
    scaled = np.asarray(hessian, dtype=float) * np.outer(inv_sqrt, inv_sqrt)
    return float(np.linalg.eigvalsh(scaled)[-1])


@dataclass(frozen=True, eq=False)
class Preconditioning:
    """Panel (e), Prop. 1: ``method`` with a fixed diagonal P and without it (P = I).

    ``runs``: run ("with P" or "P = I"), step, norm_x = ||x_t|| (display-clipped).
    ``summary``: quantity ("λ₁(H)" or "λ₁(P^-1/2 H P^-1/2)"), value, ratio to the threshold,
    governs (the run it decides), diverging (that run's measured fate). ``lam1_h`` and
    ``lam1_php``: the two eigenvalues; ``threshold`` and ``formula``: the method's lam*;
    ``diverging_with_p`` / ``diverging_without_p``: the measured fates; ``isomorphism_gap``:
    the Prop. 1 check (see :func:`preconditioning_runs`).
    """

    runs: pd.DataFrame
    summary: pd.DataFrame
    lam1_h: float
    lam1_php: float
    threshold: float
    formula: str
    diverging_with_p: bool
    diverging_without_p: bool
    isomorphism_gap: float


def preconditioning_runs(
    eta: float,
    beta1: float,
    precond: Sequence[float],
    *,
    hessian,
    steps: int,
    x0: Sequence[float] = (1.0, 1.0),
    method: str = "ema_hb",
) -> Preconditioning:
    """``method`` with a fixed diagonal P (frozen Adam for ema_hb) and without (P = I).

    The update x_{t+1} = x_t - eta P^-1 m_{t+1} becomes, in x~ = P^1/2 x, m~ = P^-1/2 m, the
    plain method on H~ = P^-1/2 H P^-1/2 (Prop. 1). So on f(x) = x^T H x / 2 the run with P
    diverges iff lambda_1(P^-1/2 H P^-1/2) exceeds the method's threshold, the run without P
    iff lambda_1(H) does. Prop. 1 is checked on the way: the method without P on H~ from
    x~0 = P^1/2 x0 (m0 = 0) must give x~_t = P^1/2 x_t; ``isomorphism_gap`` is
    max_t |x~_t - P^1/2 x_t| / max_t |x~_t| over the steps where both are finite and below 1e100.
    """
    hessian = np.asarray(hessian, dtype=float)
    p = np.broadcast_to(np.asarray(precond, dtype=float), (hessian.shape[0],))
    x0 = np.asarray(x0, dtype=float)
    ones = np.ones_like(p)
    with_p = quadratic.simulate(method, hessian, eta, beta1, steps=steps, x0=x0, precond=p)
    without = quadratic.simulate(method, hessian, eta, beta1, steps=steps, x0=x0, precond=ones)
    scaled = hessian / np.sqrt(np.outer(p, p))
    tilde = quadratic.simulate(
        method, scaled, eta, beta1, steps=steps, x0=np.sqrt(p) * x0, precond=ones
    )
    with np.errstate(over="ignore", invalid="ignore"):
        mapped = np.sqrt(p) * with_p.x
        usable = np.all(np.isfinite(mapped) & np.isfinite(tilde.x), axis=-1)
        usable &= np.all((np.abs(tilde.x) < 1e100) & (np.abs(mapped) < 1e100), axis=-1)
        gap = float(np.abs(tilde.x[usable] - mapped[usable]).max() / np.abs(tilde.x[usable]).max())
        norms = {"with P": np.linalg.norm(with_p.x, axis=-1)}
        norms["P = I"] = np.linalg.norm(without.x, axis=-1)
    diverging = {name: is_diverging(n) for name, n in norms.items()}
    lam_star = thresholds.threshold(method, eta, beta1)
    lam1_h = float(np.linalg.eigvalsh(hessian)[-1])
    lam1_php = precond_sharpness(hessian, p)
    runs = pd.concat(
        [
            pd.DataFrame({"run": name, "step": np.arange(steps + 1), "norm_x": clip_for_display(n)})
            for name, n in norms.items()
        ],
        ignore_index=True,
    )
    summary = pd.DataFrame(
        {
            "quantity": ["λ₁(H)", "λ₁(P^-1/2 H P^-1/2)"],
            "value": [lam1_h, lam1_php],
            "ratio": [lam1_h / lam_star, lam1_php / lam_star],
            "governs": ["P = I", "with P"],
            "diverging": [diverging["P = I"], diverging["with P"]],
        }
    )
    return Preconditioning(
        runs,
        summary,
        lam1_h,
        lam1_php,
        lam_star,
        thresholds.threshold_formula(method, beta1),
        diverging["with P"],
        diverging["P = I"],
        gap,
    )


def preconditioning(
    setting: PrecondSetting, *, eigenvalues: Sequence[float], steps: int
) -> Preconditioning:
    """Panel (e) at one ``setting``: EMA heavy ball with P = diag(p1, p2) on
    H = R(angle) diag(eigenvalues) R(angle)^T from x0 = (1, 1), against P = I."""
    return preconditioning_runs(
        setting.eta,
        setting.beta1,
        (setting.p1, setting.p2),
        hessian=rotated_hessian(eigenvalues, setting.angle),
        steps=steps,
    )


# ---------------------------------------------------------------------------------------------
# (f) RMSprop halts its own divergence


@dataclass(frozen=True, eq=False)
class Rmsprop:
    """Panel (f) and Fig. 12: RMSprop on f(x) = lam x^2 / 2, and the same run with nu frozen.

    ``runs``: step, abs_x, nu, precond (P_t), sharpness = lam / P_t, ratio = sharpness / (2/eta).
    ``trajectories``: run ("RMSprop" or "ν frozen at its start"), step, abs_x (the frozen run
    display-clipped), for the |x| chart. Scalars: threshold = 2/eta, start_sharpness = lam / P_0
    and start_ratio (its ratio to 2/eta), max_abs_x, final_abs_x, nu0 and nu_max (first and
    largest nu_t), frozen_diverging, finite (all x_t finite), late_ratio_mean and late_abs_x
    (means over the last 10% of steps), on_orbit (late |x_t| and P_t within 1% of the period-2
    orbit |x| = eta/2, P = eta lam/2) and settled (late ratio within 1% of 1).
    """

    eta: float
    beta2: float
    runs: pd.DataFrame
    trajectories: pd.DataFrame
    threshold: float
    start_sharpness: float
    start_ratio: float
    max_abs_x: float
    final_abs_x: float
    nu0: float
    nu_max: float
    frozen_diverging: bool
    finite: bool
    late_ratio_mean: float
    late_abs_x: float
    on_orbit: bool
    settled: bool


def rmsprop_runs(
    eta: float,
    beta2: float,
    *,
    steps: int,
    nu0: float = 1.0,
    eps: float = 1e-7,
    lam: float = 1.0,
    x0: float = 1.0,
) -> Rmsprop:
    """RMSprop on f(x) = lam x^2 / 2 from x0 with nu_0 = ``nu0``, and the same with nu frozen.

    RMSprop's update is nu_{t+1} = beta2 nu_t + (1 - beta2) g_t^2, P = sqrt(nu) + eps,
    x_{t+1} = x_t - eta g_t / P_{t+1}, so with P held fixed it is GD on the preconditioned
    curvature lam / P, stable iff lam / P < 2 / eta. At the start P_0 = sqrt(nu0) + eps: for
    eta > 2 P_0 / lam the frozen run diverges. The adaptive run grows too, until g^2 has lifted
    nu enough; its resting point is the two-cycle x = +-eta/2 with P = eta lam / 2.
    """
    check_positive(eta, "eta")
    check_beta(beta2, "beta2")
    run = quadratic.simulate(
        "rmsprop", lam, eta, beta2=beta2, steps=steps, x0=x0, initial_nu=nu0, eps=eps
    )
    p0 = float(run.precond[0, 0])
    frozen = quadratic.simulate("gd", lam, eta, steps=steps, x0=x0, precond=p0)
    x, p, nu = run.x[:, 0], run.precond[:, 0], run.nu[:, 0]
    abs_x, abs_frozen = np.abs(x), np.abs(frozen.x[:, 0])
    edge = 2.0 / eta
    sharpness = lam / p
    ratio = sharpness / edge
    tail = max(1, steps // 10)
    orbit_x, orbit_p = eta / 2.0, eta * lam / 2.0
    on_orbit = bool(
        np.all(np.abs(abs_x[-tail:] - orbit_x) <= _ORBIT_TOLERANCE * orbit_x)
        and np.all(np.abs(p[-tail:] - orbit_p) <= _ORBIT_TOLERANCE * orbit_p)
    )
    step = np.arange(steps + 1)
    runs = pd.DataFrame(
        {
            "step": step,
            "abs_x": abs_x,
            "nu": nu,
            "precond": p,
            "sharpness": sharpness,
            "ratio": ratio,
        }
    )
    trajectories = pd.concat(
        [
            pd.DataFrame({"run": "RMSprop", "step": step, "abs_x": abs_x}),
            pd.DataFrame(
                {
                    "run": "ν frozen at its start",
                    "step": step,
                    "abs_x": clip_for_display(abs_frozen, 0.0, DISPLAY_RANGE[1]),
                }
            ),
        ],
        ignore_index=True,
    )
    return Rmsprop(
        eta=float(eta),
        beta2=float(beta2),
        runs=runs,
        trajectories=trajectories,
        threshold=edge,
        start_sharpness=float(lam / p0),
        start_ratio=float(lam / p0 / edge),
        max_abs_x=float(np.max(abs_x)),
        final_abs_x=float(abs_x[-1]),
        nu0=float(nu[0]),
        nu_max=float(np.max(nu)),
        frozen_diverging=is_diverging(abs_frozen),
        finite=bool(np.all(np.isfinite(x))),
        late_ratio_mean=float(np.mean(ratio[-tail:])),
        late_abs_x=float(np.mean(abs_x[-tail:])),
        on_orbit=on_orbit,
        settled=bool(np.all(np.abs(ratio[-tail:] - 1.0) <= _ORBIT_TOLERANCE)),
    )


@dataclass(frozen=True, eq=False)
class RmspropBursts:
    """The bursts of one :class:`Rmsprop` run, measured from its trajectory (panel (f)).

    A burst is a maximal stretch of steps with |x_t| > ``level`` (|x_0| unless given).
    ``starts``: the first step of each burst; ``peaks``: the largest |x_t| in each;
    ``troughs``: the smallest |x_t| between consecutive bursts (one fewer than the bursts);
    ``floor``: the smallest |x_t| after the first peak (inf without a burst); ``orbit_from``:
    the first step from which |x_t| and P_t stay within 1% of the period-2 orbit
    |x| = eta/2, P = eta lam/2 until the end of the run (None if the run ends off it);
    ``upward_crossings``: how often lam / P_t climbs back past 2/eta (the sawtooth's teeth).
    """

    level: float
    starts: tuple[int, ...]
    peaks: tuple[float, ...]
    troughs: tuple[float, ...]
    floor: float
    orbit_from: int | None
    upward_crossings: int


def rmsprop_bursts(result: Rmsprop, level: float | None = None, lam: float = 1.0) -> RmspropBursts:
    """Split ``result``'s |x_t| into bursts above ``level`` (see :class:`RmspropBursts`)."""
    abs_x = result.runs["abs_x"].to_numpy()
    precond = result.runs["precond"].to_numpy()
    ratio = result.runs["ratio"].to_numpy()
    level = float(abs_x[0]) if level is None else float(level)
    above = abs_x > level
    edges = np.diff(above.astype(int))
    starts = list(np.flatnonzero(edges == 1) + 1)
    ends = list(np.flatnonzero(edges == -1) + 1)
    if above[0]:
        starts.insert(0, 0)
    if above[-1]:
        ends.append(len(abs_x))
    peaks = tuple(float(abs_x[a:b].max()) for a, b in zip(starts, ends, strict=True))
    troughs = tuple(float(abs_x[ends[k] : starts[k + 1]].min()) for k in range(len(starts) - 1))
    floor = math.inf
    if starts:
        first_peak = starts[0] + int(np.argmax(abs_x[starts[0] : ends[0]]))
        floor = float(abs_x[first_peak:].min())
    orbit_x, orbit_p = result.eta / 2.0, result.eta * lam / 2.0
    on = (np.abs(abs_x - orbit_x) <= _ORBIT_TOLERANCE * orbit_x) & (
        np.abs(precond - orbit_p) <= _ORBIT_TOLERANCE * orbit_p
    )
    off = np.flatnonzero(~on)
    orbit_from = None if on.size == 0 or not on[-1] else (int(off[-1]) + 1 if off.size else 0)
    crossings = int(np.sum((ratio[:-1] <= 1.0) & (ratio[1:] > 1.0)))
    return RmspropBursts(
        level,
        tuple(int(s) for s in starts),
        peaks,
        troughs,
        floor,
        orbit_from,
        crossings,
    )
