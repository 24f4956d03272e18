"""aeos_lab.engine.traces: Adam's P along a run and Prop. 1 on a network.

A tiny network (16 wide, depth 2, 64 digits); expected values come from a hand-written Adam
loop in float64 and from numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from aeos_lab.engine import losses, traces, train
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


def test_log10_histogram_counts_every_parameter_in_its_bin():
    precond = {
        "layers_0": {"kernel": np.full((3, 4), 1e-3), "bias": np.full(4, 1e-7)},
        "layers_1": {"kernel": np.full((4, 2), 0.05), "bias": np.full(2, 1e3)},
    }
    hist = traces._log10_histogram(precond)
    sizes = hist.groupby("layer")["count"].sum().to_dict()
    assert sizes == {"layer 1": 16, "layer 2 (output)": 10}
    first = hist[hist["layer"] == "layer 1"].set_index("log10_P")["count"]
    width = traces.LOG10_P_BINS[1] - traces.LOG10_P_BINS[0]
    assert sum(v for c, v in first.items() if abs(c - -3.0) <= width / 2 + 1e-12) == 12
    assert sum(v for c, v in first.items() if abs(c - -7.0) <= width / 2 + 1e-12) == 4
    assert (hist["count"] > 0).all()
    # 1e3 lies beyond the last bin and is counted in it
    last = hist[hist["layer"] == "layer 2 (output)"]["log10_P"].max()
    assert last == pytest.approx(traces.LOG10_P_BINS[-1] - width / 2)


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
    used = config.hyperparameters  # Adam's own defaults where the config leaves them unset
    b1, b2, eps, eta = used["beta1"], used["beta2"], used["eps"], config.eta
    for _ in range(steps):
        g = grad(params)
        m = jax.tree.map(lambda a, b: b1 * a + (1 - b1) * b, m, g)
        nu = jax.tree.map(lambda a, b: b2 * a + (1 - b2) * b * b, nu, g)
        p = jax.tree.map(lambda v: jnp.sqrt(v) + eps, nu)
        params = jax.tree.map(lambda x, a, q: x - eta * a / q, params, m, p)
    return np.concatenate([np.ravel(np.asarray(a)) for a in jax.tree.leaves(p)])


def test_precond_trace_follows_adams_update_rule():
    trace = traces.precond_trace(TINY, [0, 12], every=4)
    assert trace.snapshot(0)["at_eps"] == 1.0
    assert trace.snapshot(0)["P_median"] == pytest.approx(1e-7)
    assert list(trace.trace["step"]) == [0, 4, 8, 12]
    reference = hand_written_adam(TINY, 12)
    row = trace.trace.set_index("step").loc[12]
    for name, q in traces.P_QUANTILES.items():
        assert row[name] == pytest.approx(np.quantile(reference, q), rel=1e-3), name
    assert trace.snapshot(12)["at_eps"] == pytest.approx(np.mean(reference < 1e-6))
    flat = np.concatenate([np.ravel(a) for a in jax.tree.leaves(traces.adam_precond(TINY, 12))])
    np.testing.assert_allclose(np.sort(flat), np.sort(reference), rtol=1e-3)
    # the histogram holds every parameter at every snapshot
    sizes = trace.hist.groupby("step")["count"].sum()
    assert (sizes == reference.size).all()
    with pytest.raises(ValueError, match="one of the snapshots"):
        trace.snapshot(5)


def test_precond_trace_is_cached_under_its_own_key():
    trace = traces.precond_trace(TINY, [0, 8], every=4)
    spec = traces.TraceConfig(TINY, (8, 0, 8), 4)
    assert spec.snapshots == (0, 8) and spec.key() == trace.config.key()
    # what a trace depends on changes its key; what it does not (steps, k) leaves it
    assert traces.TraceConfig(TINY.replace(eta=2e-3), (0, 8), 4).key() != spec.key()
    assert traces.TraceConfig(TINY, (0, 8), 2).key() != spec.key()
    assert traces.TraceConfig(TINY.replace(steps=99, k=3), (0, 8), 4).key() == spec.key()
    again = traces.precond_trace(TINY, [0, 8], every=4)
    pd.testing.assert_frame_equal(again.trace, trace.trace)
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        traces.TraceConfig(TINY, (0, 8), 0)


def test_prop1_holds_on_the_network_and_fails_without_p():
    precond = traces.adam_precond(TINY, 10)
    result = traces.isomorphism_check(TINY, precond, steps=8)
    assert result.max_prop1_gap < 1e-12
    assert result.max_loss_gap < 1e-12
    assert result.max_plain_gap > 1e-2
    assert list(result.steps["step"]) == list(range(9))
    ones = jax.tree.map(np.ones_like, precond)
    same = traces.isomorphism_check(TINY, ones, steps=8)
    assert same.max_plain_gap < 1e-12  # with P = I frozen Adam is EMA heavy ball


def test_states_pause_the_run_where_asked_and_match_its_records():
    config = TINY.replace(steps=12, track_every=4)
    seen = list(train.states(config, [8, 0, 4]))
    assert [step for step, _, _ in seen] == [0, 4, 8]
    records = train.run(config).records.set_index("step")
    loss_of = losses.get_loss(config.loss)
    problem = train.build_problem(config)
    for step, params, _ in seen:
        loss = float(loss_of(problem.model.apply(params, problem.x_train), problem.y_train))
        assert loss == pytest.approx(records.loc[step, "loss"], rel=1e-5)


def test_task_keeps_only_what_describes_the_task():
    config = TINY.replace(optimizer="rmsprop", eta=0.3, steps=7, k=2, batch_size=8)
    task = config.task()
    assert task.n_train == 64 and task.width == 16 and task.label_noise == 1.0
    assert task.optimizer == RunConfig().optimizer and task.steps == RunConfig().steps
    assert task.batch_size is None and task.k == 1
    assert config.task("k").k == 2
    assert task == TINY.task()
