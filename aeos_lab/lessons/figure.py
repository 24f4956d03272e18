"""A paper figure as the suite reproduces it: a lesson's parameters, the experiment that
computes the figure and the view that draws it. :mod:`aeos_lab.figures` builds one per entry of
its catalogue and exports them headless (``aeos-lab reproduce``), without building a widget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aeos_lab.lessons.parameters import LessonParams, Variants

__all__ = ["Figure", "Progress"]

Progress = Callable[[int, int, str], None]
"""``progress(done, total, message)``: steps trained so far over all runs still to train."""


@dataclass(frozen=True)
class Figure:
    """One exportable paper figure.

    ``compute(params, progress)`` is the lesson's experiment on its parameters (a typed result),
    ``draw(result, params)`` the lesson's view of it (an Altair chart; the parameters give
    presentation choices such as the eta colour domain of the notebook's panel) and
    ``data(result)`` the tidy table behind the chart (one row per plotted point; the CSV).
    """

    id: str
    paper: str
    notebook: str
    title: str
    description: str
    caption: str
    variants: Variants
    compute: Callable[[LessonParams, Progress | None], Any]
    draw: Callable[[Any], Any]
    data: Callable[[Any], Any]

    @property
    def trains(self) -> bool:
        """Whether the figure trains networks (else it runs quadratics in seconds)."""
        return self.variants.cpu_task is not None

    def params(
        self, fast: bool = False, overrides: dict | None = None, *, paper_scale: bool = False
    ) -> LessonParams:
        """The lesson's full (or ``fast``) parameters with ``overrides`` applied by name;
        ``paper_scale`` takes the paper's variant when JAX sees an accelerator."""
        platform = True if paper_scale else None
        params = self.variants.select(paper_scale, fast=fast, platform=platform)
        return params.replace(**(overrides or {}))
