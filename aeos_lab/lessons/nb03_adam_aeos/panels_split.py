"""Notebook 03's panel of the split of lambda_1(P^-1 H) into the part from P and the part from
H: Adam on the 242-parameter micro network at the sliders' setting, retrained and split on
every release (no Run button, no cache on disk). Every value comes from the notebook's
:class:`~.params.Params`; the sliders are those of part 1's panels (:mod:`.panels_micro`).
"""

from __future__ import annotations

from aeos_lab.engine import runs
from aeos_lab.lessons import panels as shared
from aeos_lab.lessons.nb03_adam_aeos import experiments_split, views_split
from aeos_lab.lessons.nb03_adam_aeos.params import Params
from aeos_lab.viz import widgets

__all__ = ["split_panel"]


def split_panel(P: Params) -> widgets.ControlPanel:
    """eta (log, ``P.micro_eta_range``), beta1 and beta2 sliders starting at ``P.micro_eta``,
    ``P.beta1`` and ``P.beta2``; each release trains ``P.split_steps`` steps, takes a dense
    Hessian every ``P.split_track`` steps and splits every interval
    (:func:`~.experiments_split.split_run`)."""
    base = experiments_split.split_base(P.split_steps, P.split_track)

    def run(values):
        beta1, beta2 = runs.slider_beta(values["beta1"]), runs.slider_beta(values["beta2"])
        setting = (float(values["eta"]), beta1, beta2)
        return experiments_split.split_run(base, setting, edge=P.split_edge)

    low, high = P.micro_beta2_range
    return widgets.ControlPanel(
        run,
        [
            views_split.parts_chart,
            views_split.running_chart,
            views_split.ratio_chart,
            widgets.TableView(views_split.split_table),
        ],
        eta=widgets.eta_slider(P.micro_eta, *P.micro_eta_range, step=P.micro_eta_step),
        beta1=(P.beta1, *P.micro_beta1_range, 0.01),
        beta2=widgets.beta_slider("beta2", P.beta2, low, high, 0.001),
        source=shared.live_source,
    )
