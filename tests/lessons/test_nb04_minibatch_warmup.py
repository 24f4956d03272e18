"""Lesson nb04_minibatch_warmup: parameters, the batch-size sweep, the warmup run, the
breakdown runs, their views, the panels and Figs. 6 and 7.

Pure helpers are checked on hand-made records against values worked out by hand; whatever
trains runs on a tiny network (64 examples, width 16, depth 2) so that every compilation and run
takes a second or two.
"""

import dataclasses
import math
from pathlib import Path

import altair as alt
import nbformat
import numpy as np
import pandas as pd
import pytest
from chart_data import dataset_with

from aeos_lab import figures as registry
from aeos_lab.engine import runs
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.tasks import PAPER_TASK, Scale
from aeos_lab.lessons.exercises import WrongAnswer
from aeos_lab.lessons.nb04_minibatch_warmup import (
    exercises,
    experiments,
    figures,
    panels,
    params,
    views,
)

FIGURES = registry.of_notebook(params.VARIANTS.notebook)

pytestmark = pytest.mark.usefixtures("isolated_run_cache")

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "04_minibatch_and_warmup.ipynb"

TASK = RunConfig(n_train=64, n_test=32, width=16, depth=2)
# the notebook's parameters shrunk onto the tiny task
SMALL = params.FAST.replace(
    scale=Scale(TASK, False, "tiny test task"),
    track_every=10,
    batch_sizes=(16, None),
    batch_etas=(3e-3, 1e-3),
    batch_steps=20,
    warmup=20,
    after_warmup=10,
    warmup_peak=3e-3,
    break_eta=3e-3,
    break_warmup=20,
    break_after=10,
    break_track_every=10,
)
BASE = TASK.replace(eig_tol=1e-2)


def records(**columns):
    return pd.DataFrame(columns)


def _datasets(result):
    return views.warmup_sharpness_chart(result).to_dict()["datasets"].values()


# ---------------------------------------------------------------------------------------------
# parameters


def test_variants_hold_the_notebooks_sizes():
    full, fast = params.FULL, params.FAST
    assert (full.track_every, full.batch_steps) == (100, 600)
    assert (full.warmup, full.after_warmup) == (1000, 300)
    assert (full.break_warmup, full.break_after, full.break_track_every) == (200, 200, 25)
    assert (fast.track_every, fast.batch_steps) == (50, 300)
    assert (fast.warmup, fast.after_warmup) == (300, 100)
    assert (fast.break_warmup, fast.break_after, fast.break_track_every) == (300, 50, 50)
    changed = {k for k, v in fast.values().items() if v != full.values()[k]}
    assert changed == {
        "track_every",
        "batch_steps",
        "warmup",
        "after_warmup",
        "break_warmup",
        "break_after",
        "break_track_every",
    }
    assert full.batch_sizes == (64, 256, None) and full.batch_etas == (3e-4, 1e-3)
    assert (full.warmup_peak, full.break_eta, full.break_high_eta) == (1e-3, 1e-2, 1e-1)
    assert (full.reach, full.band, full.stall, full.eig_tol) == (0.95, (0.8, 1.2), 0.25, 1e-2)
    assert params.PAPER is None and params.VARIANTS.cpu_task == "default"


@pytest.mark.parametrize("variant", ["full", "fast"])
def test_every_field_is_documented_and_each_slider_holds_its_start(variant):
    P = getattr(params, variant.upper())
    assert all(doc for _, _, doc in P.rows())
    assert all(P.batch_eta_range[0] <= eta <= P.batch_eta_range[1] for eta in P.batch_etas)
    assert P.warmup_eta_range[0] <= P.warmup_peak <= P.warmup_eta_range[1]
    assert P.break_eta_range[0] <= P.break_eta < P.break_high_eta <= P.break_eta_range[1]
    low, high, step = P.warmup_range
    assert all(low <= w <= high and w % step == 0 for w in (P.warmup, P.break_warmup))
    assert P.beta2_range[0] <= P.beta2 <= P.beta2_range[1]


def test_select_picks_the_variant_and_the_task():
    fast = params.select(fast=True, platform=None)
    assert fast.variant == "fast" and fast.batch_steps == 300
    assert fast.base == RunConfig()
    full = params.select(fast=False, platform=None)
    assert full.variant == "full" and full.batch_steps == 600
    no_gpu = params.select(True, fast=False, platform=None)
    assert not no_gpu.scale.paper and no_gpu.base == RunConfig() and "no GPU" in no_gpu.scale.note
    paper = params.select(True, fast=False, platform="gpu")  # no paper sizes: the full ones
    assert paper.scale.paper and paper.base == RunConfig(**PAPER_TASK)
    assert paper.variant == "full" and paper.batch_steps == 600
    assert experiments.run_base(fast) == RunConfig(eig_tol=1e-2)


def test_the_notebook_takes_its_parameters_from_the_lesson():
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    (cell,) = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert "params.select(PAPER_SCALE)" in cell.source
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    assert "from aeos_lab.lessons.nb04_minibatch_warmup import panels, params" in code
    assert "practice" not in code and "globals()" not in code
    assert all(not c.get("outputs") for c in cells if c.cell_type == "code")


# ---------------------------------------------------------------------------------------------
# configs and pure helpers


def test_configs_are_adam_without_loss_threshold():
    grid = experiments.BatchGrid((16, None), (3e-3, 1e-3), 2e-3, 0.9, 0.99, 20, 10)
    configs = experiments.batch_configs(BASE, grid)
    # batch sizes outer, etas (with the shown one added) in increasing order
    assert [(c.batch_size, c.eta) for c in configs] == [
        (16, 1e-3),
        (16, 2e-3),
        (16, 3e-3),
        (None, 1e-3),
        (None, 2e-3),
        (None, 3e-3),
    ]
    assert all(c.optimizer == "adam" and c.loss_threshold is None for c in configs)
    assert all(
        (c.beta2, c.steps, c.warmup_steps, c.eig_tol) == (0.99, 20, 0, 1e-2) for c in configs
    )
    unchosen = experiments.BatchGrid((None,), (3e-3, 1e-3), None, 0.9, 0.99, 20, 10)
    assert unchosen.shown == 1e-3 and unchosen.grid == [1e-3, 3e-3]  # the smallest is shown
    setting = experiments.Warmup(3e-3, 20, 10, 0.9, 0.999, 5)
    warm = experiments.warmup_config(BASE, setting)
    assert (warm.warmup_steps, warm.steps, warm.batch_size, warm.track_every) == (20, 30, None, 5)
    assert (warm.eta, warm.beta2, warm.loss_threshold) == (3e-3, 0.999, None)
    with pytest.raises(ValueError, match="after"):
        experiments.Warmup(3e-3, 20, 0, 0.9, 0.999, 5)
    pair = experiments.breakdown_configs(BASE, setting)
    assert [(c.warmup_steps, c.steps) for c in pair] == [(0, 30), (20, 30)]
    assert pair[1] == warm  # one config builder for (b) and (c)
    no_warmup = experiments.Warmup(3e-3, 0, 10, 0.9, 0.999, 5)
    assert len(experiments.breakdown_configs(BASE, no_warmup)) == 1


def test_warmup_tracking_reports_the_band_after_reaching_the_threshold():
    recs = records(
        step=[0, 50, 100, 150, 200, 250, 300],
        ratio=[50.0, 0.3, 0.96, 1.15, 0.85, 1.3, 1.0],
        loss=[1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.01],
    )
    criteria = dict(reach=0.95, band=(0.8, 1.2))
    tracked = experiments.warmup_tracking(recs, 200, **criteria)
    assert isinstance(tracked, experiments.WarmupTracking)
    assert tracked.reached_step == 100
    assert (tracked.band_min, tracked.band_max) == (0.85, 1.15)
    assert tracked.within and tracked.tracked_points == 3
    assert tracked.after_ratio == pytest.approx(1.15)  # median of 1.3 and 1.0
    assert tracked.final_loss == 0.01
    # a spike inside the warmup breaks the band; never reaching gives no band
    assert not experiments.warmup_tracking(recs, 250, **criteria).within
    never = experiments.warmup_tracking(recs.assign(ratio=0.5), 200, **criteria)
    assert never.reached_step is None and never.band_min is None and not never.within
    # a stricter reach meets the threshold later
    assert experiments.warmup_tracking(recs, 200, reach=1.1, band=(0.8, 1.2)).reached_step == 150


def test_threshold_path_is_38_over_the_current_eta():
    config = TASK.replace(eta=1e-3, warmup_steps=100, steps=300)
    path = experiments.threshold_path(config, points=31)
    # step s reports the update made with eta_{s-1} = eta * min(1, s / warmup)
    expected = 38.0 / (1e-3 * np.minimum(1.0, path["step"].to_numpy() / 100))
    np.testing.assert_allclose(path["threshold"], expected, rtol=1e-12)
    assert 100 in path["step"].tolist() and path["step"].min() == 1


def test_outcome_tells_diverged_stalled_and_trained_apart():
    falling = records(loss=[1.0, 0.5, 0.1])
    stuck = records(loss=[0.9, 2.0, 0.43])
    assert experiments.outcome(falling, diverged=False, stall=0.25) == "trained"
    assert experiments.outcome(stuck, diverged=False, stall=0.25) == "stalled"
    assert experiments.outcome(stuck, diverged=False, stall=0.5) == "trained"
    assert experiments.outcome(falling, diverged=True, stall=0.25) == "diverged"


# ---------------------------------------------------------------------------------------------
# experiments and views


def test_batch_sweep_summarises_each_run_and_draws():
    result = figures.fig6(SMALL)
    assert isinstance(result, experiments.BatchSweep)
    assert result.eta == 1e-3 and result.formula == "38/η"  # the smallest eta is shown first
    assert result.summary["examples"].tolist() == [16, 64, 16, 64]  # by eta, then batch
    assert result.summary["batch"].tolist() == ["batch 16", "full batch (64)"] * 2
    assert set(result.table["batch"]) == {"batch 16", "full batch (64)"}
    assert result.table["step"].min() == 10  # step 0 (P = eps) left off
    np.testing.assert_allclose(result.thresholds["threshold"], [38 / 1e-3, 38 / 3e-3])
    # the late median is over the second half of each run's records: steps 10 and 20
    grid = experiments.BatchGrid((16,), (1e-3,), None, 0.9, 0.999, 20, 10)
    (config,) = experiments.batch_configs(BASE, grid)
    (run,) = runs.run_configs([config])
    recs = run.records
    row = result.summary.iloc[0]
    late = recs.loc[recs["step"] >= 10, "precond_sharpness"]
    assert row["late_precond_sharpness"] == pytest.approx(float(np.median(late)))

    sharp = views.batch_sharpness_chart(result)
    assert set(dataset_with(sharp, "precond_sharpness")["batch"]) == {
        "batch 16",
        "full batch (64)",
    }
    assert dataset_with(sharp, "label")["label"].tolist() == ["38/η (full batch) = 3.8e4"]
    rules = dataset_with(views.batch_settle_chart(result), "label")
    assert rules["label"].tolist() == ["38/η = 3.8e4", "38/η = 1.3e4"]
    frame, caption = views.batch_table(result)
    assert frame["batch"].tolist() == ["batch 16", "full batch (64)"]
    assert frame["threshold"].tolist() == ["3.8e4", "3.8e4"] and "last half" in caption
    assert isinstance(views.fig6(result, SMALL), alt.HConcatChart)


def test_warmup_run_follows_the_schedule_and_draws():
    result = figures.fig7(SMALL)
    assert isinstance(result, experiments.WarmupRun)
    assert (result.warmup_steps, result.steps, result.eta) == (20, 30, 3e-3)
    assert result.records["step"].tolist() == [10, 20, 30]
    np.testing.assert_allclose(
        result.records["lr"], [3e-3 * min(1.0, s / 20) for s in (10, 20, 30)], rtol=1e-6
    )
    np.testing.assert_allclose(
        result.records["ratio"],
        result.records["precond_sharpness"] * result.records["lr"] / 38,
        rtol=1e-6,
    )
    assert isinstance(result.tracking, experiments.WarmupTracking)
    assert result.band == (0.8, 1.2) and result.reach == 0.95
    assert result.path["threshold"].iloc[-1] == pytest.approx(38 / 3e-3)

    chart = views.warmup_sharpness_chart(result)
    assert "38/ηₜ" in chart.to_dict()["title"]
    assert dataset_with(chart, "setting")["setting"].tolist() == [
        "warmup to η = 3e-3 over 20 steps"
    ]
    assert dataset_with(chart, "text")["step"].tolist() == [20]  # warmup ends
    no_warmup = dataclasses.replace(result, warmup_steps=0)
    assert len(views.warmup_sharpness_chart(no_warmup).to_dict()["layer"]) == 5  # same layout
    assert all("text" not in rows[0] for rows in _datasets(no_warmup) if rows)
    ratio = views.warmup_ratio_chart(result)
    band = dataset_with(ratio, "high")
    assert (band["low"].iloc[0], band["high"].iloc[0]) == (0.8, 1.2)
    frame, caption = views.warmup_table(result)
    assert frame["status"].tolist() == [result.status] and "≥ 0.95" in caption
    assert isinstance(views.fig7(result, SMALL), alt.VConcatChart)


def test_breakdown_compares_no_warmup_with_warmup():
    setting = experiments.Warmup(3e-3, 20, 10, 0.9, 0.999, 10)
    result = experiments.breakdown(BASE, setting, stall=0.25)
    assert isinstance(result, experiments.Breakdown)
    summary = result.summary
    assert summary["warmup"].tolist() == ["no warmup", "warmup 20"]
    assert summary["warmup_steps"].tolist() == [0, 20] and result.steps == 30
    assert set(summary["outcome"]) <= {"trained", "stalled", "diverged"}
    for label, row in summary.set_index("warmup").iterrows():
        recs = result.table[result.table["warmup"] == label].sort_values("step")
        assert recs["step"].tolist() == [0, 10, 20, 30]
        assert row["initial_loss"] == recs["loss"].iloc[0]
        assert row["max_loss"] == recs["loss"].iloc[1:].max()
        assert row["final_loss"] == recs["loss"].iloc[-1]
    for quantity in ("loss", "ratio"):
        chart = views.breakdown_chart(result, quantity)
        assert set(dataset_with(chart, quantity)["warmup"]) == {"no warmup", "warmup 20"}
    assert dataset_with(views.breakdown_chart(result, "ratio"), "ratio")["step"].min() == 10
    table = views.breakdown_table(result)
    assert table["run"].tolist() == ["no warmup", "warmup 20"]


# ---------------------------------------------------------------------------------------------
# panels


def test_batch_panel_runs_on_demand_and_shows_cached_settings_at_once():
    panel = panels.batch_panel(SMALL)
    assert list(panel.controls) == ["eta", "beta1", "beta2", "batch"]
    assert panel.controls["batch"].options == (
        ("16", "batch 16"),
        ("full batch", "full batch (64)"),
    )
    assert panel.values["batch"] == "batch 16"
    assert panel.controls["eta"].value == pytest.approx(1e-3)
    assert panel.controls["beta2"].step == 0.0005 and panel.controls["beta2"].max == 0.9995
    assert panel.stale and panel.last_result is None  # nothing trained before Run
    panel.run()
    assert panel.last_error is None and isinstance(panel.last_result, experiments.BatchSweep)
    table = panel.charts[2]
    assert table.frame["threshold"].tolist() == ["3.8e4", "3.8e4"]
    panel.set(eta=3e-3)  # in the sweep: shown without pressing Run, the charts redrawn
    assert not panel.stale and panel.last_result.eta == 3e-3
    assert table.frame["threshold"].tolist() == ["1.27e4", "1.27e4"]  # 38 / 3e-3
    assert table.frame["batch"].tolist() == ["▶ batch 16", "full batch (64)"]
    panel.set(batch="full batch (64)")  # every batch size is in the runs: redrawn at once
    assert not panel.stale and panel.last_result.shown_batch == "full batch (64)"
    assert table.frame["batch"].tolist() == ["batch 16", "▶ full batch (64)"]
    chart = views.batch_sharpness_chart(panel.last_result).to_dict()
    bold = {r["batch"] for rows in chart["datasets"].values() for r in rows if r.get("selected")}
    assert bold == {"full batch (64)"}
    panel.set(eta=2e-3)  # new: waits for Run
    assert panel.stale and panel.last_result.eta == 3e-3
    result = panel.set_and_run(eta=2e-3)
    assert result.eta == 2e-3 and len(result.summary) == 6


def test_warmup_and_breakdown_panels():
    warm = panels.warmup_panel(SMALL)
    assert list(warm.controls) == ["eta", "beta1", "beta2", "warmup"]
    assert (warm.controls["warmup"].value, warm.controls["warmup"].max) == (20, 2000)
    result = warm.set_and_run(eta=3e-3)
    assert warm.last_error is None
    assert (result.warmup_steps, result.steps) == (20, 30) and result.tracking is not None
    assert warm.set_and_run(warmup=0).tracking is None  # no warmup: nothing to track
    assert warm.charts[2].frame.columns.tolist() == ["status"]

    broken = panels.breakdown_panel(SMALL)
    result = broken.set_and_run(eta=3e-3)
    assert broken.last_error is None and isinstance(result, experiments.Breakdown)
    assert result.summary["warmup"].tolist() == ["no warmup", "warmup 20"]
    assert broken.charts[2].frame["run"].tolist() == ["no warmup", "warmup 20"]
    assert len(broken.set_and_run(warmup=0).summary) == 1  # no warmup twice is one run


# ---------------------------------------------------------------------------------------------
# the bank: on-grid settings, their runs, sliders that land on them

FULL_P = params.select(fast=False, platform=None)


def _slider_position(panel, eta: float, steps: int = 0) -> float:
    """The position of the panel's eta slider (a value dragging it gives) nearest ``eta``,
    moved by ``steps`` slider steps."""
    slider = panel.sliders["eta"]
    k = round((math.log10(eta) - slider.min) / slider.step) + steps
    return 10 ** (slider.min + k * slider.step)


def test_the_full_bank_follows_the_papers_sweep_axes():
    bank = experiments.bank_runs(FULL_P)
    assert len(bank) == len({c.key() for c in bank}) == 41
    # params.FULL itself carries no task (what `aeos-lab bank build` passes): the CPU task
    assert [c.key() for c in experiments.bank_runs(params.FULL)] == [c.key() for c in bank]
    task = RunConfig().task()  # the default task: the digits, FC tanh network of width 200
    assert all(c.task() == task and (c.optimizer, c.eig_tol) == ("adam", 1e-2) for c in bank)
    assert all(c.beta1 == 0.9 and c.loss_threshold is None for c in bank)
    # (a) Fig. 6: every batch size x every grid eta at beta2 0.999, the sweep's etas at 0.99
    a = {(c.batch_size, c.eta, c.beta2) for c in bank if c.track_every == 100 and c.steps == 600}
    sizes = (64, 256, None)
    assert a == {(b, e, 0.999) for b in sizes for e in (1e-4, 3e-4, 1e-3, 3e-3)} | {
        (b, e, 0.99) for b in sizes for e in (3e-4, 1e-3)
    }
    # (b) Fig. 7: warmup lengths at the peak 1e-3, two more peaks at 1000 steps; 300 after
    b = [c for c in bank if c.track_every == 100 and c.steps != 600]
    assert {(c.warmup_steps, c.eta) for c in b} == {
        *((w, 1e-3) for w in (0, 200, 500, 1000, 2000)),
        (1000, 3e-4),
        (1000, 3e-3),
    }
    assert all(c.steps == c.warmup_steps + 300 and c.batch_size is None for c in b)
    # (c) five peaks at warmup 200 (with and without it); warmups 0 and 1000 at 1e-2 and 1e-1,
    # each pair for warmup + 200 steps
    c = {(c.steps, c.warmup_steps, c.eta) for c in bank if c.track_every == 25}
    peaks = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
    assert c == {(400, w, e) for w in (0, 200) for e in peaks} | {
        (steps, w, e) for e in (1e-2, 1e-1) for steps, w in ((200, 0), (1200, 0), (1200, 1000))
    }
    assert len(a) + len(b) + len(c) == len(bank)
    # what the notebook opens with and its self-checks ask for is in the bank
    keys = {c.key() for c in bank}
    base = experiments.run_base(FULL_P)
    opening = experiments.batch_configs(base, experiments.batch_grid(FULL_P, None, 0.9, 0.999))
    opening.append(
        experiments.warmup_config(base, experiments.Warmup(1e-3, 1000, 300, 0.9, 0.999, 100))
    )
    for peak in (1e-2, 1e-1):
        opening += experiments.breakdown_configs(
            base, experiments.Warmup(peak, 200, 200, 0.9, 0.999, 25)
        )
    assert {c.key() for c in opening} <= keys


def test_eta_value_snaps_within_half_a_step_and_rounds_the_rest():
    step = 1 / 21  # one step: a factor 10^(1/21) = 1.116
    grid = [3e-4, 1e-3]
    assert panels.eta_value(10 ** (-74 / 21), grid, step) == 3e-4  # 2.994e-4: a position
    assert panels.eta_value(3.1e-4, grid, step) == 3e-4
    assert panels.eta_value(10 ** (-73 / 21), grid, step) == 3.3e-4  # 3.34e-4: the next one
    assert panels.eta_value(1e-3 * 10 ** (1 / 21), grid, step) == 1.1e-3  # one step up: its own
    assert panels.eta_value(2.0004e-3, grid, step) == 2e-3  # rounded to the readout's 2 digits
    assert panels.eta_value(1e-3, [], step) == 1e-3


def test_sliders_start_where_they_did_and_every_grid_value_is_a_position():
    a, b, c = (
        panels.batch_panel(FULL_P),
        panels.warmup_panel(FULL_P),
        panels.breakdown_panel(FULL_P),
    )
    assert (a.values["eta"], a.values["beta1"], a.values["beta2"]) == (3e-4, 0.9, 0.999)
    assert (b.values["eta"], b.values["warmup"]) == (1e-3, 1000)
    assert (c.values["eta"], c.values["warmup"]) == (1e-2, 200)
    assert all(p.stale and p.last_result is None for p in (a, b, c))  # nothing computed yet
    grids = {
        a: [1e-4, 3e-4, 1e-3, 3e-3],
        b: [3e-4, 1e-3, 3e-3],
        c: [1e-3, 3e-3, 1e-2, 3e-2, 1e-1],
    }
    for panel, etas in grids.items():
        slider = panel.sliders["eta"]
        low, high = 10**slider.min, 10**slider.max
        assert low <= min(etas) and high >= max(etas)
        for eta in etas:
            position = _slider_position(panel, eta)
            assert position == pytest.approx(eta, rel=3e-3) and low <= position <= high
            assert panels.eta_value(position, etas, slider.step) == eta
            off = _slider_position(panel, eta, 1)  # the next position is not on the grid
            assert panels.eta_value(off, etas, slider.step) == float(f"{off:.1e}") != eta
        assert f"{slider.value:{slider.readout_format}}" == f"{slider.value:.1e}"
    for panel, warmups in ((b, (0, 200, 500, 1000, 2000)), (c, (0, 200, 1000))):
        slider = panel.sliders["warmup"]
        assert all(slider.min <= w <= slider.max and w % slider.step == 0 for w in warmups)
    beta2 = a.sliders["beta2"]
    for value in (0.99, 0.999):
        steps = (value - beta2.min) / beta2.step
        assert steps == pytest.approx(round(steps), abs=1e-6)


# the bank of a tiny lesson: (a) its two sweep etas at beta2 0.999 and 0.99; (b) warmups 0
# and 20 at the peak 3e-3 and the peak 1e-3 at 20; (c) peaks 3e-3 and 1e-2 at warmup 20, and
# warmup 0 at both (30 steps after the warmup: no run of (c) is also one of (a) or (b))
BANK_P = SMALL.replace(
    break_after=30,
    batch_eta_grid=(),
    batch_beta2_grid=(0.99,),
    warmup_grid=(0,),
    warmup_peak_grid=(1e-3,),
    break_eta_grid=(),
    break_high_eta=1e-2,
    break_warmup_grid=(0,),
)


def test_bank_runs_are_exactly_what_the_panels_draw_on_the_grid():
    bank = experiments.bank_runs(BANK_P)
    keys = {c.key() for c in bank}
    assert len(bank) == len(keys) == 8 + 3 + 6
    runs.run_configs(bank)  # in the run cache, as the bank would hold them
    grid = experiments.bank_grid(BANK_P)
    assert (len(grid.batch), len(grid.warmup), len(grid.breakdown)) == (4, 3, 4)
    drawn, warmups = set(), set()
    moves = {
        panels.batch_panel: [{"eta": e, "beta2": b} for b in (0.999, 0.99) for e in (1e-3, 3e-3)],
        panels.warmup_panel: [
            {"eta": 3e-3, "warmup": 0},
            {"eta": 1e-3, "warmup": 20},
            {"eta": 3e-3, "warmup": 20},
        ],
        panels.breakdown_panel: [{"eta": e, "warmup": w} for e in (1e-2, 3e-3) for w in (0, 20)],
    }
    for build, settings in moves.items():
        panel = build(BANK_P)
        panel.set(eta=_slider_position(panel, 3e-3, 2))  # off the grid: waits for Run
        assert panel.stale and "press <b>Run</b>" in panel.status.value
        for setting in settings:  # dragged to the slider positions nearest the setting
            panel.set(**{**setting, "eta": _slider_position(panel, setting["eta"])})
            assert not panel.stale and panel.last_error is None, setting
            assert panel.status.value.endswith("Runs: computed now.")
            result = panel.last_result
            assert result.eta == setting["eta"]
            if isinstance(result, experiments.WarmupRun):
                assert result.warmup_steps == setting["warmup"]
                warmups.add((result.eta, result.warmup_steps))
            else:
                drawn |= set(result.table["run"])
    assert drawn <= keys and len(drawn) + len(warmups) == len(keys)


# ---------------------------------------------------------------------------------------------
# figures


def test_figures_compute_draw_and_export_their_data():
    assert [f.id for f in FIGURES] == ["fig6", "fig7"]
    assert all(f.notebook == "04_minibatch_and_warmup" and f.trains for f in FIGURES)
    assert all(f.variants is params.VARIANTS for f in FIGURES)
    fig6, fig7 = FIGURES
    assert fig6.params(fast=True).values() == params.FAST.values()
    result = fig6.compute(SMALL, None)
    data = fig6.data(result)
    assert {"step", "eta", "batch", "precond_sharpness", "ratio"} <= set(data.columns)
    assert len(data) == 4 * 2  # 4 runs, measured at steps 10 and 20
    assert isinstance(fig6.draw(result, SMALL), alt.HConcatChart)
    result = fig7.compute(SMALL, None)
    data = fig7.data(result)
    assert data["step"].tolist() == [10, 20, 30]
    assert set(data["eta"]) == {3e-3} and set(data["warmup_steps"]) == {20}
    assert isinstance(fig7.draw(result, SMALL), alt.VConcatChart)


# ---------------------------------------------------------------------------------------------
# exercises


def test_batch_labels_and_an_unknown_shown_batch():
    assert experiments.batch_labels(BASE, (16, None)) == {
        "16": "batch 16",
        "full batch": "full batch (64)",
    }
    grid = experiments.batch_grid(SMALL, None, 0.9, 0.999)
    with pytest.raises(ValueError, match="show_batch"):
        experiments.batch_sweep(BASE, grid, show_batch="batch 7")


def test_adam_step_factors_and_library_updates():
    assert exercises.adam_step_factors(1) == pytest.approx(0.1 / math.sqrt(1e-3))
    factors = exercises.adam_step_factors(np.arange(1, 200))
    assert int(np.argmax(factors)) + 1 == 12 and factors.max() == pytest.approx(6.5685, rel=1e-4)
    ups = exercises.library_adam_updates(
        np.array([2.0, -0.5]), (1, 12), 1e-2, 0.9, 0.999, 1e-7, False
    )
    assert ups[1] == pytest.approx([-0.0316228, 0.0316228], rel=1e-4)
    assert ups[12] == pytest.approx([-0.065685, 0.065685], rel=1e-4)
    corrected = exercises.library_adam_updates(
        np.array([2.0]), (1, 5), 1e-2, 0.9, 0.999, 1e-7, True
    )
    assert corrected[1] == pytest.approx([-0.01], rel=1e-5) and corrected[5] == pytest.approx(
        [-0.01], rel=1e-5
    )


def test_exercise_checks_accept_right_and_reject_wrong_answers(capsys):
    def threshold(t, eta, warmup, beta1):
        eta_t = eta * min(1.0, (t + 1) / warmup) if warmup else eta
        return (2 + 2 * beta1) / ((1 - beta1) * eta_t)

    assert exercises.check_warmup_threshold(threshold) is True
    with pytest.raises(WrongAnswer, match="Exercise 1: wrong"):
        exercises.check_warmup_threshold(lambda t, eta, warmup, beta1: threshold(t, eta, 0, beta1))

    def meeting(records, warmup, beta1, reach):
        limit = reach * (2 + 2 * beta1) / ((1 - beta1) * records["lr"])
        hits = records[(records["step"] <= warmup) & (records["precond_sharpness"] >= limit)]
        return int(hits["step"].iloc[0]) if len(hits) else None

    small = SMALL.replace(reach=0.0)  # reached at the first measurement on the tiny task
    assert exercises.check_meeting_step(meeting, small) is True
    with pytest.raises(WrongAnswer, match="Exercise 2: wrong"):
        exercises.check_meeting_step(lambda *args: 0, small)
    assert "right" in capsys.readouterr().out
