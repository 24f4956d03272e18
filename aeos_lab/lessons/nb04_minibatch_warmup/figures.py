"""The paper figures of notebook 04, Figs. 6 and 7, each at its panel's opening setting:
``<id>`` computes it on the lesson's parameters, ``<id>_data`` gives the tidy table behind it
and ``views.<id>`` draws it (see :mod:`aeos_lab.figures`)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from aeos_lab.lessons.nb04_minibatch_warmup import experiments as x
from aeos_lab.lessons.nb04_minibatch_warmup.params import Params

__all__ = ["fig6", "fig6_data", "fig7", "fig7_data"]


def fig6(P: Params, progress: Callable | None = None) -> x.BatchSweep:
    """The batch-size sweep at ``P``'s sizes, showing the smallest eta."""
    grid = x.batch_grid(P, None, P.beta1, P.beta2)
    return x.batch_sweep(x.run_base(P), grid, progress=progress)


def fig6_data(result: x.BatchSweep) -> pd.DataFrame:
    return result.table


def fig7(P: Params, progress: Callable | None = None) -> x.WarmupRun:
    """The warmup to ``P.warmup_peak`` over ``P.warmup`` steps."""
    setting = x.warmup_setting(P, P.warmup_peak, P.warmup, P.beta1, P.beta2)
    return x.warmup_run(x.run_base(P), setting, reach=P.reach, band=P.band, progress=progress)


def fig7_data(result: x.WarmupRun) -> pd.DataFrame:
    return result.records.assign(eta=result.eta, warmup_steps=result.warmup_steps)
