"""Parameters of notebook 04 (minibatches and warmup): one place for every value the notebook,
its panels and its figures (paper Figs. 6 and 7) use.

The lesson trains on the default task (1,500 digits with 30% random labels); it has no
paper-scale sizes of its own: with paper scale on a GPU the full sizes run on the paper's task.
"""

from __future__ import annotations

from dataclasses import dataclass

from aeos_lab.lessons.parameters import LessonParams, Variants, param

__all__ = ["FAST", "FULL", "PAPER", "VARIANTS", "Params", "select"]


@dataclass(frozen=True)
class Params(LessonParams):
    track_every: int = param(100, "(a), (b): steps between two measurements of the sharpness")
    beta1: float = param(
        0.9,
        "Adam's beta1 (where the beta1 sliders start; the only beta1 the bank holds: each further "
        "value would need the runs of a whole grid again)",
    )
    beta2: float = param(
        0.999, "Adam's beta2 (where the beta2 sliders start; the bank holds (b), (c) at it only)"
    )
    eig_tol: float = param(1e-2, "relative accuracy of the eigenvalue solver in every run")
    batch_sizes: tuple[int | None, ...] = param(
        (64, 256, None), "(a): examples per step; None = full batch"
    )
    batch_etas: tuple[float, ...] = param(
        (3e-4, 1e-3), "(a): learning rates of the batch-size sweep (the chart starts at the first)"
    )
    batch_steps: int = param(600, "(a): steps per run")
    batch_eta_range: tuple[float, float] = param((3e-5, 1e-2), "(a): range of the eta slider")
    batch_eta_grid: tuple[float, ...] = param(
        (1e-4, 3e-4, 1e-3, 3e-3),
        "(a): etas the bank holds at every batch size, at beta1 and beta2 (with batch_etas: "
        "the eta slider's grid; Fig. 6 sweeps batch sizes x learning rates)",
    )
    batch_beta2_grid: tuple[float, ...] = param(
        (0.99, 0.999), "(a): beta2s the bank holds, with the eta slider on batch_etas"
    )
    warmup: int = param(1000, "(b): warmup length in steps")
    warmup_peak: float = param(1e-3, "(b): the learning rate reached at the end of warmup")
    after_warmup: int = param(300, "(b): steps at the peak after warmup")
    warmup_eta_range: tuple[float, float] = param((1e-4, 3e-2), "(b): range of the eta slider")
    warmup_grid: tuple[int, ...] = param(
        (0, 200, 500, 1000, 2000),
        "(b): warmup lengths the bank holds at the peak warmup_peak (Fig. 7 at its peak eta)",
    )
    warmup_peak_grid: tuple[float, ...] = param(
        (3e-4, 1e-3, 3e-3), "(b): peaks the bank holds with the warmup of `warmup` steps"
    )
    reach: float = param(
        0.95, "(b): psharp has reached 38/eta_t at the first measurement with ratio >= reach"
    )
    band: tuple[float, float] = param(
        (0.8, 1.2), "(b): band the ratio psharp / (38/eta_t) should stay in once reached"
    )
    break_eta: float = param(1e-2, "(c): a peak learning rate that needs a warmup")
    break_high_eta: float = param(1e-1, "(c): a peak that fails even with the warmup")
    break_warmup: int = param(200, "(c): the warmup that it gets (or none)")
    break_after: int = param(200, "(c): steps after the warmup")
    break_track_every: int = param(25, "(c): failures happen fast: measure often")
    break_eta_range: tuple[float, float] = param((1e-4, 1e-1), "(c): range of the eta slider")
    break_eta_grid: tuple[float, ...] = param(
        (1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
        "(c): peaks the bank holds with the warmup of break_warmup steps",
    )
    break_warmup_grid: tuple[int, ...] = param(
        (0, 200, 1000), "(c): warmups the bank holds at the peaks break_eta and break_high_eta"
    )
    stall: float = param(
        0.25, "(c): a run 'stalled' when its final train loss is above stall x its initial loss"
    )
    warmup_range: tuple[int, int, int] = param(
        (0, 2000, 100), "(b), (c): warmup slider (min, max, step) in steps"
    )
    beta2_range: tuple[float, float, float] = param(
        (0.9, 0.9995, 0.0005), "beta2 sliders (min, max, step)"
    )
    eta_step: float = param(
        1 / 21,
        "eta sliders: step in decades, on 10^(k/21): 1, 3 and 10 times a power of ten (to "
        "0.2%) are all slider positions, so every grid eta is one",
    )


FULL = Params()
FAST = FULL.replace(
    track_every=50,
    batch_steps=300,
    warmup=300,
    after_warmup=100,
    break_warmup=300,
    break_after=50,
    break_track_every=50,
)
PAPER = None  # no paper sizes: on the paper's task the full sizes run
SMOKE = FULL.replace(  # test-only (aeos_lab.engine.smoke): the paper path at tiny sizes
    track_every=10,
    batch_sizes=(64, 256, None),  # every batch size and eta the self-check names, tiny runs
    batch_etas=(3e-4, 1e-3),
    batch_steps=20,
    warmup=20,
    after_warmup=10,
    break_warmup=10,
    break_after=10,
    break_track_every=10,
)
VARIANTS = Variants("04_minibatch_and_warmup", FULL, FAST, PAPER, cpu_task="default", smoke=SMOKE)


def select(paper_scale: bool = False, **kwargs) -> Params:
    """The parameters the notebook runs with (see Variants.select)."""
    return VARIANTS.select(paper_scale, **kwargs)
