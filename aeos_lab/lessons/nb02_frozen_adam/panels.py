"""Panels of notebook 02: sliders wired to the lesson's experiments and views.

Every value comes from the notebook's :class:`~.params.Params`. Panels (a) and (b) train: a
setting whose runs are all in the run cache shows as soon as a slider is released, a new one
waits for Run. Panel (c) computes ``P.prop1_steps`` float64 updates per setting, live.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import ipywidgets

from aeos_lab.engine import runs
from aeos_lab.engine.config import RunConfig
from aeos_lab.lessons.nb02_frozen_adam import experiments, views
from aeos_lab.lessons.nb02_frozen_adam.params import Params
from aeos_lab.viz import widgets

__all__ = [
    "frozen_and_adam_panel",
    "panel_from_base",
    "frozen_sweep_panel",
    "isomorphism_panel",
    "precond_source_panel",
]


def panel_from_base(
    compute: Callable,
    charts: Sequence,
    ready: Callable[[dict], bool],
    *,
    base: RunConfig,
    eta_range: tuple[float, float],
    beta1_low: float = 0.5,
    **controls,
) -> widgets.ControlPanel:
    """A training panel (:func:`aeos_lab.viz.widgets.training_panel`) whose eta, beta1 and
    beta2 sliders start at ``base``'s: eta on a log slider over ``eta_range``, beta1 from
    ``beta1_low`` to 0.99, beta2 from 0.9 to 0.999; ``controls`` go on to the panel."""
    return widgets.training_panel(
        compute,
        charts,
        ready,
        eta=(base.eta, *eta_range),
        beta1=base.hyperparameters["beta1"],
        beta2=base.hyperparameters["beta2"],
        beta1_low=beta1_low,
        **controls,
    )


def precond_source_panel(P: Params) -> widgets.ControlPanel:
    """Panel (a): Adam's P along a run; ``step`` picks the snapshot shown.

    eta, beta1 and beta2 set the Adam run (a new setting needs Run); the step slider only
    picks among the recorded snapshots (``P.snapshots`` and ``P.freeze_at``).
    """
    base = experiments.run_base(P)
    where = {"snapshots": P.snapshots, "freeze_at": P.freeze_at, "every": P.trace_every}

    def adam(values):
        beta1, beta2 = runs.slider_beta(values["beta1"]), runs.slider_beta(values["beta2"])
        return base.replace(eta=values["eta"], beta1=beta1, beta2=beta2)

    def compute(values, progress=None):
        return experiments.precond_source(
            adam(values), step=values["step"], progress=progress, **where
        )

    def ready(values):
        return experiments.traced(experiments.source_trace_config(adam(values), **where))

    step = ipywidgets.SelectionSlider(
        options=sorted({*P.snapshots, P.freeze_at}),
        value=P.freeze_at,
        description="step",
        continuous_update=False,
    )
    return panel_from_base(
        compute,
        [
            views.precond_quantile_chart,
            views.precond_histogram_chart,
            widgets.TableView(views.precond_source_table),
        ],
        ready,
        base=base,
        eta_range=P.trace_eta_range,
        beta1_low=0.0,
        extra={"step": step},
    )


def frozen_and_adam_panel(
    sweep: Callable,
    charts: Sequence,
    base: RunConfig,
    etas: Sequence[float],
    *,
    freeze_at: int,
    freeze_eta: float,
    initial_eta: float,
    eta_range: tuple[float, float],
) -> widgets.ControlPanel:
    """A panel over the runs of :func:`~.experiments.frozen_sweep` (frozen Adam and Adam at
    every eta of ``etas``): ``sweep`` is ``frozen_sweep`` or a function built on it with the
    same arguments, ``charts`` its chart builders (and :class:`~aeos_lab.viz.widgets.TableView`
    objects). The eta slider (``initial_eta`` within ``eta_range``) picks the run drawn bold,
    snapped onto ``etas``; an eta off the grid adds a run. beta1 (0.5 to 0.99) and beta2
    change the whole sweep; a setting not trained yet waits for Run."""
    etas = list(etas)

    def settings(values):
        sweep_base = base.replace(
            beta1=runs.slider_beta(values["beta1"]), beta2=runs.slider_beta(values["beta2"])
        )
        return sweep_base, runs.snap(values["eta"], etas)

    def compute(values, progress=None):
        sweep_base, eta = settings(values)
        return sweep(
            sweep_base,
            etas,
            freeze_at=freeze_at,
            freeze_eta=freeze_eta,
            selected=eta,
            progress=progress,
        )

    def ready(values):
        sweep_base, eta = settings(values)
        configs = experiments.frozen_sweep_configs(
            sweep_base, etas, freeze_at=freeze_at, freeze_eta=freeze_eta, selected=eta
        )
        return runs.trained(configs)

    return panel_from_base(
        compute, charts, ready, base=base.replace(eta=initial_eta), eta_range=eta_range
    )


def frozen_sweep_panel(P: Params) -> widgets.ControlPanel:
    """Panel (b) (Fig. 3): frozen Adam at every eta of ``P.frozen_etas``, and Adam beside it.

    The eta slider picks the run drawn bold (it starts at the middle eta); an eta that is not
    in the sweep adds a run (and moves it along when the slider moves again), trained when Run
    is pressed. beta1 and beta2 change the whole sweep (beta2 through the Adam run that
    supplies P).
    """
    domain = P.frozen_eta_range
    return frozen_and_adam_panel(
        experiments.frozen_sweep,
        [
            *(
                functools.partial(views.frozen_chart, y=y, eta_domain=domain)
                for y in ("loss", "precond_sharpness", "sharpness")
            ),
            views.frozen_versus_chart,
            widgets.TableView(views.frozen_table),
        ],
        experiments.run_base(P),
        P.frozen_etas,
        freeze_at=P.freeze_at,
        freeze_eta=P.freeze_eta,
        initial_eta=P.frozen_etas[len(P.frozen_etas) // 2],
        eta_range=P.frozen_eta_range,
    )


def isomorphism_panel(P: Params) -> widgets.ControlPanel:
    """Panel (c): Prop. 1 for frozen Adam on the network, live. P is Adam's after
    ``P.freeze_at`` steps at ``P.freeze_eta`` (computed once, here); each setting of eta and
    beta1 runs ``P.prop1_steps`` float64 updates (well under a second after the first
    compilation)."""
    base = experiments.run_base(P)
    precond = experiments.frozen_precond(base, freeze_at=P.freeze_at, freeze_eta=P.freeze_eta)

    def compute(values):
        return experiments.prop1_check(
            base, precond, eta=values["eta"], beta1=values["beta1"], steps=P.prop1_steps
        )

    return widgets.ControlPanel(
        compute,
        [views.isomorphism_chart, widgets.TableView(views.isomorphism_table)],
        eta=widgets.eta_slider(P.frozen_etas[0], *P.prop1_eta_range, step=0.05),
        beta1=(P.beta1, 0.0, 0.99),
    )
