"""Notebook 03's split of lambda_1(P^-1 H) into a P part and an H part (experiments_split,
views_split, panels_split): the run is the engine's own, the split adds up, and at the edge
the Hessian sharpens while P grows and the two parts nearly cancel (sec. 6's account).

The runs are the notebook's own (the micro network, ``params.FULL``'s split settings): a few
seconds each here after compiling."""

import numpy as np
import pandas as pd
import pytest

from aeos_lab.engine import train
from aeos_lab.lessons.nb03_adam_aeos import experiments_split, panels_split, params, views_split

P = params.FULL
BASE = experiments_split.split_base(P.split_steps, P.split_track)
DEFAULT = (P.micro_eta, P.beta1, P.beta2)

pytestmark = pytest.mark.usefixtures("isolated_run_cache")


@pytest.fixture(scope="module")
def result():
    return experiments_split.split_run(BASE, DEFAULT, edge=P.split_edge)


def test_the_split_run_is_the_engines_run_at_that_setting(result):
    """lambda_1(P^-1 H) from the dense Hessians matches the engine's own measurement (Lanczos
    to relative accuracy eig_tol = 1e-2) at every measurement after step 0: the parameters and
    P of each measurement are paired as the engine pairs them."""
    config = BASE.replace(eta=DEFAULT[0], beta1=DEFAULT[1], beta2=DEFAULT[2], eig_tol=1e-3)
    records = train.run(config, cache=False).records
    merged = result.measurements.merge(records, on="step", suffixes=("", "_engine"))
    assert len(merged) == P.split_steps // P.split_track + 1
    later = merged[merged["step"] > 0]
    np.testing.assert_allclose(
        later["precond_sharpness"], later["precond_sharpness_engine"], rtol=2e-2
    )
    np.testing.assert_allclose(later["sharpness"], later["sharpness_engine"], rtol=2e-2)


def test_parts_add_up_and_the_frame_holds_the_edge_window(result):
    frame = result.frame
    assert result.edge_step > 0
    assert frame["start"].iloc[0] == result.edge_step
    assert len(frame) == result.intervals == (P.split_steps - result.edge_step) // P.split_track
    np.testing.assert_allclose(frame["shapley_p"] + frame["shapley_h"], frame["total"], atol=1e-9)
    np.testing.assert_allclose(
        frame["p_part"] + frame["h_part"] + frame["interaction"], frame["total"], atol=1e-9
    )
    np.testing.assert_allclose(frame["cum_p"], np.cumsum(frame["shapley_p"]))
    assert result.cum_p + result.cum_h == pytest.approx(result.total, abs=1e-6)
    assert result.first_p + result.first_h + result.cum_interaction == pytest.approx(
        result.total, abs=1e-6
    )
    # the totals telescope: the change of lambda_1(P^-1 H) across the window
    lam = result.measurements.set_index("step")["precond_sharpness"]
    assert result.total == pytest.approx(lam.iloc[-1] - lam[result.edge_step], rel=1e-9, abs=1e-6)
    assert result.start_value == pytest.approx(lam[result.edge_step])


def test_at_the_edge_h_sharpens_p_grows_and_the_parts_nearly_cancel(result):
    """Sec. 6's account at the notebook's default setting: summed over the edge window the H
    part is positive, the P part negative, and their sum is small next to either."""
    assert result.cum_h > 0 > result.cum_p
    assert result.cancellation() < P.split_cancel
    assert abs(result.total) < 0.1 * result.cum_h
    assert result.opposed_share >= P.split_opposed
    assert 0.85 <= result.edge_median <= 1.15
    trend = result.sharpness_trend
    assert trend.change > 3 * trend.stderr > 0  # lambda_1(H) rises, well beyond its noise


def test_a_run_far_below_the_edge_has_a_short_or_empty_window():
    """At a tiny eta the threshold 38/eta is far away: the window starts late or is empty, and
    nothing breaks."""
    run = experiments_split.split_run(BASE, (1e-4, 0.9, 0.999), edge=P.split_edge)
    assert run.intervals < 5
    assert run.edge_median < 0.9 or run.intervals > 0


def test_views_draw_the_parts_and_the_table(result):
    for view in (views_split.parts_chart, views_split.running_chart, views_split.ratio_chart):
        spec = view(result).to_dict()
        assert spec["layer"]
    table, caption = views_split.split_table(result)
    assert isinstance(table, pd.DataFrame) and len(table) == 1
    assert table["from step"].iloc[0] == result.edge_step
    assert "exactly" in caption


def test_the_panel_starts_at_the_parameters_and_recomputes_on_a_release():
    panel = panels_split.split_panel(P)
    first = panel.set_and_run(eta=P.micro_eta, beta1=P.beta1, beta2=P.beta2)
    assert (first.eta, first.beta1, first.beta2) == pytest.approx(DEFAULT)
    other = panel.set_and_run(eta=2.5e-2, beta1=0.9, beta2=0.99)
    assert other.eta == pytest.approx(2.5e-2, rel=0.05) and other.beta2 == pytest.approx(0.99)
    assert other.threshold == pytest.approx(38 / other.eta)
    assert panel.last_result is other
