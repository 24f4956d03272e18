"""Parameters of notebook 02 (frozen Adam): one place for every value the notebook, its panels
and its figure (paper Fig. 3) use.

The micro panels (``micro_*``, ``gd_*``) train the 242-parameter micro network
(:data:`aeos_lab.engine.tasks.MICRO_TASK`) live, in every variant. The network panels train on
the lab task (1,500 digits with random labels, width 100); with paper scale on a GPU on the
paper's CIFAR-10 task with the sizes of :data:`PAPER` (App. G.2: P from step 1100 of Adam at
eta 2e-5; the frozen learning rates and step counts are our choice, the paper does not list
them). The grids of panels (c) and (d) (``trace_*s``, ``frozen_*s``) are the slider positions;
the bank (:mod:`aeos_lab.engine.bank`) holds the runs of :data:`FULL` at every setting on
them (``experiments.bank_runs`` and ``bank_traces``).
"""

from __future__ import annotations

from dataclasses import dataclass

from aeos_lab.lessons.parameters import LessonParams, Variants, param

__all__ = ["FAST", "FULL", "PAPER", "VARIANTS", "Params", "select"]


@dataclass(frozen=True)
class Params(LessonParams):
    # (a), (b): the micro network, live (part 1 of the notebook; settings measured, see there)
    micro_steps: int = param(3000, "(a), (b): updates per run")
    micro_track_every: int = param(20, "(a), (b): steps between two eigenvalue measurements")
    micro_eig_tol: float = param(1e-3, "(a), (b): relative accuracy of each eigenvalue")
    late_fraction: float = param(1 / 3, "(a), (b): the late part of a run that summaries use")
    gd_eta: float = param(0.2, "(a): where the eta slider starts")
    gd_eta_range: tuple[float, float] = param((0.15, 0.5), "(a): range of the eta slider")
    micro_eta: float = param(2e-2, "(b): where the eta slider starts")
    micro_eta_range: tuple[float, float] = param((5e-3, 5e-2), "(b): range of the eta slider")
    micro_beta1_range: tuple[float, float] = param(
        (0.8, 0.95), "(b): range of the beta1 slider (starts at beta1)"
    )
    micro_beta2: float = param(0.999, "(b): where the beta2 slider starts")
    micro_beta2_range: tuple[float, float] = param((0.95, 0.999), "(b): range of the beta2 slider")
    micro_freeze_at: int = param(300, "(b): frozen Adam's P from this step of the same Adam run")
    micro_check_etas: tuple[float, ...] = param(
        (1.5e-2, 2e-2, 3e-2), "(b): the learning rates the self-check visits"
    )
    # the fork test (experiments_fork): Adam against frozen Adam over a short horizon, micro net
    fork_target: float = param(
        1.02, "fork: the fork is where lambda_1(P^-1 H) / (38/eta) first reaches this ..."
    )
    fork_target_range: tuple[float, float] = param((1.0, 1.1), "fork: range of the target slider")
    fork_search_from: int = param(300, "fork: ... at or after this Adam step (past the start-up)")
    fork_every: int = param(5, "fork: Adam steps between two measurements before the fork")
    fork_max_steps: int = param(3000, "fork: Adam steps searched at most")
    fork_horizon: int = param(20, "fork: steps each branch runs (where the slider starts)")
    fork_max_horizon: int = param(40, "fork: the longest horizon (computed on every release)")
    fork_fit_steps: int = param(5, "fork: growth fitted to |c_t| over t = 1 .. this")
    fork_part_tol: float = param(0.2, "fork: branches part where their |c_t| differ by > 20%")
    fork_check_beta2: float = param(0.99, "fork: the second beta2 the self-check visits")
    # network panels (c)-(e) on the lab task
    steps: int = param(1500, "(d): updates per training run")
    track_every: int = param(100, "(d): steps between two sharpness measurements")
    eig_tol: float = param(1e-2, "relative accuracy of each measured eigenvalue")
    beta1: float = param(0.9, "beta1 of every run (where the beta1 sliders start)")
    beta2: float = param(
        0.99, "Adam's beta2, for the run that supplies P and for the comparison runs"
    )
    freeze_eta: float = param(1e-4, "P is Adam's after freeze_at steps at freeze_eta")
    freeze_at: int = param(1000, "the Adam step whose P frozen Adam keeps")
    frozen_etas: tuple[float, ...] = param(
        (1e-4, 1.4e-4, 2e-4), "(d): frozen Adam's learning rates"
    )
    snapshots: tuple[int, ...] = param(
        (0, 20, 100, 300, 600), "(c): steps at which the panel can show P (plus freeze_at)"
    )
    trace_every: int = param(10, "(c): steps between two records of P's quantiles")
    prop1_steps: int = param(20, "(e): updates compared step by step (float64, per release)")
    trace_etas: tuple[float, ...] = param(
        (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2), "(c): positions of the eta slider"
    )
    trace_beta1s: tuple[float, ...] = param(
        (0.0, 0.5, 0.8, 0.9, 0.95, 0.99), "(c): positions of the beta1 slider"
    )
    trace_beta2s: tuple[float, ...] = param(
        (0.9, 0.95, 0.99, 0.995, 0.999), "(c): positions of the beta2 slider"
    )
    frozen_beta1s: tuple[float, ...] = param((0.8, 0.9, 0.95), "(d): positions of the beta1 slider")
    frozen_beta2s: tuple[float, ...] = param((0.99, 0.999), "(d): positions of the beta2 slider")
    frozen_eta_range: tuple[float, float] = param(
        (1e-4, 1e-2), "(d) and Fig. 3: the eta colour domain"
    )
    prop1_eta_range: tuple[float, float] = param((1e-5, 1e-1), "(e): range of the eta slider")


FULL = Params()
FAST = FULL.replace(steps=1200, frozen_etas=(1e-4, 2e-4), trace_every=20)
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
    trace_etas=(1e-6, 3e-6, 1e-5, 2e-5, 5e-5, 1e-4, 3e-4, 1e-3),  # around freeze_eta = 2e-5
)
SMOKE = PAPER.replace(  # test-only (aeos_lab.engine.smoke): the paper path at tiny sizes
    steps=20,
    track_every=10,
    freeze_at=10,
    frozen_etas=(1e-5, 2e-5),
    snapshots=(0, 5),
    trace_every=5,
    prop1_steps=3,
    micro_steps=100,
    micro_freeze_at=20,
)
VARIANTS = Variants("02_frozen_adam", FULL, FAST, PAPER, cpu_task="lab", smoke=SMOKE)


def select(paper_scale: bool = False, **kwargs) -> Params:
    """The parameters the notebook runs with (see Variants.select)."""
    return VARIANTS.select(paper_scale, **kwargs)
