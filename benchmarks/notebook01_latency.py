"""Latency of every interactive update in notebook 01 (recompute + chart update, kernel side).

Runs the notebook's own code cells up to its self-check (setup, ``P = params.select()`` with
the full variant's sizes, and the cells that build the six panels), so the panels are built
exactly as the notebook builds them. Then it moves each control of each panel over a set of
values inside the ranges of ``P``, with the panel's result cache cleared before every move (so
every move recomputes), and prints a markdown table: panel, slider, median ms, max ms, n, and
the number of XLA compilations during the moves (0 means no slider move recompiles).

Run: .venv/bin/python benchmarks/notebook01_latency.py [--fast]

Browser drawing time is not included (see aeos_lab.viz.widgets.measure_latency). Panel (b) builds
the maps of all five methods once, at panel build; its controls then only pick a map, a step
count and the marker position, which is what a learner's move costs.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import time

import numpy as np

NOTEBOOK = (
    pathlib.Path(__file__).resolve().parents[1] / "notebooks" / "01_quadratic_stability.ipynb"
)
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


def notebook_namespace(path: pathlib.Path) -> dict:
    """Execute the notebook's code cells that come before the "Self-check" heading (IPython
    syntax such as the Colab cell's ``%pip`` is translated to Python first)."""
    import nbformat
    from IPython.core.inputtransformer2 import TransformerManager

    notebook = nbformat.read(path, as_version=4)
    namespace: dict = {"__name__": "__notebook01__"}
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("## Self-check"):
            break
        if cell.cell_type == "code":
            source = TransformerManager().transform_cell(cell.source)
            exec(compile(source, f"{path.name}:cell", "exec"), namespace)
    return namespace


def count_compiles() -> list[float]:
    """A list that receives the duration of every XLA compilation from now on."""
    import jax

    compiles: list[float] = []

    def listener(name, duration, **kwargs):
        if name == COMPILE_EVENT:
            compiles.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    return compiles


def log_values(bounds: tuple[float, float], n: int) -> list[float]:
    """n values spread geometrically inside a log slider's range (clear of both ends)."""
    low, high = bounds
    return [float(v) for v in np.geomspace(1.1 * low, 0.9 * high, n)]


def lin_values(low: float, high: float, n: int) -> list[float]:
    return [float(v) for v in np.linspace(low, high, n)]


def moves(ns: dict, n: int) -> dict[str, dict[str, list]]:
    """Values per panel and control, inside the ranges of the notebook's parameters ``P``;
    each list avoids repeating the previous value (the slider's start)."""
    p = ns["P"]
    methods = list(ns["experiments"].METHOD_LABELS)
    map_steps = list(p.map_steps)
    beta1 = lin_values(0.0, p.beta1_max, n)
    return {
        "a": {"eta": log_values(p.divergence_eta_range, n), "beta1": beta1},
        "b": {
            "eta": log_values(p.map_range, n),
            "beta1": beta1,
            "method": [methods[(i + 3) % len(methods)] for i in range(n)],
            "steps": [map_steps[i % len(map_steps)] for i in range(n)],
        },
        "c": {"eta": log_values(p.growth_eta_range, n), "beta1": beta1},
        "d": {"eta": log_values(p.gradient_eta_range, n), "beta1": beta1},
        "e": {
            "eta": log_values(p.precond_eta_range, n),
            "beta1": beta1,
            "p1": log_values(p.p_range, n),
            "p2": log_values((1.1 * p.p_range[0], 0.95 * p.p_range[1]), n),
            "angle": lin_values(1.0, 90.0, n),
        },
        "f": {
            "eta": log_values(p.rmsprop_eta_range, n),
            "beta2": lin_values(*p.rmsprop_beta2_range, n),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="use the fast variant's sizes")
    parser.add_argument("--n", type=int, default=15, help="moves per control")
    args = parser.parse_args()
    os.environ["AEOS_LAB_FAST"] = "1" if args.fast else "0"

    start = time.perf_counter()
    ns = notebook_namespace(NOTEBOOK)
    build_s = time.perf_counter() - start

    from aeos_lab.viz import widgets

    compiles = count_compiles()

    rows = []
    for panel_name, controls in moves(ns, args.n).items():
        panel = ns[f"panel_{panel_name}"]
        for control, values in controls.items():
            before = len(compiles)
            stats = widgets.measure_latency(panel, [{control: v} for v in values])
            rows.append(
                (
                    panel_name,
                    control,
                    stats["median_ms"],
                    stats["max_ms"],
                    len(values),
                    len(compiles) - before,
                )
            )

    p = ns["P"]
    print(
        f"notebook 01 panels built in {build_s:.1f} s ({p.variant} sizes: "
        f"steps={p.steps}, map_grid={p.map_grid}, map_steps={p.map_steps}, "
        f"growth_points={p.growth_points}, rmsprop_steps={p.rmsprop_steps}); "
        f"{os.cpu_count()} CPU cores\n"
    )
    print("| panel | slider | median ms | max ms | n | compiles during moves |")
    print("|---|---|---:|---:|---:|---:|")
    for panel_name, control, median, worst, n, new in rows:
        print(f"| {panel_name} | {control} | {median:.1f} | {worst:.1f} | {n} | {new} |")
    worst_median = max(r[2] for r in rows)
    print(f"\nslowest median: {worst_median:.1f} ms (target <= 100 ms)")


if __name__ == "__main__":
    main()
