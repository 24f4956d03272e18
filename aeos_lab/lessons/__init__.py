"""One package per notebook. Each holds four parts, and data flows one way through them:

* ``params``: the notebook's parameters (full, fast and paper-scale variants), the one place
  they live; the notebook's parameters cell shows them, :mod:`aeos_lab.figures` reads them;
* ``experiments``: computations on :mod:`aeos_lab.core` and :mod:`aeos_lab.engine` that return
  typed results (dataclasses), callable without any widget;
* ``views``: results -> Altair charts and display tables, on :mod:`aeos_lab.viz` only;
* ``panels``: the widgets wiring (sliders -> experiment -> views), the only part that builds
  widgets;

plus ``figures``: for each paper figure ``<id>`` the notebook reproduces (listed in
``aeos_lab/figures.json``), ``<id>(P, progress)`` computes it from the parameters and
``<id>_data(result)`` gives its tidy table; ``views.<id>(result, P)`` draws it.
A package's ``__init__`` imports nothing, so importing a view never pulls in widgets.
"""
