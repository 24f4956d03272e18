"""The paper figures of notebook 05, Figs. 10 (with 19) and 11, each at its panel's opening
setting: ``<id>`` computes it on the lesson's parameters, ``<id>_data`` gives the tidy table
behind it and ``views.<id>`` draws it (see :mod:`aeos_lab.figures`)."""

from __future__ import annotations

import pandas as pd

from aeos_lab.lessons.figure import Progress
from aeos_lab.lessons.nb05_sharp_solutions import experiments as x
from aeos_lab.lessons.nb05_sharp_solutions.params import Params
from aeos_lab.lessons.nb05_sharp_solutions.views import with_method

__all__ = ["fig10", "fig10_data", "fig11", "fig11_data"]


def fig10(P: Params, progress: Progress | None = None) -> x.SharpnessSweep:
    """Panel (a) at eta = ``P.eta_for_beta2``, beta2 = ``P.beta2_for_eta``."""
    selection = x.Selection(P.eta_for_beta2, P.beta1, P.beta2_for_eta)
    return x.solutions_sweep(x.solutions_setup(P), selection, progress)


def fig10_data(result: x.SharpnessSweep) -> pd.DataFrame:
    """One row per run (as the panel's ``solutions``, with ``method``)."""
    return with_method(result.solutions).drop(columns="test_acc_stderr")


def fig11(P: Params, progress: Progress | None = None) -> x.Comparison:
    """Panel (b) at Adam's smallest eta and beta2 = ``P.compare_beta2``."""
    setup = x.comparison_setup(P)
    selection = x.Selection(setup.adam_etas[0], P.beta1, P.compare_beta2)
    return x.comparison(setup, selection, progress)


def fig11_data(result: x.Comparison) -> pd.DataFrame:
    """One row per run (momentum and Adam at the selected beta2, with ``method``)."""
    return with_method(result.solutions)
