"""Panel of notebook 02's fork test (:func:`~.experiments_fork.fork_test`) on the micro network.

Every slider release reruns Adam up to the fork and both branches (well under a second after
the first compile of a few seconds; the search takes longer when the fork lies late in the
run). The horizon slider only changes what is shown: the branches always run
``P.fork_max_horizon`` steps, so moving it does not recompile. No Run button, no cache on disk.
"""

from __future__ import annotations

from aeos_lab.engine import runs
from aeos_lab.lessons import panels as shared
from aeos_lab.lessons.nb02_frozen_adam import experiments_fork as fork
from aeos_lab.lessons.nb02_frozen_adam import views_fork as views
from aeos_lab.lessons.nb02_frozen_adam.panels_micro import ETA_STEP
from aeos_lab.lessons.nb02_frozen_adam.params import Params
from aeos_lab.viz import widgets

__all__ = ["fork_panel"]


def fork_panel(P: Params) -> widgets.ControlPanel:
    """The fork test: eta, beta1 and beta2 (the micro panels' ranges), the target ratio that
    picks the fork step, and the horizon shown."""

    def compute(values):
        return fork.fork_test(
            eta=values["eta"],
            beta1=runs.slider_beta(values["beta1"]),
            beta2=runs.slider_beta(values["beta2"]),
            target=round(float(values["target"]), 4),
            search_from=P.fork_search_from,
            every=P.fork_every,
            max_steps=P.fork_max_steps,
            horizon=int(values["horizon"]),
            max_horizon=P.fork_max_horizon,
            fit_steps=P.fork_fit_steps,
            part_tol=P.fork_part_tol,
        )

    return widgets.ControlPanel(
        compute,
        [
            views.fork_growth_chart,
            views.fork_ratio_chart,
            widgets.TableView(views.fork_table),
        ],
        eta=widgets.eta_slider(P.micro_eta, *P.micro_eta_range, step=ETA_STEP),
        beta1=(P.beta1, *P.micro_beta1_range, 0.01),
        beta2=(P.micro_beta2, *P.micro_beta2_range, 0.001),
        extra={
            "target": (P.fork_target, *P.fork_target_range, 0.005),
            "horizon": (P.fork_horizon, 10, P.fork_max_horizon, 1),
        },
        source=shared.live_source,
    )
