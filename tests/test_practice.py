"""Helpers and panels of notebooks 04 and 05 (aeos_lab.practice).

Pure helpers are checked on hand-made records against values worked out by hand; the panels
run on a tiny network (64 examples, width 16, depth 2) so that every compilation and run takes
a second or two.
"""

import math

import numpy as np
import pandas as pd
import pytest

from aeos_lab import experiments, practice
from aeos_lab.engine.config import RunConfig

TINY = RunConfig(n_train=64, n_test=32, width=16, depth=2, steps=20, track_every=10, eig_tol=1e-2)
TINY_SCALE = experiments.Scale(TINY, False, "tiny test task")


pytestmark = pytest.mark.usefixtures("isolated_run_cache")


def records(**columns):
    return pd.DataFrame(columns)


# ------------------------------------------------------------------------------ pure helpers


def test_solution_point_is_the_first_measurement_below_the_threshold():
    recs = records(step=[0, 10, 20, 30], loss=[1.0, 0.2, 0.05, 0.01], sharpness=[1, 2, 3, 4])
    point = practice.solution_point(recs, 0.1)
    assert point["step"] == 20 and point["sharpness"] == 3
    assert practice.solution_point(recs, 0.001) is None
    with pytest.raises(ValueError, match="loss_threshold"):
        practice.solution_point(recs, 0.0)


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
    matched = practice.matched_sharpness(adam, momentum)
    # 50 steps lies outside momentum's range; 200 = halfway between 100 and 400 in log steps,
    # 800 halfway between 400 and 1600
    assert matched["steps"].tolist() == [200, 800]
    np.testing.assert_allclose(matched["momentum_sharpness"], [20.0, 40.0])
    np.testing.assert_allclose(matched["ratio"], [25 / 20, 45 / 40])


def test_stable_etas_end_at_the_fastest_run():
    frame = pd.DataFrame(
        {
            "eta": [1e-4, 2e-4, 4e-4, 1e-3, 2e-3, 3e-3],
            "reached": [True, True, True, True, True, False],
            "steps": [844, 533, 375, 303, 426, np.nan],
        }
    )
    assert practice.stable_etas(frame)["eta"].tolist() == [1e-4, 2e-4, 4e-4, 1e-3]
    assert practice.stable_etas(frame.assign(reached=False)).empty


def test_warmup_tracking_reports_the_band_after_reaching_the_threshold():
    recs = records(
        step=[0, 50, 100, 150, 200, 250, 300],
        ratio=[50.0, 0.3, 0.96, 1.15, 0.85, 1.3, 1.0],
        loss=[1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.01],
    )
    tracked = practice.warmup_tracking(recs, 200)
    assert tracked["reached_step"] == 100
    assert (tracked["band_min"], tracked["band_max"]) == (0.85, 1.15)
    assert tracked["within"] and tracked["tracked_points"] == 3
    assert tracked["after_ratio"] == pytest.approx(1.15)  # median of 1.3 and 1.0
    assert tracked["final_loss"] == 0.01
    # a spike inside the warmup breaks the band; never reaching gives no band
    assert not practice.warmup_tracking(recs, 250)["within"]
    assert practice.warmup_tracking(recs.assign(ratio=0.5), 200)["reached_step"] is None


def test_threshold_path_is_38_over_the_current_eta():
    config = TINY.replace(eta=1e-3, warmup_steps=100, steps=300)
    path = practice.threshold_path(config, points=31)
    # step s reports the update made with eta_{s-1} = eta * min(1, s / warmup)
    expected = 38.0 / (1e-3 * np.minimum(1.0, path["step"].to_numpy() / 100))
    np.testing.assert_allclose(path["threshold"], expected, rtol=1e-12)
    assert 100 in path["step"].tolist() and path["step"].min() == 1


def test_accuracy_stderr_is_the_binomial_formula():
    np.testing.assert_allclose(practice.accuracy_stderr([0.5, 0.9], 100), [0.05, 0.03])
    with pytest.raises(ValueError, match="n"):
        practice.accuracy_stderr(0.5, 0)


def test_outcome_tells_diverged_stalled_and_trained_apart():
    falling = records(loss=[1.0, 0.5, 0.1])
    stuck = records(loss=[0.9, 2.0, 0.43])
    assert practice.outcome(falling, diverged=False) == "trained"
    assert practice.outcome(stuck, diverged=False) == "stalled"
    assert practice.outcome(falling, diverged=True) == "diverged"


def test_batch_labels_and_examples_per_step():
    assert practice.examples_per_step(TINY) == 64
    assert practice.examples_per_step(TINY.replace(batch_size=16)) == 16
    assert practice.examples_per_step(RunConfig()) == 1500  # the default task
    assert practice.batch_label(TINY) == "full batch (64)"
    assert practice.batch_label(TINY.replace(batch_size=64)) == "full batch (64)"
    assert practice.batch_label(TINY.replace(batch_size=16)) == "batch 16"


def test_choose_scale_falls_back_to_the_default_task_without_a_gpu():
    plain = practice.choose_scale(False, platform="gpu")
    assert plain.base == RunConfig() and not plain.paper
    fallback = practice.choose_scale(True, platform=None)
    assert fallback.base == RunConfig() and not fallback.paper
    assert "no GPU" in fallback.note
    paper = practice.choose_scale(True, platform="gpu")  # builds the config, loads nothing
    assert paper.paper and paper.base.dataset == "cifar10" and paper.base.n_train == 5000


def test_sweep_configs_share_runs_and_treat_minibatch_differently():
    sweeps = dict(etas=[1e-3, 3e-3], beta2s=[0.9, 0.999], eta_for_beta2=1e-3, beta2_for_eta=0.999)
    full = practice.sweep_configs(TINY, loss_threshold=0.1, steps=50, track_every=10, **sweeps)
    # 2 etas + 2 beta2s, with (1e-3, 0.999) in both sweeps
    assert [(c.eta, c.beta2) for c in full] == [(1e-3, 0.999), (3e-3, 0.999), (1e-3, 0.9)]
    assert all(c.steps == 50 and c.track_every == 10 and c.loss_threshold == 0.1 for c in full)
    assert all(c.optimizer == "adam" and c.batch_size is None for c in full)
    mini = practice.sweep_configs(
        TINY, loss_threshold=0.1, steps=80, track_every=5, batch_size=16, **sweeps
    )
    assert len(mini) == 3 and all(c.batch_size == 16 for c in mini)
    assert all(c.loss_threshold is None for c in mini)  # the engine would ignore it


# ------------------------------------------------------------------------------ with training


def test_solutions_of_full_batch_and_minibatch_runs():
    threshold = 0.3
    full = TINY.replace(eta=3e-3, steps=200, track_every=50, loss_threshold=threshold)
    mini = full.replace(batch_size=16, loss_threshold=None)
    results = experiments.run_configs([full, mini])
    frame = practice.solutions(results, threshold).set_index("batch")
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


def test_batch_panel_runs_on_demand_and_shows_cached_settings_at_once():
    panel = practice.batch_panel(
        TINY_SCALE, batch_sizes=[16, None], etas=[1e-3, 3e-3], steps=20, track_every=10
    )
    assert panel.stale and panel.last_result is None  # nothing trained before Run
    panel.run()
    assert panel.last_error is None
    summary = panel.last_result["summary"]
    assert summary["examples"].tolist() == [16, 64, 16, 64]  # sorted by eta, then batch
    assert set(panel.last_result["table"]["batch"]) == {"batch 16", "full batch (64)"}
    panel.set(eta=3e-3)  # in the sweep: shown without pressing Run
    assert not panel.stale and panel.last_result["eta"] == 3e-3
    panel.set(eta=2e-3)  # new: waits for Run
    assert panel.stale and panel.last_result["eta"] == 3e-3
    result = panel.set_and_run(eta=2e-3)
    assert result["eta"] == 2e-3 and len(result["summary"]) == 6


def test_warmup_and_breakdown_panels():
    warm = practice.warmup_panel(TINY_SCALE, warmup=20, after=10, eta=3e-3, track_every=5)
    result = warm.set_and_run(eta=3e-3)
    assert warm.last_error is None
    assert result["config"].warmup_steps == 20 and result["config"].steps == 30
    assert result["records"]["step"].min() >= 1 and result["tracking"] is not None
    np.testing.assert_allclose(
        result["records"]["lr"],
        [3e-3 * min(1.0, s / 20) for s in result["records"]["step"]],
        rtol=1e-6,
    )
    broken = practice.breakdown_panel(TINY_SCALE, warmup=20, after=10, eta=3e-3)
    result = broken.set_and_run(eta=3e-3)
    assert broken.last_error is None
    assert result["summary"]["warmup"].tolist() == ["no warmup", "warmup 20"]
    assert [r.config.steps for r in result["results"]] == [30, 30]
    assert set(result["summary"]["outcome"]) <= {"trained", "stalled", "diverged"}
    assert len(broken.set_and_run(warmup=0)["results"]) == 1  # no warmup twice is one run


def test_solutions_and_comparison_panels_select_runs():
    common = dict(loss_threshold=0.3, steps=200, track_every=50)
    panel = practice.solutions_panel(
        TINY_SCALE,
        etas=[1e-3, 3e-3],
        beta2s=[0.9, 0.999],
        eta_for_beta2=3e-3,
        large_batch=16,
        large_batch_etas=[3e-3],
        large_batch_beta2s=[],
        large_batch_steps=100,
        **common,
    )
    result = panel.set_and_run(eta=3e-3, beta2=0.9)
    assert panel.last_error is None
    frame = result["solutions"]
    # full batch: (1e-3, .999), (3e-3, .999), (3e-3, .9); batch 16: (3e-3, .999) only
    assert len(frame) == 4 and frame["selected"].sum() == 1
    assert frame.loc[frame["selected"], "beta2"].tolist() == [0.9]
    assert frame["in_eta_sweep"].sum() == 3 and frame["in_beta2_sweep"].sum() == 2
    assert frame.loc[frame["batch"] == "batch 16", "in_beta2_sweep"].sum() == 0
    result = panel.set_and_run(beta2=0.999)  # in both batch settings' sweeps: two rings
    assert result["solutions"]["selected"].sum() == 2
    panel.set(beta2=0.999)  # (3e-3, 0.999) is in the eta sweep: no Run needed
    assert not panel.stale and panel.last_result["selection"]["beta2"] == 0.999
    panel.set(beta1=0.9000000000000001)  # float noise from a slider is not a new setting
    assert not panel.stale and panel.last_result["selection"]["beta1"] == 0.9

    compare = practice.comparison_panel(
        TINY_SCALE, adam_etas=[1e-3, 3e-3], momentum_etas=[0.3, 1.0], beta2=0.9, **common
    )
    result = compare.set_and_run(eta=1e-3)
    assert compare.last_error is None
    methods = result["solutions"]["method"].value_counts().to_dict()
    assert methods == {"EMA heavy ball": 2, "Adam": 2}
    assert result["solutions"].loc[result["solutions"]["selected"], "eta"].tolist() == [1e-3]
    assert set(result["matched"].columns) >= {"steps", "sharpness", "momentum_sharpness"}
    assert all(math.isfinite(v) for v in result["matched"]["ratio"])
