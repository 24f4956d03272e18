"""Panels of notebook 02's first part: live runs on the 242-parameter micro network.

Every slider release retrains the whole run (about a second, see ``benchmarks/micro.py``); no
Run button, no cache on disk. Every value comes from the notebook's
:class:`~.params.Params`.
"""

from __future__ import annotations

import functools

from aeos_lab.engine import runs
from aeos_lab.lessons import panels as shared
from aeos_lab.lessons.nb02_frozen_adam import experiments_micro as micro
from aeos_lab.lessons.nb02_frozen_adam import views_micro as views
from aeos_lab.lessons.nb02_frozen_adam.params import Params
from aeos_lab.viz import widgets

__all__ = ["adam_frozen_panel", "gd_edge_panel"]

ETA_STEP = 0.02
"""Step of the micro panels' log eta sliders, in decades."""


def gd_edge_panel(P: Params) -> widgets.ControlPanel:
    """Panel (a), the notebook's first: plain GD on the micro network against
    2/eta. The eta slider (``P.gd_eta`` within ``P.gd_eta_range``) retrains on release."""
    base = micro.micro_base(P)

    def compute(values):
        return micro.gd_edge(base, values["eta"], fraction=P.late_fraction)

    return widgets.ControlPanel(
        compute,
        [
            views.gd_sharpness_chart,
            views.gd_loss_chart,
            widgets.TableView(views.gd_table),
        ],
        eta=widgets.eta_slider(P.gd_eta, *P.gd_eta_range, step=ETA_STEP),
        beta1=None,
        source=shared.live_source,
    )


def adam_frozen_panel(P: Params) -> widgets.ControlPanel:
    """Panel (b): Adam against frozen Adam on the micro network, frozen Adam's P from step
    ``P.micro_freeze_at`` of the same Adam run. eta, beta1 and beta2 retrain both runs on
    release."""
    base = micro.micro_base(P)

    def compute(values):
        return micro.adam_vs_frozen(
            base,
            eta=values["eta"],
            beta1=runs.slider_beta(values["beta1"]),
            beta2=runs.slider_beta(values["beta2"]),
            freeze_at=P.micro_freeze_at,
            fraction=P.late_fraction,
        )

    return widgets.ControlPanel(
        compute,
        [
            *(
                functools.partial(views.adam_frozen_chart, y=y)
                for y in ("precond_sharpness", "sharpness", "loss")
            ),
            widgets.TableView(views.adam_frozen_table),
        ],
        eta=widgets.eta_slider(P.micro_eta, *P.micro_eta_range, step=ETA_STEP),
        beta1=(P.beta1, *P.micro_beta1_range, 0.01),
        beta2=(P.micro_beta2, *P.micro_beta2_range, 0.001),
        source=shared.live_source,
    )
