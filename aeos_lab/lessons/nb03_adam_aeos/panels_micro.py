"""Panels of notebook 03's first part: Adam on the 242-parameter micro network, live.

Every slider release retrains the run it shows (a few tenths of a second after the first,
compiling call; see ``benchmarks/micro.py``): no Run button, no cache on disk. Every value
comes from the notebook's :class:`~.params.Params`.
"""

from __future__ import annotations

import functools

from aeos_lab.engine import runs
from aeos_lab.lessons import panels as shared
from aeos_lab.lessons.nb03_adam_aeos import experiments_micro as micro
from aeos_lab.lessons.nb03_adam_aeos import views, views_micro
from aeos_lab.lessons.nb03_adam_aeos.params import Params
from aeos_lab.viz import widgets

__all__ = ["CYCLE_ROWS", "cycle_panel", "equilibrium_panel"]

CYCLE_ROWS = ("ratio", "precond_grad_norm", "P_change", "sharpness")
"""The rows of panel (b), top to bottom (:data:`.views.CYCLE_QUANTITIES`)."""


def _micro_panel(P: Params, compute, charts, *, beta2: float) -> widgets.ControlPanel:
    """A live panel (no Run button) with eta (log, ``P.micro_eta_range``), beta1 and beta2
    sliders starting at ``P.micro_eta``, ``P.beta1`` and ``beta2``; ``compute`` gets the
    setting (eta, beta1, beta2) with the betas' slider noise rounded away."""

    def run(values):
        beta1, beta2 = runs.slider_beta(values["beta1"]), runs.slider_beta(values["beta2"])
        return compute((float(values["eta"]), beta1, beta2))

    low, high = P.micro_beta2_range
    return widgets.ControlPanel(
        run,
        list(charts),
        eta=widgets.eta_slider(P.micro_eta, *P.micro_eta_range, step=P.micro_eta_step),
        beta1=(P.beta1, *P.micro_beta1_range, 0.01),
        beta2=widgets.beta_slider("beta2", beta2, low, high, 0.001),
        source=shared.live_source,
    )


def equilibrium_panel(P: Params) -> widgets.ControlPanel:
    """Panel (a): Fig. 1's three sweeps on the micro network (trained once, on the first
    draw) and "your run" at the sliders' setting, retrained on every release and drawn
    against its own threshold. A setting within snapping distance of a sweep's
    (:meth:`~.experiments.EquilibriumGrid.snap`) is that sweep's run."""
    base, grid = micro.micro_base(P), micro.micro_grid(P)
    held: dict = {}

    def compute(setting):
        if not held:
            held.update(micro.sweep_runs(base, grid))
        return micro.micro_equilibrium(base, grid, grid.snap(*setting), sweeps=held)

    sweeps = [
        functools.partial(views.sweep_chart, name=name, eta_domain=P.micro_eta_range)
        for name in views.SWEEP_TITLES
    ]
    return _micro_panel(
        P,
        compute,
        [views.chosen_run_chart, *sweeps, widgets.TableView(views.equilibrium_table)],
        beta2=P.beta2,
    )


def cycle_panel(P: Params) -> widgets.ControlPanel:
    """Panel (b), Fig. 9 on the micro network: Adam at the sliders' setting for
    ``P.micro_steps`` steps (panel (a)'s run), then ``P.micro_window`` steps measured at every
    step; retrained on every release."""
    base = micro.micro_base(P)

    def compute(setting):
        return micro.micro_cycle(base, setting, P.micro_window)

    rows = [functools.partial(views.zoom_chart, quantity=q) for q in CYCLE_ROWS]
    return _micro_panel(
        P,
        compute,
        [*rows, widgets.TableView(views_micro.cycle_table)],
        beta2=P.micro_cycle_beta2,
    )
