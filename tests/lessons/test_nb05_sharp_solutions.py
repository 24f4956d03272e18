"""Notebook 05 (sharp solutions): params, experiments, views, panels and figures.

Pure helpers are checked on hand-made records against values worked out by hand; whatever
trains runs on a tiny network (64 examples, width 16, depth 2) so that every compilation and run
takes a second or two.
"""

import dataclasses
import math

import altair as alt
import numpy as np
import pandas as pd
import pytest

from aeos_lab import figures as registry
from aeos_lab.core import thresholds
from aeos_lab.engine import runs
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.tasks import Scale
from aeos_lab.lessons.exercises import EXPECT_SOLVED_ENV, WrongAnswer
from aeos_lab.lessons.nb05_sharp_solutions import exercises as nb05_exercises
from aeos_lab.lessons.nb05_sharp_solutions import experiments, panels, params, views
from aeos_lab.lessons.nb05_sharp_solutions.experiments import Selection, Sweep

FIGURES = registry.of_notebook(params.VARIANTS.notebook)

TINY = RunConfig(n_train=64, n_test=32, width=16, depth=2, steps=20, track_every=10, eig_tol=1e-2)

# the notebook's parameters shrunk onto the tiny task: full batch over two etas and two beta2s,
# batch 16 at one eta; Adam at two etas against momentum at two
TINY_P = params.FAST.replace(
    scale=Scale(TINY, False, "tiny test task"),
    loss_threshold=0.3,
    max_steps=200,
    track_every=50,
    etas=(1e-3, 3e-3),
    beta2s=(0.9, 0.999),
    eta_for_beta2=3e-3,
    large_batch=16,
    large_batch_etas=(3e-3,),
    large_batch_beta2s=(),
    large_batch_steps=100,
    large_batch_track_every=50,
    compare_etas=(3e-3, 1e-3),
    momentum_etas=(0.3, 1.0),
    compare_beta2=0.9,
    compare_beta2_options=(),
)


def records(**columns):
    return pd.DataFrame(columns)


# ------------------------------------------------------------------------------ params


def test_fast_variant_shrinks_the_sweeps_only():
    full, fast = params.FULL.values(), params.FAST.values()
    changed = {name for name in full if full[name] != fast[name]}
    assert changed == {
        "beta2s",
        "large_batch_etas",
        "large_batch_beta2s",
        "large_batch_steps",
        "compare_etas",
    }
    assert set(fast["beta2s"]) < set(full["beta2s"])
    assert fast["large_batch_steps"] == 600 and full["large_batch_steps"] == 700
    assert params.PAPER is None and params.VARIANTS.cpu_task == "default"
    assert full["eig_tol"] == 1e-2 and full["compare_beta2_options"] == (0.999,)


def test_every_parameter_is_documented():
    for field in dataclasses.fields(params.Params):
        if not field.metadata.get("hidden"):
            assert field.metadata.get("doc"), field.name


def test_select_picks_the_variant_and_the_default_task():
    fast = params.select(fast=True, platform=None)
    assert fast.variant == "fast" and fast.beta2s == params.FAST.beta2s
    assert fast.base == RunConfig()  # the default digits task
    full = params.select(fast=False, platform=None)
    assert full.variant == "full" and full.compare_etas == (1e-4, 2e-4, 4e-4)
    fallback = params.select(True, fast=False, platform=None)  # no GPU: the default task
    assert fallback.base == RunConfig() and "no GPU" in fallback.scale.note
    paper = params.select(True, fast=False, platform="gpu")  # no paper sizes: the full ones
    assert paper.base.dataset == "cifar10" and paper.etas == params.FULL.etas


# ------------------------------------------------------------------------------ pure helpers


def test_solution_point_is_the_first_measurement_below_the_threshold():
    recs = records(step=[0, 10, 20, 30], loss=[1.0, 0.2, 0.05, 0.01], sharpness=[1, 2, 3, 4])
    point = experiments.solution_point(recs, 0.1)
    assert point["step"] == 20 and point["sharpness"] == 3
    assert experiments.solution_point(recs, 0.001) is None
    with pytest.raises(ValueError, match="loss_threshold"):
        experiments.solution_point(recs, 0.0)


def test_matched_sharpness_interpolates_momentum_in_log_steps():
    momentum = pd.DataFrame(
        {"reached": True, "steps": [100, 400, 1600], "sharpness": [10.0, 30.0, 50.0]}
    )
    adam = pd.DataFrame(
        {
            "reached": [True, True, True, False],
            "eta": [1e-3, 3e-4, 1e-5, 1e-6],
            "beta2": 0.99,
            "steps": [50, 200, 800, np.nan],
            "sharpness": [40.0, 25.0, 45.0, np.nan],
        }
    )
    matched = experiments.matched_sharpness(adam, momentum)
    # 50 steps lies outside momentum's range; 200 = halfway between 100 and 400 in log steps,
    # 800 halfway between 400 and 1600
    assert matched["steps"].tolist() == [200, 800]
    np.testing.assert_allclose(matched["momentum_sharpness"], [20.0, 40.0])
    np.testing.assert_allclose(matched["ratio"], [25 / 20, 45 / 40])
    assert experiments.matched_sharpness(adam, momentum.iloc[:1]).empty


def test_stable_etas_end_at_the_fastest_run():
    frame = pd.DataFrame(
        {
            "eta": [1e-4, 2e-4, 4e-4, 1e-3, 2e-3, 3e-3],
            "reached": [True, True, True, True, True, False],
            "steps": [844, 533, 375, 303, 426, np.nan],
        }
    )
    assert experiments.stable_etas(frame)["eta"].tolist() == [1e-4, 2e-4, 4e-4, 1e-3]
    assert experiments.stable_etas(frame.assign(reached=False)).empty


def test_accuracy_stderr_is_the_binomial_formula():
    np.testing.assert_allclose(experiments.accuracy_stderr([0.5, 0.9], 100), [0.05, 0.03])
    with pytest.raises(ValueError, match="n"):
        experiments.accuracy_stderr(0.5, 0)


def test_sweep_configs_share_runs_and_treat_minibatch_differently():
    setup = experiments.solutions_setup(TINY_P)
    full, mini = setup.sweeps
    assert full == Sweep(None, (1e-3, 3e-3), (0.9, 0.999), 200, 50)
    assert mini == Sweep(16, (3e-3,), (), 100, 50)
    assert setup.etas == [1e-3, 3e-3] and setup.beta2s == [0.9, 0.999] and setup.n_test == 32
    configs = experiments.sweep_configs(setup, full, 0.9)
    # 2 etas at beta2 = 0.999 + 2 beta2s at eta = 3e-3, with (3e-3, 0.999) in both sweeps
    assert [(c.eta, c.beta2) for c in configs] == [(1e-3, 0.999), (3e-3, 0.999), (3e-3, 0.9)]
    assert all(c.steps == 200 and c.track_every == 50 and c.loss_threshold == 0.3 for c in configs)
    assert all(c.optimizer == "adam" and c.batch_size is None for c in configs)
    assert all(c.eig_tol == TINY_P.eig_tol and c.warmup_steps == 0 for c in configs)
    mini_configs = experiments.sweep_configs(setup, mini, 0.9)
    assert [(c.eta, c.beta2, c.steps) for c in mini_configs] == [(3e-3, 0.999, 100)]
    assert mini_configs[0].batch_size == 16
    assert mini_configs[0].loss_threshold is None  # the engine would ignore it
    # a setting outside the sweeps adds one full-batch run
    inside = experiments.solutions_configs(setup, Selection(3e-3, 0.9, 0.9))
    outside = experiments.solutions_configs(setup, Selection(2e-3, 0.9, 0.9))
    assert len(inside) == 4 and len(outside) == 5
    added = [c for c in outside if c not in inside]
    assert [(c.eta, c.beta2, c.batch_size) for c in added] == [(2e-3, 0.9, None)]


def test_comparison_configs_are_momentum_then_adam_per_beta2():
    setup = experiments.comparison_setup(TINY_P.replace(compare_beta2_options=(0.999,)))
    assert setup.adam_etas == (1e-3, 3e-3) and setup.beta2s == (0.9, 0.999)
    configs = experiments.comparison_configs(setup, Selection(2e-3, 0.5, 0.99))
    assert [(c.optimizer, c.eta, c.beta2) for c in configs[:2]] == [
        ("ema_hb", 0.3, None),
        ("ema_hb", 1.0, None),
    ]
    adam = [(c.eta, c.beta2) for c in configs[2:]]
    assert adam == [(e, b) for b in (0.9, 0.99, 0.999) for e in (1e-3, 2e-3, 3e-3)]
    assert all(c.beta1 == 0.5 and c.loss_threshold == 0.3 and c.steps == 200 for c in configs)


def _slider_position(panel, eta: float) -> float:
    """The position of the panel's eta slider (a value dragging it can give) nearest ``eta``."""
    slider = panel.sliders["eta"]
    k = round((math.log10(eta) - slider.min) / slider.step)
    return 10 ** (slider.min + k * slider.step)


def test_full_grids_are_the_paper_sweeps_and_the_sliders_land_on_them():
    P = params.select(fast=False, platform=None)
    etas = [1e-4, 2e-4, 4e-4, 1e-3, 2e-3]
    assert experiments.eta_grid(P) == etas
    a_beta2s, b_beta2s = [0.9, 0.95, 0.99, 0.995, 0.999], [0.9, 0.99, 0.999]
    grid_a = {(s.eta, s.beta1, s.beta2) for s in experiments.solutions_grid(P)}
    cross = {(e, 0.9, 0.999) for e in etas} | {(1e-3, 0.9, b) for b in a_beta2s}
    product = {(e, 0.9, b) for e in etas for b in (0.9, 0.99, 0.999)}
    assert grid_a == cross | product and len(grid_a) == 17
    grid_b = {(s.eta, s.beta1, s.beta2) for s in experiments.comparison_grid(P)}
    assert grid_b == product
    # the settings the notebook opens with and its self-checks visit are in the bank
    assert Selection(P.eta_for_beta2, P.beta1, P.beta2_for_eta) in experiments.solutions_grid(P)
    for beta2 in (P.compare_beta2, 0.999):
        assert Selection(P.compare_etas[0], P.beta1, beta2) in experiments.comparison_grid(P)
    bank = experiments.bank_runs(P)
    kinds = [(c.optimizer, c.batch_size, c.steps) for c in bank]
    assert len(bank) == len({c.key() for c in bank}) == 25
    assert kinds.count(("adam", None, 3000)) == 17 and kinds.count(("adam", 500, 700)) == 5
    assert kinds.count(("ema_hb", None, 3000)) == 3
    assert all(c.loss_threshold == 0.01 for c in bank if c.batch_size is None)
    # the sliders start where they did, and every grid value is a slider position (the eta
    # readout, 3 digits, shows the grid value)
    panel_a, panel_b = panels.solutions_panel(P), panels.comparison_panel(P)
    assert (panel_a.values["eta"], panel_a.values["beta2"]) == (1e-3, 0.999)
    assert (panel_b.values["eta"], panel_b.values["beta2"]) == (1e-4, 0.99)
    for panel, beta2s in ((panel_a, a_beta2s), (panel_b, b_beta2s)):
        assert panel.values["beta1"] == 0.9
        for eta in etas:
            assert _slider_position(panel, eta) == pytest.approx(eta, rel=5e-3)
        beta2 = panel.sliders["beta2"]
        for value in beta2s:
            steps = (value - beta2.min) / beta2.step
            assert steps == pytest.approx(round(steps), abs=1e-6)


# ------------------------------------------------------------------------------ with training


@pytest.mark.usefixtures("isolated_run_cache")
def test_solutions_of_full_batch_and_minibatch_runs():
    threshold = 0.3
    full = TINY.replace(eta=3e-3, steps=200, track_every=50, loss_threshold=threshold)
    mini = full.replace(batch_size=16, loss_threshold=None)
    results = runs.run_configs([full, mini])
    frame = experiments.solutions(results, threshold).set_index("batch")
    row = frame.loc["full batch (64)"]
    assert results[0].status == "loss_threshold" and row["reached"]
    assert row["steps"] == results[0].steps_done and row["loss"] < threshold
    # the engine runs minibatch Adam to the step limit; the solution is the first measurement
    # below the threshold
    recs = results[1].records
    first_below = recs[recs["loss"] < threshold].iloc[0]
    row = frame.loc["batch 16"]
    assert results[1].status == "step_limit"
    assert row["steps"] == first_below["step"] and row["sharpness"] == first_below["sharpness"]
    before = recs[recs["step"] <= first_below["step"]]
    assert row["best_test_acc"] == before["test_acc"].max()


def _draws(chart) -> dict:
    spec = chart.to_dict()
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    return spec


@pytest.mark.usefixtures("isolated_run_cache")
def test_solutions_panel_selects_runs_and_redraws():
    panel = panels.solutions_panel(TINY_P)
    assert panel.stale and panel.last_result is None  # nothing trained before Run
    assert panel.values["eta"] == pytest.approx(3e-3) and panel.values["beta2"] == 0.999
    result = panel.set_and_run(eta=3e-3, beta2=0.9)
    assert isinstance(result, experiments.SharpnessSweep) and panel.last_error is None
    frame = result.solutions
    # full batch: (1e-3, .999), (3e-3, .999), (3e-3, .9); batch 16: (3e-3, .999) only
    assert len(frame) == 4 and frame["selected"].sum() == 1
    assert frame.loc[frame["selected"], "beta2"].tolist() == [0.9]
    assert frame["in_eta_sweep"].sum() == 3 and frame["in_beta2_sweep"].sum() == 2
    assert frame.loc[frame["batch"] == "batch 16", "in_beta2_sweep"].sum() == 0
    reached = frame["reached"]
    np.testing.assert_allclose(
        frame.loc[reached, "test_acc_stderr"],
        np.sqrt(frame.loc[reached, "test_acc"] * (1 - frame.loc[reached, "test_acc"]) / 32),
    )
    assert result.eta_trend.runs["eta"].tolist() == [1e-3, 3e-3]
    assert result.beta2_trend.runs["beta2"].tolist() == [0.9, 0.999]
    assert math.isnan(result.eta_trend.rho)  # two runs: no rank correlation
    draws = sum(panel.charts[0].counts.values())
    result = panel.set_and_run(beta2=0.999)  # in both batch settings' sweeps: two rings
    assert result.solutions["selected"].sum() == 2
    assert sum(panel.charts[0].counts.values()) > draws
    panel.set(beta2=0.9)  # trained already: shown without Run
    assert not panel.stale and panel.last_result.selection.beta2 == 0.9
    panel.set(beta1=0.9000000000000001)  # float noise from a slider is not a new setting
    assert not panel.stale and panel.last_result.selection.beta1 == 0.9
    panel.set(eta=2e-3)  # outside the sweeps: waits for Run
    assert panel.stale
    table, caption = views.solutions_table(result)
    assert table["batch"].tolist() == ["full batch (64)", "batch 16"]
    assert "β₂ = 0.999" in caption and "0.3" in caption
    for axis in ("eta", "beta2"):
        assert len(_draws(views.solutions_chart(result, axis))["hconcat"]) == 2


@pytest.mark.usefixtures("isolated_run_cache")
def test_comparison_panel_matches_adam_against_momentum():
    compare = panels.comparison_panel(TINY_P)
    assert compare.values["eta"] == pytest.approx(1e-3) and compare.values["beta2"] == 0.9
    result = compare.set_and_run(eta=1e-3)
    assert isinstance(result, experiments.Comparison) and compare.last_error is None
    optimizers = result.solutions["optimizer"].value_counts().to_dict()
    assert optimizers == {"ema_hb": 2, "adam": 2}
    assert result.solutions.loc[result.solutions["selected"], "eta"].tolist() == [1e-3]
    assert set(result.matched.columns) >= {"steps", "sharpness", "momentum_sharpness"}
    assert all(math.isfinite(v) for v in result.matched["ratio"])
    momentum = result.solutions[result.solutions["optimizer"] == "ema_hb"]
    assert result.thresholds["eta"].tolist() == momentum.loc[momentum["reached"], "eta"].tolist()
    np.testing.assert_allclose(result.thresholds["threshold"], 38.0 / result.thresholds["eta"])
    assert result.formula == "38/η"
    assert compare.set_and_run(eta=3e-3).selection.eta == 3e-3  # trained: no new run
    labels = views.with_method(result.solutions)["method"]
    assert set(labels) == {"Adam", "EMA heavy ball"}
    table, _ = views.comparison_table(result)
    assert len(table) == len(result.matched)
    assert len(_draws(views.comparison_chart(result))["layer"]) == 4


# the bank of a tiny lesson: (b) compares at beta2 = 0.999 and (a) adds no product, so the
# bank holds the cross of (a)'s sweeps and (1e-3, 0.9) lies on both sliders' grids but not in it
BANK_P = TINY_P.replace(compare_beta2=0.999, product_beta2s=())


@pytest.mark.usefixtures("isolated_run_cache")
def test_bank_runs_are_exactly_what_the_on_grid_settings_draw():
    bank = experiments.bank_runs(BANK_P)
    assert len(bank) == 6 and {(c.optimizer, c.eta, c.beta2, c.batch_size) for c in bank} == {
        ("adam", 1e-3, 0.999, None),
        ("adam", 3e-3, 0.9, None),
        ("adam", 3e-3, 0.999, None),
        ("adam", 3e-3, 0.999, 16),
        ("ema_hb", 0.3, None, None),
        ("ema_hb", 1.0, None, None),
    }
    with_product = experiments.bank_runs(BANK_P.replace(product_beta2s=(0.9,)))
    added = [c for c in with_product if c not in bank]
    assert [(c.eta, c.beta2, c.batch_size) for c in added] == [(1e-3, 0.9, None)]
    runs.run_configs(bank)  # in the run cache, as the bank would hold them
    grid_a, grid_b = experiments.solutions_grid(BANK_P), experiments.comparison_grid(BANK_P)
    assert (len(grid_a), len(grid_b)) == (3, 2)
    panel_a, panel_b = panels.solutions_panel(BANK_P), panels.comparison_panel(BANK_P)
    for panel, grid in ((panel_a, grid_a), (panel_b, grid_b)):
        panel.set(eta=panel.sliders["eta"].value * 2)  # off the grid: nothing drawn yet
        assert panel.stale
        for setting in grid:  # dragged to the slider positions nearest the setting
            eta = _slider_position(panel, setting.eta)
            panel.set(eta=eta, beta1=setting.beta1, beta2=setting.beta2)
            assert not panel.stale and panel.last_result.selection == setting
            assert panel.status.value.endswith("Runs: computed now.")
    panel = panels.solutions_panel(BANK_P)
    panel.set(eta=_slider_position(panel, 1e-3), beta2=0.9)  # on both grids, not in the bank
    assert panel.stale and "press <b>Run</b>" in panel.status.value


@pytest.mark.usefixtures("isolated_run_cache")
def test_figures_compute_draw_and_data_without_a_panel():
    assert [f.id for f in FIGURES] == ["fig10", "fig11"]
    fig10, fig11 = FIGURES
    assert fig10.variants is params.VARIANTS and fig10.trains
    assert fig10.params(fast=True).beta2s == params.FAST.beta2s
    result = fig10.compute(TINY_P, None)
    # the panel's opening setting: eta = eta_for_beta2, beta2 = beta2_for_eta
    assert result.selection == Selection(3e-3, 0.9, 0.999)
    data = fig10.data(result)
    assert data.columns.tolist() == [
        "optimizer",
        "method",
        "eta",
        "beta1",
        "beta2",
        "batch",
        "batch_size",
        "status",
        "reached",
        "steps",
        "sharpness",
        "precond_sharpness",
        "loss",
        "train_acc",
        "test_acc",
        "best_test_acc",
        "best_test_step",
        "in_eta_sweep",
        "in_beta2_sweep",
        "selected",
    ]
    assert len(data) == 4 and set(data["method"]) == {"Adam"}
    assert isinstance(fig10.draw(result, TINY_P), alt.VConcatChart)
    result = fig11.compute(TINY_P, None)
    assert result.selection == Selection(1e-3, 0.9, 0.9)
    data = fig11.data(result)
    assert data["method"].tolist() == ["EMA heavy ball"] * 2 + ["Adam"] * 2
    assert "in_eta_sweep" not in data and data["selected"].sum() == 1
    _draws(fig11.draw(result, TINY_P))


# ------------------------------------------------------------------------------ exercises


def _fake_bank(monkeypatch):
    """The exercises' data replaced by hand-made frames (no training)."""
    sweep = pd.DataFrame(
        {
            "eta": [1e-4, 4e-4, 1e-3, 2e-3],
            "beta2": 0.999,
            "status": "loss_threshold",
            "reached": True,
            "steps": [800, 400, 300, 420],
            "sharpness": [66.0, 47.0, 26.0, 60.0],
        }
    )
    momentum = pd.DataFrame({"eta": [0.5, 1.0], "steps": [900, 500], "sharpness": [70.0, 37.0]})
    adam = pd.DataFrame(
        {"reached": True, "eta": [2e-4], "beta2": 0.99, "steps": [600], "sharpness": [70.0]}
    )
    matched = experiments.matched_sharpness(adam, momentum.assign(reached=True))
    fake = type("Fake", (), {"matched": matched, "selection": Selection(1e-4, 0.9, 0.99)})
    monkeypatch.setattr(nb05_exercises, "eta_sweep", lambda P: sweep)
    monkeypatch.setattr(nb05_exercises, "momentum_runs", lambda P: momentum)
    monkeypatch.setattr(nb05_exercises, "comparison", lambda P, beta2=None: fake)


def _not_attempted(*args):
    raise NotImplementedError("your code here")


def test_exercise_checks_accept_the_library_reject_wrong_answers_and_skip_the_scaffold(
    monkeypatch,
):
    _fake_bank(monkeypatch)
    monkeypatch.delenv(EXPECT_SOLVED_ENV, raising=False)
    P = params.FULL

    def log_interp(steps, xs, ys):
        order = np.argsort(xs)
        return np.interp(np.log(steps), np.log(np.asarray(xs)[order]), np.asarray(ys)[order])

    def linear_interp(steps, xs, ys):
        order = np.argsort(xs)
        return np.interp(steps, np.asarray(xs)[order], np.asarray(ys)[order])

    cases = [
        (
            nb05_exercises.check_stable_range,
            experiments.stable_etas,
            lambda frame: frame[frame["reached"]],
        ),
        (
            nb05_exercises.check_threshold,
            lambda eta, b: thresholds.threshold("ema_hb", eta, b),
            lambda eta, b: (2 + 2 * b) / eta,
        ),
        (nb05_exercises.check_matched, log_interp, linear_interp),
    ]
    for check, right, wrong in cases:
        assert check(right, P) is True
        with pytest.raises(WrongAnswer, match="wrong"):
            check(wrong, P)
        assert check(_not_attempted, P) is None


@pytest.mark.usefixtures("isolated_run_cache")
def test_exercise_tables_come_from_the_panels_runs():
    sweep = nb05_exercises.eta_sweep(TINY_P)
    assert sweep["eta"].tolist() == sorted(TINY_P.etas)
    assert set(sweep.columns) == {"eta", "beta2", "status", "reached", "steps", "sharpness"}
    momentum = nb05_exercises.momentum_runs(TINY_P)
    assert set(momentum["eta"]) <= set(TINY_P.momentum_etas)
    assert list(momentum.columns) == ["eta", "steps", "sharpness"]
