"""Presentation only, never training: Altair chart builders with one look
(:mod:`~aeos_lab.viz.charts`), HTML tables (:mod:`~aeos_lab.viz.tables`) and the slider panels
and live charts of the notebooks (:mod:`~aeos_lab.viz.widgets`, the only module here that
builds widgets)."""
