"""Every parameter of notebook 03 (Adam at the adaptive edge of stability), its panels and its
figures (Figs. 1, 8, 9, 18, 5, 15, 4), in one place.

Part 1 (``micro_*``, ``check_*``) trains the 242-parameter micro network
(:data:`aeos_lab.engine.tasks.MICRO_TASK`) live, the same in every variant; its sizes were
chosen by measuring (a run of ``micro_steps`` with ``micro_track`` spacing takes about 0.2 s
here, and the self-check grid holds its late medians in the band). Part 2's network panels
(c)-(h) run on the lab task. FULL runs it on a CPU in minutes, FAST is the short variant CI
runs, PAPER the paper's settings on CIFAR-10 (learning rates of Figs. 1, 8, 9, sec. 4 and 6;
Fig. 5's grids, App. G.2; the corner case at Fig. 16's eta and freeze step, on the FC network
instead of the paper's CNN). The paper's step counts are not listed: ours are a choice.

The ``*_slider_*`` and ``*_beta1s`` / ``*_beta2s`` tuples are the positions of part 2's grid
sliders; the bank (:mod:`aeos_lab.engine.bank`) holds the runs of FULL at every setting that
``experiments.bank_runs`` lists for them (the paper's one-axis-at-a-time sweeps, a full
product only where it is cheap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aeos_lab.lessons.parameters import LessonParams, Variants, param

__all__ = ["FAST", "FULL", "PAPER", "VARIANTS", "Params", "select"]


def _logspace(low: float, high: float, count: int = 5) -> tuple[float, ...]:
    """``count`` learning rates evenly spaced on a log scale from ``low`` to ``high``."""
    return tuple(float(v) for v in np.logspace(np.log10(low), np.log10(high), count))


@dataclass(frozen=True)
class Params(LessonParams):
    """Notebook 03's parameters; (a) to (h) name the notebook's sections ((a), (b): part 1)."""

    # Part 1: the micro network, live (the same in every variant)
    micro_steps: int = param(2000, "(a), (b): updates per run before (b)'s window")
    micro_track: int = param(25, "(a), (b): measure every this many steps")
    micro_eig_tol: float = param(1e-2, "(a), (b): relative accuracy of each eigenvalue")
    micro_eta: float = param(1.2e-2, "(a), (b): where the eta sliders start; (a)'s β sweeps' η")
    micro_eta_range: tuple[float, float] = param(
        (3e-3, 5e-2), "(a), (b): eta slider range, also the η colour domain of (a)"
    )
    micro_eta_step: float = param(0.02, "(a), (b): eta slider step, in decades")
    micro_beta1_range: tuple[float, float] = param((0.8, 0.95), "(a), (b): beta1 slider range")
    micro_beta2_range: tuple[float, float] = param((0.9, 0.999), "(a), (b): beta2 slider range")
    micro_etas: tuple[float, ...] = param((3e-3, 1.2e-2, 5e-2), "(a): the η sweep")
    micro_beta1s: tuple[float, ...] = param((0.8, 0.9, 0.95), "(a): the β₁ sweep")
    micro_beta2s: tuple[float, ...] = param((0.9, 0.99, 0.999), "(a): the β₂ sweep")
    micro_window: int = param(200, "(b): steps measured at every step after micro_steps")
    micro_cycle_beta2: float = param(0.99, "(b): where its beta2 slider starts (Fig. 9's)")
    check_etas: tuple[float, ...] = param(
        (3e-3, 6e-3, 1.2e-2, 2.5e-2, 5e-2), "self-check of (a): the grid's η"
    )
    check_beta1s: tuple[float, ...] = param((0.8, 0.9, 0.95), "self-check of (a): the grid's β₁")
    check_beta2s: tuple[float, ...] = param((0.9, 0.99, 0.999), "self-check of (a): the grid's β₂")
    check_band: tuple[float, float] = param(
        (0.85, 1.15), "self-check of (a): the band for late λ₁(P⁻¹H) / threshold"
    )
    check_rate: float = param(0.8, "self-check of (a): the least share of the grid in the band")
    # The split of lambda_1(P^-1 H) into a P part and an H part (micro network, live)
    split_steps: int = param(2000, "split: updates per run")
    split_track: int = param(100, "split: steps between measurements (a dense Hessian each)")
    split_edge: float = param(0.9, "split: the window starts where λ₁(P⁻¹H) / threshold ≥ this")
    split_cancel: float = param(0.15, "split self-check: most |P + H| / max(|P|, |H|)")
    split_opposed: float = param(0.5, "split self-check: least share of intervals H > 0, P < 0")
    # Part 2: the lab network
    eig_tol: float = param(1e-2, "relative accuracy of each measured eigenvalue")
    beta1: float = param(0.9, "β₁ of every run outside Fig. 1's β₁ sweep (sliders start here)")
    beta2: float = param(0.999, "β₂ of Fig. 1's η and β₁ sweeps and of (f), (g), (h)")
    # (c) Fig. 1
    eq_steps: int = param(600, "(c): updates per run of Fig. 1's sweeps")
    eq_track: int = param(50, "(c): measure every this many steps")
    eq_etas: tuple[float, ...] = param((3e-4, 1e-3, 3e-3), "(c): the η sweep")
    eq_eta: float = param(1e-3, "(c): η of the β₁ and β₂ sweeps")
    eq_beta1s: tuple[float, ...] = param((0.8, 0.9, 0.95), "(c): the β₁ sweep")
    eq_beta2s: tuple[float, ...] = param((0.9, 0.99, 0.999), "(c): the β₂ sweep")
    eq_eta_range: tuple[float, float] = param((1e-4, 1e-2), "(c) and Fig. 1: the η colour domain")
    eq_slider_etas: tuple[float, ...] = param(
        (1e-4, 3e-4, 1e-3, 3e-3, 1e-2), "(c): positions of the eta slider (β sliders: the sweeps')"
    )
    # (d) Figs. 3 and 8: the runs of notebook 02
    fig8_steps: int = param(1500, "(d): updates per run (Adam and frozen Adam)")
    fig8_track: int = param(100, "(d), (e): measure every this many steps")
    fig8_beta2: float = param(0.99, "(d), (e): β₂, as in Fig. 8")
    fig8_etas: tuple[float, ...] = param((1e-4, 2e-4), "(d): η of Adam and frozen Adam")
    freeze_eta: float = param(1e-4, "(d): η of the Adam run that supplies frozen Adam's P")
    freeze_at: int = param(1000, "(d): the step of that run whose P is frozen")
    fig8_eta_range: tuple[float, float] = param((1e-4, 1e-2), "(d) and Fig. 8: the η colour domain")
    fig8_beta1s: tuple[float, ...] = param((0.8, 0.9, 0.95), "(d): positions of the beta1 slider")
    fig8_beta2s: tuple[float, ...] = param((0.99, 0.999), "(d): positions of the beta2 slider")
    # (e) Figs. 9 and 18
    zoom_length: int = param(200, "(e): steps of the window measured at every step")
    zoom_starts: tuple[tuple[float, int], ...] = param(
        ((1e-4, 1000), (1e-3, 300)), "(e): (η, first step of its window) pairs"
    )
    zoom_k: int = param(4, "(e): top eigenvalues of P⁻¹H measured in the window")
    zoom_beta1s: tuple[float, ...] = param((0.8, 0.9, 0.95), "(e): positions of the beta1 slider")
    zoom_beta2s: tuple[float, ...] = param((0.99, 0.999), "(e): positions of the beta2 slider")
    # (f) Fig. 5
    opt_steps: int = param(800, "(f): updates per run")
    opt_track: int = param(50, "(f): measure every this many steps")
    opt_etas: tuple[tuple[str, tuple[float, ...]], ...] = param(
        (
            ("Adam, bias-corrected", (3e-4, 1e-3)),
            ("AdamW", (3e-4, 1e-3)),
            ("Adafactor", (3e-4, 1e-3)),
            ("AMSGrad", (3e-4, 1e-3)),
            ("Padam", (1e-2, 3e-2)),
            ("Nadam", (3e-4, 1e-3)),
            ("RMSprop", (3e-4, 1e-3)),
            ("Adagrad", (1e-2, 3e-2)),
        ),
        "(f): (optimizer, its learning rates) pairs, in the order of Fig. 5",
    )
    opt_eta_range: tuple[float, float] = param((1e-5, 1e-1), "(f) and Fig. 5: the η colour domain")
    opt_beta1s: tuple[float, ...] = param((0.8, 0.9, 0.95), "(f): positions of the beta1 slider")
    opt_beta2s: tuple[float, ...] = param((0.99, 0.999), "(f): positions of the beta2 slider")
    # (g) Figs. 15 and 16
    corner_eta: float = param(3e-5, "(g): the tiny learning rate")
    corner_steps: int = param(2000, "(g): updates per run")
    corner_freeze: int = param(1000, "(g): the step from which the second run keeps P fixed")
    corner_track: int = param(100, "(g): measure every this many steps")
    corner_etas: tuple[float, ...] = param((1e-5, 3e-5, 1e-4), "(g): positions of the eta slider")
    corner_beta1s: tuple[float, ...] = param((0.8, 0.9, 0.95), "(g): positions of the beta1 slider")
    corner_beta2s: tuple[float, ...] = param((0.99, 0.999), "(g): positions of the beta2 slider")
    # (h) Fig. 4
    cnn_etas: tuple[float, ...] = param((5e-4,), "(h): η of the CNN runs (the slider adds runs)")
    cnn_steps: int = param(200, "(h): updates per run (a CNN step costs ~30 FC steps here)")
    cnn_track: int = param(50, "(h): measure every this many steps")
    cnn_n_train: int | None = param(64, "(h): training images of the CNN (None: the task's)")
    cnn_eta_range: tuple[float, float] = param((1e-5, 1e-2), "(h) and Fig. 4: the η colour domain")
    cnn_slider_etas: tuple[float, ...] = param(
        (2e-4, 5e-4, 1e-3, 2e-3), "(h): positions of the eta slider"
    )
    cnn_beta1s: tuple[float, ...] = param((0.8, 0.9, 0.95), "(h): positions of the beta1 slider")
    cnn_beta2s: tuple[float, ...] = param((0.99, 0.999), "(h): positions of the beta2 slider")


FULL = Params()
FAST = FULL.replace(
    eq_steps=400,
    eq_etas=(1e-3, 3e-3),
    fig8_steps=1200,
    zoom_length=50,
    opt_steps=300,
    opt_track=25,
    opt_etas=(
        ("Adam, bias-corrected", (1e-3,)),
        ("AdamW", (1e-3,)),
        ("Adafactor", (1e-3,)),
        ("AMSGrad", (1e-3,)),
        ("Padam", (3e-2,)),
        ("Nadam", (1e-3,)),
        ("RMSprop", (1e-3,)),
        ("Adagrad", (1e-2,)),
    ),
    corner_steps=1000,
    corner_freeze=500,
)
PAPER = FULL.replace(
    eig_tol=1e-3,
    eq_steps=3000,
    eq_etas=(1e-5, 3e-5, 1e-4, 3e-4),
    eq_eta=1e-4,
    eq_eta_range=(1e-6, 1e-3),  # the lab's (1e-4, 1e-2) would not hold the paper's etas
    eq_slider_etas=(1e-6, 1e-5, 3e-5, 1e-4, 3e-4),
    fig8_steps=5000,
    fig8_etas=(5e-5, 1e-4, 2e-4, 4e-4),
    freeze_eta=2e-5,
    freeze_at=1100,
    fig8_eta_range=(1e-6, 1e-3),  # as eq_eta_range
    zoom_starts=((5e-5, 3000), (2e-4, 1500)),
    opt_steps=3000,
    opt_etas=(
        ("Adam, bias-corrected", _logspace(3e-5, 1e-3)),
        ("AdamW", _logspace(3e-5, 1e-3)),
        ("Adafactor", _logspace(1e-5, 1e-3)),
        ("AMSGrad", _logspace(1e-5, 1e-3)),
        ("Padam", _logspace(1e-3, 1e-1)),
        ("Nadam", _logspace(1e-5, 1e-3)),
        ("RMSprop", _logspace(1e-4, 1e-3)),
        ("Adagrad", _logspace(1e-2, 1e-1)),
    ),
    corner_eta=2.236e-6,
    corner_etas=(1e-6, 2.236e-6, 1e-5),
    corner_steps=10000,
    corner_freeze=6000,
    cnn_etas=(1e-5, 3e-5, 1e-4),
    cnn_slider_etas=(1e-5, 3e-5, 1e-4, 3e-4),
    cnn_steps=2000,
    cnn_n_train=None,
)
SMOKE = PAPER.replace(  # test-only (aeos_lab.engine.smoke): the paper path at tiny sizes
    eq_steps=20,
    eq_track=10,
    eq_etas=(1e-4,),
    eq_beta1s=(0.8, 0.9),
    eq_beta2s=(0.999,),
    fig8_steps=20,
    fig8_track=10,
    fig8_etas=(1e-4,),
    freeze_at=10,
    zoom_length=3,
    zoom_starts=((1e-4, 10),),
    zoom_k=2,
    opt_steps=10,
    opt_track=10,
    opt_etas=(("Adam, bias-corrected", (1e-3,)), ("Adagrad", (1e-1,))),
    corner_steps=20,
    corner_freeze=10,
    corner_track=10,
    cnn_etas=(1e-4,),
    cnn_steps=4,
    cnn_track=2,
    cnn_n_train=16,
    micro_steps=100,  # part 1 is the same code on every path: the smoke test only needs it to run
    micro_track=20,
    micro_window=10,
    micro_etas=(1.2e-2,),
    micro_beta1s=(0.9,),
    micro_beta2s=(0.999,),
    check_etas=(1.2e-2,),
    check_beta1s=(0.9,),
    check_beta2s=(0.999,),
)
VARIANTS = Variants("03_adam_aeos", FULL, FAST, PAPER, cpu_task="lab", smoke=SMOKE)


def select(paper_scale: bool = False, **kwargs) -> Params:
    """The parameters the notebook runs with (see :meth:`Variants.select`)."""
    return VARIANTS.select(paper_scale, **kwargs)
