"""Micro-network panels: compile time of the first call, and recompute latency per slider move.

Each panel of :data:`PANELS` is built from its lesson's full-variant parameters; building it
computes its first setting, compilation included ("compile s"). Then each of its sliders moves
over ``--n`` values inside the slider's range, the panel's result cache cleared before every
move, so every move retrains the whole run. The table gives, per panel and slider, the median
and maximum of the recompute (training + summaries, ``compute``) and of the whole update
(plus the chart updates, ``total``), kernel side, and the number of XLA compilations during
the moves (0: no slider move recompiles).

``--grid``: the issue's late-median check for panels that define one: every run's median of
lambda_1(P^-1 H) / threshold over the last third, across a grid of slider settings (5 eta x 3
beta1 x 3 beta2 inside the sliders' ranges), and the share inside [0.85, 1.15].

Run: .venv/bin/python benchmarks/micro.py [--n 8] [--grid]

To add a lesson's micro panels, append :class:`MicroPanel` entries to :data:`PANELS`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from notebook01_latency import count_compiles, lin_values, log_values

BAND = (0.85, 1.15)
"""Where the issue wants at least 80% of the late medians of the grid check."""


@dataclass(frozen=True)
class MicroPanel:
    """One micro panel: ``lesson`` names the lesson package, ``build`` the function of its
    panels module(s) ("panels_micro.gd_edge_panel"), ``moves(P, n)`` the values per slider;
    ``grid(P)`` the settings of the grid check and ``ratios(result)`` the late medians of a
    result (both None: no grid check)."""

    name: str
    lesson: str
    build: str
    moves: Callable[[object, int], dict[str, list]]
    grid: Callable[[object], list[dict]] | None = None
    ratios: Callable[[object], list[float]] | None = None

    def module(self, name: str):
        return importlib.import_module(f"aeos_lab.lessons.{self.lesson}.{name}")

    def params(self):
        return self.module("params").select(fast=False, platform=None)

    def panel(self, P):
        module, function = self.build.rsplit(".", 1)
        return getattr(self.module(module), function)(P)


def _adam_frozen_grid(P) -> list[dict]:
    etas = np.geomspace(*P.micro_eta_range, 5)
    beta1s = (P.micro_beta1_range[0], P.beta1, P.micro_beta1_range[1])
    beta2s = (P.micro_beta2_range[0], 0.99, P.micro_beta2_range[1])
    return [
        {"eta": float(e), "beta1": b1, "beta2": b2} for e in etas for b1 in beta1s for b2 in beta2s
    ]


def _micro_adam_moves(P, n: int) -> dict[str, list]:
    """The eta, beta1 and beta2 sliders of the micro Adam panels (notebook 02's Adam against
    frozen Adam, both of notebook 03's): ``P.micro_*_range``."""
    return {
        "eta": log_values(P.micro_eta_range, n),
        "beta1": lin_values(*P.micro_beta1_range, n),
        "beta2": lin_values(*P.micro_beta2_range, n),
    }


def _equilibrium_grid(P) -> list[dict]:
    """Notebook 03's self-check grid (``P.check_*``: 5 eta x 3 beta1 x 3 beta2)."""
    axes = (P.check_etas, P.check_beta1s, P.check_beta2s)
    return [
        {"eta": e, "beta1": b1, "beta2": b2} for e in axes[0] for b1 in axes[1] for b2 in axes[2]
    ]


PANELS = [
    MicroPanel(
        "02 GD to 2/η",
        "nb02_frozen_adam",
        "panels_micro.gd_edge_panel",
        lambda P, n: {"eta": log_values(P.gd_eta_range, n)},
    ),
    MicroPanel(
        "02 Adam vs frozen Adam",
        "nb02_frozen_adam",
        "panels_micro.adam_frozen_panel",
        _micro_adam_moves,
        grid=_adam_frozen_grid,
        ratios=lambda r: [r.adam.late_ratio, r.frozen.late_ratio],
    ),
    MicroPanel(
        "03 equilibrium, your run",
        "nb03_adam_aeos",
        "panels_micro.equilibrium_panel",
        _micro_adam_moves,
        grid=_equilibrium_grid,
        ratios=lambda r: [r.chosen_ratio],
    ),
    MicroPanel(
        "03 instability cycle",
        "nb03_adam_aeos",
        "panels_micro.cycle_panel",
        _micro_adam_moves,
    ),
]
"""The micro panels measured, in order."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8, help="moves per slider")
    parser.add_argument("--grid", action="store_true", help="also run the grid check")
    args = parser.parse_args()

    import jax

    compiles = count_compiles()

    rows, built, grids = [], [], []
    for entry in PANELS:
        P = entry.params()
        start, before = time.perf_counter(), len(compiles)
        panel = entry.panel(P)
        built.append((entry.name, time.perf_counter() - start, len(compiles) - before))
        for slider, values in entry.moves(P, args.n).items():
            before = len(compiles)
            compute, total = [], []
            for value in values:
                panel.clear_cache()
                panel.set(**{slider: value})
                if panel.last_error is not None:
                    raise RuntimeError(f"{entry.name}: {slider}={value}") from panel.last_error
                compute.append(panel.last_timing["compute_ms"])
                total.append(panel.last_timing["total_ms"])
            rows.append((entry.name, slider, compute, total, len(compiles) - before))
        if args.grid and entry.grid is not None:
            ratios = []
            for setting in entry.grid(P):
                panel.set(**setting)
                ratios += entry.ratios(panel.last_result)
            inside = np.mean([BAND[0] <= r <= BAND[1] for r in ratios])
            grids.append((entry.name, len(entry.grid(P)), len(ratios), inside, ratios))

    print(f"micro panels, full variant; {os.cpu_count()} CPU cores, JAX {jax.__version__}\n")
    print("| panel | first call s (compile included) | compilations |")
    print("|---|---:|---:|")
    for name, seconds, count in built:
        print(f"| {name} | {seconds:.1f} | {count} |")
    print()
    print(
        "| panel | slider | compute median ms | compute max ms | total median ms | "
        "total max ms | n | compiles during moves |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, slider, compute, total, new in rows:
        print(
            f"| {name} | {slider} | {statistics.median(compute):.0f} | {max(compute):.0f} | "
            f"{statistics.median(total):.0f} | {max(total):.0f} | {len(compute)} | {new} |"
        )
    for name, settings, n, inside, ratios in grids:
        print(
            f"\n{name}: grid check over {settings} settings, {n} late medians, "
            f"{inside:.0%} inside {list(BAND)} (min {min(ratios):.3f}, max {max(ratios):.3f})"
        )


if __name__ == "__main__":
    main()
