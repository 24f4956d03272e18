"""Parameters of notebook 05 (sharp solutions): one place for every value the notebook, its
panels and its figures (paper Figs. 10, 11 and 19) use.

The lesson trains on the default task (1,500 digits with 30% random labels, 297 clean digits
held out). It has no paper-scale sizes: with paper scale on a GPU the same sweeps run on the
paper's CIFAR-10 task (they were chosen on the digits task and are only a starting point there).
"""

from __future__ import annotations

from dataclasses import dataclass

from aeos_lab.lessons.parameters import LessonParams, Variants, param

__all__ = ["FAST", "FULL", "PAPER", "VARIANTS", "Params", "select"]


@dataclass(frozen=True)
class Params(LessonParams):
    loss_threshold: float = param(0.01, "the solution: the first step with train loss below this")
    max_steps: int = param(
        3000, "step limit of a full-batch run (it normally stops at its solution)"
    )
    track_every: int = param(250, "full-batch runs: steps between measurements")
    etas: tuple[float, ...] = param(
        (1e-4, 2e-4, 4e-4, 1e-3, 2e-3),
        "(a): Adam's learning rates, at beta2 = beta2_for_eta (with the other sweeps' etas, the "
        "grid both eta sliders land on)",
    )
    beta2_for_eta: float = param(0.999, "(a): the beta2 of the eta sweep")
    beta2s: tuple[float, ...] = param(
        (0.9, 0.95, 0.99, 0.995, 0.999),
        "(a): Adam's beta2s, at eta = eta_for_beta2 (the grid (a)'s beta2 slider lands on)",
    )
    eta_for_beta2: float = param(1e-3, "(a): the learning rate of the beta2 sweep")
    large_batch: int | None = param(
        500, "(a): examples per step of the large-batch runs (a third of the data); None: none"
    )
    large_batch_etas: tuple[float, ...] = param(
        (4e-4, 1e-3, 2e-3), "(a): large-batch learning rates, at beta2 = beta2_for_eta"
    )
    large_batch_beta2s: tuple[float, ...] = param(
        (0.9, 0.99, 0.999), "(a): large-batch beta2s, at eta = eta_for_beta2"
    )
    large_batch_steps: int = param(700, "(a): large-batch runs train this long")
    large_batch_track_every: int = param(100, "(a): and are measured this often")
    compare_beta2: float = param(0.99, "(b): Adam's beta2 in the comparison with momentum")
    compare_beta2_options: tuple[float, ...] = param(
        (0.999,),
        "(b): further beta2s of Adam trained with the first Run (with compare_beta2 and "
        "product_beta2s, the grid (b)'s beta2 slider lands on)",
    )
    compare_etas: tuple[float, ...] = param(
        (1e-4, 2e-4, 4e-4), "(b): Adam's learning rates (the eta slider starts at the first)"
    )
    momentum_etas: tuple[float, ...] = param(
        (0.5, 1.0, 1.5), "(b): EMA heavy ball's learning rates (at beta1)"
    )
    beta1: float = param(
        0.9,
        "beta1 of Adam and momentum (where the beta1 sliders start; the only beta1 the bank "
        "holds: each further value would need every run of both panels again)",
    )
    product_beta2s: tuple[float, ...] = param(
        (0.9, 0.99, 0.999),
        "the bank holds every grid eta at these beta2s of (a)'s grid, for (a) and (b) (the full "
        "product; (b) trains most runs at 0.99 anyway); at other beta2s only eta_for_beta2",
    )
    eig_tol: float = param(1e-2, "relative accuracy of the eigenvalue solver in every run")
    eta_range: tuple[float, float] = param(
        (3e-5, 1e-2), "range of the eta sliders (the low end moves up to the first step)"
    )
    eta_step: float = param(
        0.05,
        "eta sliders: step in decades, counted from the smallest grid eta (on the default grid "
        "every eta of the sweeps is a step)",
    )
    beta1_range: tuple[float, float] = param((0.0, 0.99), "range of the beta1 sliders")
    beta2_range: tuple[float, float, float] = param(
        (0.9, 0.9995, 0.0005), "beta2 sliders (min, max, step)"
    )


FULL = Params()
FAST = FULL.replace(
    beta2s=(0.9, 0.99, 0.999),
    large_batch_etas=(1e-3,),
    large_batch_beta2s=(0.99, 0.999),
    large_batch_steps=600,
    compare_etas=(2e-4, 4e-4),
)
PAPER = None  # no paper sizes: on the paper's task the full sizes run
SMOKE = FULL.replace(  # test-only (aeos_lab.engine.smoke): the paper path at tiny sizes
    max_steps=20,
    track_every=10,
    etas=(1e-3, 2e-3),
    beta2s=(0.99, 0.999),
    large_batch=32,
    large_batch_etas=(1e-3,),
    large_batch_beta2s=(0.999,),
    large_batch_steps=20,
    large_batch_track_every=10,
    compare_etas=(2e-4,),
    momentum_etas=(0.5,),
)
VARIANTS = Variants("05_sharp_solutions", FULL, FAST, PAPER, cpu_task="default", smoke=SMOKE)


def select(paper_scale: bool = False, **kwargs) -> Params:
    """The parameters the notebook runs with (see Variants.select)."""
    return VARIANTS.select(paper_scale, **kwargs)
