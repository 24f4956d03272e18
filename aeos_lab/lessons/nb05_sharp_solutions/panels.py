"""Panels of notebook 05: sliders and a Run button around the experiments of
:mod:`.experiments`, drawn by :mod:`.views`.

Both panels train networks, so each has a Run button: a setting whose runs are all in the run
cache (:func:`aeos_lab.engine.runs.trained` of the experiment's ``*_configs``) is shown as soon
as the sliders select it; a new one waits for Run, with progress in the status line. The
sliders snap onto the trained grids (eta within 3%, beta2 within 2e-4, slider float noise
rounded away), so a swept setting never asks for a new run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aeos_lab.engine import runs
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
    etas: Sequence[float],
    beta2s: Sequence[float],
    eta: float,
    beta2: float,
) -> widgets.ControlPanel:
    """A Run-button panel with eta, beta1 and beta2 sliders (starting at ``eta``, ``P.beta1``,
    ``beta2``) whose values, snapped onto ``etas`` and ``beta2s``, select the setting
    ``experiment(setup, selection, progress)`` computes; ``configs(setup, selection)`` are the
    runs it needs."""

    def selection(values) -> experiments.Selection:
        return experiments.Selection(
            runs.snap(values["eta"], etas),
            runs.slider_beta(values["beta1"]),
            runs.slider_beta(values["beta2"], beta2s),
        )

    def compute(values, progress=None):
        return experiment(setup, selection(values), progress)

    return widgets.ControlPanel(
        compute,
        list(charts),
        ready=lambda values: runs.trained(configs(setup, selection(values))),
        run_button=True,
        auto_run=False,
        eta=widgets.eta_slider(eta, *P.eta_range, step=0.05, readout_format=".2e"),
        beta1=(P.beta1, *P.beta1_range),
        beta2=widgets.beta_slider("beta2", beta2, *P.beta2_range, ".4f"),
    )


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
        etas=setup.etas,
        beta2s=setup.beta2s,
        eta=P.eta_for_beta2 if eta is None else eta,
        beta2=P.beta2_for_eta,
    )


def comparison_panel(P: Params) -> widgets.ControlPanel:
    """Panel (b) of notebook 05 (:func:`.experiments.comparison`): Adam at ``P.compare_etas``
    against EMA heavy ball at ``P.momentum_etas`` (full batch, same beta1): sharpness at the
    solution against the steps to reach it.

    The beta2 slider sets Adam's beta2 (starting at ``P.compare_beta2``; the settings in
    ``P.compare_beta2_options`` are trained with the first Run, so the slider switches between
    them at once); beta1 applies to both optimizers; eta picks the Adam run to ring.
    ``last_result`` is a :class:`~.experiments.Comparison`.
    """
    setup = experiments.comparison_setup(P)
    return _panel(
        P,
        experiments.comparison,
        experiments.comparison_configs,
        setup,
        [views.comparison_chart, widgets.TableView(views.comparison_table)],
        etas=setup.adam_etas,
        beta2s=setup.beta2s,
        eta=setup.adam_etas[0],
        beta2=P.compare_beta2,
    )
