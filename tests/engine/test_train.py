"""The training engine: schedule, records, stopping, sweeps, cache, sharding.

These use a tiny network and data set so each run compiles and trains in seconds; the
phenomena on the default task are asserted in tests/test_train_phenomena.py.
"""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from aeos_lab.core import optimizers
from aeos_lab.core.thresholds import optimizer_threshold
from aeos_lab.engine import data, results, train
from aeos_lab.engine.config import RunConfig

TINY = RunConfig(n_train=64, n_test=32, width=16, depth=2, steps=30, track_every=10, eta=1e-3)


pytestmark = pytest.mark.usefixtures("isolated_run_cache")


def full_loss(config):
    problem = train.build_problem(config)
    loss_fn = train._loss_fn(config, problem.model)
    return problem, lambda params: loss_fn(params, problem.x_train, problem.y_train)


def test_records_follow_the_measurement_schedule():
    result = train.run(TINY.replace(dense_window=(3, 5)), cache=False)
    assert result.records["step"].tolist() == [0, 3, 4, 5, 10, 20, 30]
    assert result.status == "step_limit" and not result.diverged and result.steps_done == 30
    for column in (
        "loss",
        "train_acc",
        "test_acc",
        "sharpness",
        "precond_sharpness",
        "lr",
        "threshold",
        "ratio",
        "grad_norm",
        "precond_grad_norm",
        "precond_grad_top_share",
        "P_min",
        "P_median",
        "P_max",
    ):
        assert np.all(np.isfinite(result.records[column])), column
    assert result.records["loss"].iloc[-1] < result.records["loss"].iloc[0]


def test_threshold_is_the_frozen_counterparts_at_each_steps_eta():
    result = train.run(TINY.replace(optimizer="nadam", warmup_steps=20), cache=False)
    records = result.records
    for step, lr, thr in zip(records["step"], records["lr"], records["threshold"], strict=True):
        expected_lr = TINY.eta * min(1.0, max(step, 1) / 20)
        assert lr == pytest.approx(expected_lr)
        assert thr == pytest.approx(optimizer_threshold("nadam", expected_lr, 0.9))
    assert np.allclose(records["ratio"], records["precond_sharpness"] / records["threshold"])


def test_first_measurement_matches_the_dense_hessian():
    config = TINY.replace(
        n_train=40, width=6, depth=1, steps=1, track_every=1, k=2, dtype="float64"
    )
    problem, loss = full_loss(config)
    result = train.run(config, cache=False)
    hessian = jax.hessian(lambda flat: loss(unravel(flat)))
    flat, unravel = jax.flatten_util.ravel_pytree(problem.params0)
    dense = np.asarray(hessian(flat))
    top = np.sort(np.linalg.eigvalsh(dense))[::-1][:2]
    first = result.records.iloc[0]
    assert [first["sharpness"], first["sharpness_2"]] == pytest.approx(top, rel=1e-3)
    # Adam's P at init is eps everywhere, so P^-1/2 H P^-1/2 = H / eps
    assert first["P_max"] == pytest.approx(config.hyperparameters["eps"])
    assert first["precond_sharpness"] == pytest.approx(
        top[0] / config.hyperparameters["eps"], rel=1e-3
    )


def test_divergence_stops_the_run_and_keeps_its_records():
    result = train.run(TINY.replace(optimizer="gd", eta=200.0, steps=200), cache=False)
    assert result.diverged and result.status == "diverged"
    assert result.steps_done < 200
    assert len(result.records) >= 1
    assert np.isfinite(result.records["loss"].iloc[0])


def test_loss_threshold_stops_at_the_solution():
    config = TINY.replace(eta=3e-3, steps=400, loss_threshold=0.05, track_every=400)
    result = train.run(config, cache=False)
    assert result.status == "loss_threshold"
    assert result.steps_done < 400
    assert result.records["step"].iloc[-1] == result.steps_done
    assert result.records["loss"].iloc[-1] < 0.05


def test_sweeps_vmap_by_default_only_off_a_single_cpu():
    assert train.vectorize_by_default() == (jax.default_backend() != "cpu")


def test_sweep_is_one_vmapped_run_that_matches_single_runs(monkeypatch):
    calls = []
    engine = train._Engine
    monkeypatch.setattr(
        train, "_Engine", lambda configs: calls.append(len(configs)) or engine(configs)
    )
    etas = [3e-4, 1e-3, 3e-3]
    swept = train.sweep(train.sweep_over(TINY, eta=etas), cache=False, vectorize=True)
    for eta, result in zip(etas, swept, strict=True):
        single = train.run(TINY.replace(eta=eta), cache=False)
        assert calls[0] == 3  # the three etas ran as one batch
        for column in ("loss", "sharpness", "precond_sharpness"):
            np.testing.assert_allclose(
                result.records[column], single.records[column], rtol=2e-3, err_msg=column
            )


def test_each_run_of_a_sweep_stops_on_its_own():
    swept = train.sweep(
        train.sweep_over(TINY.replace(optimizer="gd", steps=100), eta=[0.05, 500.0]), cache=False
    )
    assert not swept[0].diverged and swept[0].steps_done == 100
    assert swept[1].diverged and swept[1].steps_done < 100


def test_cached_run_returns_without_computing(monkeypatch, isolated_run_cache):
    first = train.run(TINY)
    train._memory.clear()  # force the disk cache

    def no_engine(*args, **kwargs):
        raise AssertionError("the engine ran although the result was cached")

    monkeypatch.setattr(train, "_Engine", no_engine)
    again = train.run(TINY)
    assert again.records.equals(first.records)


def test_corrupt_cache_entry_is_recomputed(isolated_run_cache):
    first = train.run(TINY)
    train._memory.clear()
    entry = isolated_run_cache / f"{TINY.key()}.json"
    entry.write_text(entry.read_text()[: len(entry.read_text()) // 2])
    again = train.run(TINY)
    np.testing.assert_allclose(again.records["loss"], first.records["loss"], rtol=1e-6)
    assert json.loads(entry.read_text())["key"] == TINY.key()


def test_frozen_adam_uses_the_P_adam_reaches_at_the_freeze_step():
    config = TINY.replace(optimizer="frozen_adam", freeze_at=15, freeze_eta=2e-3, eta=5e-4)
    problem, loss = full_loss(config)
    tx = optimizers.adam(2e-3, 0.9, 0.999, 1e-7)
    params, state = problem.params0, tx.init(problem.params0)
    for _ in range(15):
        updates, state = tx.update(jax.grad(loss)(params), state, params)
        params = jax.tree.map(jnp.add, params, updates)
    expected, _ = jax.flatten_util.ravel_pytree(optimizers.preconditioner(state))
    records = train.run(config, cache=False).records
    np.testing.assert_allclose(records["P_max"], float(expected.max()), rtol=1e-4)
    np.testing.assert_allclose(records["P_median"], float(jnp.median(expected)), rtol=1e-4)
    assert records["loss"].iloc[0] == pytest.approx(float(loss(problem.params0)), rel=1e-5)


def test_freezing_P_mid_run_holds_it_from_that_step_on():
    records = train.run(TINY.replace(steps=40, freeze_precond_at=20), cache=False).records
    before, after = records[records["step"] <= 20], records[records["step"] >= 20]
    assert before["P_median"].nunique() == len(before)  # P adapts before the freeze
    assert after["P_median"].nunique() == 1
    assert after["frozen"].iloc[1:].all() and not before["frozen"].iloc[0]


def test_minibatches_are_seeded_permutations_of_each_epoch():
    config = TINY.replace(batch_size=16)
    x = jnp.arange(64.0)[:, None]
    arrays = (x, x, x, x)
    epoch = [train._batch(config, arrays, step)[0][:, 0] for step in range(4)]
    assert sorted(np.concatenate(epoch).tolist()) == list(range(64))
    again = train._batch(config, arrays, 1)[0][:, 0]
    np.testing.assert_array_equal(again, epoch[1])
    next_epoch = train._batch(config, arrays, 4)[0][:, 0]
    assert not np.array_equal(next_epoch, epoch[0])
    other_seed = train._batch(config.replace(seed=1), arrays, 0)[0][:, 0]
    assert not np.array_equal(other_seed, epoch[0])


def test_table_is_tidy_one_row_per_run_and_step():
    swept = train.sweep(train.sweep_over(TINY, eta=[1e-3, 2e-3]), cache=False)
    table = results.to_table(swept)
    assert len(table) == sum(len(r.records) for r in swept)
    assert not table.duplicated(["run", "step"]).any()
    assert set(table["eta"]) == {1e-3, 2e-3}
    assert {"optimizer", "beta1", "beta2", "batch_size", "ratio"} <= set(table.columns)


SHARDED_SCRIPT = """
import json
from aeos_lab.engine import data, results, train
from aeos_lab.engine.config import RunConfig
import jax
base = RunConfig(**json.loads({config!r}))
runs = train.sweep(train.sweep_over(base, eta={etas!r}), cache=False)
print(json.dumps({{"devices": jax.device_count(),
                   "losses": [r.records["loss"].tolist() for r in runs],
                   "sharpness": [r.records["sharpness"].tolist() for r in runs]}}))
"""


def test_sweep_shards_runs_across_devices_and_matches_one_device():
    etas = [3e-4, 1e-3, 3e-3]
    config = {k: v for k, v in TINY.to_dict().items() if k not in ("extra", "dense_window")}
    script = SHARDED_SCRIPT.format(config=json.dumps(config), etas=etas)
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    sharded = json.loads(out.stdout.strip().splitlines()[-1])
    assert sharded["devices"] == 4
    single = train.sweep(train.sweep_over(TINY, eta=etas), cache=False)
    for i, result in enumerate(single):
        np.testing.assert_allclose(sharded["losses"][i], result.records["loss"], rtol=2e-3)
        np.testing.assert_allclose(sharded["sharpness"][i], result.records["sharpness"], rtol=2e-3)


def test_fused_mode_records_what_the_host_loop_records(monkeypatch):
    """A small model measures inside one compiled scan; the records equal the host loop's."""
    config = RunConfig(
        dataset="gauss",
        width=12,
        depth=2,
        steps=60,
        track_every=20,
        dense_window=(40, 44),
        eta=1e-2,
        k=2,
        dtype="float64",
    )
    fused = train.run(config, cache=False)
    monkeypatch.setattr(train, "FUSED_MAX_PARAMS", 0)  # the documented switch-over size
    host = train.run(config, cache=False)
    assert list(fused.records["step"]) == [0, 20, 40, 41, 42, 43, 44, 60]
    pd.testing.assert_frame_equal(fused.records, host.records, rtol=1e-8)
    frozen = config.replace(optimizer="frozen_adam", freeze_at=10)
    assert train.run(frozen, cache=False).records["ratio"].notna().all()


def test_the_gauss_task_is_seeded_gaussian_regression():
    task = data.gauss_task(n_train=8, n_test=3, seed=1)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((11, 4)), rng.standard_normal((11, 2))
    np.testing.assert_allclose(task.x_train, x[:8], rtol=1e-6)
    np.testing.assert_allclose(task.y_test, y[8:], rtol=1e-6)
    assert task.input_shape == (4,) and task.num_classes == 2
    with pytest.raises(ValueError, match="label_noise must be 0"):
        data.gauss_task(label_noise=0.1)
