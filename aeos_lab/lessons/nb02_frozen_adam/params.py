"""Parameters of notebook 02 (frozen Adam): one place for every value the notebook, its panels
and its figure (paper Fig. 3) use.

The lesson trains on the lab task (1,500 digits with random labels, width 100); with paper
scale on a GPU it trains on the paper's CIFAR-10 task with the sizes of :data:`PAPER`
(App. G.2: P from step 1100 of Adam at eta 2e-5; the frozen learning rates and step counts are
our choice, the paper does not list them).
"""

from __future__ import annotations

from dataclasses import dataclass

from aeos_lab.lessons.parameters import LessonParams, Variants, param

__all__ = ["FAST", "FULL", "PAPER", "VARIANTS", "Params", "select"]


@dataclass(frozen=True)
class Params(LessonParams):
    steps: int = param(1500, "(b): updates per training run")
    track_every: int = param(100, "(b): steps between two sharpness measurements")
    eig_tol: float = param(1e-2, "relative accuracy of each measured eigenvalue")
    beta1: float = param(0.9, "beta1 of every run (where the beta1 sliders start)")
    beta2: float = param(
        0.99, "Adam's beta2, for the run that supplies P and for the comparison runs"
    )
    freeze_eta: float = param(1e-4, "P is Adam's after freeze_at steps at freeze_eta")
    freeze_at: int = param(1000, "the Adam step whose P frozen Adam keeps")
    frozen_etas: tuple[float, ...] = param(
        (1e-4, 1.4e-4, 2e-4), "(b): frozen Adam's learning rates"
    )
    snapshots: tuple[int, ...] = param(
        (0, 20, 100, 300, 600), "(a): steps at which the panel can show P (plus freeze_at)"
    )
    trace_every: int = param(10, "(a): steps between two records of P's quantiles")
    prop1_steps: int = param(50, "(c): updates compared step by step")
    trace_eta_range: tuple[float, float] = param((1e-5, 1e-2), "(a): range of the eta slider")
    frozen_eta_range: tuple[float, float] = param(
        (1e-4, 1e-2), "(b) and Fig. 3: range of the eta slider and eta colour domain"
    )
    prop1_eta_range: tuple[float, float] = param((1e-5, 1e-1), "(c): range of the eta slider")


FULL = Params()
FAST = FULL.replace(steps=1200, frozen_etas=(1e-4, 2e-4), trace_every=20, prop1_steps=20)
PAPER = FULL.replace(
    steps=5000,
    track_every=100,
    eig_tol=1e-3,
    beta2=0.999,
    freeze_eta=2e-5,
    freeze_at=1100,
    frozen_etas=(1e-5, 2e-5, 4e-5),
    snapshots=(0, 100, 300, 600),
    trace_every=20,
    frozen_eta_range=(1e-6, 1e-3),  # the lab's (1e-4, 1e-2) would not hold the paper's etas
)
SMOKE = PAPER.replace(  # test-only (aeos_lab.engine.smoke): the paper path at tiny sizes
    steps=20,
    track_every=10,
    freeze_at=10,
    frozen_etas=(1e-5, 2e-5),
    snapshots=(0, 5),
    trace_every=5,
    prop1_steps=3,
)
VARIANTS = Variants("02_frozen_adam", FULL, FAST, PAPER, cpu_task="lab", smoke=SMOKE)


def select(paper_scale: bool = False, **kwargs) -> Params:
    """The parameters the notebook runs with (see Variants.select)."""
    return VARIANTS.select(paper_scale, **kwargs)
