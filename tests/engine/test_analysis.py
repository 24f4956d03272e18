import numpy as np
import pandas as pd
import pytest

from aeos_lab.engine import analysis
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.results import RunResult


def fake_result(ratios, steps=None, **config):
    steps = list(range(0, 10 * len(ratios), 10)) if steps is None else steps
    n = len(ratios)
    records = pd.DataFrame(
        {
            "step": steps,
            "ratio": ratios,
            "precond_sharpness": np.asarray(ratios) * 380.0,
            "loss": np.linspace(1.0, 0.1, n),
            "sharpness": np.linspace(10.0, 20.0, n),
            "train_acc": np.linspace(0.1, 0.9, n),
            "test_acc": np.linspace(0.1, 0.8, n),
            "threshold": 380.0,
        }
    )
    return RunResult(RunConfig(**config), records, "step_limit", False, steps[-1], "cpu")


def test_late_median_uses_the_last_fraction_of_steps_not_rows():
    # a dense window early in the run must not pull the median
    steps = [0, 1, 2, 3, 4, 5, 100, 200, 300, 400]
    ratios = [5.0] * 6 + [0.9, 1.0, 1.1, 1.0]
    records = fake_result(ratios, steps).records
    assert analysis.late_median(records, "ratio", 0.5) == pytest.approx(1.0)  # steps 200-400
    with pytest.raises(ValueError, match="fraction"):
        analysis.late_median(records, "ratio", 0.0)


def test_summarize_has_one_row_per_run_with_hyperparameters():
    results = [
        fake_result([1.0, 2.0, 3.0, 4.0], eta=1e-3),
        fake_result([1.0, 1.0, 1.0, 1.0], eta=3e-4),
    ]
    summary = analysis.summarize(results)
    assert list(summary["eta"]) == [1e-3, 3e-4]
    assert list(summary["late_ratio"]) == [3.5, 1.0]
    assert summary["final_sharpness"].tolist() == [20.0, 20.0]


def test_spearman_matches_hand_ranks():
    assert analysis.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert analysis.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks (1,2,3,4) vs (2,1,4,3): d^2 = 4, rho = 1 - 6*4/(4*15) = 0.6
    assert analysis.spearman([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(0.6)
    with pytest.raises(ValueError):
        analysis.spearman([1, 2], [1, 2])


def test_rise_measures_late_growth():
    records = fake_result([1.0] * 5).records  # sharpness 10 -> 20 linearly over steps 0..40
    assert analysis.rise(records, "sharpness", start=0.5) == pytest.approx(5 / 15)


def test_table_drops_early_steps():
    frame = analysis.table([fake_result([9.0, 1.0, 1.0])], min_step=10)
    assert frame["step"].tolist() == [10, 20]


def test_threshold_crossings_are_upward_only():
    frame = pd.DataFrame(
        {"step": np.arange(7) * 10, "ratio": [0.9, 1.1, 1.2, 0.95, 1.0, 1.05, 0.7]}
    )
    assert analysis.threshold_crossings(frame) == [10, 50]


def test_oscillation_stats_against_hand_computation():
    steps = np.arange(0, 291, 10)
    ratio = np.linspace(0.5, 1.5, steps.size)
    frame = pd.DataFrame({"step": steps, "ratio": ratio})
    late = ratio[steps >= 200]  # the last third of 290 steps starts after step 193.3
    stats = analysis.oscillation_stats(frame)
    assert stats.median == pytest.approx(np.median(late))
    assert stats.share_above == pytest.approx(np.mean(late > 1))
    assert stats.low == pytest.approx(np.quantile(late, 0.1))
    assert stats.high == pytest.approx(np.quantile(late, 0.9))
    assert stats.count == late.size == 10


def test_relative_trend_is_a_fitted_line_over_the_late_part():
    steps = np.arange(0, 3001, 20)
    line = pd.DataFrame({"step": steps, "y": 10 + 0.001 * steps})
    late = 10 + 0.001 * steps[steps > 2000]
    expected = 0.001 * 980 / late.mean()
    assert analysis.relative_trend(line, "y", 1 / 3) == pytest.approx(expected)
    # flat but for a low first and a high last point of the late part: the endpoints say +200%
    spiky = pd.DataFrame({"step": steps, "y": 10.0})
    spiky.loc[spiky["step"] == 2020, "y"] = 5.0
    spiky.loc[spiky["step"] == 3000, "y"] = 15.0
    assert 0 < analysis.relative_trend(spiky, "y", 1 / 3) < 0.2


def test_fitted_trend_spread_grows_with_noise_and_is_zero_on_a_line():
    steps = np.arange(0, 300, 10)
    line = pd.DataFrame({"step": steps, "y": 10 + 0.01 * steps})
    exact = analysis.fitted_trend(line, "y", 1.0)
    assert exact.stderr == pytest.approx(0, abs=1e-12) and exact.points == len(steps)
    rng = np.random.default_rng(0)
    noisy = line.assign(y=line["y"] + rng.normal(0, 0.5, len(steps)))
    trend = analysis.fitted_trend(noisy, "y", 1.0)
    assert 0.005 < trend.stderr < 0.1  # 0.5 noise on a mean near 11.5
    assert abs(trend.change - exact.change) < 4 * trend.stderr
    assert trend.text().startswith("+") and "measurements" in trend.text()
    two = analysis.fitted_trend(line.iloc[:2], "y", 1.0)
    assert two.change == pytest.approx(0.1 / 10.05) and np.isnan(two.stderr) and two.points == 2
    assert np.isnan(analysis.fitted_trend(line.iloc[:1], "y", 1.0).change)
