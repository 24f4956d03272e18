"""Tests for aeos_lab.core.fork: the fork test's pieces on quadratics, where frozen Adam is
exactly EMA heavy ball on P^-1/2 H P^-1/2 and notebook 01's growth factor is exact."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aeos_lab.core import fork, optimizers, split, thresholds

N = 6


def _quadratic(seed=0):
    """A random SPD Hessian H, a random positive diagonal P and the loss x^T H x / 2."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((N, N)))
    hessian = q @ np.diag(np.linspace(0.5, 4.0, N)) @ q.T
    precond = rng.uniform(0.5, 2.0, N)
    h = jnp.asarray(hessian)
    return hessian, precond, lambda x: 0.5 * x @ h @ x


def test_preconditioned_top_is_the_top_eigenpair_of_p_inverse_h():
    hessian, precond, _ = _quadratic()
    lam, u = split.top_eigenpair(precond, hessian)
    want = np.max(np.linalg.eigvals(np.diag(1 / precond) @ hessian).real)
    assert lam == pytest.approx(want, rel=1e-12)
    scaled = hessian / np.sqrt(np.outer(precond, precond))
    np.testing.assert_allclose(scaled @ u, lam * u, atol=1e-12)
    assert np.linalg.norm(u) == pytest.approx(1.0)


@pytest.mark.parametrize(("ratio", "beta1"), [(1.1, 0.9), (1.5, 0.9), (1.2, 0.8)])
def test_frozen_branch_grows_at_notebook_01s_rate_on_a_quadratic(ratio, beta1):
    """On a quadratic, c_t of the frozen branch is a two-mode linear recurrence; once the
    smaller root has died out (t >= 10 here) its fitted growth is rho to rounding."""
    hessian, precond, loss_fn = _quadratic()
    lam, u = split.top_eigenpair(precond, hessian)
    eta = ratio * thresholds.threshold("ema_hb", 1.0, beta1) / lam  # lam = ratio * threshold
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.standard_normal(N))
    start = fork.ForkState(x, jnp.zeros(N), jnp.asarray(precond**2), jnp.asarray(precond))
    out = fork.fork(loss_fn, start, u, eta=eta, beta1=beta1, beta2=0.999, horizon=30)
    rho = fork.predicted_growth(lam, eta, beta1)
    assert rho > 1
    assert fork.growth_per_step(out.c_frozen, 15, 31) == pytest.approx(rho, rel=1e-7)
    # the frozen branch's lambda_1(P_k^-1 H) never moves on a quadratic
    np.testing.assert_allclose(out.lam_frozen / lam, 1.0, rtol=1e-3)


def test_branches_are_identical_at_the_fork_and_adam_matches_the_library_adam():
    hessian, precond, loss_fn = _quadratic()
    lam, u = split.top_eigenpair(precond, hessian)
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.standard_normal(N))
    m = jnp.asarray(0.1 * rng.standard_normal(N))
    nu = jnp.asarray(precond**2)
    start = fork.ForkState(x, m, nu, jnp.sqrt(nu) + 1e-7)
    eta, b1, b2 = 0.05, 0.9, 0.99
    out = fork.fork(loss_fn, start, u, eta=eta, beta1=b1, beta2=b2, horizon=5)
    assert out.c_adam[0] == out.c_frozen[0]
    assert out.loss_adam[0] == out.loss_frozen[0]
    # Adam branch = optimizers.adam continued from (m, nu), by hand
    tx = optimizers.adam(eta, b1, b2)
    state = tx.init(x)._replace(momentum=m, nu=nu)
    project = jnp.asarray(u) / jnp.sqrt(start.precond)
    for t in range(6):
        g = jax.grad(loss_fn)(x)
        assert float(project @ g) == pytest.approx(float(out.c_adam[t]), rel=1e-10)
        updates, state = tx.update(g, state, x)
        x = x + updates


def test_adam_search_stops_at_the_first_measurement_past_the_target():
    hessian, precond, loss_fn = _quadratic()
    x0 = jnp.asarray(np.random.default_rng(3).standard_normal(N))
    kw = dict(eta=0.5, beta1=0.9, beta2=0.99, every=3, blocks=20, tol=1e-6)

    def search(start, target):
        state, step, ratios = jax.jit(
            lambda start, target: fork.adam_search(loss_fn, x0, start=start, target=target, **kw)
        )(start, target)
        return state, int(step), np.asarray(ratios)

    _, step, every_ratio = search(0, np.inf)  # never stops: all 20 measurements
    assert step == 60 and np.all(np.isfinite(every_ratio))
    start = 12  # measurements from index 3 (step 12) on count
    target = float(np.median(every_ratio[3:]))
    first = 3 + int(np.flatnonzero(every_ratio[3:] >= target)[0])
    state, step, ratios = search(start, target)
    assert step == 3 * (first + 1)
    np.testing.assert_allclose(ratios[: first + 1], every_ratio[: first + 1], rtol=1e-12)
    assert np.all(np.isnan(ratios[first + 1 :]))
    # the state is Adam's after `step` steps, and each ratio is lambda_1(P^-1 H) / threshold
    tx = optimizers.adam(kw["eta"], kw["beta1"], kw["beta2"])
    x, s = x0, tx.init(x0)
    threshold = thresholds.threshold("ema_hb", kw["eta"], kw["beta1"])
    for t in range(step):
        updates, s = tx.update(jax.grad(loss_fn)(x), s, x)
        x = x + updates
        if (t + 1) % 3 == 0:
            want = split.top_eigenpair(s.precond, hessian)[0] / threshold
            assert ratios[t // 3] == pytest.approx(want, rel=1e-5)
    np.testing.assert_allclose(state.x, x, rtol=1e-10)
    np.testing.assert_allclose(state.precond, s.precond, rtol=1e-10)


def test_growth_per_step_and_part_step():
    c = 0.3 * (-1.7) ** np.arange(12)
    assert fork.growth_per_step(c, 0, 12) == pytest.approx(1.7)
    assert fork.growth_per_step(c, 3, 8) == pytest.approx(1.7)
    with pytest.raises(ValueError, match="two finite"):
        fork.growth_per_step([0.0, 1.0], 0, 2)
    other = c.copy()
    other[5:] *= 1.3
    assert fork.part_step(other, c, 0.2) == 5
    assert fork.part_step(c, c, 0.2) is None
