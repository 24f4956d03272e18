"""Views of notebook 03's first part (the micro network): the tables of the instability cycle
and of the self-check's grid. The charts of part 1 are the network panels' own builders
(:mod:`.views`: ``chosen_run_chart``, ``sweep_chart``, ``zoom_chart`` with
``CYCLE_QUANTITIES``), drawn from the same typed results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from aeos_lab.viz import charts

if TYPE_CHECKING:
    from aeos_lab.lessons.nb03_adam_aeos.experiments import Zoom
    from aeos_lab.lessons.nb03_adam_aeos.experiments_micro import GridCheck

__all__ = ["cycle_table", "grid_table"]


def cycle_table(result: Zoom) -> tuple[pd.DataFrame, str]:
    """Part 1 (b)'s table: the crossings, the ratio in the window, the gradient bursts and
    P's response to them."""
    frame = pd.DataFrame(
        {
            "η": [charts.format_sci(result.eta, 3)],
            "threshold": [result.formula],
            "upward crossings": [len(result.crossings)],
            "median λ₁(P⁻¹H) / threshold": [f"{result.late_ratio:.3f}"],
            "bursts: ‖P^-½g‖ / its median": [f"×{result.burst_gain:.1f}"],
            "mean of P per step, bursts": [f"{result.burst_p_step:+.2f}%"],
            "mean of P per step, quiet": [f"{result.quiet_p_step:+.2f}%"],
            "top-direction share, bursts": [f"{result.burst_top_share:.0%}"],
            "top-direction share, quiet": [f"{result.quiet_top_share:.0%}"],
        }
    )
    caption = (
        "Bursts: the 10% of the window's steps with the largest ‖P^-½g‖²; quiet: the half at "
        "or below its median. Top-direction share: the part of ‖P^-½g‖² along the top "
        "eigenvector of P^-½HP^-½. Red dotted lines: upward crossings of the threshold."
    )
    return frame, caption


def grid_table(result: GridCheck) -> tuple[pd.DataFrame, str]:
    """The self-check's grid: the late median ratio of every setting, one row per (β₁, β₂),
    one column per η; a value outside the band is starred."""
    low, high = result.band
    table = result.table.assign(
        cell=[
            f"{r:.2f}" + ("" if inside else " *")
            for r, inside in zip(result.table["late_ratio"], result.table["inside"], strict=True)
        ],
        column=[f"η = {charts.format_sci(e, 2)}" for e in result.table["eta"]],
    )
    frame = table.pivot(index=["beta1", "beta2"], columns="column", values="cell")
    frame = frame[list(dict.fromkeys(table["column"]))].reset_index()
    frame = frame.rename(columns={"beta1": "β₁", "beta2": "β₂"})
    caption = (
        f"Late median of λ₁(P⁻¹H) / threshold over the last {result.fraction:.0%} of "
        f"{result.steps} steps; * outside [{low:g}, {high:g}]. {int(result.table['inside'].sum())}"
        f" of {len(result.table)} inside ({result.rate:.0%})."
    )
    return frame, caption
