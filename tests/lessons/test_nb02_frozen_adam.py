"""Lesson nb02_frozen_adam: parameters, the micro panels (GD at 2/eta, Adam against frozen Adam
on the 242-parameter network), Adam's P at a snapshot, the frozen-Adam sweep, Prop. 1 on the
network, the bank's grids, their views, the panels and Fig. 3.

Network runs use a tiny network (16 wide, depth 2, 64 digits) and tiny sizes; the micro runs
use the notebook's own micro settings (3000 steps, well under a second each after compiling),
so the phenomena checked are the ones the notebook shows. Expected values come from the runs'
own records through numpy, from closed forms or from the paper's settings written out here.
"""

import itertools
import json
from pathlib import Path

import jax
import nbformat
import numpy as np
import pandas as pd
import pytest
from chart_data import dataset_with

from aeos_lab import figures as registry
from aeos_lab.engine import analysis, runs, traces, train
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.tasks import LAB_TASK, MICRO_TASK, PAPER_TASK, Scale
from aeos_lab.lessons.nb02_frozen_adam import (
    experiments,
    experiments_micro,
    panels,
    panels_micro,
    params,
    views,
    views_micro,
)

FIGURES = registry.of_notebook(params.VARIANTS.notebook)

pytestmark = pytest.mark.usefixtures("isolated_run_cache")

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02_frozen_adam.ipynb"

TASK = RunConfig(n_train=64, n_test=32, label_noise=1.0, width=16, depth=2)
TINY = TASK.replace(steps=30, track_every=10, eta=1e-3, beta2=0.99, eig_tol=1e-2)
SMALL = params.FAST.replace(
    scale=Scale(TASK, False, "a tiny task for tests"),
    steps=29,  # last third: steps 20, 25, 29
    track_every=5,
    freeze_eta=1e-3,
    freeze_at=10,
    frozen_etas=(1e-3, 2e-3),
    snapshots=(0, 4),
    trace_every=4,
    prop1_steps=8,
    trace_etas=(1e-3, 2e-3),
    trace_beta1s=(0.8, 0.9),
    trace_beta2s=(0.99, 0.999),
    frozen_beta1s=(0.8, 0.9),
    frozen_beta2s=(0.99, 0.999),
)
MICRO = params.FULL  # the micro settings are the notebook's in every variant


def flat(tree) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(a)) for a in jax.tree.leaves(tree)])


# ---------------------------------------------------------------------------------------------
# parameters


def test_variants_hold_the_notebooks_sizes_and_the_papers():
    full, fast, paper = params.FULL, params.FAST, params.PAPER
    assert (full.steps, full.trace_every, full.prop1_steps) == (1500, 10, 20)
    assert full.frozen_etas == (1e-4, 1.4e-4, 2e-4)
    assert (fast.steps, fast.trace_every, fast.prop1_steps) == (1200, 20, 20)
    assert fast.frozen_etas == (1e-4, 2e-4)
    changed = {k for k, v in fast.values().items() if v != full.values()[k]}
    assert changed == {"steps", "trace_every", "frozen_etas"}
    # App. G.2: P from step 1100 of Adam at eta 2e-5, beta2 = 0.999
    assert (paper.freeze_at, paper.freeze_eta, paper.beta2) == (1100, 2e-5, 0.999)
    assert (paper.steps, paper.eig_tol, paper.frozen_etas) == (5000, 1e-3, (1e-5, 2e-5, 4e-5))


@pytest.mark.parametrize("variant", ["full", "fast", "paper", "smoke"])
def test_every_field_is_documented_and_each_slider_holds_its_start(variant):
    P = getattr(params, variant.upper())
    assert all(doc for _, _, doc in P.rows())
    low, high = P.frozen_eta_range
    assert all(low <= eta <= high for eta in P.frozen_etas)
    assert P.prop1_eta_range[0] <= P.frozen_etas[0] <= P.prop1_eta_range[1]
    # grid sliders start on their grids
    assert P.freeze_eta in P.trace_etas
    assert P.beta1 in P.trace_beta1s and P.beta2 in P.trace_beta2s
    assert P.beta1 in P.frozen_beta1s and P.beta2 in P.frozen_beta2s
    # micro sliders start inside their ranges; the self-check's etas lie inside too
    assert P.gd_eta_range[0] <= P.gd_eta <= P.gd_eta_range[1]
    assert all(P.micro_eta_range[0] <= e <= P.micro_eta_range[1] for e in P.micro_check_etas)
    assert P.micro_eta in P.micro_check_etas
    assert P.micro_beta1_range[0] <= P.beta1 <= P.micro_beta1_range[1]
    assert P.micro_beta2_range[0] <= P.micro_beta2 <= P.micro_beta2_range[1]


def test_the_micro_settings_are_the_same_in_the_full_and_fast_variants():
    micro = [n for n in params.FULL.values() if n.startswith(("micro_", "gd_", "late_"))]
    assert {n: params.FAST.values()[n] for n in micro} == {n: MICRO.values()[n] for n in micro}
    assert (MICRO.micro_steps, MICRO.micro_track_every, MICRO.micro_freeze_at) == (3000, 20, 300)


def test_select_picks_the_variant_and_the_task():
    fast = params.select(fast=True, platform=None)
    assert fast.variant == "fast" and fast.steps == 1200
    assert fast.base == RunConfig(**LAB_TASK)
    no_gpu = params.select(True, fast=False, platform=None)
    assert no_gpu.variant == "full" and no_gpu.base == RunConfig(**LAB_TASK)
    paper = params.select(True, fast=True, platform="gpu")
    assert paper.variant == "paper" and paper.freeze_at == 1100
    assert paper.base == RunConfig(**PAPER_TASK)
    base = experiments.run_base(fast)
    assert (base.eta, base.beta1, base.beta2) == (1e-4, 0.9, 0.99)
    assert (base.steps, base.track_every, base.eig_tol) == (1200, 100, 1e-2)


def test_the_notebook_takes_its_parameters_from_the_lesson():
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    (cell,) = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert "params.select(PAPER_SCALE)" in cell.source
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    assert "from aeos_lab.lessons.nb02_frozen_adam import panels, panels_micro, params" in code
    assert "adaptive" not in code and "globals()" not in code


# ---------------------------------------------------------------------------------------------
# (a), (b): the micro network


def late_part(records: pd.DataFrame) -> pd.DataFrame:
    """The records of the last third of a 3000-step run: after step 2000 (in floats,
    3000 * (1 - 1/3) is a hair above 2000, so the engine's late part starts at step 2020)."""
    return records[records["step"] > 2000]


def fitted_change(records: pd.DataFrame, column: str) -> float:
    """A straight line fitted to ``column`` over the last third: its change there / the mean."""
    late = late_part(records)
    slope = np.polyfit(late["step"], late[column], 1)[0]
    return slope * (late["step"].iloc[-1] - late["step"].iloc[0]) / late[column].mean()


def test_the_micro_base_is_the_micro_task_with_the_notebooks_sizes():
    base = experiments_micro.micro_base(MICRO)
    assert base == RunConfig(**MICRO_TASK, steps=3000, track_every=20, eig_tol=1e-3)
    gd = experiments_micro.gd_config(base, 0.2)
    assert (gd.optimizer, gd.eta, gd.steps) == ("gd", 0.2, 3000)
    adam, frozen = experiments_micro.adam_frozen_configs(
        base, eta=2e-2, beta1=0.9, beta2=0.999, freeze_at=300
    )
    assert (adam.optimizer, frozen.optimizer) == ("adam", "frozen_adam")
    assert (frozen.freeze_at, frozen.freeze_eta) == (300, 2e-2)  # P from the same Adam run
    for name, value in (("beta1", 0.9), ("beta2", 0.999), ("eps", 1e-7)):
        assert adam.hyperparameters[name] == frozen.hyperparameters[name] == value


def test_gd_rises_to_two_over_eta_and_hovers_there():
    base = experiments_micro.micro_base(MICRO)
    result = experiments_micro.gd_edge(base, 0.2)
    assert isinstance(result, experiments_micro.GDEdge)
    # the summary is the engine's own records, summarised with numpy
    records = train.run(experiments_micro.gd_config(base, 0.2), cache=False).records
    pd.testing.assert_frame_equal(result.records, records)
    ratio = records["sharpness"] / (2 / 0.2)
    np.testing.assert_allclose(records["ratio"], ratio, rtol=2e-3)  # P = I: lambda_1(H) / (2/eta)
    assert (result.threshold, result.formula) == (pytest.approx(10.0), "2/η")
    assert result.start_ratio == pytest.approx(records["ratio"].iloc[0])
    assert result.late_ratio == pytest.approx(np.median(late_part(records)["ratio"]))
    assert result.reached_at == records.loc[records["ratio"] >= 0.95, "step"].iloc[0]
    assert result.sharpness_trend == pytest.approx(fitted_change(records, "sharpness"))
    assert result.loss_trend == pytest.approx(fitted_change(records, "loss"))
    assert result.sharpness_fit.change == result.sharpness_trend
    assert result.sharpness_fit.points == len(late_part(records))
    # the edge of stability: from well below the line, up to it by mid-run, then on it
    assert result.start_ratio < 0.5 and result.reached_at <= 1500
    assert 0.95 <= result.late_ratio <= 1.05 and not result.diverged
    assert abs(result.sharpness_trend) < 0.05 and result.loss_trend < -0.05


def test_adam_and_frozen_adam_hold_the_threshold_and_only_adam_keeps_sharpening():
    base = experiments_micro.micro_base(MICRO)
    result = experiments_micro.adam_vs_frozen(base, eta=2e-2, beta1=0.9, beta2=0.999, freeze_at=300)
    assert isinstance(result, experiments_micro.AdamVsFrozen)
    assert (result.threshold, result.formula) == (pytest.approx(38 / 2e-2), "38/η")
    configs = experiments_micro.adam_frozen_configs(
        base, eta=2e-2, beta1=0.9, beta2=0.999, freeze_at=300
    )
    for summary, config in zip((result.adam, result.frozen), configs, strict=True):
        records = train.run(config, cache=False).records
        assert summary.late_ratio == pytest.approx(np.median(late_part(records)["ratio"]))
        assert summary.sharpness_trend == pytest.approx(fitted_change(records, "sharpness"))
        assert summary.final_sharpness == pytest.approx(records["sharpness"].iloc[-1])
        assert summary.final_loss == pytest.approx(records["loss"].iloc[-1])
        assert np.allclose(records["threshold"], 38 / 2e-2)
    runs_ = result.runs.groupby("label")["step"].agg(["min", "max"])
    assert runs_.loc["Adam"].tolist() == [20, 3000]  # Adam's step 0 (P = eps) left out
    assert runs_.loc["frozen Adam"].tolist() == [0, 3000]
    # the phenomenon: both at 38/eta; lambda_1(H) rises under Adam and not under frozen Adam
    for summary in (result.adam, result.frozen):
        assert 0.85 <= summary.late_ratio <= 1.15 and not summary.diverged
    assert result.adam.sharpness_trend > 0.1 and abs(result.frozen.sharpness_trend) < 0.05
    assert result.adam.final_sharpness > 2 * result.frozen.final_sharpness


def test_micro_views_draw_the_result():
    base = experiments_micro.micro_base(MICRO)  # the same kernels as above: nothing compiles
    gd = experiments_micro.gd_edge(base, 0.3)
    line = dataset_with(views_micro.gd_sharpness_chart(gd), "threshold")
    assert line["threshold"].tolist() == [pytest.approx(2 / 0.3)]
    assert line["label"].tolist() == ["2/η = 6.7"]
    drawn = dataset_with(views_micro.gd_sharpness_chart(gd), "sharpness")
    assert drawn["sharpness"].tolist() == gd.records["sharpness"].tolist()
    views_micro.gd_loss_chart(gd).to_dict()
    frame, _ = views_micro.gd_table(gd)
    assert frame["late median"].tolist() == [f"{gd.late_ratio:.3f}"]

    pair = experiments_micro.adam_vs_frozen(base, eta=1e-2, beta1=0.8, beta2=0.99, freeze_at=300)
    for y in views_micro.ADAM_FROZEN_QUANTITIES:
        data = dataset_with(views_micro.adam_frozen_chart(pair, y), y)
        assert set(data["run"]) == {"Adam", "frozen Adam"}
    rule = dataset_with(views_micro.adam_frozen_chart(pair, "precond_sharpness"), "threshold")
    assert rule["label"].tolist() == ["18/η = 1800"]  # (2 + 2 beta1) / ((1 - beta1) eta)
    frame, caption = views_micro.adam_frozen_table(pair)
    assert frame["run"].tolist() == ["Adam", "frozen Adam (P from step 300)"]
    assert frame["late λ₁(P⁻¹H) / (18/η)"].tolist() == [
        f"{pair.adam.late_ratio:.3f}",
        f"{pair.frozen.late_ratio:.3f}",
    ]
    assert caption.startswith("η = 0.01, β₁ = 0.8, β₂ = 0.99")


def test_micro_panels_retrain_on_every_release():
    P = MICRO
    gd = panels_micro.gd_edge_panel(P)
    assert not gd.run_button and gd.last_result.eta == pytest.approx(P.gd_eta)
    gd.set(eta=0.3)
    assert gd.last_result.eta == pytest.approx(0.3) and gd.last_error is None
    assert gd.last_result.records["step"].max() == P.micro_steps

    pair = panels_micro.adam_frozen_panel(P)
    first = pair.last_result
    assert (first.eta, first.beta1, first.beta2) == (P.micro_eta, P.beta1, P.micro_beta2)
    assert first.freeze_at == P.micro_freeze_at
    before = pair.run_count
    pair.set(beta1=0.85, beta2=0.99)  # two sliders, one update
    result = pair.last_result
    assert pair.run_count == before + 1 and not pair.stale
    threshold = (2 + 2 * 0.85) / (1 - 0.85)  # times 1/eta
    assert (result.beta1, result.beta2, result.formula) == (0.85, 0.99, f"{threshold:.4g}/η")


# ---------------------------------------------------------------------------------------------
# (c) Adam's P at a snapshot


def test_precond_source_reads_the_trace_at_the_chosen_snapshot():
    spec = experiments.source_trace_config(TINY, snapshots=[0], freeze_at=12, every=4)
    assert spec.snapshots == (0, 12) and not experiments.traced(spec)
    late = experiments.precond_source(TINY, snapshots=[0], freeze_at=12, step=12, every=4)
    assert experiments.traced(spec)
    reference = flat(traces.adam_precond(TINY, 12))
    assert late.median_p == pytest.approx(np.median(reference), rel=1e-6)
    assert late.at_eps == pytest.approx(np.mean(reference < 10 * 1e-7))
    assert late.hist["count"].sum() == reference.size and set(late.hist["step"]) == {12}
    assert late.step == late.freeze_at == 12 and late.eps == 1e-7
    # quantiles every 4 steps, ordered smallest first at each step
    wide = late.quantiles.pivot(index="step", columns="quantile", values="P")
    assert list(wide.index) == [0, 4, 8, 12]
    assert (np.diff(wide[list(late.quantile_order)].to_numpy(), axis=1) >= 0).all()
    start = experiments.precond_source(TINY, snapshots=[0], freeze_at=12, step=0, every=4)
    assert start.at_eps == 1.0 and start.median_p == pytest.approx(1e-7)
    with pytest.raises(ValueError, match="snapshots"):
        experiments.precond_source(TINY, snapshots=[0], freeze_at=12, step=5, every=4)
    for chart in (views.precond_quantile_chart(late), views.precond_histogram_chart(late)):
        chart.to_dict()
    eps_rule = dataset_with(views.precond_histogram_chart(late), "text")
    assert eps_rule["log10_P"].tolist() == [-7.0] and eps_rule["text"].tolist() == ["ε = 1e-7"]
    frame, caption = views.precond_source_table(late)
    assert frame["share of P still near ε"].tolist() == [f"{late.at_eps:.1%}"]
    assert "step 12" in caption


# ---------------------------------------------------------------------------------------------
# (d) frozen Adam against Adam


def test_frozen_sweep_summary_matches_the_records_and_draws():
    base = TINY.replace(steps=29, track_every=5)  # last third: steps 20, 25, 29
    sweep = experiments.frozen_sweep(
        base, [1e-3, 2e-3], freeze_at=10, freeze_eta=1e-3, selected=2e-3
    )
    summary = sweep.summary.set_index("eta")
    frozen = train.run(experiments.frozen_config(base, 2e-3, freeze_at=10, freeze_eta=1e-3))
    late = frozen.records[frozen.records["step"] >= 20]
    assert summary.loc[2e-3, "late_ratio"] == pytest.approx(np.median(late["ratio"]))
    assert summary.loc[2e-3, "threshold"] == pytest.approx(38 / 2e-3)
    fit = analysis.fitted_trend(frozen.records, "sharpness", 1 / 3)  # a fitted line, not endpoints
    assert summary.loc[2e-3, "frozen_rise"] == pytest.approx(fit.change)
    assert summary.loc[2e-3, "frozen_rise_se"] == pytest.approx(fit.stderr)
    assert summary.loc[2e-3, "rise_points"] == fit.points == len(late)
    assert summary.loc[2e-3, "selected"] and not summary.loc[1e-3, "selected"]
    assert set(sweep.frozen["optimizer"]) == {"frozen_adam"}
    assert set(sweep.adam["optimizer"]) == {"adam"}
    assert 0 in set(sweep.frozen["step"]) and 0 not in set(sweep.adam["step"])
    assert sweep.formula == "38/η" and (sweep.steps, sweep.selected) == (29, 2e-3)

    domain = (1e-4, 1e-2)
    psharp = views.frozen_chart(sweep, "precond_sharpness", domain)
    rules = dataset_with(psharp, "threshold")
    np.testing.assert_allclose(sorted(rules["threshold"]), [38 / 2e-3, 38 / 1e-3])
    assert set(rules["label"]) == {"38/η = 1.9e4", "38/η = 3.8e4"}
    assert psharp.title == "Preconditioned sharpness λ₁(P⁻¹H) and 38/η"
    for y in views.FROZEN_QUANTITIES:
        assert set(dataset_with(views.frozen_chart(sweep, y, domain), y)["eta"]) == {1e-3, 2e-3}
    versus = dataset_with(views.frozen_versus_chart(sweep), "run")
    at_selected = [
        table.loc[table["eta"] == 2e-3, "sharpness"].tolist()
        for table in (sweep.frozen, sweep.adam)
    ]
    assert [
        versus.loc[versus["run"] == run, "sharpness"].tolist() for run in ("frozen Adam", "Adam")
    ] == at_selected
    frame, _ = views.frozen_table(sweep)
    assert frame["38/η"].tolist() == ["3.8e4", "1.9e4"]
    assert frame["shown bold"].tolist() == ["", "◀"]


def test_frozen_sweep_configs_name_every_run_of_the_sweep():
    configs = experiments.frozen_sweep_configs(
        TINY, [1e-3, 2e-3], freeze_at=10, freeze_eta=1e-3, selected=3e-3
    )
    assert [(c.optimizer, c.eta) for c in configs] == [
        ("frozen_adam", 1e-3),
        ("frozen_adam", 2e-3),
        ("frozen_adam", 3e-3),
        ("adam", 1e-3),
        ("adam", 2e-3),
        ("adam", 3e-3),
    ]
    assert {(c.freeze_at, c.freeze_eta) for c in configs[:3]} == {(10, 1e-3)}
    assert {(c.freeze_at, c.freeze_eta) for c in configs[3:]} == {(None, None)}


# ---------------------------------------------------------------------------------------------
# (e) Prop. 1 on the network


def test_prop1_holds_on_the_network_and_fails_without_p():
    precond = experiments.frozen_precond(TINY, freeze_at=10, freeze_eta=1e-3)
    result = experiments.prop1_check(TINY, precond, eta=2e-3, beta1=0.8, steps=8)
    assert result.max_prop1_gap < 1e-12 and result.max_loss_gap < 1e-12
    assert result.max_plain_gap > 1e-2
    assert (result.eta, result.beta1) == (2e-3, 0.8) and list(result.steps["step"]) == list(
        range(9)
    )
    ones = jax.tree.map(np.ones_like, precond)
    same = experiments.prop1_check(TINY, ones, eta=2e-3, beta1=0.8, steps=8)
    assert same.max_plain_gap < 1e-12  # with P = I frozen Adam is EMA heavy ball
    views.isomorphism_chart(result).to_dict()
    frame, caption = views.isomorphism_table(result)
    assert len(frame) == 3 and caption.startswith("η = 2e-3, β₁ = 0.8")


# ---------------------------------------------------------------------------------------------
# panels


def options(slider) -> list:
    return [value for _, value in slider.options]


def test_precond_source_panel_waits_for_run_then_moves_between_snapshots():
    panel = panels.precond_source_panel(SMALL)
    assert panel.stale and panel.last_result is None
    assert panel.controls["step"].options == (0, 4, 10)
    assert options(panel.controls["beta1"]) == [0.8, 0.9]
    panel.button.click()
    assert isinstance(panel.last_result, experiments.PrecondSource)
    assert panel.last_result.step == 10 and panel.last_error is None
    assert "Runs: computed now." in panel.status.value
    panel.set(step=0)  # a snapshot of the same trace: at once
    assert not panel.stale and panel.last_result.at_eps == 1.0
    panel.set(beta2=0.999)
    assert panel.stale


def test_frozen_sweep_panel_shows_trained_settings_at_once():
    panel = panels.frozen_sweep_panel(SMALL)
    assert panel.values["eta"] == 2e-3 and panel.stale
    assert options(panel.controls["eta"]) == [1e-3, 2e-3]
    assert [label for label, _ in panel.controls["eta"].options] == ["1e-3", "2e-3"]
    result = panel.set_and_run(eta=1e-3, beta1=0.9, beta2=0.99)
    assert isinstance(result, experiments.FrozenSweep) and result.selected == 1e-3
    assert "Runs: computed now." in panel.status.value
    assert runs.trained(experiments.sweep_configs(SMALL, beta1=0.9, beta2=0.99))
    before = panel.run_count
    panel.set(eta=2e-3)  # the other run of the same sweep: drawn without Run
    assert panel.run_count == before + 1 and not panel.stale
    assert panel.last_result.selected == 2e-3
    panel.set(beta1=0.8)  # a new sweep: waits for Run, with an estimate from the runs just done
    assert panel.stale and "press <b>Run</b> to compute (" in panel.status.value  # an estimate
    train._memory.clear()  # a new session: the same setting comes from the run cache on disk
    panel.clear_cache()
    panel.set(beta1=0.9)
    assert not panel.stale and "Runs: your run cache." in panel.status.value


def test_isomorphism_panel_redraws_on_a_slider_move():
    panel = panels.isomorphism_panel(SMALL)
    assert panel.last_result.eta == pytest.approx(1e-3)
    panel.set(eta=2e-3, beta1=0.8)
    result = panel.last_result
    assert result.eta == pytest.approx(2e-3) and result.beta1 == pytest.approx(0.8)
    assert len(result.steps) == SMALL.prop1_steps + 1 and result.max_prop1_gap < 1e-10
    assert panel.charts[1].frame is not None


# ---------------------------------------------------------------------------------------------
# the grids of panels (c) and (d), and the bank


def on_star(setting: dict, start: dict) -> bool:
    """At most one slider away from where it starts (the paper's one-axis-at-a-time sweeps)."""
    return sum(setting[name] != start[name] for name in start) <= 1


@pytest.mark.parametrize("fast", [False, True])
def test_bank_runs_hold_every_run_panel_d_shows_on_its_grid_and_nothing_else(fast):
    P = params.select(fast=fast, platform=None)
    bank = [c.key() for c in experiments.bank_runs(P)]
    assert len(bank) == len(set(bank)) == 4 * 2 * len(P.frozen_etas)  # 4 settings of (b1, b2)
    start, shown = {"beta1": P.beta1, "beta2": P.beta2}, set()
    for beta1, beta2, eta in itertools.product(P.frozen_beta1s, P.frozen_beta2s, P.frozen_etas):
        base = experiments.run_base(P).replace(beta1=beta1, beta2=beta2)
        needed = experiments.frozen_sweep_configs(
            base, P.frozen_etas, freeze_at=P.freeze_at, freeze_eta=P.freeze_eta, selected=eta
        )
        keys = {c.key() for c in needed}
        if on_star({"beta1": beta1, "beta2": beta2}, start):
            assert keys <= set(bank)
            shown |= keys
        else:
            assert not keys <= set(bank)
    assert shown == set(bank)
    fig3 = experiments.frozen_sweep_configs(  # Fig. 3: the default setting's runs
        experiments.run_base(P), P.frozen_etas, freeze_at=P.freeze_at, freeze_eta=P.freeze_eta
    )
    assert {c.key() for c in fig3} <= set(bank)


@pytest.mark.parametrize("fast", [False, True])
def test_bank_traces_hold_every_trace_panel_c_shows_on_its_grid_and_nothing_else(fast):
    P = params.select(fast=fast, platform=None)
    bank = [spec.key() for spec in experiments.bank_traces(P)]
    assert len(bank) == len(set(bank)) == 16  # 1 + 6 etas + 5 beta1s + 4 beta2s
    start = {"eta": P.freeze_eta, "beta1": P.beta1, "beta2": P.beta2}
    on_grid = set()
    for eta, beta1, beta2 in itertools.product(P.trace_etas, P.trace_beta1s, P.trace_beta2s):
        adam = experiments.run_base(P).replace(eta=eta, beta1=beta1, beta2=beta2)
        spec = experiments.source_trace_config(
            adam, snapshots=P.snapshots, freeze_at=P.freeze_at, every=P.trace_every
        )
        setting = {"eta": eta, "beta1": beta1, "beta2": beta2}
        assert (spec.key() in bank) == on_star(setting, start)
        if on_star(setting, start):
            on_grid.add(spec.key())
    assert on_grid == set(bank)


def test_the_sliders_of_panels_c_and_d_step_through_their_grids():
    P = params.select(fast=False, platform=None)
    trace_panel, sweep_panel = panels.precond_source_panel(P), panels.frozen_sweep_panel(P)
    assert trace_panel.last_result is None and sweep_panel.last_result is None  # nothing trained
    trace_grids = {"eta": P.trace_etas, "beta1": P.trace_beta1s, "beta2": P.trace_beta2s}
    sweep_grids = {"eta": P.frozen_etas, "beta1": P.frozen_beta1s, "beta2": P.frozen_beta2s}
    for panel, grids in ((trace_panel, trace_grids), (sweep_panel, sweep_grids)):
        for name, grid in grids.items():
            assert options(panel.controls[name]) == list(grid)
    assert trace_panel.values == {"eta": 1e-4, "beta1": 0.9, "beta2": 0.99, "step": 1000}
    assert sweep_panel.values == {"eta": 1.4e-4, "beta1": 0.9, "beta2": 0.99}
    with pytest.raises(ValueError, match="must be one of"):
        sweep_panel.set(eta=1.99e-4)  # not a position of the slider


def test_with_the_grids_runs_available_every_on_grid_move_shows_at_once():
    # the run cache stands in for the bank: train what the bank would hold
    runs.run_configs(experiments.bank_runs(SMALL))
    for spec in experiments.bank_traces(SMALL):
        traces.precond_trace(spec.run, spec.snapshots, every=spec.every)
        assert experiments.traced(spec) and experiments.trace_seconds(spec) == 0.0
    sweep_start = {"beta1": SMALL.beta1, "beta2": SMALL.beta2}
    trace_start = {"eta": SMALL.freeze_eta, **sweep_start}
    for panel, start in (
        (panels.frozen_sweep_panel(SMALL), sweep_start),
        (panels.precond_source_panel(SMALL), trace_start),
    ):
        grids = {name: options(panel.controls[name]) for name in ("eta", "beta1", "beta2")}
        for values in itertools.product(*grids.values()):
            setting = dict(zip(grids, values, strict=True))
            panel.set(**setting)
            assert panel.stale != on_star(setting, start), setting
            assert panel.last_error is None


# ---------------------------------------------------------------------------------------------
# Fig. 3


def test_fig3_computes_draws_and_tabulates_the_sweep():
    (figure,) = FIGURES
    assert (figure.id, figure.paper, figure.notebook) == ("fig3", "Fig. 3", "02_frozen_adam")
    assert figure.trains and figure.params(fast=True).values() == params.FAST.values()
    result = figure.compute(SMALL, None)
    assert result.selected == SMALL.frozen_etas[0]
    spec = figure.draw(result, SMALL).to_dict()
    scales = [s for s in json.dumps(spec).split('"domain": ')[1:]]
    assert any(s.startswith(json.dumps(list(SMALL.frozen_eta_range))) for s in scales)
    data = figure.data(result)
    frozen, adam = result.frozen, result.adam
    assert len(data) == len(frozen) + len(adam)
    assert list(data.columns) == list(frozen.columns)
    assert data["optimizer"].tolist() == ["frozen_adam"] * len(frozen) + ["adam"] * len(adam)
    pd.testing.assert_frame_equal(data.iloc[: len(frozen)], frozen, check_dtype=False)
    assert set(data["eta"]) == set(SMALL.frozen_etas) and data["step"].max() == 29
