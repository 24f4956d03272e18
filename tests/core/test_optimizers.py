"""Tests for aeos_lab.optimizers: optax parity, numpy references, the exposed P, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from aeos_lab.core import optimizers as opt
from aeos_lab.core.thresholds import FROZEN_COUNTERPART

STEPS = 100
RNG = np.random.default_rng(0)
# A small tanh layer: a (128, 160) matrix (Adafactor factors it) and a (160,) vector.
X_DATA = RNG.standard_normal((16, 128))
Y_DATA = RNG.standard_normal((16, 160))
PARAMS64 = {"w": RNG.standard_normal((128, 160)) / np.sqrt(128), "b": np.zeros(160)}


def _params(dtype):
    return {k: jnp.asarray(v, dtype) for k, v in PARAMS64.items()}


def mlp_loss(params):
    x = jnp.asarray(X_DATA, params["w"].dtype)
    y = jnp.asarray(Y_DATA, params["w"].dtype)
    return 0.5 * jnp.mean(jnp.sum((jnp.tanh(x @ params["w"] + params["b"]) - y) ** 2, axis=1))


def trajectories(*optimizers, dtype=jnp.float32, steps=STEPS):
    """Params after each of ``steps`` updates (leaves stacked on axis 0), one per optimizer.

    All optimizers run side by side in one jitted scan (one compilation).
    """

    def one_step(optimizer, params, state):
        updates, state = optimizer.update(jax.grad(mlp_loss)(params), state, params)
        return optax.apply_updates(params, updates), state

    @jax.jit
    def run(params):
        def step(carry, _):
            carry = [one_step(o, p, s) for o, (p, s) in zip(optimizers, carry, strict=True)]
            return carry, [p for p, _ in carry]

        start = [(params, o.init(params)) for o in optimizers]
        return jax.lax.scan(step, start, None, length=steps)[1]

    return run(_params(dtype))


def trajectory(optimizer, dtype=jnp.float32, steps=STEPS):
    return trajectories(optimizer, dtype=dtype, steps=steps)[0]


def relative_gap(a, b):
    """max |a - b| / max |b|, worst leaf and step."""
    gaps = [
        float(jnp.max(jnp.abs(x - y)) / jnp.max(jnp.abs(y)))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    ]
    return max(gaps)


def numpy_gradient(params):
    grads = jax.grad(mlp_loss)({k: jnp.asarray(v) for k, v in params.items()})
    return {k: np.asarray(v) for k, v in grads.items()}


# ---------------------------------------------------------------------------------------------
# Parity with optax (float32, 100 steps)

ETA_SGD = 0.5
ETA_ADAPTIVE = 1e-3
B1 = 0.9
OPTAX_PAIRS = {
    "gd": (lambda: opt.gd(ETA_SGD), lambda: optax.sgd(ETA_SGD)),
    "gd_schedule": (
        lambda: opt.gd(lambda c: 0.1 * (c + 1)),
        lambda: optax.sgd(lambda c: 0.1 * (c + 1)),
    ),
    "standard_hb": (lambda: opt.standard_hb(ETA_SGD, B1), lambda: optax.sgd(ETA_SGD, B1)),
    "standard_nesterov": (
        lambda: opt.standard_nesterov(ETA_SGD, B1),
        lambda: optax.sgd(ETA_SGD, B1, nesterov=True),
    ),
    "ema_hb": (
        lambda: opt.ema_hb(ETA_SGD, B1),
        lambda: optax.chain(optax.ema(B1, debias=False), optax.scale(-ETA_SGD)),
    ),
    # EMA Nesterov is standard Nesterov with eta scaled by (1 - b): m_ema = (1 - b) m_std.
    "ema_nesterov": (
        lambda: opt.ema_nesterov(ETA_SGD, B1),
        lambda: optax.sgd(ETA_SGD * (1 - B1), B1, nesterov=True),
    ),
    "adam_bias_corrected": (
        lambda: opt.adam(ETA_ADAPTIVE, bias_correction=True),
        lambda: optax.adam(ETA_ADAPTIVE, eps=1e-7, eps_root=0.0),
    ),
    "adamw": (
        lambda: opt.adamw(ETA_ADAPTIVE, weight_decay=0.1),
        lambda: optax.adamw(ETA_ADAPTIVE, eps=1e-7, weight_decay=0.1),
    ),
    "nadam_bias_corrected": (
        lambda: opt.nadam(ETA_ADAPTIVE, bias_correction=True),
        lambda: optax.nadam(ETA_ADAPTIVE, eps=1e-7),
    ),
    "amsgrad": (
        lambda: opt.amsgrad(ETA_ADAPTIVE),
        lambda: optax.amsgrad(
            ETA_ADAPTIVE, eps=1e-7, bias_correction_mu=False, bias_correction_nu=False
        ),
    ),
    "amsgrad_bias_corrected": (
        lambda: opt.amsgrad(ETA_ADAPTIVE, bias_correction=True),
        lambda: optax.amsgrad(ETA_ADAPTIVE, eps=1e-7),
    ),
    "rmsprop": (
        lambda: opt.rmsprop(ETA_ADAPTIVE, beta2=0.99, eps=1e-7, initial_nu=1.0),
        lambda: optax.rmsprop(
            ETA_ADAPTIVE, decay=0.99, eps=1e-7, initial_scale=1.0, eps_in_sqrt=False
        ),
    ),
    "adagrad": (
        lambda: opt.adagrad(1e-2, eps=0.0, initial_accumulator=0.1),
        lambda: optax.adagrad(1e-2, initial_accumulator_value=0.1, eps=0.0),
    ),
    "adafactor_no_momentum": (
        lambda: opt.adafactor(ETA_ADAPTIVE, beta1=0.0, decay_rate=0.8, eps=1e-7),
        lambda: optax.adafactor(
            ETA_ADAPTIVE,
            decay_rate=0.8,
            eps=1e-7,
            multiply_by_parameter_scale=False,
            clipping_threshold=None,
            momentum=None,
        ),
    ),
}


@pytest.mark.parametrize("pair", sorted(OPTAX_PAIRS))
def test_trajectory_matches_optax(pair):
    ours, reference = OPTAX_PAIRS[pair]
    # float32 over 100 steps: XLA releases round differently (jax 0.12 gave 3.9e-5 for
    # ema_nesterov); a wrong update rule is off by 1e-2 or more
    assert relative_gap(*trajectories(ours(), reference())) < 1e-4


def test_trajectories_are_float32_and_move():
    path = trajectory(opt.adam(ETA_ADAPTIVE))
    assert path["w"].dtype == jnp.float32
    assert float(jnp.max(jnp.abs(path["w"][-1] - PARAMS64["w"]))) > 1e-2


# ---------------------------------------------------------------------------------------------
# Rules optax lacks: independent numpy references (float64)


def numpy_adam(steps, eta, b1, b2, eps, exponent=0.5, nesterov=False, initial_nu=0.0):
    """Adam without bias correction (paper Eq. 1), Padam's exponent, Nadam's look-ahead."""
    x = {k: v.copy() for k, v in PARAMS64.items()}
    m = {k: np.zeros_like(v) for k, v in x.items()}
    nu = {k: np.full_like(v, initial_nu) for k, v in x.items()}
    path = []
    for _ in range(steps):
        g = numpy_gradient(x)
        for k in x:
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            nu[k] = b2 * nu[k] + (1 - b2) * g[k] ** 2
            d = b1 * m[k] + (1 - b1) * g[k] if nesterov else m[k]
            x[k] = x[k] - eta * d / (nu[k] ** exponent + eps)
        path.append({k: v.copy() for k, v in x.items()})
    return path


def numpy_adafactor(steps, eta, b1, decay_rate, eps):
    """Shazeer & Stern's factored estimate V = R C^T / (1^T R) from row and column sums,
    with the paper's momentum on the raw gradient."""
    x = {k: v.copy() for k, v in PARAMS64.items()}
    m = {k: np.zeros_like(v) for k, v in x.items()}
    row_sums = np.zeros(x["w"].shape[0])
    col_sums = np.zeros(x["w"].shape[1])
    v_vector = np.zeros_like(x["b"])
    path = []
    for t in range(1, steps + 1):
        # optax evaluates the decay schedule in float32 whatever the params' dtype.
        rho = float(np.float32(1.0) - np.float32(t) ** np.float32(-decay_rate))
        g = numpy_gradient(x)
        squares = g["w"] ** 2 + eps
        row_sums = rho * row_sums + (1 - rho) * squares.sum(axis=1)
        col_sums = rho * col_sums + (1 - rho) * squares.sum(axis=0)
        v_hat = {
            "w": np.outer(row_sums, col_sums) / row_sums.sum(),
            "b": rho * v_vector + (1 - rho) * (g["b"] ** 2 + eps),
        }
        v_vector = v_hat["b"]
        for k in x:
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            x[k] = x[k] - eta * m[k] / np.sqrt(v_hat[k])
        path.append({k: v.copy() for k, v in x.items()})
    return path


NUMPY_CASES = {
    "adam": (
        lambda: opt.adam(1e-3, 0.9, 0.99, 1e-7),
        lambda: numpy_adam(30, 1e-3, 0.9, 0.99, 1e-7),
    ),
    "adam_initial_nu": (
        lambda: opt.adam(1e-3, 0.9, 0.99, 1e-7, initial_nu=0.5),
        lambda: numpy_adam(30, 1e-3, 0.9, 0.99, 1e-7, initial_nu=0.5),
    ),
    "nadam": (
        lambda: opt.nadam(1e-3, 0.9, 0.99, 1e-7),
        lambda: numpy_adam(30, 1e-3, 0.9, 0.99, 1e-7, nesterov=True),
    ),
    "padam": (
        lambda: opt.padam(1e-2, 0.9, 0.99, 1e-7, exponent=0.25),
        lambda: numpy_adam(30, 1e-2, 0.9, 0.99, 1e-7, exponent=0.25),
    ),
    "adafactor_momentum": (
        lambda: opt.adafactor(1e-3, beta1=0.9, decay_rate=0.8, eps=1e-7),
        lambda: numpy_adafactor(30, 1e-3, 0.9, 0.8, 1e-7),
    ),
}


@pytest.mark.parametrize("case", sorted(NUMPY_CASES))
def test_trajectory_matches_numpy_reference(case):
    ours, reference = NUMPY_CASES[case]
    path = trajectory(ours(), jnp.float64, steps=30)
    expected = reference()
    for k in PARAMS64:
        np.testing.assert_allclose(
            np.asarray(path[k]), np.stack([p[k] for p in expected]), rtol=1e-9, atol=1e-12
        )


# ---------------------------------------------------------------------------------------------
# Each convention difference from optax, shown


CONVENTION_DIFFERENCES = {
    # optax.rmsprop puts eps inside the square root by default.
    "rmsprop_eps_in_sqrt": (
        lambda: opt.rmsprop(ETA_ADAPTIVE, beta2=0.99, eps=1e-2),
        lambda: optax.rmsprop(ETA_ADAPTIVE, decay=0.99, eps=1e-2),
        lambda: optax.rmsprop(ETA_ADAPTIVE, decay=0.99, eps=1e-2, eps_in_sqrt=False),
    ),
    # optax.adagrad always puts eps inside the square root.
    "adagrad_eps_in_sqrt": (
        lambda: opt.adagrad(1e-2, eps=1e-2, initial_accumulator=0.1),
        lambda: optax.adagrad(1e-2, initial_accumulator_value=0.1, eps=1e-2),
        None,  # with eps = 0 both agree: test_trajectory_matches_optax[adagrad]
    ),
    # optax.adam always bias-corrects; ours does not by default.
    "adam_bias_correction": (
        lambda: opt.adam(ETA_ADAPTIVE),
        lambda: optax.adam(ETA_ADAPTIVE, eps=1e-7),
        None,
    ),
    # optax.nadam bias-corrects (with the look-ahead power); ours does not by default.
    "nadam_bias_correction": (
        lambda: opt.nadam(ETA_ADAPTIVE),
        lambda: optax.nadam(ETA_ADAPTIVE, eps=1e-7),
        None,
    ),
    # optax.amsgrad by default corrects m and maxes the corrected nu.
    "amsgrad_corrected_max": (
        lambda: opt.amsgrad(ETA_ADAPTIVE),
        lambda: optax.amsgrad(ETA_ADAPTIVE, eps=1e-7),
        lambda: optax.amsgrad(
            ETA_ADAPTIVE, eps=1e-7, bias_correction_mu=False, bias_correction_nu=False
        ),
    ),
    # optax.adafactor applies momentum after preconditioning.
    "adafactor_momentum_order": (
        lambda: opt.adafactor(1e-2, beta1=0.9, eps=1e-7),
        lambda: optax.adafactor(
            1e-2,
            eps=1e-7,
            multiply_by_parameter_scale=False,
            clipping_threshold=None,
            momentum=0.9,
        ),
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(CONVENTION_DIFFERENCES))
def test_convention_difference_from_optax(case):
    ours, optax_default, optax_matching = CONVENTION_DIFFERENCES[case]
    if optax_matching is None:
        path, default_path = trajectories(ours(), optax_default(), steps=20)
    else:
        path, default_path, matching_path = trajectories(
            ours(), optax_default(), optax_matching(), steps=20
        )
        assert relative_gap(path, matching_path) < 2e-5
    assert relative_gap(path, default_path) > 1e-3


def test_bias_corrected_adam_precond_folds_momentum_factor():
    """Eq. 2: our P is (1 - b1^t) times optax's denominator sqrt(nu_hat) + eps."""
    b1, b2, eps = 0.9, 0.99, 1e-7
    params = _params(jnp.float64)
    ours, theirs = opt.adam(1e-3, b1, b2, eps, bias_correction=True), optax.adam(1e-3, b1, b2, eps)
    our_state, their_state = ours.init(params), theirs.init(params)
    for t in range(1, 4):
        g = jax.grad(mlp_loss)(params)
        _, our_state = ours.update(g, our_state, params)
        _, their_state = theirs.update(g, their_state, params)
        nu = their_state[0].nu["w"]
        denominator = np.sqrt(nu / (1 - b2**t)) + eps
        np.testing.assert_allclose(
            opt.preconditioner(our_state)["w"], (1 - b1**t) * denominator, rtol=1e-12
        )
        params = jax.tree.map(lambda x, gi: x - 1e-3 * gi, params, g)


# ---------------------------------------------------------------------------------------------
# update = -eta P^-1 d for the exposed P, every optimizer

QUAD_PARAMS = {"u": np.array([1.0, -2.0, 0.5]), "v": np.array([[0.3, -1.0, 2.0], [1.5, 0.2, -0.7]])}
QUAD_CURVATURE = {"u": np.array([1.0, 4.0, 0.5]), "v": np.array([[2.0, 1.0, 3.0], [0.7, 5.0, 1.2]])}
FIXED_P = {"u": np.array([2.0, 0.5, 1.5]), "v": np.array([[1.0, 3.0, 0.8], [2.5, 1.2, 0.6]])}
ETA = 0.05
WEIGHT_DECAY = 0.1

IDENTITY_CASES = {
    "gd": ("gd", {}),
    **{m: (m, {"beta1": 0.8}) for m in ("standard_hb", "ema_hb", "standard_nesterov")},
    "ema_nesterov": ("ema_nesterov", {"beta1": 0.8}),
    "gd_preconditioned": ("gd", {"precond": FIXED_P}),
    **{
        f"{m}_preconditioned": (m, {"precond": FIXED_P, "beta1": 0.8})
        for m in ("standard_hb", "ema_hb", "standard_nesterov", "ema_nesterov")
    },
    "frozen_adam": ("frozen_adam", {"precond": FIXED_P, "beta1": 0.8}),
    "adam": ("adam", {"beta1": 0.8, "beta2": 0.9}),
    "adam_bias_corrected": ("adam", {"bias_correction": True}),
    "adamw": ("adamw", {"weight_decay": WEIGHT_DECAY}),
    "nadam": ("nadam", {"beta1": 0.8}),
    "amsgrad": ("amsgrad", {}),
    "amsgrad_bias_corrected": ("amsgrad", {"bias_correction": True}),
    "padam": ("padam", {"exponent": 0.3}),
    "rmsprop": ("rmsprop", {"beta2": 0.9}),
    "adagrad": ("adagrad", {"initial_accumulator": 0.1}),
    "adafactor": ("adafactor", {"min_dim_size_to_factor": 2}),
}


def direction(scheme, beta1, new_momentum, g):
    """The paper's d_{t+1} (Table 1), written out here."""
    if scheme == "gd":
        return g
    if scheme.endswith("hb"):
        return new_momentum
    c = 1 - beta1 if scheme.startswith("ema") else 1.0
    return beta1 * new_momentum + c * g


@pytest.mark.parametrize("case", sorted(IDENTITY_CASES))
def test_update_is_minus_eta_p_inverse_direction(case):
    name, hyper = IDENTITY_CASES[case]
    optimizer = opt.make_optimizer(name, ETA, **hyper)
    scheme = FROZEN_COUNTERPART[name]
    beta1 = hyper.get("beta1", 0.9)
    params = {k: jnp.asarray(v) for k, v in QUAD_PARAMS.items()}
    state = optimizer.init(params)
    for _ in range(4):
        g = jax.tree.map(lambda c, x: c * x, QUAD_CURVATURE, params)
        updates, state = optimizer.update(g, state, params)
        precond = opt.preconditioner(state)
        for k in params:
            d = direction(scheme, beta1, None if scheme == "gd" else state.momentum[k], g[k])
            expected = -ETA * np.asarray(d) / np.asarray(precond[k])
            if name == "adamw":
                expected = expected - ETA * WEIGHT_DECAY * np.asarray(params[k])
            np.testing.assert_allclose(updates[k], expected, rtol=1e-12, atol=1e-15)
            assert np.all(np.asarray(precond[k]) > 0)
        params = optax.apply_updates(params, updates)
    assert int(state.count) == 4


def test_adaptive_precond_follows_closed_forms_on_the_quadratic():
    """P after two updates from the paper's rules, computed by hand here."""
    b1, b2, eps, eta = 0.8, 0.9, 1e-7, ETA
    params = {k: jnp.asarray(v) for k, v in QUAD_PARAMS.items()}
    optimizers = {
        "adam": opt.adam(eta, b1, b2, eps),
        "adam_bc": opt.adam(eta, b1, b2, eps, bias_correction=True),
        "padam": opt.padam(eta, b1, b2, eps, exponent=0.25),
        "amsgrad": opt.amsgrad(eta, b1, b2, eps),
        "rmsprop": opt.rmsprop(eta, b2, eps, initial_nu=1.0),
        "adagrad": opt.adagrad(eta, eps, initial_accumulator=0.1),
    }
    g1 = {k: np.asarray(QUAD_CURVATURE[k]) * QUAD_PARAMS[k] for k in QUAD_PARAMS}
    g2 = {k: -0.5 * v for k, v in g1.items()}  # a smaller second gradient (AMSGrad keeps the max)
    for name, optimizer in optimizers.items():
        state = optimizer.init(params)
        for g in (g1, g2):
            _, state = optimizer.update(g, state, params)
        for k in params:
            a, b = g1[k] ** 2, g2[k] ** 2
            ema = {
                0.0: b2 * (1 - b2) * a + (1 - b2) * b,
                1.0: b2 * (b2 * 1.0 + (1 - b2) * a) + (1 - b2) * b,
            }
            expected = {
                "adam": np.sqrt(ema[0.0]) + eps,
                "adam_bc": (1 - b1**2) * (np.sqrt(ema[0.0] / (1 - b2**2)) + eps),
                "padam": ema[0.0] ** 0.25 + eps,
                "amsgrad": np.sqrt(np.maximum((1 - b2) * a, ema[0.0])) + eps,
                "rmsprop": np.sqrt(ema[1.0]) + eps,
                "adagrad": np.sqrt(0.1 + a + b) + eps,
            }[name]
            np.testing.assert_allclose(opt.preconditioner(state)[k], expected, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# P at init, frozen P, wrappers, schedules, dtypes


def test_precond_at_init():
    params = {k: jnp.asarray(v) for k, v in QUAD_PARAMS.items()}
    eps, b1 = 1e-7, 0.9
    cases = {
        "gd": (opt.gd(ETA), 1.0),
        "adam": (opt.adam(ETA, eps=eps), eps),
        "adam_bc": (opt.adam(ETA, beta1=b1, eps=eps, bias_correction=True), (1 - b1) * eps),
        "nadam": (opt.nadam(ETA, eps=eps), eps),
        "rmsprop_nu0": (opt.rmsprop(ETA, eps=eps, initial_nu=1.0), 1.0 + eps),
        "adagrad": (opt.adagrad(ETA, eps=eps, initial_accumulator=0.25), 0.5 + eps),
        "adafactor": (opt.adafactor(ETA, eps=1e-6), 1e-3),
        "padam": (opt.padam(ETA, eps=eps, initial_nu=16.0), 2.0 + eps),
    }
    for name, (optimizer, expected) in cases.items():
        precond = opt.preconditioner(optimizer.init(params))
        for k in params:
            np.testing.assert_allclose(precond[k], np.full(params[k].shape, expected), rtol=1e-12)
            assert precond[k].shape == params[k].shape, name
    frozen = opt.preconditioner(opt.frozen_adam(ETA, FIXED_P).init(params))
    for k in params:
        np.testing.assert_array_equal(frozen[k], FIXED_P[k])


def test_frozen_adam_precond_never_changes():
    params = {k: jnp.asarray(v) for k, v in QUAD_PARAMS.items()}
    optimizer = opt.frozen_adam(ETA, FIXED_P, beta1=0.9)
    state = optimizer.init(params)
    for _ in range(10):
        g = jax.tree.map(lambda c, x: c * x, QUAD_CURVATURE, params)
        updates, state = optimizer.update(g, state, params)
        params = optax.apply_updates(params, updates)
        for k in params:
            np.testing.assert_array_equal(opt.preconditioner(state)[k], FIXED_P[k])
    assert float(jnp.max(jnp.abs(params["u"] - QUAD_PARAMS["u"]))) > 0.01


def test_preconditioner_through_optax_wrappers():
    params = {k: jnp.asarray(v) for k, v in QUAD_PARAMS.items()}
    g = jax.tree.map(lambda c, x: c * x, QUAD_CURVATURE, params)
    plain = opt.adam(ETA, 0.9, 0.99)
    _, plain_state = plain.update(g, plain.init(params), params)
    wrapped = {
        "chain": optax.chain(optax.identity(), opt.adam(ETA, 0.9, 0.99)),
        "inject": optax.inject_hyperparams(opt.adam)(eta=ETA, beta1=0.9, beta2=0.99),
        "inject_in_chain": optax.chain(
            optax.clip(100.0), optax.inject_hyperparams(opt.adam)(eta=ETA, beta1=0.9, beta2=0.99)
        ),
    }
    for name, optimizer in wrapped.items():
        _, state = jax.jit(optimizer.update)(g, optimizer.init(params), params)
        for k in params:
            np.testing.assert_allclose(
                opt.preconditioner(state)[k], plain_state.precond[k], rtol=1e-6, err_msg=name
            )
    with pytest.raises(ValueError, match="PreconditionedState"):
        opt.preconditioner(optax.sgd(0.1).init(params))


def test_second_moment_reads_each_rule():
    params = {k: jnp.asarray(v) for k, v in QUAD_PARAMS.items()}
    g = {k: np.asarray(QUAD_CURVATURE[k]) * QUAD_PARAMS[k] for k in QUAD_PARAMS}
    expected = {
        "adam": (opt.adam(ETA, beta2=0.9), lambda k: 0.1 * g[k] ** 2),
        "amsgrad": (opt.amsgrad(ETA, beta2=0.9), lambda k: 0.1 * g[k] ** 2),
        "adagrad": (opt.adagrad(ETA, initial_accumulator=1.0), lambda k: 1.0 + g[k] ** 2),
        "adafactor": (opt.adafactor(ETA, eps=1e-30), lambda k: g[k] ** 2 + 1e-30),
    }
    for name, (optimizer, nu) in expected.items():
        _, state = optimizer.update(g, optimizer.init(params), params)
        for k in params:
            np.testing.assert_allclose(opt.second_moment(state)[k], nu(k), rtol=1e-9, err_msg=name)
    assert opt.second_moment(opt.gd(ETA).init(params)) is None


def test_traced_hyperparameters_keep_float32():
    params = _params(jnp.float32)

    @jax.jit
    def one_step(beta1, beta2, eta):
        optimizer = opt.nadam(eta, beta1, beta2, bias_correction=True)
        state = optimizer.init(params)
        return optimizer.update(jax.grad(mlp_loss)(params), state, params)

    updates, state = one_step(jnp.float64(0.9), jnp.float64(0.99), jnp.float64(1e-3))
    reference, _ = opt.nadam(1e-3, 0.9, 0.99, bias_correction=True).update(
        jax.grad(mlp_loss)(params), opt.nadam(1e-3).init(params), params
    )
    for tree in (updates, state.momentum, state.nu, state.precond):
        assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(tree))
    np.testing.assert_allclose(updates["w"], reference["w"], rtol=1e-5, atol=3e-7)


def test_adamw_needs_params():
    params = {k: jnp.asarray(v) for k, v in QUAD_PARAMS.items()}
    optimizer = opt.adamw(ETA)
    with pytest.raises(ValueError, match="params"):
        optimizer.update(params, optimizer.init(params))


def test_make_optimizer_names():
    assert set(opt.OPTIMIZERS) == set(FROZEN_COUNTERPART)
    params = {k: jnp.asarray(v) for k, v in QUAD_PARAMS.items()}
    state = opt.make_optimizer("Frozen-Adam", ETA, precond=FIXED_P).init(params)
    np.testing.assert_array_equal(opt.preconditioner(state)["u"], FIXED_P["u"])
    assert "exponent" in opt.hyperparameter_names("padam")
    assert "beta1" not in opt.hyperparameter_names("rmsprop")


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("eta", [0.0, -1e-3, float("nan"), float("inf"), "fast"])
@pytest.mark.parametrize("name", ["gd", "adam", "rmsprop", "adagrad", "adafactor", "nadam"])
def test_bad_eta(name, eta):
    with pytest.raises(ValueError, match="eta"):
        opt.make_optimizer(name, eta)


@pytest.mark.parametrize("value", [1.0, -0.1, 1.5, float("nan")])
@pytest.mark.parametrize(
    "name, keyword",
    [
        ("standard_hb", "beta1"),
        ("ema_nesterov", "beta1"),
        ("adam", "beta1"),
        ("adam", "beta2"),
        ("amsgrad", "beta2"),
        ("rmsprop", "beta2"),
        ("adafactor", "beta1"),
    ],
)
def test_bad_beta(name, keyword, value):
    with pytest.raises(ValueError, match=keyword):
        opt.make_optimizer(name, 1e-3, **{keyword: value})


@pytest.mark.parametrize(
    "name, keyword, value",
    [
        ("adam", "eps", -1e-7),
        ("rmsprop", "eps", -1.0),
        ("adagrad", "eps", -1.0),
        ("adagrad", "initial_accumulator", -0.1),
        ("rmsprop", "initial_nu", -1.0),
        ("adamw", "weight_decay", -0.1),
        ("padam", "exponent", 0.0),
        ("padam", "exponent", 1.5),
        ("adafactor", "decay_rate", 0.0),
        ("adafactor", "decay_rate", 2.0),
        ("adafactor", "min_dim_size_to_factor", 0),
    ],
)
def test_bad_other_hyperparameters(name, keyword, value):
    with pytest.raises(ValueError, match=keyword):
        opt.make_optimizer(name, 1e-3, **{keyword: value})


@pytest.mark.parametrize(
    "precond, message",
    [
        ({"u": np.ones(3)}, "structure"),
        ({"u": np.ones(3), "w": np.ones((2, 3))}, "structure"),
        ({"u": np.ones(4), "v": np.ones((2, 3))}, "shape"),
        ({"u": np.ones(3), "v": np.ones((3, 2))}, "shape"),
    ],
)
@pytest.mark.parametrize("name", ["frozen_adam", "ema_hb", "gd"])
def test_precond_must_match_params(name, precond, message):
    params = {k: jnp.asarray(v) for k, v in QUAD_PARAMS.items()}
    with pytest.raises(ValueError, match=f"precond.*{message}|{message}.*precond"):
        opt.make_optimizer(name, ETA, precond=precond).init(params)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_precond_must_be_positive(bad):
    precond = {"u": np.array([1.0, bad, 2.0]), "v": np.ones((2, 3))}
    with pytest.raises(ValueError, match="precond"):
        opt.frozen_adam(ETA, precond)


def test_unknown_names_and_keywords():
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        opt.make_optimizer("lion", 1e-3)
    with pytest.raises(ValueError, match="'beta2'"):
        opt.make_optimizer("gd", 1e-3, beta2=0.9)
    with pytest.raises(ValueError, match="'learning_rate'"):
        opt.make_optimizer("adam", 1e-3, learning_rate=1e-3)
    with pytest.raises(ValueError, match="'precond'"):
        opt.make_optimizer("adam", 1e-3, precond={"u": np.ones(3)})
    with pytest.raises(ValueError, match="requires .*'precond'"):
        opt.make_optimizer("frozen_adam", 1e-3)
    with pytest.raises(ValueError, match="precond"):
        opt.frozen_adam(1e-3, None)
