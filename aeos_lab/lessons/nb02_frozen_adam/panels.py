"""Panels of notebook 02: sliders wired to the lesson's experiments and views.

Every value comes from the notebook's :class:`~.params.Params`. Panels (c) and (d) train on the
lab task; every slider of theirs steps through a grid (``P.trace_*s``, ``P.frozen_etas``,
``P.frozen_*s``). A setting whose runs are available (in the bank of precomputed runs, on a
grid of :func:`~.experiments.trace_grid` / :func:`~.experiments.sweep_grid`, or in the run
cache) shows as soon as a slider is released; any other waits for Run, and the status line says
about how long that takes and, once shown, where the runs came from. Panel (e) computes
``P.prop1_steps`` float64 updates per setting, live. The micro panels are in
:mod:`.panels_micro`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import ipywidgets

from aeos_lab.engine import runs
from aeos_lab.engine.config import RunConfig
from aeos_lab.lessons import panels as shared
from aeos_lab.lessons.nb02_frozen_adam import experiments, views
from aeos_lab.lessons.nb02_frozen_adam.params import Params
from aeos_lab.viz import widgets

__all__ = [
    "frozen_and_adam_panel",
    "frozen_sweep_panel",
    "isomorphism_panel",
    "precond_source_panel",
]


def precond_source_panel(P: Params) -> widgets.ControlPanel:
    """Panel (c): Adam's P along a run; ``step`` picks the snapshot shown.

    eta, beta1 and beta2 (grid sliders over ``P.trace_etas``, ``P.trace_beta1s``,
    ``P.trace_beta2s``) set the Adam run: a setting on :func:`~.experiments.trace_grid` comes
    from the bank, another one needs Run. The step slider only picks among the recorded
    snapshots (``P.snapshots`` and ``P.freeze_at``).
    """
    sources: dict[str, str] = {}

    def spec(values):
        return experiments.trace_config(
            P, eta=values["eta"], beta1=values["beta1"], beta2=values["beta2"]
        )

    def compute(values, progress=None):
        trace = spec(values)
        result = experiments.precond_source_at(
            trace, values["step"], freeze_at=P.freeze_at, progress=progress
        )
        sources[trace.key()] = result.source
        return result

    step = ipywidgets.SelectionSlider(
        options=sorted({*P.snapshots, P.freeze_at}),
        value=P.freeze_at,
        description="step",
        continuous_update=False,
    )
    sliders = shared.grid_sliders(
        {
            "eta": (P.trace_etas, P.freeze_eta),
            "beta1": (P.trace_beta1s, P.beta1),
            "beta2": (P.trace_beta2s, P.beta2),
        }
    )
    return widgets.ControlPanel(
        compute,
        [
            views.precond_quantile_chart,
            views.precond_histogram_chart,
            widgets.TableView(views.precond_source_table),
        ],
        ready=lambda values: experiments.traced(spec(values)),
        source=lambda values: sources.get(spec(values).key(), "not computed yet"),
        estimate=lambda values: experiments.trace_seconds(spec(values)),
        run_button=True,
        auto_run=False,
        extra={"step": step},
        **sliders,
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
    beta1s: Sequence[float],
    beta2s: Sequence[float],
) -> widgets.ControlPanel:
    """A panel over the runs of :func:`~.experiments.frozen_sweep` (frozen Adam and Adam at
    every eta of ``etas``): ``sweep`` is ``frozen_sweep`` or a function built on it with the
    same arguments, ``charts`` its chart builders (and :class:`~aeos_lab.viz.widgets.TableView`
    objects). Every slider steps through a grid: eta through ``etas`` (starting at
    ``initial_eta``; it picks the run drawn bold), beta1 and beta2 through ``beta1s`` and
    ``beta2s`` (starting at ``base``'s; they change the whole sweep). A setting not available
    yet waits for Run (:func:`aeos_lab.lessons.panels.run_panel`)."""
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

    def needs(values):
        sweep_base, eta = settings(values)
        return experiments.frozen_sweep_configs(
            sweep_base, etas, freeze_at=freeze_at, freeze_eta=freeze_eta, selected=eta
        )

    sliders = shared.grid_sliders(
        {
            "eta": (etas, initial_eta),
            "beta1": (beta1s, base.hyperparameters["beta1"]),
            "beta2": (beta2s, base.hyperparameters["beta2"]),
        }
    )
    return shared.run_panel(compute, charts, needs, **sliders)


def frozen_sweep_panel(P: Params) -> widgets.ControlPanel:
    """Panel (d) (Fig. 3): frozen Adam at every eta of ``P.frozen_etas``, and Adam beside it.

    The eta slider steps through ``P.frozen_etas`` and picks the run drawn bold (it starts at
    the middle eta); beta1 and beta2 step through ``P.frozen_beta1s`` and ``P.frozen_beta2s``
    and change the whole sweep (beta2 through the Adam run that supplies P). A setting on
    :func:`~.experiments.sweep_grid` comes from the bank; another one waits for Run.
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
        beta1s=P.frozen_beta1s,
        beta2s=P.frozen_beta2s,
    )


def isomorphism_panel(P: Params) -> widgets.ControlPanel:
    """Panel (e): Prop. 1 for frozen Adam on the network, live. P is Adam's after
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
        source=shared.live_source,
    )
