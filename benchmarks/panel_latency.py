"""Kernel-side latency of slider moves in notebooks 02-05, per panel.

    .venv/bin/python benchmarks/panel_latency.py [02 03 04 05] [--live-moves 4]

Runs a notebook's code cells up to its self-check (full-size parameters, bank on, an empty run
cache in a temporary folder), so every panel is built and first drawn exactly as in the
notebook. Then, per panel:

* network panels (a Run button, runs from the bank): every on-grid position of every slider
  whose setting is available (``panel.ready``) is visited one slider at a time from the start
  setting. Before each move the panel's result cache AND the engine's in-memory runs are
  cleared, so every move reads its runs from the bank again (decompress, parse, summarise)
  and redraws: the cost of a first visit to that grid value. Target: <= 200 ms.
* live panels (no Run button: the micro network, Prop. 1): ``--live-moves`` values per
  slider, each recomputed (the micro network trains its whole run on every release).

Prints a markdown table: notebook, panel, kind, moves, median ms, max ms, and the XLA
compilations during the moves. Kernel time only; the browser's drawing is not included.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import pathlib
import statistics
import tempfile
import time

from notebook01_latency import count_compiles, notebook_namespace

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = {
    "02": "02_frozen_adam.ipynb",
    "03": "03_adam_aeos.ipynb",
    "04": "04_minibatch_and_warmup.ipynb",
    "05": "05_sharp_solutions.ipynb",
}


def positions(control) -> list:
    """Every value a slider can take (a grid slider's options, a float slider's steps)."""
    import ipywidgets

    if isinstance(control, ipywidgets.SelectionSlider | ipywidgets.Dropdown):
        return [o[1] if isinstance(o, tuple) else o for o in control.options]
    if isinstance(control, ipywidgets.FloatLogSlider):
        count = round((control.max - control.min) / control.step)
        return [control.base ** (control.min + k * control.step) for k in range(count + 1)]
    if isinstance(control, ipywidgets.FloatSlider | ipywidgets.IntSlider):
        count = round((control.max - control.min) / control.step)
        return [control.min + k * control.step for k in range(count + 1)]
    return []


def on_grid_moves(panel) -> list[dict]:
    """Single-slider moves from the start setting to every available position."""
    start = dict(panel.values)
    moves = []
    for name, control in panel.controls.items():
        for value in positions(control):
            same = value == start[name] or (
                isinstance(value, float) and math.isclose(value, start[name])
            )
            if same:
                continue
            if panel.ready({**start, name: value}):
                moves.append({name: value})
    return moves


def live_moves(panel, count: int) -> list[dict]:
    """``count`` positions per slider, spread over its range, from the start setting."""
    moves = []
    for name, control in panel.controls.items():
        values = positions(control)
        if len(values) > 1:
            picks = [values[round(i * (len(values) - 1) / (count - 1))] for i in range(count)]
            moves += [{name: v} for v in picks if v != panel.values[name]]
    return moves


def time_moves(panel, moves: list[dict], *, cold: bool) -> list[float]:
    """Milliseconds per move (set, and Run where the panel has a button and the setting is
    stale), the start setting restored after each move; ``cold`` clears the engine's
    in-memory runs before every move."""
    from aeos_lab.engine import train

    start = dict(panel.values)
    times = []
    for move in moves:
        panel.clear_cache()
        if cold:
            train._memory.clear()
        before = panel.run_count
        began = time.perf_counter()
        panel.set(**move)
        if panel.run_count == before and panel.run_button:
            panel.button.click()
        times.append(1e3 * (time.perf_counter() - began))
        if panel.last_error is not None:
            raise RuntimeError(f"{move} failed") from panel.last_error
        panel.set(**start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", default=list(NOTEBOOKS))
    parser.add_argument("--live-moves", type=int, default=4, help="moves per live slider")
    args = parser.parse_args()
    os.environ["AEOS_LAB_FAST"] = "0"
    os.environ["AEOS_LAB_CACHE_DIR"] = tempfile.mkdtemp(prefix="aeos_lab_latency_")

    from aeos_lab.viz import widgets

    compiles = count_compiles()
    rows = []
    for number in args.notebooks:
        began = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the panels' reprs, printed by display
            ns = notebook_namespace(ROOT / "notebooks" / NOTEBOOKS[number])
        build = time.perf_counter() - began
        print(f"notebook {number}: panels built and drawn in {build:.1f} s", flush=True)
        for name, panel in ns.items():
            if not (name.startswith("panel_") and isinstance(panel, widgets.ControlPanel)):
                continue
            network = panel.ready is not None
            moves = on_grid_moves(panel) if network else live_moves(panel, args.live_moves)
            before = len(compiles)
            times = time_moves(panel, moves, cold=network)
            kind = "bank, on-grid" if network else "live recompute"
            row = (number, name, kind, len(times), statistics.median(times), max(times))
            rows.append((*row, len(compiles) - before))
            print("  " + " | ".join(str(v) for v in rows[-1]), flush=True)

    print(f"\n{os.cpu_count()} CPU cores; full-size parameters, bank on, empty run cache\n")
    print("| notebook | panel | kind | moves | median ms | max ms | compiles |")
    print("|---|---|---|---:|---:|---:|---:|")
    for number, name, kind, n, median, worst, new in rows:
        print(f"| {number} | {name} | {kind} | {n} | {median:.0f} | {worst:.0f} | {new} |")


if __name__ == "__main__":
    main()
