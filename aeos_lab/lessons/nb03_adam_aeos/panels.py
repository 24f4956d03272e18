"""Panels of notebook 03: sliders wired to the lesson's experiments and views.

Every value comes from the notebook's :class:`~.params.Params`. Each panel trains: a setting
whose runs are all in the run cache shows as soon as a slider is released, a new one waits for
Run (with progress in the status line). The sliders are ``eta`` (log scale), ``beta1`` (0.5 to
0.99) and ``beta2`` (0.9 to 0.999); panel (d) adds an ``optimizer`` picker.
"""

from __future__ import annotations

import functools

from aeos_lab.engine import runs
from aeos_lab.engine.config import RunConfig
from aeos_lab.lessons.nb02_frozen_adam.panels import frozen_and_adam_panel, panel_from_base
from aeos_lab.lessons.nb03_adam_aeos import experiments, views
from aeos_lab.lessons.nb03_adam_aeos.params import Params
from aeos_lab.viz import widgets

__all__ = [
    "cnn_panel",
    "corner_panel",
    "equilibrium_panel",
    "optimizer_panel",
    "raw_rise_panel",
    "zoom_panel",
]


def _betas(base: RunConfig, values: dict) -> RunConfig:
    """``base`` with the beta1 and beta2 sliders' values."""
    beta1, beta2 = runs.slider_beta(values["beta1"]), runs.slider_beta(values["beta2"])
    return base.replace(beta1=beta1, beta2=beta2)


def equilibrium_panel(P: Params) -> widgets.ControlPanel:
    """Panel (a), Fig. 1's three sweeps; the sliders choose the run shown on the first chart
    (with its threshold), snapped onto the grid where close to it. A setting off the grid is
    trained on Run."""
    base, grid = experiments.equilibrium_base(P), experiments.equilibrium_grid(P)

    def selected(values):
        beta1, beta2 = runs.slider_beta(values["beta1"]), runs.slider_beta(values["beta2"])
        return grid.snap(values["eta"], beta1, beta2)

    def compute(values, progress=None):
        return experiments.equilibrium_sweeps(
            base, grid, selected=selected(values), progress=progress
        )

    def ready(values):
        return runs.trained(experiments.equilibrium_configs(base, grid, selected(values)))

    sweeps = [
        functools.partial(views.sweep_chart, name=name, eta_domain=P.eq_eta_range)
        for name in views.SWEEP_TITLES
    ]
    return panel_from_base(
        compute,
        [views.chosen_run_chart, *sweeps, widgets.TableView(views.equilibrium_table)],
        ready,
        base=base.replace(eta=grid.eta),
        eta_range=P.eq_eta_range,
    )


def raw_rise_panel(P: Params) -> widgets.ControlPanel:
    """Panel (b), Figs. 3 and 8 side by side: Adam and frozen Adam at ``P.fig8_etas``. The
    runs are those of notebook 02's panel (b) (its panel wiring, too), so with the same
    settings they come from the cache."""
    domain = P.fig8_eta_range
    return frozen_and_adam_panel(
        experiments.raw_rise_comparison,
        [
            functools.partial(views.raw_rise_chart, y="ratio", eta_domain=domain),
            functools.partial(views.raw_rise_chart, y="sharpness", eta_domain=domain),
            widgets.TableView(views.raw_rise_table),
        ],
        experiments.fig8_base(P),
        P.fig8_etas,
        freeze_at=P.freeze_at,
        freeze_eta=P.freeze_eta,
        initial_eta=P.fig8_etas[0],
        eta_range=domain,
    )


def zoom_panel(P: Params) -> widgets.ControlPanel:
    """Panel (c), Figs. 9 and 18: ``P.zoom_starts`` maps each trained eta to the first step
    of its window; a new eta takes the window start of the nearest trained eta (on a log
    scale)."""
    base = experiments.fig8_base(P)
    etas = [eta for eta, _ in P.zoom_starts]

    def settings(values):
        eta = runs.snap(values["eta"], etas)
        return _betas(base, values), eta, experiments.zoom_start(P.zoom_starts, eta)

    def compute(values, progress=None):
        run_base, eta, start = settings(values)
        return experiments.zoom(run_base, eta, start, P.zoom_length, k=P.zoom_k, progress=progress)

    def ready(values):
        config = experiments.zoom_config(*settings(values), P.zoom_length, P.zoom_k)
        return runs.trained([config])

    rows = [functools.partial(views.zoom_chart, quantity=q) for q in views.ZOOM_QUANTITIES]
    return panel_from_base(
        compute,
        [*rows, views.zoom_eig_chart, views.zoom_grad_chart, widgets.TableView(views.zoom_table)],
        ready,
        base=base.replace(eta=etas[0]),
        eta_range=P.zoom_eta_range,
    )


def optimizer_panel(P: Params) -> widgets.ControlPanel:
    """Panel (d), Fig. 5: every optimizer of ``P.opt_etas``; the ``optimizer`` picker and
    ``eta`` choose the run shown below the grid. A learning rate off the grid is trained on
    Run."""
    base = experiments.optimizer_base(P)
    etas = dict(P.opt_etas)
    labels = list(etas)

    def chosen(values):
        label = values["optimizer"]
        return label, runs.snap(values["eta"], list(etas[label]))

    def compute(values, progress=None):
        return experiments.optimizer_runs(
            _betas(base, values), P.opt_etas, selected=chosen(values), progress=progress
        )

    def ready(values):
        configs = experiments.optimizer_configs(_betas(base, values), P.opt_etas, chosen(values))
        return runs.trained(configs)

    domain = P.opt_eta_range
    return panel_from_base(
        compute,
        [
            functools.partial(views.optimizer_grid_chart, eta_domain=domain),
            functools.partial(views.optimizer_ratio_chart, eta_domain=domain),
            widgets.TableView(views.optimizer_table),
        ],
        ready,
        base=base.replace(eta=etas[labels[0]][0]),
        eta_range=domain,
        optimizers=labels,
        optimizer=labels[0],
    )


def corner_panel(P: Params) -> widgets.ControlPanel:
    """Panel (e), Figs. 15 and 16: Adam at ``eta`` and the same run with P frozen from step
    ``P.corner_freeze`` on."""
    base = experiments.corner_base(P)

    def compute(values, progress=None):
        return experiments.corner_case(
            _betas(base, values), values["eta"], freeze_at=P.corner_freeze, progress=progress
        )

    def ready(values):
        configs = experiments.corner_configs(
            _betas(base, values), values["eta"], freeze_at=P.corner_freeze
        )
        return runs.trained(configs)

    charts = [functools.partial(views.corner_chart, y=y) for y in views.CORNER_QUANTITIES]
    return panel_from_base(
        compute,
        [*charts, widgets.TableView(views.corner_table)],
        ready,
        base=base.replace(eta=P.corner_eta),
        eta_range=P.corner_eta_range,
    )


def cnn_panel(P: Params) -> widgets.ControlPanel:
    """Panel (f), Fig. 4: Adam on the CNN at each eta of ``P.cnn_etas``; an eta off them adds
    a run."""
    base = experiments.cnn_base(P)
    etas = list(P.cnn_etas)

    def settings(values):
        return _betas(base, values), runs.snap(values["eta"], etas)

    def compute(values, progress=None):
        run_base, eta = settings(values)
        return experiments.cnn_runs(run_base, etas, selected=eta, progress=progress)

    def ready(values):
        run_base, eta = settings(values)
        return runs.trained(experiments.cnn_configs(run_base, etas, eta))

    domain = P.cnn_eta_range
    return panel_from_base(
        compute,
        [
            functools.partial(views.cnn_chart, y="precond_sharpness", eta_domain=domain),
            functools.partial(views.cnn_chart, y="loss", eta_domain=domain),
            widgets.TableView(views.cnn_table),
        ],
        ready,
        base=base.replace(eta=etas[0]),
        eta_range=domain,
    )
