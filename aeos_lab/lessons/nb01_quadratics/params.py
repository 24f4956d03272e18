"""Parameters of notebook 01 (stability on quadratics): one place for every value the notebook,
its six panels and its figures (Table 1, Figs. 2, 12, 14, 17 and Prop. 1) use.

Nothing here trains: every experiment runs a quadratic in float64, so the lesson has a full and
a fast variant (the sizes CI runs) and no paper scale. Where a figure shows a panel's setting,
the panel's slider starts at the figure's value (e.g. eta = 0.2 of Fig. 14, eta = 2.2 of Fig. 12).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from aeos_lab.lessons.parameters import LessonParams, Variants, param

__all__ = ["FAST", "FULL", "VARIANTS", "Params", "PrecondSetting", "select"]


class PrecondSetting(NamedTuple):
    """One setting of panel (e): EMA heavy ball (eta, beta1) with P = diag(p1, p2) on
    H = R(angle) diag(eigenvalues) R(angle)^T, ``angle`` in degrees."""

    eta: float
    beta1: float
    p1: float
    p2: float
    angle: float


@dataclass(frozen=True)
class Params(LessonParams):
    steps: int = param(200, "(a), (e), Fig. 2, Prop. 1: updates per run")
    map_grid: tuple[int, int] = param(
        (60, 40), "(b), Table 1: eta*lambda points x beta1 points of each map"
    )
    map_steps: tuple[int, ...] = param(
        (25, 50, 100, 200), "(b): choices for N; Table 1 uses the largest"
    )
    growth_points: int = param(150, "(c), Fig. 14: points per growth-factor curve")
    fig17_steps: int = param(30, "(d), Fig. 17: the paper's 30 steps (cheap, not shrunk)")
    rmsprop_steps: int = param(2000, "(f), Fig. 12: RMSprop updates")
    beta1: float = param(0.9, "where every beta1 slider starts; the beta1 of Figs. 2, 14 and 17")
    beta1_max: float = param(
        0.99, "upper end of every beta1 slider and of the maps' beta1 axis (b, Table 1)"
    )
    lam: float = param(1.0, "(a): the curvature lambda of f(x) = lambda x^2 / 2")
    divergence_eta: float = param(8.0, "(a): where the eta slider starts")
    divergence_eta_range: tuple[float, float] = param((0.05, 500.0), "(a): range of the eta slider")
    fig2_etas: tuple[float, ...] = param(
        (10.0, 30.0, 37.0, 39.0, 45.0), "Fig. 2: EMA heavy ball's learning rates"
    )
    map_method: str = param("ema_hb", "(b): the map shown first")
    map_eta: float = param(10.0, "(b): where the eta (= eta*lambda) slider starts")
    map_range: tuple[float, float] = param(
        (0.1, 1000.0), "(b), Table 1: eta*lambda range of the maps (and of the eta slider)"
    )
    growth_eta: float = param(0.2, "(c), Fig. 14: eta (where the slider starts)")
    growth_eta_range: tuple[float, float] = param((1e-3, 10.0), "(c): range of the eta slider")
    gradient_eta: float = param(20.0, "(d): where the eta slider starts")
    gradient_eta_range: tuple[float, float] = param((0.1, 400.0), "(d): range of the eta slider")
    m0: float = param(0.2, "(d), Fig. 17: heavy ball's initial momentum buffer (x0 = 1)")
    fig17_etas: tuple[float, ...] = param((1.0, 20.0, 37.0), "Fig. 17: heavy ball's stable etas")
    eigenvalues: tuple[float, float] = param((1.0, 20.0), "(e), Prop. 1: eigenvalues of H")
    precond_start: PrecondSetting = param(
        PrecondSetting(eta=3.0, beta1=0.9, p1=1.0, p2=4.0, angle=0.0),
        "(e): where the panel's controls start",
    )
    precond_eta_range: tuple[float, float] = param((0.1, 100.0), "(e): range of the eta slider")
    p_range: tuple[float, float] = param((1e-2, 1e2), "(e): range of the p1 and p2 sliders")
    prop1_cases: tuple[PrecondSetting, ...] = param(
        (
            # lambda_1(H) = 20 past 38/eta = 12.7, lambda_1(P^-1/2 H P^-1/2) = 5 below it
            PrecondSetting(eta=3.0, beta1=0.9, p1=1.0, p2=4.0, angle=0.0),
            # lambda_1(H) = 20 below 38/eta = 38, lambda_1(P^-1/2 H P^-1/2) = 80 past it
            PrecondSetting(eta=1.0, beta1=0.9, p1=1.0, p2=0.25, angle=0.0),
            # the same on a rotated H, where P no longer divides eigenvalues one by one
            PrecondSetting(eta=1.0, beta1=0.9, p1=3.0, p2=0.2, angle=30.0),
        ),
        "(e) self-check, Prop. 1: settings where lambda_1(H) and lambda_1(P^-1/2 H P^-1/2) "
        "sit on opposite sides of the threshold",
    )
    rmsprop_eta: float = param(2.2, "(f), Fig. 12: eta (where the slider starts)")
    rmsprop_eta_range: tuple[float, float] = param((0.5, 20.0), "(f): range of the eta slider")
    rmsprop_beta2: float = param(0.999, "(f): where the beta2 slider starts")
    rmsprop_beta2_range: tuple[float, float] = param((0.5, 0.999), "(f): range of the beta2 slider")
    fig12_beta2s: tuple[float, ...] = param((0.9, 0.99, 0.999), "Fig. 12: RMSprop's beta2s")
    nu0: float = param(1.0, "(f), Fig. 12: RMSprop's initial second moment nu_0")


FULL = Params()
FAST = FULL.replace(
    steps=100, map_grid=(36, 20), map_steps=(25, 50, 100), growth_points=80, rmsprop_steps=1000
)
VARIANTS = Variants("01_quadratic_stability", FULL, FAST, cpu_task=None)


def select(paper_scale: bool = False, **kwargs) -> Params:
    """The parameters the notebook runs with (see Variants.select): FULL, or FAST under
    ``$AEOS_LAB_FAST=1``. There is no paper scale (``paper_scale=True`` raises)."""
    return VARIANTS.select(paper_scale, **kwargs)
