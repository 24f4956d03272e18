"""Hessian-vector products and top-k eigensolvers, against dense numpy references."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from aeos_lab.core.curvature import (
    EigInfo,
    hvp,
    preconditioned_hvp,
    sharpness,
    top_eigenpairs,
    unravel_eigvecs,
)

SIZES = (5, 16, 16, 3)  # 435 parameters


def mlp_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        params[f"layer{i}"] = {
            "w": jnp.asarray(rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in), dtype),
            "b": jnp.asarray(0.3 * rng.standard_normal(fan_out), dtype),
        }
    return params


def mlp_loss(params, x, y):
    h = x
    for i in range(len(SIZES) - 1):
        layer = params[f"layer{i}"]
        h = h @ layer["w"] + layer["b"]
        if i < len(SIZES) - 2:
            h = jnp.tanh(h)
    return 0.5 * jnp.mean(jnp.sum((h - y) ** 2, axis=-1))


@pytest.fixture(scope="module")
def problem():
    """Params, data, a positive diagonal P, and float64 dense H / P^-1 H spectra (numpy)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, SIZES[0]))
    y = rng.standard_normal((40, SIZES[-1]))
    params = mlp_params(jnp.float64)
    flat, unravel = ravel_pytree(params)
    dense = np.asarray(jax.jit(jax.hessian(lambda f: mlp_loss(unravel(f), x, y)))(flat))
    dense = 0.5 * (dense + dense.T)
    p_flat = np.exp(rng.uniform(-2.0, 2.0, flat.size))
    precond = unravel(jnp.asarray(p_flat))
    spectrum = np.sort(np.linalg.eigvalsh(dense))[::-1]
    # P^-1 H is not symmetric: take its eigenvalues directly (they are real up to rounding)
    pre_spectrum = np.sort(np.linalg.eigvals(dense / p_flat[:, None]).real)[::-1]
    return dict(
        x=x, y=y, params=params, precond=precond, dense=dense, p_flat=p_flat,
        spectrum=spectrum, pre_spectrum=pre_spectrum,
    )  # fmt: skip


@jax.jit
def top3(params, precond, x, y, tol):
    def loss(p):
        return mlp_loss(p, x, y)

    raw = sharpness(loss, params, k=3, tol=tol, key=jax.random.key(3))
    pre = sharpness(loss, params, k=3, precond=precond, tol=tol, key=jax.random.key(4))
    return raw, pre


def cast(tree, dtype):
    return jax.tree.map(lambda a: jnp.asarray(a, dtype), tree)


def test_reference_spectra_are_a_fair_test(problem):
    top = problem["spectrum"][:4]
    assert top[2] > 0 and np.min(np.diff(-top)) > 1e-3 * top[0]
    assert np.min(problem["spectrum"]) < 0  # the MLP Hessian is indefinite
    # the two dense formulations of the preconditioned spectrum agree
    d = 1.0 / np.sqrt(problem["p_flat"])
    sym = np.sort(np.linalg.eigvalsh(d[:, None] * problem["dense"] * d[None, :]))[::-1]
    np.testing.assert_allclose(sym[:3], problem["pre_spectrum"][:3], rtol=1e-9)


def test_hvp_matches_dense_hessian(problem):
    params, x, y = problem["params"], problem["x"], problem["y"]
    flat, unravel = ravel_pytree(params)
    v = np.random.default_rng(5).standard_normal(flat.size)

    def loss(p):
        return mlp_loss(p, x, y)

    got = ravel_pytree(hvp(loss, params, unravel(jnp.asarray(v))))[0]
    np.testing.assert_allclose(got, problem["dense"] @ v, rtol=1e-10, atol=1e-12)
    d = 1.0 / np.sqrt(problem["p_flat"])
    got = ravel_pytree(preconditioned_hvp(loss, params, problem["precond"], unravel(v)))[0]
    np.testing.assert_allclose(got, d * (problem["dense"] @ (d * v)), rtol=1e-10, atol=1e-12)


def test_top3_float64_match_eigh(problem):
    (raw_vals, raw_vecs, raw_info), (pre_vals, _, pre_info) = top3(
        problem["params"], problem["precond"], problem["x"], problem["y"], 1e-9
    )
    np.testing.assert_allclose(raw_vals, problem["spectrum"][:3], rtol=1e-5)
    np.testing.assert_allclose(pre_vals, problem["pre_spectrum"][:3], rtol=1e-5)
    assert bool(raw_info.converged) and bool(pre_info.converged)
    # Ritz vectors: orthonormal, and info.residual is the true residual ||H y - theta y||
    vecs = np.asarray(raw_vecs)
    np.testing.assert_allclose(vecs @ vecs.T, np.eye(3), atol=1e-10)
    true_residual = np.linalg.norm(vecs @ problem["dense"] - raw_vals[:, None] * vecs, axis=1)
    np.testing.assert_allclose(raw_info.residual, true_residual, atol=1e-8 * raw_vals[0])


def test_top3_float32_match_eigh_to_1e3(problem):
    (raw_vals, raw_vecs, raw_info), (pre_vals, pre_vecs, pre_info) = top3(
        cast(problem["params"], jnp.float32),
        cast(problem["precond"], jnp.float32),
        np.float32(problem["x"]),
        np.float32(problem["y"]),
        np.float32(1e-3),
    )
    for array in (raw_vals, raw_vecs, pre_vals, pre_vecs, raw_info.residual):
        assert array.dtype == jnp.float32
    assert bool(raw_info.converged) and bool(pre_info.converged)
    np.testing.assert_allclose(raw_vals, problem["spectrum"][:3], rtol=1e-3)
    np.testing.assert_allclose(pre_vals, problem["pre_spectrum"][:3], rtol=1e-3)


def test_nonfinite_params_give_nan_quickly(problem):
    params = jax.tree.map(lambda a: a, problem["params"])
    params["layer1"]["w"] = params["layer1"]["w"].at[0, 0].set(jnp.nan)
    (raw_vals, _, raw_info), (pre_vals, _, pre_info) = top3(
        params, problem["precond"], problem["x"], problem["y"], 1e-9
    )
    for vals, info in ((raw_vals, raw_info), (pre_vals, pre_info)):
        assert np.all(np.isnan(vals))
        assert not bool(info.converged)
        assert int(info.n_hvp) <= 3  # stopped after the first block of products


def test_eigvecs_unravel_and_warm_start(problem):
    params, x, y = problem["params"], problem["x"], problem["y"]

    def loss(p):
        return mlp_loss(p, x, y)

    vals, vecs, info = sharpness(loss, params, k=1, tol=1e-10)
    trees = unravel_eigvecs(vecs, params)
    assert jax.tree.structure(trees) == jax.tree.structure(params)
    assert trees["layer0"]["w"].shape == (1,) + params["layer0"]["w"].shape
    np.testing.assert_allclose(ravel_pytree(jax.tree.map(lambda a: a[0], trees))[0], vecs[0])
    # the eigenvector is one of H: H y = lambda y
    np.testing.assert_allclose(problem["dense"] @ vecs[0], vals[0] * vecs[0], atol=1e-7)
    warm_vals, _, warm_info = sharpness(loss, params, k=1, v0=vecs, tol=1e-10)
    assert int(warm_info.n_hvp) <= 3 < int(info.n_hvp)
    np.testing.assert_allclose(warm_vals, problem["spectrum"][:1], rtol=1e-9)


# --------------------------------------------------------------- matrices with a known spectrum

N = 120


def known_matrix(eigenvalues, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((N, N)))
    return (q * eigenvalues) @ q.T, q


def spectrum_with_top(top, seed, low=-3.0, high=0.5):
    rest = np.random.default_rng(seed + 100).uniform(low, high, N - len(top))
    return np.concatenate([top, rest])


@jax.jit
def dense_top3(matrix, v0, tol):
    return top_eigenpairs(lambda v: matrix @ v, v0, k=3, tol=tol)


@jax.jit
def dense_top1(matrix, v0, tol):
    return top_eigenpairs(lambda v: matrix @ v, v0, k=1, tol=tol)


@pytest.mark.parametrize(
    "top",
    [
        [1.0, 0.9999, 0.8],  # near-degenerate top pair
        [2.0, 2.0, 1.0],  # exactly repeated top eigenvalue (needs the block of k vectors)
        [0.4, 0.3, 0.2],  # largest-magnitude eigenvalues are negative (down to -3)
    ],
)
def test_known_spectrum_top3(top):
    eigenvalues = spectrum_with_top(top, seed=len(top) + int(10 * top[0]))
    matrix, _ = known_matrix(eigenvalues, seed=2)
    v0 = np.random.default_rng(9).standard_normal(N)
    vals, vecs, info = dense_top3(matrix, v0, 1e-10)
    expected = np.sort(eigenvalues)[::-1][:3]
    assert bool(info.converged)
    np.testing.assert_allclose(vals, expected, rtol=1e-8)
    # top means largest algebraic value, not largest magnitude
    assert np.max(np.abs(eigenvalues)) > 2.5 > np.max(vals)


def test_near_degenerate_pair_k1_finds_the_cluster():
    eigenvalues = spectrum_with_top([1.0, 0.9999], seed=4)
    matrix, _ = known_matrix(eigenvalues, seed=5)
    vals, _, info = dense_top1(matrix, np.ones(N), 1e-3)
    assert bool(info.converged)
    assert abs(vals[0] - 1.0) <= 1e-3
    assert vals[0] <= 1.0 + 1e-12  # Ritz values are lower bounds


def test_converged_means_within_tol_relative():
    for seed in range(3):
        eigenvalues = spectrum_with_top([10.0, 9.7, 9.5], seed=seed, low=-5.0, high=9.0)
        matrix, _ = known_matrix(eigenvalues, seed=seed)
        v0 = np.random.default_rng(seed).standard_normal(N)
        vals, _, info = dense_top1(matrix, v0, 1e-3)
        assert bool(info.converged)
        assert abs(vals[0] - 10.0) <= 1e-3 * 10.0
        assert float(info.residual[0]) <= 1e-3 * abs(float(vals[0]))


def test_warm_start_from_exact_vector_takes_one_product():
    eigenvalues = spectrum_with_top([3.0, 2.0, 1.5], seed=6)
    matrix, q = known_matrix(eigenvalues, seed=7)
    vals, vecs, info = dense_top1(matrix, q[:, 0], 1e-8)
    assert int(info.n_hvp) == 1 and bool(info.converged)
    np.testing.assert_allclose(vals, [3.0], rtol=1e-12)
    np.testing.assert_allclose(np.abs(vecs[0] @ q[:, 0]), 1.0, atol=1e-12)
    # top-3 warm start from the three exact vectors: one block of 3 products
    vals, _, info = dense_top3(matrix, q[:, :3].T, 1e-8)
    assert int(info.n_hvp) == 3 and bool(info.converged)
    np.testing.assert_allclose(vals, [3.0, 2.0, 1.5], rtol=1e-12)


def test_max_iters_bounds_the_work_and_reports_not_converged():
    eigenvalues = spectrum_with_top([1.0, 0.99], seed=8)
    matrix, _ = known_matrix(eigenvalues, seed=8)
    vals, vecs, info = top_eigenpairs(
        lambda v: jnp.asarray(matrix) @ v, np.ones(N), k=1, tol=1e-12, max_iters=3
    )
    assert isinstance(info, EigInfo)
    assert int(info.n_hvp) == 3 and not bool(info.converged)
    assert np.isfinite(vals[0]) and vals[0] <= 1.0
    assert float(info.residual[0]) > 1e-12 * abs(float(vals[0]))


@pytest.mark.parametrize("n, k", [(4, 4), (5, 3)])
def test_tiny_spaces_and_negative_spectrum(n, k):
    # k = n, and k not dividing n: the last block runs out of new directions
    eigenvalues = -np.arange(1.0, n + 1) - 0.5
    q, _ = np.linalg.qr(np.random.default_rng(n).standard_normal((n, n)))
    matrix = jnp.asarray((q * eigenvalues) @ q.T)
    vals, vecs, info = top_eigenpairs(lambda v: matrix @ v, np.ones(n), k=k, tol=1e-10)
    assert bool(info.converged)
    np.testing.assert_allclose(vals, eigenvalues[:k], rtol=1e-10)  # no spurious zeros
    np.testing.assert_allclose(vecs @ vecs.T, np.eye(k), atol=1e-10)


def test_nan_matvec_stops():
    matrix = np.eye(N)
    matrix[3, 4] = np.nan
    vals, vecs, info = dense_top3(matrix, np.ones(N), 1e-8)
    assert np.all(np.isnan(vals)) and not bool(info.converged) and int(info.n_hvp) == 3


# ------------------------------------------------------------------------------- bad input


def test_bad_input_raises_value_error(problem):
    params = problem["params"]

    def loss(p):
        return mlp_loss(p, problem["x"], problem["y"])

    n = ravel_pytree(params)[0].size
    cases = [
        (dict(k=0), "k"),
        (dict(k=n + 1), "k"),
        (dict(tol=0.0), "tol"),
        (dict(tol=-1e-3), "tol"),
        (dict(tol=float("nan")), "tol"),
        (dict(max_iters=0), "max_iters"),
        (dict(precond={"layer0": params["layer0"]}), "precond"),
        (dict(precond=jax.tree.map(lambda a: jnp.ones(a.shape + (1,)), params)), "precond"),
        (dict(precond=jax.tree.map(jnp.zeros_like, params)), "precond"),
        (dict(precond=jax.tree.map(lambda a: -jnp.ones_like(a), params)), "precond"),
        (dict(v0=np.ones(n + 1)), "v0"),
        (dict(v0=np.ones((2, n)), k=1), "v0"),
    ]
    for kwargs, name in cases:
        with pytest.raises(ValueError, match=name):
            sharpness(loss, params, **kwargs)
    with pytest.raises(ValueError, match="k"):
        top_eigenpairs(lambda v: v, np.ones(4), k=5)
    with pytest.raises(ValueError, match="v0"):
        top_eigenpairs(lambda v: v, np.ones((2, 2, 2)))


def lowered_size(k: int, n: int = 48) -> int:
    """Length of the StableHLO text of the solver for block size k (no XLA compilation)."""
    matrix = jnp.asarray(np.diag(np.linspace(1.0, 2.0, n)))
    matvec = functools.partial(jnp.matmul, matrix)
    v0 = jnp.ones((k, n))
    solve = jax.jit(lambda v0: top_eigenpairs(matvec, v0, k=k, tol=1e-3, max_iters=2))
    return len(solve.lower(v0).as_text())


def test_the_compiled_solver_does_not_grow_with_k():
    # an unrolled loop over the k block rows made the program (and compile time) grow with k
    small, large = lowered_size(2), lowered_size(24)
    assert large < 1.3 * small, (small, large)
