"""Panels of notebook 03's part 2: sliders wired to the lesson's network experiments and views
(part 1's live micro panels are in :mod:`.panels_micro`).

Every value comes from the notebook's :class:`~.params.Params`. Each panel trains on the lab
task, and every slider of theirs (``eta``, ``beta1``, ``beta2``; panel (f) adds an
``optimizer`` picker) steps through a grid (:mod:`.experiments_bank`), so a release always
lands on a grid value. A setting whose runs are all available (in the bank of precomputed
runs, which holds the settings of :attr:`~.experiments_bank.SliderGrid.settings`, or in the run
cache) shows as soon as a slider is released; any other waits for Run, with progress and an
estimated time in the status line, which also says where the runs shown came from.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from aeos_lab.engine import runs
from aeos_lab.lessons import panels as shared
from aeos_lab.lessons.nb02_frozen_adam.panels import frozen_and_adam_panel
from aeos_lab.lessons.nb03_adam_aeos import experiments, views
from aeos_lab.lessons.nb03_adam_aeos import experiments_bank as bank
from aeos_lab.lessons.nb03_adam_aeos.params import Params
from aeos_lab.viz import widgets

__all__ = [
    "cnn_panel",
    "corner_panel",
    "equilibrium_panel",
    "optimizer_panel",
    "raw_rise_panel",
    "zoom_panel",
]

SLIDERS = ("eta", "beta1", "beta2")


def _setting(values: dict) -> dict:
    """The setting the controls select: eta, beta1 and beta2 (slider noise rounded away) and
    the optimizer where there is a picker."""
    setting = {
        "eta": float(values["eta"]),
        "beta1": runs.slider_beta(values["beta1"]),
        "beta2": runs.slider_beta(values["beta2"]),
    }
    if "optimizer" in values:
        setting["optimizer"] = values["optimizer"]
    return setting


def _panel(
    P: Params,
    section: str,
    experiment: Callable,
    charts: Sequence,
    panel_class: Callable | None = None,
    **controls,
) -> widgets.ControlPanel:
    """A grid panel of section ``section`` (:data:`~.experiments_bank.SLIDER_GRIDS`): its
    sliders step through the grid's positions from its start; ``experiment(setting,
    progress)`` computes what the ``charts`` draw, and the grid's ``needs`` name the runs
    (ready test, where they came from, how long Run takes). ``panel_class``: a
    :class:`~aeos_lab.viz.widgets.ControlPanel` subclass to build (default: the shared
    ``run_panel``'s)."""
    grid_of, needs = bank.SLIDER_GRIDS[section]
    grid = grid_of(P)

    def configs(values):
        return needs(P, _setting(values))

    def compute(values, progress=None):
        return experiment(_setting(values), progress)

    sliders = shared.grid_sliders(
        {name: (grid.positions[name], grid.start[name]) for name in SLIDERS}
    )
    kind = {} if panel_class is None else {"panel_class": panel_class}
    return shared.run_panel(compute, charts, configs, **kind, **sliders, **controls)


class _RedrawnOnChange(widgets.LiveChart):
    """A live chart rebuilt only when ``key(result)`` changes: Fig. 5's grid of sixteen runs
    costs a few hundred milliseconds to build, and a move of eta or of the optimizer picker
    changes only the run drawn below it."""

    def __init__(self, build: Callable, key: Callable):
        super().__init__(build)
        self.key_of, self.shown = key, None

    def update(self, result) -> str:
        key = self.key_of(result)
        if self.chart is not None and key == self.shown:
            return "data"  # the same chart: nothing to send
        self.shown = key
        return super().update(result)


def equilibrium_panel(P: Params) -> widgets.ControlPanel:
    """Panel (c), Fig. 1's three sweeps; the sliders choose the run shown on the first chart
    (with its threshold), and the run drawn bold where it belongs to a sweep."""
    base, grid = experiments.equilibrium_base(P), experiments.equilibrium_grid(P)

    def compute(setting, progress=None):
        selected = grid.snap(setting["eta"], setting["beta1"], setting["beta2"])
        return experiments.equilibrium_sweeps(base, grid, selected=selected, progress=progress)

    sweeps = [
        functools.partial(views.sweep_chart, name=name, eta_domain=P.eq_eta_range)
        for name in views.SWEEP_TITLES
    ]
    charts = [views.chosen_run_chart, *sweeps, widgets.TableView(views.equilibrium_table)]
    return _panel(P, "c", compute, charts)


def raw_rise_panel(P: Params) -> widgets.ControlPanel:
    """Panel (d), Figs. 3 and 8 side by side: Adam and frozen Adam at ``P.fig8_etas``. The
    runs are those of notebook 02's panel (d) (its panel wiring, too), so with the same
    settings they come from the bank or the cache; the sliders step through ``P.fig8_etas``,
    ``P.fig8_beta1s`` and ``P.fig8_beta2s``."""
    domain = P.fig8_eta_range
    return frozen_and_adam_panel(
        experiments.raw_rise_comparison,
        [
            functools.partial(views.raw_rise_chart, y="ratio", eta_domain=domain),
            functools.partial(views.raw_rise_chart, y="sharpness", eta_domain=domain),
            widgets.TableView(views.raw_rise_table),
        ],
        experiments.fig8_base(P),
        P.fig8_etas,
        freeze_at=P.freeze_at,
        freeze_eta=P.freeze_eta,
        initial_eta=P.fig8_etas[0],
        beta1s=P.fig8_beta1s,
        beta2s=P.fig8_beta2s,
    )


def zoom_panel(P: Params) -> widgets.ControlPanel:
    """Panel (e), Figs. 9 and 18: the window of each eta of ``P.zoom_starts`` starts at the
    step paired with it."""
    base = experiments.fig8_base(P)

    def compute(setting, progress=None):
        eta = setting["eta"]
        start = experiments.zoom_start(P.zoom_starts, eta)
        return experiments.zoom(
            bank.with_betas(base, setting), eta, start, P.zoom_length, k=P.zoom_k, progress=progress
        )

    rows = [functools.partial(views.zoom_chart, quantity=q) for q in views.ZOOM_QUANTITIES]
    charts = [*rows, views.zoom_eig_chart, views.zoom_grad_chart]
    return _panel(P, "e", compute, [*charts, widgets.TableView(views.zoom_table)])


class _OptimizerControls(widgets.ControlPanel):
    """Panel (f)'s controls: a beta slider that the chosen optimizer does not use
    (``live(label)`` names those it does) is disabled, and a move of it (from code: a learner
    cannot drag a disabled slider) springs back at once without a retrain or a redraw;
    :attr:`ignored` counts such moves. In :meth:`set` the optimizer is chosen first, so
    ``set(optimizer="Adam, bias-corrected", beta1=0.8)`` moves beta1 whatever was chosen
    before."""

    def __init__(self, *args, live: Callable[[str], tuple[str, ...]], **kwargs):
        self._live, self._reverting, self.ignored = live, False, 0
        super().__init__(*args, **kwargs)
        self.controls["optimizer"].observe(lambda _: self._enable(), names="value")
        self._enable()

    def _enable(self) -> None:
        live = self._live(self.controls["optimizer"].value)
        for name in ("beta1", "beta2"):
            self.controls[name].disabled = name not in live

    def set(self, **values) -> None:
        if "optimizer" in values:
            values = {"optimizer": values.pop("optimizer"), **values}
        super().set(**values)

    def _on_change(self, change) -> None:
        if self._reverting:
            return
        owner = change["owner"]
        if owner is not self.controls["optimizer"] and owner.disabled:
            self._reverting = True
            try:
                owner.value = change["old"]
            finally:
                self._reverting = False
            self.ignored += 1
            self._show(
                f"{owner.description} does nothing for {self.controls['optimizer'].value}: its "
                "slider is off, and nothing was retrained."
            )
            return
        super()._on_change(change)


def optimizer_panel(P: Params) -> widgets.ControlPanel:
    """Panel (f), Fig. 5: every optimizer of ``P.opt_etas`` at its own learning rates (the
    grid, redrawn only when its runs change); the ``optimizer`` picker and ``eta`` (every
    learning rate of the grid) choose the run shown below it, drawn bold there. A beta slider
    the chosen optimizer does not use (:func:`~.experiments.live_betas`: beta1 and beta2 for
    RMSprop and Adagrad, beta2 for Adafactor) is disabled and its moves change nothing."""
    base = experiments.optimizer_base(P)
    etas = dict(P.opt_etas)

    def compute(setting, progress=None):
        label = setting["optimizer"]
        chosen = (label, runs.snap(setting["eta"], etas[label]))
        return experiments.optimizer_runs(
            bank.with_betas(base, setting), P.opt_etas, selected=chosen, progress=progress
        )

    domain = P.opt_eta_range
    grid = functools.partial(
        views.optimizer_grid_chart, eta_domain=domain, rates=etas, emphasise=False
    )
    charts = [
        _RedrawnOnChange(grid, lambda r: tuple(views.optimizer_grid_runs(r, etas)["run"])),
        functools.partial(views.optimizer_ratio_chart, eta_domain=domain),
        widgets.TableView(views.optimizer_table),
    ]
    labels = list(etas)
    live = {label: experiments.live_betas(base, label) for label in labels}
    return _panel(
        P,
        "f",
        compute,
        charts,
        optimizers=labels,
        optimizer=labels[0],
        panel_class=functools.partial(_OptimizerControls, live=live.__getitem__),
    )


def corner_panel(P: Params) -> widgets.ControlPanel:
    """Panel (g), Figs. 15 and 16: Adam at ``eta`` and the same run with P frozen from step
    ``P.corner_freeze`` on."""
    base = experiments.corner_base(P)

    def compute(setting, progress=None):
        return experiments.corner_case(
            bank.with_betas(base, setting),
            setting["eta"],
            freeze_at=P.corner_freeze,
            progress=progress,
        )

    charts = [functools.partial(views.corner_chart, y=y) for y in views.CORNER_QUANTITIES]
    return _panel(P, "g", compute, [*charts, widgets.TableView(views.corner_table)])


def cnn_panel(P: Params) -> widgets.ControlPanel:
    """Panel (h), Fig. 4: Adam on the CNN at each eta of ``P.cnn_etas``; an eta off them adds
    a run."""
    base = experiments.cnn_base(P)

    def compute(setting, progress=None):
        return experiments.cnn_runs(
            bank.with_betas(base, setting), P.cnn_etas, selected=setting["eta"], progress=progress
        )

    domain = P.cnn_eta_range
    charts = [
        functools.partial(views.cnn_chart, y="precond_sharpness", eta_domain=domain),
        functools.partial(views.cnn_chart, y="loss", eta_domain=domain),
        widgets.TableView(views.cnn_table),
    ]
    return _panel(P, "h", compute, charts)
