"""Panel wiring shared by the lessons' network panels (notebooks 02-05).

A network panel draws the runs that its sliders' setting needs. :func:`run_panel` builds it
around one function, ``needs(values) -> list[RunConfig]``: the panel draws at once when every
run is available (in the bank of precomputed runs or in the user's run cache,
:func:`aeos_lab.engine.runs.trained`), and waits for Run otherwise. Its status line says where
the runs came from (:func:`~aeos_lab.engine.runs.provenance`) and, before a Run, about how long
training will take (:func:`~aeos_lab.engine.runs.estimate_seconds`). :func:`grid_sliders`
makes sliders that step through the grid values the bank holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from aeos_lab.engine import runs
from aeos_lab.engine.config import RunConfig
from aeos_lab.viz import widgets

__all__ = ["grid_sliders", "live_source", "run_panel"]


def grid_sliders(grids: Mapping[str, tuple[Sequence[float], float]]) -> dict:
    """One :func:`~aeos_lab.viz.widgets.grid_slider` per name of ``grids`` (name -> (grid
    values, start)): every release lands on a grid value."""
    return {
        name: widgets.grid_slider(name, values, start) for name, (values, start) in grids.items()
    }


def live_source(values: dict) -> str:
    """The status line's provenance of a live panel (no Run button): what it shows was
    computed now, for the sliders' values."""
    return "computed now, on this release"


def run_panel(
    compute: Callable,
    charts: Sequence,
    needs: Callable[[dict], Sequence[RunConfig]],
    *,
    panel_class: type[widgets.ControlPanel] = widgets.ControlPanel,
    **controls,
) -> widgets.ControlPanel:
    """A Run-button panel (a ``panel_class``) over ``compute(values, progress)``, drawn by
    ``charts``; ``needs`` lists the runs a setting draws (its ready test, its provenance and
    its time estimate).
    ``controls`` (sliders, pickers, ``extra``) go on to the panel; a slider absent from them
    is not shown."""
    sliders = {"eta": None, "beta1": None, "beta2": None, **controls}
    return panel_class(
        compute,
        list(charts),
        ready=lambda values: runs.trained(needs(values)),
        source=lambda values: runs.provenance(needs(values)),
        estimate=lambda values: runs.estimate_seconds(needs(values)),
        run_button=True,
        auto_run=False,
        **sliders,
    )
