"""aeos_lab.adaptive: summaries, Adam's P trace, Prop. 1 on a network, panels, sweeps.

Training runs use a tiny network (16 wide, depth 2, 64 digits), so the whole file compiles a
handful of kernels. Expected values come from hand-written loops, numpy or closed forms.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from aeos_lab import adaptive
from aeos_lab.core import thresholds
from aeos_lab.engine import losses, train
from aeos_lab.engine.config import RunConfig

TINY = RunConfig(
    n_train=64,
    n_test=32,
    label_noise=1.0,
    width=16,
    depth=2,
    steps=30,
    track_every=10,
    eta=1e-3,
    beta2=0.99,
    eig_tol=1e-2,
)


pytestmark = pytest.mark.usefixtures("isolated_run_cache")


def records(step, **columns) -> pd.DataFrame:
    return pd.DataFrame({"step": np.asarray(step), **columns})


# ---------------------------------------------------------------------------------------------
# small helpers


def test_choose_scale_uses_the_lab_task_on_a_cpu():
    lab = adaptive.choose_scale(False, platform="gpu")
    assert not lab.paper and lab.base == RunConfig(**adaptive.LAB_TASK)
    assert adaptive.choose_scale(True, platform=None).base.label_noise == 1.0
    assert adaptive.choose_scale(True, platform="gpu").base.dataset == "cifar10"


def test_threshold_crossings_are_upward_only():
    frame = records(np.arange(7) * 10, ratio=[0.9, 1.1, 1.2, 0.95, 1.0, 1.05, 0.7])
    assert adaptive.threshold_crossings(frame) == [10, 50]


def test_late_summaries_against_hand_computation():
    steps = np.arange(0, 291, 10)
    ratio = np.linspace(0.5, 1.5, steps.size)
    sharp = 10.0 + steps / 10.0
    frame = records(steps, ratio=ratio, sharpness=sharp)
    late = steps >= 200  # the last third of 290 steps starts after step 193.3
    assert adaptive.late_ratio(frame) == pytest.approx(np.median(ratio[late]))
    assert adaptive.late_rise(frame) == pytest.approx((39.0 - 30.0) / 30.0)
    stats = adaptive.oscillation_stats(frame)
    assert stats["median"] == pytest.approx(np.median(ratio[late]))
    assert stats["share_above"] == pytest.approx(np.mean(ratio[late] > 1))
    assert stats["low"] == pytest.approx(np.quantile(ratio[late], 0.1))
    assert stats["high"] == pytest.approx(np.quantile(ratio[late], 0.9))


def test_log10_histogram_counts_every_parameter_in_its_bin():
    precond = {
        "layers_0": {"kernel": np.full((3, 4), 1e-3), "bias": np.full(4, 1e-7)},
        "layers_1": {"kernel": np.full((4, 2), 0.05), "bias": np.full(2, 1e3)},
    }
    hist = adaptive._log10_histogram(precond)
    sizes = hist.groupby("layer")["count"].sum().to_dict()
    assert sizes == {"layer 1": 16, "layer 2 (output)": 10}
    first = hist[hist["layer"] == "layer 1"].set_index("log10_P")["count"]
    width = adaptive.LOG10_P_BINS[1] - adaptive.LOG10_P_BINS[0]
    centre_of = {c: c for c in first.index}
    assert sum(v for c, v in first.items() if abs(c - -3.0) <= width / 2 + 1e-12) == 12
    assert sum(v for c, v in first.items() if abs(c - -7.0) <= width / 2 + 1e-12) == 4
    assert centre_of  # every kept bin has a positive count
    assert (hist["count"] > 0).all()
    # 1e3 lies beyond the last bin and is counted in it
    last = hist[hist["layer"] == "layer 2 (output)"]["log10_P"].max()
    assert last == pytest.approx(adaptive.LOG10_P_BINS[-1] - width / 2)


def test_optimizer_settings_follow_the_paper():
    rms = adaptive.optimizer_config(TINY, "RMSprop", 1e-3)
    assert rms.optimizer == "rmsprop" and rms.beta2 == 0.995
    padam = adaptive.optimizer_config(TINY, "Padam", 1e-2)
    assert dict(padam.extra)["exponent"] == 0.25
    adam_bc = adaptive.optimizer_config(TINY, "Adam, bias-corrected", 1e-3)
    assert adam_bc.optimizer == "adam" and adam_bc.bias_correction is True
    b = 0.9
    closed = {"Nadam": (2 + 2 * b) / ((1 - b) * (1 + 2 * b) * 1e-3), "Adagrad": 2 / 1e-3}
    for label, value in closed.items():
        name = adaptive.OPTIMIZER_SETTINGS[label][0]
        assert thresholds.optimizer_threshold(name, 1e-3, b) == pytest.approx(value)


def test_equilibrium_grid_lists_the_three_sweeps():
    grid = adaptive.EquilibriumGrid(
        etas=(1e-3, 3e-3), beta1s=(0.8, 0.9), beta2s=(0.9, 0.999), eta=1e-3
    )
    settings = grid.settings()
    assert settings["eta"] == [(1e-3, 0.9, 0.999), (3e-3, 0.9, 0.999)]
    assert settings["beta1"] == [(1e-3, 0.8, 0.999), (1e-3, 0.9, 0.999)]
    assert settings["beta2"] == [(1e-3, 0.9, 0.9), (1e-3, 0.9, 0.999)]
    assert grid.snap(1.01e-3, 0.8001, 0.9) == (1e-3, 0.8, 0.9)
    assert grid.snap(2e-3, 0.85, 0.95) == (2e-3, 0.85, 0.95)


# ---------------------------------------------------------------------------------------------
# computations with fake runs (no training)


class FakeResult:
    def __init__(self, config, frame):
        self.config, self.records = config, frame
        self.diverged, self.status, self.device = False, "step_limit", "cpu"


def test_zoom_splits_the_preconditioned_gradient(monkeypatch):
    steps = np.arange(100, 111)
    share = np.linspace(0.1, 0.9, steps.size)
    norm = np.linspace(1.0, 3.0, steps.size)
    ratio = np.array([0.9, 1.1, 1.05, 0.9, 0.95, 1.2, 0.8, 0.9, 1.0, 1.01, 0.99])
    frame = records(
        steps,
        ratio=ratio,
        precond_grad_top_share=share,
        precond_grad_norm=norm,
        threshold=np.full(steps.size, 38e3),
        precond_sharpness=ratio * 38e3,
        precond_sharpness_2=ratio * 30e3,
        sharpness=np.ones(steps.size),
        grad_norm=np.ones(steps.size),
        P_mean=np.ones(steps.size),
        loss=np.ones(steps.size),
    )
    monkeypatch.setattr(
        adaptive.experiments,
        "run_configs",
        lambda configs, progress=None: [FakeResult(configs[0], frame)],
    )
    result = adaptive.zoom(TINY, 1e-3, 100, 10, k=2)
    window = result["window"]
    np.testing.assert_allclose(window["top_sq"] + window["rest_sq"], norm**2)
    np.testing.assert_allclose(window["top_sq"], share * norm**2)
    assert result["crossings"] == [101, 105, 109]
    assert result["burst_top_share"] == pytest.approx(share[-2:].mean())  # 90th pct: 2 largest
    assert result["quiet_top_share"] == pytest.approx(share[:6].mean())  # the 6 smallest
    assert result["mean_top_share"] == pytest.approx(share.mean())
    np.testing.assert_allclose(window["P_change"], 0.0)
    assert set(result["eigs"]["eigenvalue"]) == {"λ1", "λ2"}
    for quantity in adaptive.ZOOM_QUANTITIES:
        adaptive.zoom_chart(result, quantity).to_dict()
    adaptive.zoom_grad_chart(result).to_dict()


def test_corner_case_measures_growth_after_the_freeze(monkeypatch):
    steps = np.arange(0, 401, 100)

    def fake(configs, progress=None):
        out = []
        for config in configs:
            frozen = config.freeze_precond_at is not None
            ratio = np.array([50.0, 0.1, 0.2, 0.25 if frozen else 0.4, 0.3 if frozen else 0.8])
            p = np.array([1e-7, 1e-3, 1e-3, 1e-3, 1e-3 if frozen else 5e-4])
            frame = records(steps, ratio=ratio, P_median=p, sharpness=np.full(5, 10.0))
            out.append(FakeResult(config, frame))
        return out

    monkeypatch.setattr(adaptive.experiments, "run_configs", fake)
    result = adaptive.corner_case(TINY, 1e-5, freeze_at=200)
    summary = result["summary"].set_index("run")
    assert summary.loc["Adam", "gain"] == pytest.approx(0.8 / 0.2)
    assert summary.loc["P frozen at step 200", "gain"] == pytest.approx(0.3 / 0.2)
    assert summary.loc["Adam", "p_change"] == pytest.approx(-0.5)
    assert summary.loc["P frozen at step 200", "p_change"] == pytest.approx(0.0)
    assert 0 not in set(result["table"]["step"])  # step 0 (P = eps) is left off the charts
    adaptive.corner_chart(result, "ratio").to_dict()


# ---------------------------------------------------------------------------------------------
# Adam's P, Prop. 1


def hand_written_adam(config, steps):
    """Adam (no bias correction) by its update rule, in float64: P after ``steps`` steps."""
    problem = train.build_problem(config)
    loss_of = losses.get_loss(config.loss)
    x64 = jnp.asarray(problem.x_train, jnp.float64)
    y64 = jnp.asarray(problem.y_train, jnp.float64)
    params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), problem.params0)
    grad = jax.jit(jax.grad(lambda p: loss_of(problem.model.apply(p, x64), y64)))
    m = jax.tree.map(jnp.zeros_like, params)
    nu = jax.tree.map(jnp.zeros_like, params)
    b1, b2, eps, eta = config.beta1, config.beta2, config.eps, config.eta
    for _ in range(steps):
        g = grad(params)
        m = jax.tree.map(lambda a, b: b1 * a + (1 - b1) * b, m, g)
        nu = jax.tree.map(lambda a, b: b2 * a + (1 - b2) * b * b, nu, g)
        p = jax.tree.map(lambda v: jnp.sqrt(v) + eps, nu)
        params = jax.tree.map(lambda x, a, q: x - eta * a / q, params, m, p)
    return np.concatenate([np.ravel(np.asarray(a)) for a in jax.tree.leaves(p)])


def test_precond_trace_follows_adams_update_rule():
    trace = adaptive.precond_trace(TINY, [0, 12], every=4)
    summary = trace["summary"].set_index("step")
    assert summary.loc[0, "at_eps"] == 1.0 and summary.loc[0, "P_median"] == pytest.approx(1e-7)
    assert list(trace["trace"]["step"]) == [0, 4, 8, 12]
    reference = hand_written_adam(TINY, 12)
    row = trace["trace"].set_index("step").loc[12]
    for name, q in adaptive.P_QUANTILES.items():
        assert row[name] == pytest.approx(np.quantile(reference, q), rel=1e-3), name
    assert summary.loc[12, "at_eps"] == pytest.approx(np.mean(reference < 1e-6))
    np.testing.assert_allclose(
        np.sort(
            np.concatenate([np.ravel(a) for a in jax.tree.leaves(adaptive.adam_precond(TINY, 12))])
        ),
        np.sort(reference),
        rtol=1e-3,
    )
    # the histogram holds every parameter at every snapshot
    sizes = trace["hist"].groupby("step")["count"].sum()
    assert (sizes == reference.size).all()
    # a second call is served from the disk cache
    again = adaptive.precond_trace(TINY, [0, 12], every=4)
    pd.testing.assert_frame_equal(again["trace"], trace["trace"])
    result = adaptive.precond_source_result(trace, 12, freeze_at=12)
    adaptive.precond_quantile_chart(result).to_dict()
    adaptive.precond_histogram_chart(result).to_dict()


def test_prop1_holds_on_the_network_and_fails_without_p():
    precond = adaptive.adam_precond(TINY, 10)
    result = adaptive.isomorphism_check(TINY, precond, steps=8)
    assert result["max_prop1_gap"] < 1e-12
    assert result["max_loss_gap"] < 1e-12
    assert result["max_plain_gap"] > 1e-2
    ones = jax.tree.map(np.ones_like, precond)
    same = adaptive.isomorphism_check(TINY, ones, steps=8)
    assert same["max_plain_gap"] < 1e-12  # with P = I frozen Adam is EMA heavy ball
    adaptive.isomorphism_chart(result).to_dict()


# ---------------------------------------------------------------------------------------------
# training through the engine


def test_frozen_sweep_summary_matches_the_records():
    base = TINY.replace(steps=29, track_every=5)  # last third: steps 20, 25, 29
    sweep = adaptive.frozen_sweep(base, [1e-3, 2e-3], freeze_at=10, freeze_eta=1e-3, selected=2e-3)
    summary = sweep["summary"].set_index("eta")
    frozen = train.run(adaptive.frozen_config(base, 2e-3, freeze_at=10, freeze_eta=1e-3))
    recs = frozen.records
    late = recs[recs["step"] >= 20]
    assert summary.loc[2e-3, "late_ratio"] == pytest.approx(np.median(late["ratio"]))
    assert summary.loc[2e-3, "threshold"] == pytest.approx(38 / 2e-3)
    sharp = late["sharpness"].to_numpy()
    assert summary.loc[2e-3, "frozen_rise"] == pytest.approx((sharp[-1] - sharp[0]) / sharp[0])
    assert summary.loc[2e-3, "selected"] and not summary.loc[1e-3, "selected"]
    assert set(sweep["frozen"]["optimizer"]) == {"frozen_adam"}
    assert set(sweep["adam"]["optimizer"]) == {"adam"}
    assert 0 in set(sweep["frozen"]["step"]) and 0 not in set(sweep["adam"]["step"])
    for builder in adaptive.frozen_charts((1e-4, 1e-2)):
        builder(sweep).to_dict()
