"""Tests for aeos_lab.thresholds: Table 1 closed forms, the companion matrix, growth factors."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aeos_lab.core import thresholds as th

METHODS = ("gd", "standard_hb", "ema_hb", "standard_nesterov", "ema_nesterov")
BETAS = np.array([0.0, 0.1, 0.5, 0.9, 0.99, 0.999])
ETAS = np.array([1e-4, 2e-2, 1.0, 30.0])

# Table 1, written out here independently of the module.
TABLE_1 = {
    "gd": lambda eta, b: 2.0 / eta + 0.0 * b,
    "standard_hb": lambda eta, b: (2 + 2 * b) / eta,
    "ema_hb": lambda eta, b: (2 + 2 * b) / ((1 - b) * eta),
    "standard_nesterov": lambda eta, b: (2 + 2 * b) / ((1 + 2 * b) * eta),
    "ema_nesterov": lambda eta, b: (2 + 2 * b) / ((1 - b) * (1 + 2 * b) * eta),
}

EXPECTED_COUNTERPART = {
    "gd": "gd",
    "standard_hb": "standard_hb",
    "ema_hb": "ema_hb",
    "standard_nesterov": "standard_nesterov",
    "ema_nesterov": "ema_nesterov",
    "adam": "ema_hb",
    "adamw": "ema_hb",
    "amsgrad": "ema_hb",
    "padam": "ema_hb",
    "adafactor": "ema_hb",
    "frozen_adam": "ema_hb",
    "nadam": "ema_nesterov",
    "rmsprop": "gd",
    "adagrad": "gd",
}


def one_step(method, eta, b, lam, x, m):
    """One step of the update rule on f(x) = lam x^2 / 2, written from the paper's Table 1."""
    g = lam * x
    if method == "gd":
        return x - eta * g, g  # m is a dead copy of the gradient
    c = 1 - b if method.startswith("ema") else 1.0
    m_next = b * m + c * g
    d = m_next if method.endswith("hb") else b * m_next + c * g
    return x - eta * d, m_next


# --- closed forms -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_closed_form_matches_table_1(method):
    eta, b = ETAS[:, None], BETAS[None, :]
    np.testing.assert_allclose(th.threshold(method, eta, b), TABLE_1[method](eta, b), rtol=1e-15)


@pytest.mark.parametrize("method", METHODS)
def test_numeric_threshold_matches_closed_form(method):
    eta, b = ETAS[:, None], BETAS[None, :]
    numeric = th.numeric_threshold(method, eta, b)
    assert numeric.shape == (len(ETAS), len(BETAS))
    np.testing.assert_allclose(numeric, th.threshold(method, eta, b), rtol=1e-10)


def test_known_values():
    assert th.threshold("ema_hb", 1.0, 0.9) == pytest.approx(38.0, rel=1e-14)
    assert th.threshold("ema_nesterov", 1.0, 0.9) == pytest.approx(38.0 / 2.8, rel=1e-14)
    assert th.threshold("standard_hb", 0.02, 0.9) == pytest.approx(190.0, rel=1e-14)
    assert th.threshold("standard_nesterov", 0.02, 0.9) == pytest.approx(3.8 / 0.056, rel=1e-14)
    assert th.threshold("gd", 0.2) == pytest.approx(10.0, rel=1e-14)
    assert th.numeric_threshold("ema_hb", 1.0, 0.9) == pytest.approx(38.0, rel=1e-12)
    assert th.optimizer_threshold("adam", 1e-3) == pytest.approx(38_000.0, rel=1e-14)


@pytest.mark.parametrize("method", METHODS)
def test_zero_momentum_reduces_to_gd(method):
    assert th.threshold(method, 0.5, 0.0) == pytest.approx(4.0, rel=1e-15)
    assert th.numeric_threshold(method, 0.5, 0.0) == pytest.approx(4.0, rel=1e-12)


def test_scalar_inputs_give_floats():
    assert type(th.threshold("ema_hb", 0.1, 0.9)) is float
    assert type(th.numeric_threshold("ema_hb", 0.1, 0.9)) is float
    assert type(th.growth_factor("ema_hb", 0.1, 0.9, 3.0)) is float


def test_threshold_follows_a_warmup_schedule():
    etas = np.linspace(1e-4, 1e-3, 11)
    betas = np.array([[0.0], [0.9]])
    table = th.threshold("ema_hb", etas, betas)
    assert table.shape == (2, 11)
    np.testing.assert_allclose(table[0], 2.0 / etas, rtol=1e-15)
    np.testing.assert_allclose(table[1], 38.0 / etas, rtol=1e-14)
    np.testing.assert_allclose(th.threshold("gd", etas, 0.9), 2.0 / etas, rtol=1e-15)
    np.testing.assert_allclose(th.optimizer_threshold("adam", list(etas)), 38.0 / etas, rtol=1e-14)


def test_threshold_accepts_jax_arrays_and_tracers():
    etas = jnp.array([0.1, 1.0])
    np.testing.assert_allclose(th.threshold("ema_hb", etas, 0.9), [380.0, 38.0], rtol=1e-14)
    jitted = jax.jit(lambda eta, b: th.threshold("ema_nesterov", eta, b))
    assert float(jitted(1.0, 0.9)) == pytest.approx(38.0 / 2.8, rel=1e-14)


# --- frozen counterparts ------------------------------------------------------------------------


def test_frozen_counterpart_table():
    assert th.MOMENTUM_METHODS == METHODS
    assert th.FROZEN_COUNTERPART == EXPECTED_COUNTERPART


@pytest.mark.parametrize("name", sorted(EXPECTED_COUNTERPART))
@pytest.mark.parametrize("beta1", [0.0, 0.9])
def test_optimizer_threshold_uses_counterpart(name, beta1):
    expected = TABLE_1[EXPECTED_COUNTERPART[name]](0.01, beta1)
    assert th.optimizer_threshold(name, 0.01, beta1) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("spelling", ["Frozen-Adam", "FROZEN_ADAM", " frozen-adam "])
def test_optimizer_names_are_normalised(spelling):
    assert th.optimizer_threshold(spelling, 1.0) == pytest.approx(38.0, rel=1e-14)


def test_method_names_are_normalised():
    assert th.threshold("EMA-Nesterov", 1.0, 0.9) == pytest.approx(38.0 / 2.8, rel=1e-14)
    assert th.growth_factor("Standard-HB", 0.02, 0.9, 190.0) == pytest.approx(1.0, rel=1e-12)


def test_adafactor_without_momentum_is_gd():
    assert th.optimizer_threshold("adafactor", 0.3, beta1=0.0) == pytest.approx(2.0 / 0.3)


def test_adaptive_without_momentum_ignores_beta1():
    for name in ("rmsprop", "adagrad"):
        assert th.optimizer_threshold(name, 0.25, beta1=0.9) == pytest.approx(8.0, rel=1e-15)


# --- formulas ---------------------------------------------------------------------------------


def test_threshold_formula_strings():
    assert th.threshold_formula("gd") == "2/η"
    assert th.threshold_formula("standard_hb") == "(2+2β₁)/η"
    assert th.threshold_formula("ema_hb") == "(2+2β₁)/((1−β₁)η)"
    assert th.threshold_formula("standard_nesterov") == "(2+2β₁)/((1+2β₁)η)"
    assert th.threshold_formula("ema_nesterov") == "(2+2β₁)/((1−β₁)(1+2β₁)η)"
    assert th.threshold_formula("Adam") == "(2+2β₁)/((1−β₁)η)"
    assert th.threshold_formula("nadam") == "(2+2β₁)/((1−β₁)(1+2β₁)η)"
    assert th.threshold_formula("rmsprop") == "2/η"
    assert th.threshold_formula("adam", beta1=0.9) == "38/η"
    assert th.threshold_formula("standard_hb", beta1=0.5) == "3/η"


@pytest.mark.parametrize("name", sorted(EXPECTED_COUNTERPART))
def test_threshold_formula_evaluates_to_table_1(name):
    text = th.threshold_formula(name)
    python = text.replace("β₁", "b").replace("η", "eta").replace("−", "-")
    python = re.sub(r"(?<=[0-9)])(?=[(a-z])", "*", python)  # implicit products
    value = eval(python, {}, {"b": 0.7, "eta": 0.3})
    assert value == pytest.approx(TABLE_1[EXPECTED_COUNTERPART[name]](0.3, 0.7), rel=1e-14)


# --- companion matrix and growth factor -----------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_companion_matrix_reproduces_one_update_step(method):
    rng = np.random.default_rng(0)
    for eta, b, lam in [(0.1, 0.9, 3.0), (2.0, 0.5, -0.7), (1e-3, 0.99, 5e3), (0.4, 0.0, 6.0)]:
        x, m = rng.standard_normal(2)
        matrix = th.companion_matrix(method, eta, b, lam)
        np.testing.assert_allclose(matrix @ [x, m], one_step(method, eta, b, lam, x, m))


@pytest.mark.parametrize("method", METHODS)
def test_growth_factor_equals_eigenvalue_modulus(method):
    rng = np.random.default_rng(1)
    eta = rng.uniform(1e-3, 1.0, size=(200,))
    b = rng.choice(BETAS, size=(200,))
    lam = th.threshold(method, eta, b) * rng.uniform(-0.5, 2.0, size=(200,))
    radius = th.growth_factor(method, eta, b, lam)
    matrices = th.companion_matrix(method, eta, b, lam)
    assert matrices.shape == (200, 2, 2)
    np.testing.assert_allclose(radius, np.abs(np.linalg.eigvals(matrices)).max(axis=-1), rtol=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_growth_factor_crosses_one_at_threshold(method):
    eta, b = ETAS[:, None], BETAS[None, :]
    limit = th.threshold(method, eta, b)
    np.testing.assert_allclose(th.growth_factor(method, eta, b, limit), 1.0, rtol=1e-11)
    assert np.all(th.growth_factor(method, eta, b, limit * (1 - 1e-6)) < 1.0)
    assert np.all(th.growth_factor(method, eta, b, limit * (1 + 1e-6)) > 1.0)


@pytest.mark.parametrize("method", METHODS)
def test_stable_exactly_below_threshold(method):
    eta, b = 0.05, BETAS[:, None]
    ratios = np.geomspace(1e-4, 1 - 1e-8, 400)
    assert np.all(th.growth_factor(method, eta, b, ratios * th.threshold(method, eta, b)) < 1)
    ratios = np.geomspace(1 + 1e-8, 1e3, 400)
    assert np.all(th.growth_factor(method, eta, b, ratios * th.threshold(method, eta, b)) > 1)
    assert np.all(th.growth_factor(method, eta, b, -ratios) > 1)


def test_heavy_ball_plateau_at_sqrt_beta():
    # tr = 1 + b - eta lam = 0 puts both roots at +-i sqrt(b).
    assert th.growth_factor("standard_hb", 0.02, 0.9, 95.0) == pytest.approx(np.sqrt(0.9))
    lam = np.linspace(10.0, 180.0, 50)
    assert th.growth_factor("standard_hb", 0.02, 0.9, lam).min() < th.growth_factor(
        "standard_hb", 0.02, 0.9, 5.0
    )


def test_growth_factor_broadcasts():
    result = th.growth_factor("ema_hb", np.array([[0.1], [1.0], [2.0]]), 0.9, np.linspace(0, 50, 7))
    assert result.shape == (3, 7)
    np.testing.assert_allclose(result[:, 0], 1.0, rtol=1e-15)


def _simulated_growth(method, eta, b, lam, burn_in=300, steps=300):
    """Per-step growth of |x_t| + |m_t| measured by running the update rule."""
    x, m = 1.0, 0.0
    for _ in range(burn_in):
        x, m = one_step(method, eta, b, lam, x, m)
    start = abs(x) + abs(m)
    for _ in range(steps):
        x, m = one_step(method, eta, b, lam, x, m)
    return ((abs(x) + abs(m)) / start) ** (1 / steps)


def test_appendix_c_heavy_ball_least_robust_past_threshold():
    cases = {"gd": 0.2, "standard_hb": 0.02, "standard_nesterov": 0.02}
    factors = {
        method: th.growth_factor(method, eta, 0.9, 1.1 * th.threshold(method, eta, 0.9))
        for method, eta in cases.items()
    }
    assert factors["gd"] == pytest.approx(1.2, rel=1e-14)  # |1 - 0.2 * 11|
    for method, eta in cases.items():
        lam = 1.1 * TABLE_1[method](eta, 0.9)
        assert factors[method] == pytest.approx(_simulated_growth(method, eta, 0.9, lam), rel=1e-2)
    assert factors["standard_hb"] > 1.3 * max(factors["gd"], factors["standard_nesterov"])
    print("growth factors at 1.1x threshold:", factors)


# --- bad input ----------------------------------------------------------------------------------

CALLS = {
    "threshold": lambda eta, b: th.threshold("ema_hb", eta, b),
    "numeric_threshold": lambda eta, b: th.numeric_threshold("ema_hb", eta, b),
    "optimizer_threshold": lambda eta, b: th.optimizer_threshold("adam", eta, b),
    "growth_factor": lambda eta, b: th.growth_factor("ema_hb", eta, b, 1.0),
    "companion_matrix": lambda eta, b: th.companion_matrix("ema_hb", eta, b, 1.0),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize(
    "eta", [0.0, -1.0, float("nan"), float("inf"), np.array([0.1, 0.0]), [0.1, -2.0]]
)
def test_bad_eta(call, eta):
    with pytest.raises(ValueError, match=r"eta must be finite and > 0"):
        call(eta, 0.9)


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize("beta1", [-0.1, 1.0, 1.5, float("nan"), np.array([0.5, 1.0])])
def test_bad_beta1(call, beta1):
    with pytest.raises(ValueError, match=r"beta1 must lie in \[0, 1\)"):
        call(0.1, beta1)


def test_bad_element_is_located():
    with pytest.raises(ValueError, match=r"got -2.0 at index \(1, 0\)"):
        th.threshold("gd", np.array([[0.1], [-2.0]]))


def test_schedule_is_rejected_with_a_hint():
    with pytest.raises(ValueError, match=r"eta must be a number or an array.*schedule"):
        th.threshold("gd", lambda step: 0.1)


@pytest.mark.parametrize("lam", [float("nan"), np.array([1.0, np.inf])])
def test_bad_lam(lam):
    with pytest.raises(ValueError, match="lam must be finite"):
        th.growth_factor("gd", 0.1, 0.0, lam)


@pytest.mark.parametrize(
    "call",
    [
        lambda: th.threshold("adam", 0.1, 0.9),
        lambda: th.numeric_threshold("heavy_ball", 0.1),
        lambda: th.growth_factor("sgd", 0.1, 0.0, 1.0),
    ],
)
def test_unknown_method_lists_methods(call):
    with pytest.raises(ValueError, match=r"unknown method .*gd, standard_hb, .*ema_nesterov"):
        call()


@pytest.mark.parametrize(
    "call",
    [lambda: th.optimizer_threshold("lion", 0.1), lambda: th.threshold_formula("lion")],
)
def test_unknown_optimizer_lists_names(call):
    with pytest.raises(ValueError, match=r"unknown optimizer 'lion'.*adam.*nadam.*adagrad"):
        call()
