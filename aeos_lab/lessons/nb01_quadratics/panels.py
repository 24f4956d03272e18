"""The six slider panels of notebook 01, each a :class:`aeos_lab.viz.widgets.ControlPanel`
around one experiment of :mod:`.experiments` and the charts of :mod:`.views`.

Every value comes from the lesson's :class:`~.params.Params`. Sliders are named ``eta``,
``beta1`` and ``beta2`` (plus ``method`` and ``steps`` in (b), ``p1``, ``p2`` and ``angle`` in
(e)). Every jitted function is compiled while the panel is built (its first computation, or
all five maps of (b)); moving a slider only changes input values, never shapes, so nothing
recompiles.
"""

from __future__ import annotations

from functools import partial

import ipywidgets

from aeos_lab.lessons.nb01_quadratics import experiments, views
from aeos_lab.lessons.nb01_quadratics.params import Params, PrecondSetting
from aeos_lab.viz import widgets
from aeos_lab.viz.widgets import ControlPanel, TableView

__all__ = [
    "divergence_panel",
    "growth_panel",
    "large_gradient_panel",
    "preconditioning_panel",
    "rmsprop_panel",
    "stability_map_panel",
]


def _eta(value: float, eta_range: tuple[float, float], step: float = 0.01, name: str = "eta"):
    """A log slider in steps of ``step`` decades (0.01: 2.3 %); its read-out takes exact
    values."""
    return widgets.eta_slider(value, *eta_range, step=step, readout_format=".3g", description=name)


def _quantity_charts(chart, quantities, table) -> list:
    """One live chart ``chart(result, quantity=q)`` per quantity, then the ``table`` view."""
    return [*(partial(chart, quantity=q) for q in quantities), TableView(table)]


def divergence_panel(P: Params) -> ControlPanel:
    """Panel (a): the five methods on f(x) = lam x^2 / 2 at one eta and beta1.

    Shows |x_t| per method (log axis), each method's lam / lam* against its threshold, and a
    table of thresholds and growth factors.
    """

    def compute(values):
        return experiments.divergence_runs(values["eta"], values["beta1"], steps=P.steps, lam=P.lam)

    return ControlPanel(
        compute,
        [views.divergence_chart, views.divergence_dots, TableView(views.divergence_table)],
        eta=_eta(P.divergence_eta, P.divergence_eta_range),
        beta1=(P.beta1, 0.0, P.beta1_max),
    )


def stability_map_panel(P: Params) -> ControlPanel:
    """Panel (b): the stability map of one method (picker ``method``) after N = ``steps``
    updates, with the sliders' (eta*lam, beta1) = (eta, beta1) marked (lam = 1).

    The maps of all five methods are computed while the panel is built (one compilation and
    one run each); the controls then only choose a map and move the marker.
    """
    maps = experiments.stability_maps(
        grid_size=P.map_grid,
        steps=P.map_steps,
        eta_lambda_range=P.map_range,
        beta1_max=P.beta1_max,
    )

    def compute(values):
        marker = (values["eta"], values["beta1"])
        return experiments.stability_map(maps, values["method"], values["steps"], marker)

    picker = ipywidgets.Dropdown(
        options=[(label, name) for name, label in experiments.METHOD_LABELS.items()],
        value=P.map_method,
        description="method",
    )
    steps_slider = ipywidgets.SelectionSlider(
        options=list(P.map_steps),
        value=max(P.map_steps),
        description="steps",
        continuous_update=False,
    )
    return ControlPanel(
        compute,
        [views.stability_map_chart],
        eta=_eta(P.map_eta, P.map_range, step=0.02),
        beta1=(P.beta1, 0.0, P.beta1_max),
        extra={"method": picker, "steps": steps_slider},
    )


def growth_panel(P: Params) -> ControlPanel:
    """Panel (c): growth factors of GD, EMA heavy ball and EMA Nesterov up to 1.1 lam*."""

    def compute(values):
        return experiments.growth_curves(values["eta"], values["beta1"], points=P.growth_points)

    return ControlPanel(
        compute,
        [views.growth_ratio_chart, views.growth_lambda_chart, TableView(views.growth_table)],
        eta=(P.growth_eta, *P.growth_eta_range),
        beta1=(P.beta1, 0.0, P.beta1_max),
    )


def large_gradient_panel(P: Params) -> ControlPanel:
    """Panel (d): Fig. 17, heavy ball's gradients grow while it is stable; GD's cannot."""

    def compute(values):
        return experiments.momentum_gradients(
            values["eta"], values["beta1"], steps=P.fig17_steps, m0=P.m0
        )

    charts = _quantity_charts(
        views.large_gradient_chart, ("x", "momentum", "grad_sq"), views.large_gradient_table
    )
    return ControlPanel(
        compute,
        charts,
        eta=_eta(P.gradient_eta, P.gradient_eta_range),
        beta1=(P.beta1, 0.0, P.beta1_max),
    )


def preconditioning_panel(P: Params) -> ControlPanel:
    """Panel (e): frozen-P EMA heavy ball on H = R(angle) diag(eigenvalues) R(angle)^T.

    Controls: eta, beta1, the preconditioner's diagonal ``p1``, ``p2`` (log sliders) and the
    rotation ``angle`` of H in degrees; the self-check sets them to each of P.prop1_cases.
    """
    start = P.precond_start

    def compute(values):
        setting = PrecondSetting(**values)
        return experiments.preconditioning(setting, eigenvalues=P.eigenvalues, steps=P.steps)

    return ControlPanel(
        compute,
        [
            views.preconditioning_chart,
            views.eigenvalue_chart,
            TableView(views.preconditioning_table),
        ],
        eta=_eta(start.eta, P.precond_eta_range),
        beta1=(start.beta1, 0.0, P.beta1_max),
        extra={
            "p1": _eta(start.p1, P.p_range, step=0.05, name="p1"),
            "p2": _eta(start.p2, P.p_range, step=0.05, name="p2"),
            "angle": (float(start.angle), 0.0, 90.0, 1.0),
        },
    )


def rmsprop_panel(P: Params) -> ControlPanel:
    """Panel (f): Fig. 12, RMSprop (nu_0 = P.nu0) past its frozen threshold on x^2/2."""

    def compute(values):
        return experiments.rmsprop_runs(
            values["eta"], values["beta2"], steps=P.rmsprop_steps, nu0=P.nu0
        )

    charts = _quantity_charts(views.rmsprop_chart, ("x", "sharpness", "nu"), views.rmsprop_table)
    return ControlPanel(
        compute,
        charts,
        eta=_eta(P.rmsprop_eta, P.rmsprop_eta_range),
        beta1=None,
        beta2=(P.rmsprop_beta2, *P.rmsprop_beta2_range, 0.001),
    )
