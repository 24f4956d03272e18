"""The paper figure of notebook 02, Fig. 3 (frozen Adam at the edge of stability): ``fig3``
computes it on the lesson's parameters, ``fig3_data`` gives the tidy table behind it, and
``views.fig3`` draws it (see :mod:`aeos_lab.figures`)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from aeos_lab.lessons.nb02_frozen_adam.experiments import FrozenSweep, frozen_sweep, run_base
from aeos_lab.lessons.nb02_frozen_adam.params import Params

__all__ = ["fig3", "fig3_data"]


def fig3(P: Params, progress: Callable | None = None) -> FrozenSweep:
    """Frozen Adam and Adam at ``P.frozen_etas`` (the first one drawn bold)."""
    frozen = {"freeze_at": P.freeze_at, "freeze_eta": P.freeze_eta}
    return frozen_sweep(
        run_base(P), P.frozen_etas, selected=P.frozen_etas[0], progress=progress, **frozen
    )


def fig3_data(result: FrozenSweep) -> pd.DataFrame:
    """Frozen Adam's records, then Adam's."""
    return pd.concat([result.frozen, result.adam], ignore_index=True)
