"""Tests for aeos_lab.quadratic: thresholds on quadratics, Prop. 1, RMSprop's self-stabilisation."""

import numpy as np
import pytest

from aeos_lab.core import quadratic
from aeos_lab.core.quadratic import diverged, max_abs, simulate
from aeos_lab.core.thresholds import MOMENTUM_METHODS, threshold

BETAS = np.array([0.0, 0.5, 0.9, 0.99])
RATIOS = np.array([0.98, 1.02])


def spd_matrix(d, seed):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (q * rng.uniform(0.1, 10.0, d)) @ q.T


# ---------------------------------------------------------------------------------------------
# Table 1 thresholds, plain and preconditioned


@pytest.mark.parametrize("method", MOMENTUM_METHODS)
def test_divergence_exactly_past_the_threshold(method):
    """Sharpness at 0.98x the threshold stays bounded for 5000 steps; at 1.02x it explodes.

    The eta that puts sharpness a at the threshold is threshold(method, 1, b) / a (Table 1's
    constant over a). With P, the relevant sharpness is a / P (Prop. 1).
    """
    beta1 = BETAS[:, None]
    for hessian, precond in ((1.0, None), (2.0, 0.5)):
        sharpness = hessian / (1.0 if precond is None else precond)
        eta = RATIOS[None, :] * threshold(method, 1.0, beta1) / sharpness
        run = simulate(method, hessian, eta, beta1, steps=5000, precond=precond)
        assert run.x.shape == (4, 2, 5001, 1)
        stable, unstable = max_abs(run)[:, 0], max_abs(run)[:, 1]
        assert np.all(stable < 10.0), (precond, stable)
        assert np.all(np.abs(run.x[:, 0, -1, 0]) < 1e-6)
        assert np.all(unstable > 1e6), (precond, unstable)
        np.testing.assert_array_equal(diverged(run), [[False, True]] * 4)


def test_prop1_preconditioned_threshold_on_random_quadratic():
    """PrecondEMAHB on a 20x20 SPD A diverges iff lambda_1(P^-1/2 A P^-1/2) > (2+2b)/((1-b) eta)."""
    rng = np.random.default_rng(1)
    a = spd_matrix(20, seed=2)
    p = rng.uniform(0.2, 5.0, 20)
    lam = np.linalg.eigh(a / np.sqrt(np.outer(p, p)))[0][-1]
    ratios = np.array([0.97, 0.98, 0.99, 1.01, 1.02, 1.03])
    beta1 = 0.9
    eta = ratios * threshold("ema_hb", 1.0, beta1) / lam
    x0 = rng.standard_normal(20)
    run = simulate("ema_hb", a, eta, beta1, steps=3000, x0=x0, precond=p)
    peaks = max_abs(run)
    assert np.all(peaks[ratios < 1] < 1e3 * np.abs(x0).max()), peaks
    assert np.all(np.abs(run.x[ratios < 1, -1]) < 1e-6)
    assert np.all(peaks[ratios > 1] > 1e6), peaks


def test_prop1_isomorphism():
    """PrecondEMAHB(P) on A == EMAHB on P^-1/2 A P^-1/2 with x~ = P^1/2 x, m~ = P^-1/2 m."""
    rng = np.random.default_rng(3)
    a = spd_matrix(20, seed=4)
    p = rng.uniform(0.2, 5.0, 20)
    a_tilde = a / np.sqrt(np.outer(p, p))
    lam = np.linalg.eigh(a_tilde)[0][-1]
    eta, beta1 = 0.9 * threshold("ema_hb", 1.0, 0.8) / lam, 0.8
    x0, m0 = rng.standard_normal(20), rng.standard_normal(20)
    run = simulate("ema_hb", a, eta, beta1, steps=300, x0=x0, m0=m0, precond=p)
    plain = simulate(
        "ema_hb", a_tilde, eta, beta1, steps=300, x0=np.sqrt(p) * x0, m0=m0 / np.sqrt(p)
    )
    np.testing.assert_allclose(np.sqrt(p) * run.x, plain.x, rtol=0, atol=1e-10)
    np.testing.assert_allclose(run.momentum / np.sqrt(p), plain.momentum, rtol=0, atol=1e-10)
    np.testing.assert_allclose(run.precond, np.broadcast_to(p, run.precond.shape))
    np.testing.assert_allclose(plain.precond, 1.0)


# ---------------------------------------------------------------------------------------------
# RMSprop halts its own divergence (paper App. B, Fig. 12)


def test_rmsprop_halts_its_divergence():
    """f = x^2/2, nu_0 = 1, eta past the frozen threshold (P_0 = 1 needs eta < 2).

    The iterate first oscillates explosively; the big gradients raise nu until P passes
    eta / 2 (where 1/P < 2/eta); then nothing diverges. For faster b2 the run settles on the
    period-2 orbit x = +-eta/2 where P = eta/2 sits exactly at the threshold: the preconditioned
    sharpness 1/P equals 2/eta.
    """
    beta2 = np.array([0.9, 0.99, 0.999])[:, None]
    eta = np.array([2.2, 3.0, 5.0])[None, :]
    run = simulate("rmsprop", 1.0, eta, 0.0, beta2, steps=6000, initial_nu=1.0, eps=1e-7)
    x = np.abs(run.x[..., 0])
    assert np.all(np.isfinite(x))
    peak_step = x.argmax(axis=-1)
    assert np.all(x.max(axis=-1) > 1.4)  # explosive growth from x0 = 1
    assert np.all(peak_step < 1500)
    assert np.all(run.nu[..., 0].max(axis=-1) > 1.0)  # nu rises ...
    assert np.all(run.precond[..., 0].max(axis=-1) > eta / 2)  # ... past the frozen threshold
    assert np.all(x[..., 3000:].max(axis=-1) < x.max(axis=-1))  # and the growth is halted
    late = x[:2, :, -2:]  # beta2 = 0.9, 0.99: the period-2 orbit
    np.testing.assert_allclose(late, np.broadcast_to(eta[..., None] / 2, late.shape), rtol=1e-6)
    np.testing.assert_allclose(run.precond[:2, :, -1, 0], np.broadcast_to(eta / 2, (2, 3)), 1e-6)
    # Frozen at nu_0 = 1 the same eta diverges.
    frozen = simulate("gd", 1.0, eta, steps=200, precond=1.0 + 1e-7)
    assert np.all(diverged(frozen))


# ---------------------------------------------------------------------------------------------
# Wiring: independent recurrences, batches, shapes, caching


def numpy_momentum_run(method, a, eta, beta1, steps, x0, m0, p):
    """Table 1 written out with numpy, preconditioned by P (paper §2)."""
    x, m = np.array(x0, float), np.array(m0, float)
    xs, ms = [x.copy()], [m.copy()]
    c = 1 - beta1 if method.startswith("ema") else 1.0
    for _ in range(steps):
        g = a @ x
        if method == "gd":
            d = g
        else:
            m = beta1 * m + c * g
            d = m if method.endswith("hb") else beta1 * m + c * g
        x = x - eta * d / p
        xs.append(x.copy())
        ms.append(m.copy())
    return np.array(xs), np.array(ms)


@pytest.mark.parametrize("method", MOMENTUM_METHODS)
def test_matches_numpy_recurrence(method):
    a = spd_matrix(4, seed=5)
    p = np.array([1.0, 2.0, 0.5, 3.0])
    x0, m0 = np.array([1.0, -1.0, 0.5, 2.0]), np.array([0.2, 0.0, -0.1, 0.3])
    run = simulate(method, a, 0.05, 0.7, steps=50, x0=x0, m0=m0, precond=p)
    xs, ms = numpy_momentum_run(method, a, 0.05, 0.7, 50, x0, m0 if method != "gd" else 0 * m0, p)
    np.testing.assert_allclose(run.x, xs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(run.grad_norm, np.linalg.norm(xs @ a, axis=1), rtol=1e-12)
    np.testing.assert_allclose(run.loss, 0.5 * np.einsum("ti,ij,tj->t", xs, a, xs), rtol=1e-12)
    if method == "gd":
        assert np.all(np.isnan(run.momentum))
    else:
        np.testing.assert_allclose(run.momentum, ms, rtol=1e-12, atol=1e-14)
    assert np.all(np.isnan(run.nu))


def test_momentum_start_fig17():
    """x0 = 1, m0 = 0.2 (Fig. 17): the first EMA HB step uses m1 = b m0 + (1 - b) x0."""
    run = simulate("ema_hb", 1.0, 0.5, 0.9, steps=1, x0=1.0, m0=0.2)
    m1 = 0.9 * 0.2 + 0.1 * 1.0
    np.testing.assert_allclose(run.momentum[:, 0], [0.2, m1])
    np.testing.assert_allclose(run.x[:, 0], [1.0, 1.0 - 0.5 * m1])


def test_adam_nu_and_precond_on_scalar_quadratic():
    """Adam (no bias correction) on a x^2/2, two steps by hand."""
    a, eta, b1, b2, eps = 3.0, 0.01, 0.9, 0.99, 1e-7
    run = simulate("adam", a, eta, b1, b2, steps=2, x0=1.0, eps=eps)
    x, m, nu = 1.0, 0.0, 0.0
    for t in range(1, 3):
        g = a * x
        m, nu = b1 * m + (1 - b1) * g, b2 * nu + (1 - b2) * g**2
        x = x - eta * m / (np.sqrt(nu) + eps)
        np.testing.assert_allclose(run.x[t, 0], x, rtol=1e-12)
        np.testing.assert_allclose(run.nu[t, 0], nu, rtol=1e-12)
        np.testing.assert_allclose(run.precond[t, 0], np.sqrt(nu) + eps, rtol=1e-12)
    assert run.precond[0, 0] == eps and run.nu[0, 0] == 0.0


@pytest.mark.parametrize("optimizer", ["ema_nesterov", "adam", "frozen_adam", "rmsprop"])
def test_batch_equals_single_runs(optimizer):
    a = spd_matrix(3, seed=6)
    eta = np.array([0.01, 0.05])
    beta1 = np.array([[0.0], [0.5], [0.9]])
    extra = {"precond": np.array([1.0, 2.0, 3.0])} if optimizer == "frozen_adam" else {}
    x0 = np.array([1.0, -0.5, 2.0])
    batch = simulate(optimizer, a, eta, beta1, 0.95, steps=30, x0=x0, **extra)
    assert batch.x.shape == (3, 2, 31, 3)
    assert batch.grad_norm.shape == batch.loss.shape == (3, 2, 31)
    for i in range(3):
        for j in range(2):
            single = simulate(optimizer, a, eta[j], beta1[i, 0], 0.95, steps=30, x0=x0, **extra)
            assert single.x.shape == (31, 3)
            for field in ("x", "momentum", "nu", "precond", "grad_norm", "loss"):
                np.testing.assert_allclose(
                    getattr(batch, field)[i, j], getattr(single, field), rtol=1e-12, atol=1e-15
                )


def test_slider_changes_do_not_recompile():
    base = dict(steps=40, m0=0.1)
    simulate("adam", 1.0, np.full(5, 1e-2), 0.9, 0.99, x0=1.0, **base)
    size = quadratic._compiled.cache_info().currsize
    compiled = quadratic._compiled("adam", 40, (), (), (True, True, False))
    jit_entries = compiled._cache_size()
    simulate("adam", 2.5, np.full(5, 3e-2), 0.5, 0.9, x0=-2.0, **base)
    simulate("adam", 0.5, np.linspace(1e-3, 1.0, 5), 0.0, 0.999, x0=0.3, steps=40, m0=0.7)
    assert quadratic._compiled.cache_info().currsize == size
    assert compiled._cache_size() == jit_entries == 1


def test_divergent_runs_do_not_raise():
    run = simulate("gd", 1.0, 50.0, steps=400)
    assert not np.all(np.isfinite(run.x))
    assert diverged(run) and max_abs(run) == np.inf


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(hessian=np.ones((2, 3))), r"hessian.*\(d, d\)"),
        (dict(hessian=np.ones((2, 2, 2))), r"hessian.*\(d, d\)"),
        (dict(hessian=np.array([1.0, 2.0])), r"hessian.*\(d, d\)"),
        (dict(hessian=np.array([[1.0, 2.0], [0.0, 1.0]])), "hessian must be symmetric"),
        (dict(hessian=np.nan), "hessian must be finite"),
        (dict(hessian=np.eye(2), x0=np.ones(3)), r"x0.*\(2,\)"),
        (dict(hessian=np.eye(2), m0=np.ones((2, 2))), r"m0.*\(2,\)"),
        (dict(steps=0), "steps"),
        (dict(steps=2.5), "steps"),
        (dict(eta=np.array([0.1, -0.1])), r"eta.*index \(1,\)"),
        (dict(eta=np.array([[0.1], [np.inf]])), "eta"),
        (dict(eta=0.0), "eta"),
        (dict(beta1=np.array([0.5, 1.0])), r"beta1.*\[0, 1\)"),
        (dict(beta2=-0.1), "beta2"),
        (dict(optimizer="sgd"), "unknown optimizer"),
        (dict(optimizer="adam", precond=1.0), "'precond'"),
        (dict(optimizer="frozen_adam"), "precond"),
        (dict(optimizer="frozen_adam", precond=0.0), "precond"),
        (dict(optimizer="frozen_adam", hessian=np.eye(2), precond=np.ones(3)), "precond"),
        (dict(optimizer="adam", eps=-1.0), "eps"),
        (dict(optimizer="adam", momentum=0.9), "'momentum'"),
        (dict(optimizer="padam", exponent=2.0), "exponent"),
    ],
)
def test_bad_input(kwargs, message):
    args = dict(optimizer="ema_hb", hessian=1.0, eta=0.1, steps=10) | kwargs
    with pytest.raises(ValueError, match=message):
        simulate(args.pop("optimizer"), args.pop("hessian"), args.pop("eta"), **args)
