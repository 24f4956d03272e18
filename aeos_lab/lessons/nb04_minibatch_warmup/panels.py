"""The widgets of notebook 04: one panel per section, each around one experiment of
:mod:`aeos_lab.lessons.nb04_minibatch_warmup.experiments`.

Every panel trains networks, so it has a Run button: a setting whose runs are all available (in
the bank of precomputed runs or the run cache, :func:`aeos_lab.engine.runs.trained`) is drawn
as soon as a slider selects it; a new one waits for Run, with progress run by run and an
estimated time in the status line, which also says where the runs shown came from
(:func:`aeos_lab.engine.runs.provenance`).

The sliders land on the settings the bank holds (:func:`.experiments.bank_grid`): the eta
sliders step ``P.eta_step`` = 1/21 decade along 10^(k/21), on which 1, 3 and 10 times a power
of ten lie within 0.2%, and a value within half a step of a grid eta is that eta (any other is
rounded to the two digits the slider shows); the warmup sliders step 100 and the beta sliders
0.01 and 0.0005, so every grid value is a slider position (float noise rounded away).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import ipywidgets

from aeos_lab.engine import runs
from aeos_lab.lessons import panels as shared
from aeos_lab.lessons.nb04_minibatch_warmup import experiments, views
from aeos_lab.lessons.nb04_minibatch_warmup.params import Params
from aeos_lab.viz import widgets

__all__ = ["batch_panel", "breakdown_panel", "eta_value", "warmup_panel"]


def eta_value(value: float, grid: Sequence[float], step: float) -> float:
    """An eta slider's value as a config value: the eta of ``grid`` within half a slider step
    (``step`` decades) of ``value``, else ``value`` rounded to two significant digits (what the
    slider shows), so a slider position near a grid eta selects the precomputed runs."""
    snapped = runs.snap(value, grid, rel=10 ** (step / 2) - 1)
    return snapped if snapped in grid else float(f"{value:.1e}")


def _eta_slider(P: Params, value: float, eta_range: tuple[float, float]):
    """A log slider over ``eta_range`` (widened by less than a step to the lattice) whose
    positions are 10^(k * ``P.eta_step``), read out with two digits, starting at ``value``."""
    low, high = (math.log10(v) / P.eta_step for v in eta_range)
    low, high = math.floor(low + 1e-9) * P.eta_step, math.ceil(high - 1e-9) * P.eta_step
    return widgets.eta_slider(value, 10**low, 10**high, step=P.eta_step, readout_format=".1e")


def _betas(values: dict) -> tuple[float, float]:
    """The sliders' beta1 and beta2 as config values (rounded, see ``runs.slider_beta``)."""
    return runs.slider_beta(values["beta1"]), runs.slider_beta(values["beta2"])


def _panel(
    P: Params,
    compute: Callable,
    charts: Sequence,
    needs: Callable[[dict], list],
    eta: float,
    eta_range: tuple[float, float],
    **controls,
) -> widgets.ControlPanel:
    """A Run-button panel over ``compute`` with the eta slider of :func:`_eta_slider` starting
    at ``eta``, beta1 (0 to 0.99) and beta2 (``P.beta2_range``) sliders and ``controls``;
    ``needs(values)`` are the runs a setting draws: the panel is ready when all are available,
    and its status line says where they came from (or how long Run will take)."""
    return shared.run_panel(
        compute,
        charts,
        needs,
        eta=_eta_slider(P, eta, eta_range),
        beta1=(P.beta1, 0.0, 0.99),
        beta2=widgets.beta_slider("beta2", P.beta2, *P.beta2_range, ".4f"),
        **controls,
    )


def batch_panel(P: Params) -> widgets.ControlPanel:
    """Panel (a): Adam at each batch size of ``P.batch_sizes`` and learning rate of
    ``P.batch_etas`` (:func:`experiments.batch_sweep`) at the sliders' beta1 and beta2. The eta
    slider picks the learning rate the time series shows (a new one adds a run per batch
    size); the ``batch`` buttons pick the batch size the charts and the table single out
    (every batch size is in every setting's runs, so a click redraws at once);
    ``last_result`` is a :class:`experiments.BatchSweep`."""
    base = experiments.run_base(P)
    grid = sorted({g.shown for g in experiments.bank_grid(P).batch})
    choices = experiments.batch_labels(base, P.batch_sizes)

    def setting(values: dict) -> experiments.BatchGrid:
        eta = eta_value(values["eta"], grid, P.eta_step)
        return experiments.batch_grid(P, eta, *_betas(values))

    def compute(values, progress=None):
        return experiments.batch_sweep(
            base, setting(values), show_batch=values["batch"], progress=progress
        )

    return _panel(
        P,
        compute,
        [
            views.batch_sharpness_chart,
            views.batch_settle_chart,
            widgets.TableView(views.batch_table),
        ],
        lambda values: experiments.batch_configs(base, setting(values)),
        min(P.batch_etas),
        P.batch_eta_range,
        extra={"batch": _batch_buttons(choices)},
    )


def _batch_buttons(choices: dict[str, str]) -> ipywidgets.ToggleButtons:
    """Buttons over the batch sizes (short name -> run label), starting at the first."""
    return ipywidgets.ToggleButtons(
        options=list(choices.items()), value=next(iter(choices.values())), description="batch"
    )


def _warmup_slider(start: int, P: Params) -> tuple[int, ...]:
    """A warmup slider (value, min, max, step) starting at ``start``."""
    return (int(start), *(int(v) for v in P.warmup_range))


def _selector(
    P: Params, make: Callable, on_grid: Sequence[experiments.Warmup]
) -> Callable[[dict], experiments.Warmup]:
    """The (b) or (c) setting the sliders select: ``make(P, eta, warmup, beta1, beta2)``, the
    eta snapped onto those of the panel's on-grid settings ``on_grid``."""
    grid = sorted({s.eta for s in on_grid})

    def setting(values: dict) -> experiments.Warmup:
        eta = eta_value(values["eta"], grid, P.eta_step)
        return make(P, eta, values["warmup"], *_betas(values))

    return setting


def warmup_panel(P: Params) -> widgets.ControlPanel:
    """Panel (b): full-batch Adam warmed up linearly to the peak ``eta`` over ``warmup`` steps
    (sliders; each new length compiles once), then ``P.after_warmup`` steps at the peak
    (:func:`experiments.warmup_run`); ``last_result`` is a :class:`experiments.WarmupRun`."""
    base = experiments.run_base(P)
    setting = _selector(P, experiments.warmup_setting, experiments.bank_grid(P).warmup)

    def compute(values, progress=None):
        return experiments.warmup_run(
            base, setting(values), reach=P.reach, band=P.band, progress=progress
        )

    return _panel(
        P,
        compute,
        [
            views.warmup_sharpness_chart,
            views.warmup_ratio_chart,
            widgets.TableView(views.warmup_table),
        ],
        lambda values: [experiments.warmup_config(base, setting(values))],
        P.warmup_peak,
        P.warmup_eta_range,
        extra={"warmup": _warmup_slider(P.warmup, P)},
    )


def breakdown_panel(P: Params) -> widgets.ControlPanel:
    """Panel (c): Adam at the peak ``eta`` without warmup and with a warmup of ``warmup``
    steps (slider), both for ``warmup + P.break_after`` steps (:func:`experiments.breakdown`);
    ``last_result`` is a :class:`experiments.Breakdown`."""
    base = experiments.run_base(P)
    setting = _selector(P, experiments.breakdown_setting, experiments.bank_grid(P).breakdown)

    def compute(values, progress=None):
        return experiments.breakdown(base, setting(values), stall=P.stall, progress=progress)

    return _panel(
        P,
        compute,
        [
            lambda r: views.breakdown_chart(r, "loss"),
            lambda r: views.breakdown_chart(r, "ratio"),
            widgets.TableView(views.breakdown_table),
        ],
        lambda values: experiments.breakdown_configs(base, setting(values)),
        P.break_eta,
        P.break_eta_range,
        extra={"warmup": _warmup_slider(P.break_warmup, P)},
    )
