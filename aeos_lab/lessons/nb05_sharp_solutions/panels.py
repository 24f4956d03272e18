"""Panels of notebook 05: sliders and a Run button around the experiments of
:mod:`.experiments`, drawn by :mod:`.views`.

Both panels train networks, so each has a Run button: a setting whose runs are all available
(:func:`aeos_lab.engine.runs.trained` of the experiment's ``*_configs``: in the bank of
precomputed runs or the run cache) is shown as soon as the sliders select it; a new one waits
for Run, with progress and an estimated time in the status line, which also says where the
runs shown came from (:func:`aeos_lab.engine.runs.provenance`).

The sliders land on the grids the bank holds (:func:`.experiments.solutions_grid`,
:func:`.experiments.comparison_grid`): the eta slider steps ``P.eta_step`` decades counted from
the smallest grid eta (every eta of the default grid is a step, to 0.5%), and a value within
half a step of a grid eta is that eta; beta2 steps through 0.0005 (every grid beta2 is a step;
within 2e-4 snaps); slider float noise is rounded away.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from aeos_lab.engine import runs
from aeos_lab.lessons import panels as shared
from aeos_lab.lessons.nb05_sharp_solutions import experiments, views
from aeos_lab.lessons.nb05_sharp_solutions.params import Params
from aeos_lab.viz import widgets

__all__ = ["comparison_panel", "solutions_panel"]


def _panel(
    P: Params,
    experiment: Callable,
    configs: Callable,
    setup,
    charts: Sequence,
    *,
    grid: Sequence[experiments.Selection],
    eta: float,
    beta2: float,
) -> widgets.ControlPanel:
    """A Run-button panel with eta, beta1 and beta2 sliders (starting at ``eta``, ``P.beta1``,
    ``beta2``) whose values, snapped onto the etas (within half an eta step) and beta2s of
    ``grid`` (the settings the bank holds), select the setting ``experiment(setup, selection,
    progress)`` computes; ``configs(setup, selection)`` are the runs it needs (the status line
    says where they came from, and for a new setting about how long Run takes)."""
    etas, beta2s = sorted({s.eta for s in grid}), sorted({s.beta2 for s in grid})
    half_step = 10 ** (P.eta_step / 2) - 1

    def selection(values) -> experiments.Selection:
        return experiments.Selection(
            runs.snap(values["eta"], etas, rel=half_step),
            runs.slider_beta(values["beta1"]),
            runs.slider_beta(values["beta2"], beta2s),
        )

    def compute(values, progress=None):
        return experiment(setup, selection(values), progress)

    def needs(values):
        return configs(setup, selection(values))

    return shared.run_panel(
        compute,
        charts,
        needs,
        eta=_eta_slider(P, eta, etas),
        beta1=(P.beta1, *P.beta1_range),
        beta2=widgets.beta_slider("beta2", beta2, *P.beta2_range, ".4f"),
    )


def _eta_slider(P: Params, value: float, grid: Sequence[float]):
    """An eta log slider over ``P.eta_range`` whose steps are log10(min(grid)) + k *
    ``P.eta_step`` decades (its low end moves up by less than one step to the lowest of them),
    so each grid eta a whole number of steps above the smallest is a slider position; on the
    default grid 1e-4 times 1, 2, 4, 10 and 20 all lie within 0.5% of a step."""
    step, smallest = P.eta_step, math.log10(min(grid))
    low = smallest - step * math.floor((smallest - math.log10(P.eta_range[0])) / step + 1e-9)
    return widgets.eta_slider(value, 10**low, P.eta_range[1], step=step, readout_format=".2e")


def solutions_panel(P: Params, *, eta: float | None = None) -> widgets.ControlPanel:
    """Panel (a) + (c) of notebook 05 (:func:`.experiments.solutions_sweep`): Adam's sharpness
    and held-out accuracy at the solution against eta (at ``P.beta2_for_eta``) and against
    beta2 (at ``P.eta_for_beta2``), full batch and with ``P.large_batch`` examples per step.

    The sliders pick a setting (eta starts at ``eta``, default ``P.eta_for_beta2``): its runs
    in the sweeps are ringed at once; a setting outside the full-batch sweeps trains at full
    batch on Run and is added, ringed. ``last_result`` is a
    :class:`~.experiments.SharpnessSweep`.
    """
    setup = experiments.solutions_setup(P)
    return _panel(
        P,
        experiments.solutions_sweep,
        experiments.solutions_configs,
        setup,
        [
            lambda r: views.solutions_chart(r, "eta"),
            lambda r: views.solutions_chart(r, "beta2"),
            widgets.TableView(views.solutions_table),
        ],
        grid=experiments.solutions_grid(P),
        eta=P.eta_for_beta2 if eta is None else eta,
        beta2=P.beta2_for_eta,
    )


def comparison_panel(P: Params) -> widgets.ControlPanel:
    """Panel (b) of notebook 05 (:func:`.experiments.comparison`): Adam at ``P.compare_etas``
    against EMA heavy ball at ``P.momentum_etas`` (full batch, same beta1): sharpness at the
    solution against the steps to reach it.

    The beta2 slider sets Adam's beta2 (starting at ``P.compare_beta2``; the settings in
    ``P.compare_beta2_options`` are trained with the first Run, so the slider switches between
    them at once); beta1 applies to both optimizers; eta picks the Adam run to ring (an eta
    outside ``P.compare_etas`` adds its Adam runs).
    ``last_result`` is a :class:`~.experiments.Comparison`.
    """
    setup = experiments.comparison_setup(P)
    return _panel(
        P,
        experiments.comparison,
        experiments.comparison_configs,
        setup,
        [views.comparison_chart, widgets.TableView(views.comparison_table)],
        grid=experiments.comparison_grid(P),
        eta=setup.adam_etas[0],
        beta2=P.compare_beta2,
    )
