"""The widgets of notebook 04: one panel per section, each around one experiment of
:mod:`aeos_lab.lessons.nb04_minibatch_warmup.experiments`.

Every panel trains networks, so it has a Run button: a setting whose runs are all in the run
cache is drawn as soon as a slider selects it; a new one waits for Run and the status line
reports progress run by run.
"""

from __future__ import annotations

from aeos_lab.engine import runs
from aeos_lab.lessons.nb04_minibatch_warmup import experiments, views
from aeos_lab.lessons.nb04_minibatch_warmup.params import Params
from aeos_lab.viz import widgets

__all__ = ["batch_panel", "breakdown_panel", "warmup_panel"]


def _betas(values: dict) -> tuple[float, float]:
    """The sliders' beta1 and beta2 as config values (rounded, see ``runs.slider_beta``)."""
    return runs.slider_beta(values["beta1"]), runs.slider_beta(values["beta2"])


def _panel(P: Params, compute, charts, configs, eta: float, eta_range, **controls):
    """A training panel over ``compute``; ``configs(values)`` are the runs a setting needs."""
    return widgets.training_panel(
        compute,
        charts,
        lambda values: runs.trained(configs(values)),
        eta=(eta, *eta_range),
        beta1=P.beta1,
        beta2=P.beta2,
        beta2_range=P.beta2_range,
        **controls,
    )


def batch_panel(P: Params) -> widgets.ControlPanel:
    """Panel (a): Adam at each batch size of ``P.batch_sizes`` and learning rate of
    ``P.batch_etas`` (:func:`experiments.batch_sweep`) at the sliders' beta1 and beta2. The eta
    slider picks the learning rate the time series shows (a new one adds a run per batch
    size); ``last_result`` is a :class:`experiments.BatchSweep`."""
    base = experiments.run_base(P)
    etas = tuple(sorted(float(e) for e in P.batch_etas))

    def grid(values: dict) -> experiments.BatchGrid:
        eta = runs.snap(values["eta"], etas)
        return experiments.BatchGrid(
            P.batch_sizes, etas, eta, *_betas(values), P.batch_steps, P.track_every
        )

    def compute(values, progress=None):
        return experiments.batch_sweep(base, grid(values), progress=progress)

    return _panel(
        P,
        compute,
        [
            views.batch_sharpness_chart,
            views.batch_settle_chart,
            widgets.TableView(views.batch_table),
        ],
        lambda values: experiments.batch_configs(base, grid(values)),
        etas[0],
        P.batch_eta_range,
    )


def _warmup(values: dict, after: int, track_every: int) -> experiments.Warmup:
    """The warmup run the sliders (eta, warmup, beta1, beta2) select."""
    return experiments.Warmup(
        values["eta"], int(values["warmup"]), after, *_betas(values), track_every
    )


def warmup_panel(P: Params) -> widgets.ControlPanel:
    """Panel (b): full-batch Adam warmed up linearly to the peak ``eta`` over ``warmup`` steps
    (sliders; each new length compiles once), then ``P.after_warmup`` steps at the peak
    (:func:`experiments.warmup_run`); ``last_result`` is a :class:`experiments.WarmupRun`."""
    base = experiments.run_base(P)

    def setting(values: dict) -> experiments.Warmup:
        return _warmup(values, P.after_warmup, P.track_every)

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
        extra={"warmup": (int(P.warmup), *(int(v) for v in P.warmup_range))},
    )


def breakdown_panel(P: Params) -> widgets.ControlPanel:
    """Panel (c): Adam at the peak ``eta`` without warmup and with a warmup of ``warmup``
    steps (slider), both for ``warmup + P.break_after`` steps (:func:`experiments.breakdown`);
    ``last_result`` is a :class:`experiments.Breakdown`."""
    base = experiments.run_base(P)

    def setting(values: dict) -> experiments.Warmup:
        return _warmup(values, P.break_after, P.break_track_every)

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
        extra={"warmup": (int(P.break_warmup), *(int(v) for v in P.warmup_range))},
    )
