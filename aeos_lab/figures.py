"""Static export of the paper figures the notebooks reproduce: ``aeos-lab reproduce FIGURE``.

Each lesson lists its figures (:class:`aeos_lab.lessons.figure.Figure`) in its ``figures``
module: the lesson's parameters (the same ``VARIANTS`` its notebook shows), one of its
experiments and one of its views. Nothing here builds a widget. :func:`export` writes three
files into a folder:

* ``<id>.png`` (or ``.svg``): the chart, rendered by vl-convert through ``chart.save``;
* ``<id>.csv``: the tidy data behind it, one row per plotted point;
* ``<id>.json``: metadata: the figure, a caption, the parameters, the task (for figures that
  train), the library version, the device and the elapsed time.

Sizes follow the notebooks: the full variant by default, the fast variant (the one CI runs)
with ``fast=True``. The notebook-01 figures are quadratics and take seconds; the others train
networks through :mod:`aeos_lab.engine.train`, whose disk cache (``$AEOS_LAB_CACHE_DIR``)
makes a second export instant and shares runs with the notebooks.

Example::

    from aeos_lab import figures
    figures.export("fig1", "figures")          # figures/fig1.png, .csv, .json
    frame, chart, params = figures.build("fig14", fast=True)
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd

from aeos_lab import __version__
from aeos_lab.lessons.figure import Figure, Progress
from aeos_lab.lessons.nb01_quadratics import figures as nb01
from aeos_lab.lessons.nb02_frozen_adam import figures as nb02
from aeos_lab.lessons.nb03_adam_aeos import figures as nb03
from aeos_lab.lessons.nb04_minibatch_warmup import figures as nb04
from aeos_lab.lessons.nb05_sharp_solutions import figures as nb05
from aeos_lab.lessons.parameters import LessonParams
from aeos_lab.viz import charts

__all__ = [
    "ALIASES",
    "FIGURES",
    "FORMATS",
    "Figure",
    "build",
    "export",
    "get_figure",
    "listing",
    "text_progress",
]

FORMATS = ("png", "svg")

FIGURES: dict[str, Figure] = {
    figure.id: figure for lesson in (nb01, nb02, nb03, nb04, nb05) for figure in lesson.FIGURES
}
"""Every exportable figure by id, in notebook order."""

ALIASES = {"fig16": "fig15", "fig19": "fig10"}
"""Paper figures drawn by another entry (same runs, same export)."""


def get_figure(name: str) -> Figure:
    """The :class:`Figure` called ``name`` (case-insensitive; aliases such as fig16 allowed)."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in FIGURES:
        raise ValueError(
            f"figure must be one of {', '.join(FIGURES)} (or {', '.join(ALIASES)}), got {name!r}"
        )
    return FIGURES[key]


def listing() -> str:
    """One line per figure: id, paper figure, notebook, what it shows."""
    id_width = max(len(k) for k in FIGURES)
    paper_width = max(len(f.paper) for f in FIGURES.values())
    notebook_width = max(len(f.notebook) for f in FIGURES.values())
    lines = []
    for figure in FIGURES.values():
        cost = "trains" if figure.trains else "quadratic"
        lines.append(
            f"{figure.id:<{id_width}}  {figure.paper:<{paper_width}}  "
            f"{figure.notebook:<{notebook_width}}  {cost:<9}  {figure.description}"
        )
    aliases = ", ".join(f"{a} = {t}" for a, t in ALIASES.items())
    lines.append(f"aliases: {aliases}")
    return "\n".join(lines)


def build(
    name: str,
    *,
    fast: bool = False,
    overrides: Mapping | None = None,
    paper_scale: bool = False,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, alt.TopLevelMixin, LessonParams]:
    """Compute figure ``name``: returns (tidy data, Altair chart, the parameters used).

    ``fast`` takes the notebook's fast-variant sizes; ``overrides`` replaces parameters by
    name (see ``get_figure(name).params().values()``); ``paper_scale`` the paper's variant on
    an accelerator; ``progress(done, total, message)`` hears about training runs that are
    not cached yet.
    """
    charts.use_theme()
    figure = get_figure(name)
    params = figure.params(fast, dict(overrides or {}), paper_scale=paper_scale)
    result = figure.compute(params, progress)
    return figure.data(result), figure.draw(result), params


def export(
    name: str,
    out_dir: str | Path,
    *,
    fmt: str = "png",
    fast: bool = False,
    overrides: Mapping | None = None,
    paper_scale: bool = False,
    scale_factor: float = 2.0,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write figure ``name`` into ``out_dir`` (created if missing) as ``<id>.<fmt>`` (png or
    svg, via vl-convert), ``<id>.csv`` (its tidy data) and ``<id>.json`` (metadata).

    Returns the three paths by kind ("chart", "data", "metadata").
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not (isinstance(scale_factor, (int, float)) and math.isfinite(scale_factor)) or (
        scale_factor <= 0
    ):
        raise ValueError(f"scale must be finite and > 0, got {scale_factor!r}")
    figure = get_figure(name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    frame, chart, params = build(
        figure.id, fast=fast, overrides=overrides, paper_scale=paper_scale, progress=progress
    )
    paths = {
        "chart": out / f"{figure.id}.{fmt}",
        "data": out / f"{figure.id}.csv",
        "metadata": out / f"{figure.id}.json",
    }
    chart.save(paths["chart"], format=fmt, scale_factor=scale_factor)
    frame.to_csv(paths["data"], index=False)
    metadata = {
        "figure": figure.id,
        "paper_figure": figure.paper,
        "notebook": figure.notebook,
        "title": figure.title,
        "caption": figure.caption,
        "variant": params.variant,
        "parameters": _json_safe(params.values()),
        "task": _json_safe(params.base.to_dict()) if figure.trains else None,
        "rows": len(frame),
        "columns": list(map(str, frame.columns)),
        "files": {kind: path.name for kind, path in paths.items()},
        "library_version": __version__,
        "altair_version": alt.__version__,
        "device": _device(),
        "seconds": round(time.perf_counter() - start, 2),
    }
    paths["metadata"].write_text(json.dumps(metadata, indent=1, ensure_ascii=False) + "\n")
    return paths


def _json_safe(value):
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _device() -> str:
    import jax

    device = jax.devices()[0]
    return f"{device.platform} ({device.device_kind})"


def text_progress(prefix: str = "", stream=None, every: float = 5.0) -> Progress:
    """A ``progress(done, total, message)`` printing a line when the message changes and at
    most every ``every`` seconds otherwise (to ``stream``, default stderr)."""
    state = {"message": None, "time": 0.0}

    def report(done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if message == state["message"] and now - state["time"] < every:
            return
        state.update(message=message, time=now)
        share = done / total if total else 1.0
        print(f"{prefix}{message} ({share:.0%} of {total} steps)", file=stream or sys.stderr)

    return report
