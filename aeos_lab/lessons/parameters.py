"""One notebook's parameters in one place: a frozen dataclass per lesson with a full, a fast
and (for notebooks that train) a paper-scale variant.

A lesson's ``params`` module defines ``Params`` (a :class:`LessonParams`, each field made with
:func:`param`, which documents it) and ``VARIANTS`` (:class:`Variants`). The notebook's
parameters cell is one call whose output is the table of values::

    P = params.select(PAPER_SCALE)   # FULL, FAST under $AEOS_LAB_FAST=1, or PAPER on a GPU
    P                                # shows the task and every value with its meaning

and :mod:`aeos_lab.figures` reads the same ``VARIANTS`` to export the paper's figures.
"""

from __future__ import annotations

import dataclasses
import html
import os
from dataclasses import dataclass
from typing import Any, NamedTuple

from aeos_lab.engine import smoke
from aeos_lab.engine.tasks import Scale, choose_scale

__all__ = ["FAST_ENV", "LessonParams", "Variants", "fast_mode", "param"]

FAST_ENV = "AEOS_LAB_FAST"


def fast_mode() -> bool:
    """True when ``$AEOS_LAB_FAST`` is "1": the short variant that CI runs under nbmake."""
    return os.environ.get(FAST_ENV, "0").strip().lower() in ("1", "true", "yes")


def param(default: Any, doc: str):
    """A parameter field with its meaning (shown in the notebook's parameters table)."""
    return dataclasses.field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class LessonParams:
    """Base class of a lesson's ``Params``. ``variant`` says which variant this is ("full",
    "fast" or "paper"); ``scale`` (set by :meth:`Variants.select`) holds the task the
    experiments start from, for lessons that train."""

    variant: str = dataclasses.field(default="full", metadata={"hidden": True})
    scale: Scale | None = dataclasses.field(
        default=None, repr=False, compare=False, metadata={"hidden": True}
    )

    def replace(self, **changes) -> LessonParams:
        """A copy with ``changes``; unknown names raise ValueError naming the allowed ones."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            allowed = ", ".join(sorted(n for n in names if n not in ("variant", "scale")))
            raise ValueError(f"unknown parameter(s) {unknown}; allowed: {allowed}")
        return dataclasses.replace(self, **changes)

    @property
    def base(self):
        """The run config every experiment starts from (``scale.base``)."""
        if self.scale is None:
            raise ValueError("these parameters carry no task: use Variants.select(...)")
        return self.scale.base

    def values(self) -> dict[str, Any]:
        """The parameters by name (without ``variant`` and ``scale``)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if not f.metadata.get("hidden")
        }

    def rows(self) -> list[tuple[str, Any, str]]:
        """(name, value, meaning) per parameter, in definition order."""
        return [
            (f.name, getattr(self, f.name), f.metadata.get("doc", ""))
            for f in dataclasses.fields(self)
            if not f.metadata.get("hidden")
        ]

    def __str__(self) -> str:
        width = max(len(name) for name, _, _ in self.rows())
        lines = [f"{type(self).__module__.rsplit('.', 2)[-2]}: {self.variant} variant"]
        if self.scale is not None:
            lines.append(self.scale.note)
        lines += [f"{name:<{width}}  {value!r}  # {doc}" for name, value, doc in self.rows()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cell = "padding:1px 10px;text-align:left;vertical-align:top;"
        rows = "".join(
            f'<tr><td style="{cell}"><code>{html.escape(name)}</code></td>'
            f'<td style="{cell}"><code>{html.escape(repr(value))}</code></td>'
            f'<td style="{cell}">{html.escape(doc)}</td></tr>'
            for name, value, doc in self.rows()
        )
        note = "" if self.scale is None else f"<div>{html.escape(self.scale.note)}</div>"
        return (
            f'<div style="font-size:13px;"><b>Parameters ({html.escape(self.variant)} '
            f'variant)</b>{note}<table style="border-collapse:collapse;">{rows}</table></div>'
        )


class Variants(NamedTuple):
    """The variants of one lesson's parameters. ``notebook`` names the lesson's notebook (e.g.
    "03_adam_aeos"); ``cpu_task`` the task of :data:`aeos_lab.engine.tasks.CPU_TASKS` it trains
    on (None: it trains nothing); ``paper`` is None when the lesson has no paper-scale
    variant."""

    notebook: str
    full: LessonParams
    fast: LessonParams
    paper: LessonParams | None = None
    cpu_task: str | None = None
    smoke: LessonParams | None = None
    """The paper variant with tiny sizes, taken under the test-only switch of
    :mod:`aeos_lab.engine.smoke` (its numbers mean nothing)."""

    def select(
        self, paper_scale: bool = False, *, fast: bool | None = None, platform=True
    ) -> LessonParams:
        """The parameters a notebook runs with: ``paper`` when paper scale is asked for and
        JAX computes on an accelerator (``platform``, see
        :func:`aeos_lab.engine.tasks.choose_scale`), else ``fast`` when ``fast`` (default:
        :func:`fast_mode`), else ``full``; with the chosen task in ``scale``."""
        fast = fast_mode() if fast is None else fast
        if self.cpu_task is None:
            if paper_scale:
                raise ValueError("paper_scale: this lesson trains nothing, it has no paper scale")
            return (self.fast if fast else self.full).replace(variant="fast" if fast else "full")
        scale = choose_scale(paper_scale, self.cpu_task, platform=platform)
        if scale.paper and smoke.active() and self.smoke is not None:
            return self.smoke.replace(variant="paper (smoke test)", scale=scale)
        if scale.paper and self.paper is not None:
            return self.paper.replace(variant="paper", scale=scale)
        chosen = self.fast if fast else self.full
        return chosen.replace(variant="fast" if fast else "full", scale=scale)
