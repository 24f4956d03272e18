"""Freezing P in the middle of a run (``RunConfig.freeze_precond_at``) for every adaptive
optimizer: after the freeze the run follows the optimizer's own momentum rule (and AdamW's
weight decay) with P held fixed. Checked through ``train.run`` against hand-written rules."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from aeos_lab.core import optimizers
from aeos_lab.core.thresholds import FROZEN_COUNTERPART
from aeos_lab.engine import losses, train
from aeos_lab.engine.config import RunConfig

TINY = RunConfig(
    n_train=64,
    n_test=32,
    label_noise=1.0,
    width=8,
    depth=2,
    eta=1e-3,
    steps=12,
    track_every=2,
    freeze_precond_at=6,
    dtype="float64",
    eig_tol=1e-2,
)

# optimizer -> extra hyperparameters (large enough that a dropped term shows)
SETTINGS = {
    "adam": {},
    "adamw": {"weight_decay": 0.5},
    "nadam": {"bias_correction": True},
    "amsgrad": {},
    "padam": {"exponent": 0.25},
    "rmsprop": {},
    "adagrad": {},
    "adafactor": {},
}

pytestmark = pytest.mark.usefixtures("isolated_run_cache")


def config_for(name: str) -> RunConfig:
    extra = dict(SETTINGS[name])
    bias = extra.pop("bias_correction", None)
    return TINY.replace(optimizer=name, bias_correction=bias, extra=tuple(extra.items()))


def reference_losses(config: RunConfig) -> dict[int, float]:
    """The loss at every step: the library's own optimizer up to the freeze (checked against
    optax elsewhere), then the frozen rule written out by hand."""
    problem = train.build_problem(config)
    loss_of = losses.get_loss(config.loss)

    def loss(p):
        return loss_of(problem.model.apply(p, problem.x_train), problem.y_train)

    grad = jax.jit(jax.grad(loss))
    used = {k: v for k, v in config.hyperparameters.items()} | dict(config.extra)
    tx = optimizers.make_optimizer(config.optimizer, config.eta, **used)
    params, state = problem.params0, tx.init(problem.params0)
    out = {0: float(loss(params))}
    for step in range(1, config.freeze_precond_at + 1):
        updates, state = tx.update(grad(params), state, params)
        params = optax.apply_updates(params, updates)
        out[step] = float(loss(params))
    inner = optimizers.find_preconditioned_state(state)
    precond, m = inner.precond, inner.momentum
    scheme = FROZEN_COUNTERPART[config.optimizer]
    b = used.get("beta1", 0.9)
    wd = used.get("weight_decay", 1e-4) if config.optimizer == "adamw" else 0.0
    eta = config.eta
    for step in range(config.freeze_precond_at + 1, config.steps + 1):
        g = grad(params)
        if scheme == "gd":
            params = jax.tree.map(lambda x, gi, p: x - eta * gi / p, params, g, precond)
        else:
            m = jax.tree.map(lambda mi, gi: b * mi + (1 - b) * gi, m, g)
            if scheme == "ema_nesterov":
                d = jax.tree.map(lambda mi, gi: b * mi + (1 - b) * gi, m, g)
            else:
                d = m
            params = jax.tree.map(lambda x, di, p: x - eta * (di / p + wd * x), params, d, precond)
        out[step] = float(loss(params))
    return out


@pytest.mark.parametrize("name", list(SETTINGS))
def test_frozen_rule_matches_a_hand_written_reference(name):
    config = config_for(name)
    result = train.run(config, cache=False)
    assert not result.diverged and result.steps_done == config.steps
    reference = reference_losses(config)
    records = result.records.set_index("step")
    for step in records.index:
        assert records.loc[step, "loss"] == pytest.approx(reference[step], rel=1e-9), step
    # P stops changing at the freeze and the records say so
    after = result.records[result.records["step"] >= config.freeze_precond_at]
    assert after["P_median"].nunique() == 1 and after["P_max"].nunique() == 1
    assert after["frozen"].all() and not result.records["frozen"].iloc[0]
    before = result.records[result.records["step"] < config.freeze_precond_at]
    assert before["P_median"].nunique() > 1


def test_freeze_keeps_the_state_layout_of_the_optimizer():
    params = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
    grads = jax.tree.map(lambda a: 0.1 * jnp.ones_like(a), params)
    for name in optimizers.ADAPTIVE:
        tx = optimizers.make_optimizer(name, 1e-2)
        _, state = tx.update(grads, tx.init(params), params)
        frozen = optimizers.freeze(name, 1e-2)
        _, next_state = frozen.update(grads, state, params)
        assert jax.tree.structure(next_state) == jax.tree.structure(state), name
        np.testing.assert_array_equal(
            np.asarray(optimizers.preconditioner(next_state)["w"]),
            np.asarray(optimizers.preconditioner(state)["w"]),
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"optimizer": "ema_hb"}, "ema_hb has none of its own to freeze"),
        ({"optimizer": "gd"}, "gd has none of its own to freeze"),
        ({"optimizer": "frozen_adam", "freeze_at": 3}, "frozen_adam has none"),
        ({"freeze_precond_at": 12}, r"freeze_precond_at must lie in \[1, steps\)"),
        ({"freeze_precond_at": 0}, "freeze_precond_at must be an integer >= 1"),
    ],
)
def test_a_freeze_that_makes_no_sense_is_rejected_at_construction(changes, message):
    with pytest.raises(ValueError, match=message):
        TINY.replace(**changes)


def test_freeze_rejects_a_non_adaptive_optimizer_and_unknown_hyperparameters():
    with pytest.raises(ValueError, match="no preconditioner of its own"):
        optimizers.freeze("ema_hb", 1e-2)
    with pytest.raises(ValueError, match="rmsprop takes no hyperparameter 'beta1'"):
        optimizers.freeze("rmsprop", 1e-2, beta1=0.9)
