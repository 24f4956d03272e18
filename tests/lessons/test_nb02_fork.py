"""Lesson nb02_frozen_adam, the fork test (experiments_fork, views_fork, panels_fork): Adam and
frozen Adam branched off one Adam state on the micro network, against notebook 01's growth
factor. Runs the notebook's own fork settings (well under a second each after compiling), so
the behaviour checked is the one the notebook shows."""

import numpy as np
import pytest

from aeos_lab.core import fork as core_fork
from aeos_lab.core import thresholds
from aeos_lab.lessons.nb02_frozen_adam import experiments_fork, panels_fork, params, views_fork

P = params.select()


def _kw(**changes):
    kw = dict(
        eta=P.micro_eta,
        beta1=P.beta1,
        beta2=P.micro_beta2,
        target=P.fork_target,
        search_from=P.fork_search_from,
        every=P.fork_every,
        max_steps=P.fork_max_steps,
        horizon=P.fork_horizon,
        max_horizon=P.fork_max_horizon,
        fit_steps=P.fork_fit_steps,
        part_tol=P.fork_part_tol,
    )
    return {**kw, **changes}


@pytest.fixture(scope="module")
def default():
    return experiments_fork.fork_test(**_kw())


def _branch(result, label, column="c"):
    frame = result.frame
    return frame.loc[frame["branch"] == label, column].to_numpy()


def test_the_fork_is_the_first_measurement_past_the_target(default):
    r = default
    assert r.fork_step is not None and r.fork_step >= P.fork_search_from
    search = r.search
    assert search["step"].iloc[-1] == r.fork_step
    later = search[search["step"] >= P.fork_search_from]
    assert later["ratio"].iloc[-1] >= P.fork_target
    assert (later["ratio"].iloc[:-1] < P.fork_target).all()
    # the dense lambda_1 at the fork agrees with the Lanczos measurement that picked it
    assert r.ratio == pytest.approx(search["ratio"].iloc[-1], rel=5e-3)
    assert r.predicted == pytest.approx(
        thresholds.growth_factor("ema_hb", r.eta, r.beta1, r.lam), rel=1e-12
    )


def test_branches_identical_at_the_fork_frozen_grows_at_rho_adam_departs(default):
    r = default
    adam, frozen = _branch(r, experiments_fork.ADAM), _branch(r, experiments_fork.FROZEN)
    assert len(adam) == len(frozen) == P.fork_horizon + 1
    assert adam[0] == frozen[0]
    assert (
        _branch(r, experiments_fork.ADAM, "loss")[0]
        == _branch(r, experiments_fork.FROZEN, "loss")[0]
    )
    # past the threshold, c_t flips sign every step in both branches at first
    assert np.all(np.sign(frozen[1:5]) == -np.sign(frozen[:4]))
    # frozen Adam grows at notebook 01's rate within 10% (measured +4.7%: the loss is not
    # quadratic, lambda_1 along the frozen branch drifts up by ~1% over the fit window)
    assert r.predicted > 1.2
    assert abs(r.frozen_error) < 0.10
    # Adam follows for a few steps, then parts (P rises), and never grows faster than frozen
    assert r.parted_at is not None and 3 <= r.parted_at <= P.fork_horizon
    assert np.all(np.abs(adam[: r.parted_at]) <= np.abs(frozen[: r.parted_at]) * 1.05)
    assert np.abs(adam[r.parted_at]) < np.abs(frozen[r.parted_at])
    predicted = _branch(r, experiments_fork.PREDICTED)
    np.testing.assert_allclose(predicted[1:] / predicted[:-1], r.predicted, rtol=1e-12)


def test_a_faster_second_moment_parts_sooner(default):
    fast = experiments_fork.fork_test(**_kw(beta2=P.fork_check_beta2))
    assert fast.fork_step is not None
    assert abs(fast.frozen_error) < 0.10
    assert fast.parted_at < default.parted_at


def test_horizon_slices_the_same_computation(default):
    short = experiments_fork.fork_test(**_kw(horizon=10))
    assert short.frame["t"].max() == 10
    for label in (experiments_fork.ADAM, experiments_fork.FROZEN):
        np.testing.assert_array_equal(_branch(short, label), _branch(default, label)[:11])
    with pytest.raises(ValueError, match="horizon"):
        experiments_fork.fork_test(**_kw(horizon=P.fork_max_horizon + 1))


def test_views_and_panel(default):
    for build in (views_fork.fork_growth_chart, views_fork.fork_ratio_chart):
        spec = build(default).to_dict()
        assert spec["layer"]
    frame, caption = views_fork.fork_table(default)
    assert frame["fork"].iloc[0] == f"step {default.fork_step}"
    assert "t = 1 .. 5" in caption
    panel = panels_fork.fork_panel(P)
    assert panel.last_error is None
    assert panel.last_result.fork_step == default.fork_step
    assert set(panel.controls) == {"eta", "beta1", "beta2", "target", "horizon"}
    panel.set(horizon=12)
    assert panel.last_error is None and panel.last_result.frame["t"].max() == 12


def test_growth_fit_reads_a_pure_geometric_sequence():
    c = 0.2 * (-1.3) ** np.arange(8)
    assert core_fork.growth_per_step(c, 1, 6) == pytest.approx(1.3)
