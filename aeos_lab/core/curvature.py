r"""Top eigenvalues of the Hessian H and of the preconditioned Hessian P^-1/2 H P^-1/2.

Hessian-vector products
-----------------------
For a scalar loss L(theta) the product H v = d/dt grad L(theta + t v) at t = 0 is one
forward-mode derivative of the reverse-mode gradient (``jax.jvp`` of ``jax.grad``). It costs
about two gradient evaluations and never forms H, which has n^2 entries for n parameters.

The preconditioned operator
---------------------------
Adaptive optimizers step along -eta P^-1 g with a positive diagonal P. Their stability is decided
by the eigenvalues of P^-1 H (Cohen et al., 2022, section 2). That matrix is not symmetric, but
with D = P^-1/2,

    P^-1 H = D (D H D) D^-1,

so P^-1 H is similar to the symmetric matrix A = D H D = P^-1/2 H P^-1/2 and has the same
eigenvalues. If A w = lambda w, then P^-1 H (D w) = lambda (D w). We therefore run a symmetric
eigensolver on v -> D H (D v), one Hessian-vector product per application.

Block Lanczos with full reorthogonalisation
-------------------------------------------
Starting from an orthonormal block Q_0 of b = k vectors (n x k), the Lanczos recursion builds
an orthonormal basis V_m = [Q_0, ..., Q_{m-1}] of the block Krylov space
span{Q_0, A Q_0, ..., A^{m-1} Q_0} and the block tridiagonal T_m = V_m^T A V_m:

    A Q_j = Q_{j-1} B_{j-1}^T + Q_j A_j + Q_{j+1} B_j,    A_j = Q_j^T A Q_j.

Each new block is orthogonalised against all earlier ones, twice (Gram-Schmidt "twice is
enough"), so V_m stays orthonormal to rounding and no spurious copies of converged eigenvalues
appear. The eigenpairs (theta_i, s_i) of the small matrix T_m give Ritz values theta_i and Ritz
vectors y_i = V_m s_i. The Ritz values are lower bounds, theta_i <= lambda_i (Cauchy
interlacing), and the top ones converge to the top eigenvalues of A fastest. Residuals are free:

    r_i = ||A y_i - theta_i y_i|| = ||B_{m-1} s_i^{(last block)}||.

If a new block loses rank (an invariant subspace has been found, e.g. a warm start from exact
eigenvectors), the lost directions are replaced by random vectors orthogonal to the basis; the
dropped part has norm below 100 eps ||A|| and changes the residuals by at most that much.
A block of k vectors (not a single vector) lets the method resolve up to k (nearly) equal top
eigenvalues; with k = 1 this is ordinary Lanczos.

Stopping rule and the meaning of ``tol``
----------------------------------------
For a symmetric A, a unit vector y with Rayleigh quotient theta and residual
r = ||A y - theta y||, some eigenvalue lambda of A satisfies |theta - lambda| <= r (and more
sharply r^2 / gap when no other eigenvalue is within ``gap``; Parlett, *The Symmetric
Eigenvalue Problem*, ch. 11). The solver stops once every one of the top k Ritz pairs has

    r_i <= tol * |theta_i| + 100 eps ||A||,

the last term being the rounding floor of the dtype (``||A||`` estimated by the largest
||A q|| seen). So ``converged=True`` means: each returned eigenvalue is within tol relative of
an eigenvalue of A, and since Ritz values are lower bounds the error is in fact one-sided and
usually far smaller, about r^2 / gap. The sharper r^2 / gap estimate is not used for stopping:
with a gap guessed from the Ritz values it stopped early on the benchmark checkpoint, whose top
two eigenvalues lie 2-4% apart, with a Ritz value sitting on lambda_2 before lambda_1 had
appeared. As for every Krylov method, an eigenvalue whose eigenvector is (numerically)
orthogonal to the start block, or a cluster of more than k equal top eigenvalues, can be
missed. A random start makes that rare but not impossible when lambda_1 and lambda_2 are close:
on the benchmark checkpoint the start ``jax.random.normal(jax.random.key(1), (n,))`` carries
1/1000 of the typical weight on the top eigenvector of P^-1/2 H P^-1/2 (odds about 1 in 1000),
and the solver returned lambda_2, 3.8% low, as converged. Warm starts from the previous
eigenvectors avoid this in training loops.
"Top" means largest algebraic value (the paper's sharpness), not largest magnitude: negative
eigenvalues of any size are never returned ahead of positive ones.

What ``converged=True`` does and does not promise
-------------------------------------------------
It promises that each returned value lies within ``tol`` (relative) of SOME eigenvalue of A.
It does not promise that the i-th returned value is the i-th largest eigenvalue. When the top
eigenvalues are closer together than the tolerance, or the start block barely touches the top
eigenvector, the solver can stop on the second one: with lambda_1 and lambda_2 1e-3 apart and
``tol=1e-3``, one case returned lambda_2 with ``converged=True``. When you need lambda_1 for
certain:

* ask for more than you report: k >= 2 (a block resolves nearly equal eigenvalues) and a
  ``tol`` well below the relative gap you care about;
* warm-start from the previous eigenvectors (training loops do), or compare two calls with
  different ``key``: a disagreement beyond ``tol`` means one of them missed lambda_1;
* for a small operator, cap nothing: with k * max_iters >= n the Krylov basis is the whole
  space and the Ritz values are the eigenvalues of A to rounding.

Cost: each block step applies A to k vectors, orthogonalises the new block against the filled
part of the basis (twice) and solves a small symmetric eigenproblem; the basis holds
max_iters * k * n numbers. The loop is one ``lax.while_loop``, with no host round trip, and
the k rows of a block are orthogonalised by a ``lax.fori_loop``, so the compiled program has
the same size for every k (an unrolled Python loop made compile time and memory grow with k:
7 s at k = 3, 36 s at k = 38, and no end at k = n = 112, where XLA's algebraic simplifier
reported a circular simplification loop).

Why not a library solver (measured on the checkpoint of benchmarks/sharpness.py, 1e-3 relative
accuracy): ``jax.experimental.sparse.linalg.lobpcg_standard`` applies A to 4 vectors per
iteration and needed 61 (H) / 33 (P^-1/2 H P^-1/2) products even when stopped by an oracle,
against 23 / 14.5 here, and its tolerance is not a relative accuracy (residual below
tol * 10 n (|theta| + ||A x||)); ``scipy.sparse.linalg.eigsh`` (ARPACK) needed 31 / 21 products,
takes a host round trip per product and cannot run inside ``jax.jit``; matfree's Lanczos
(``matfree.decomp.tridiag_sym``, 0.6) runs a fixed number of products with no tolerance-based
stop and starts from a single vector.

Failure handling: if a product A q is not finite (non-finite params, a NaN loss) or the start
vectors are not finite, the loop stops at once and the eigenvalues are NaN with
``converged=False``. The loop always ends after at most ``max_iters`` block steps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from aeos_lab.core.validation import check_int_at_least, check_positive, check_same_structure

__all__ = [
    "DEFAULT_MAX_ITERS",
    "EigInfo",
    "hvp",
    "preconditioned_hvp",
    "sharpness",
    "top_eigenpairs",
    "unravel_eigvecs",
]

DEFAULT_MAX_ITERS = 40  # block steps; tol 1e-3 on the benchmark checkpoint took at most 27
_ROUNDING_FACTOR = 100.0  # multiples of eps * ||A|| treated as rounding noise
_FILL_SHIFT = 7919  # a prime: successive steps draw differently shifted random fill-ins


class EigInfo(NamedTuple):
    """Diagnostics of one eigensolver call.

    n_hvp: number of operator applications (Hessian-vector products) used, int32.
    residual: (k,) residual norms ||A y_i - theta_i y_i|| of the returned unit Ritz vectors.
    converged: True when every returned eigenvalue met the ``tol`` test (see module docstring).
    """

    n_hvp: jax.Array
    residual: jax.Array
    converged: jax.Array


def hvp(loss_fn: Callable, params, v):
    """Hessian-vector product H v of ``loss_fn`` at ``params`` (forward-over-reverse).

    ``v`` is a pytree shaped like ``params``; the result is too.
    """
    return jax.jvp(jax.grad(loss_fn), (params,), (v,))[1]


def preconditioned_hvp(loss_fn: Callable, params, precond, v):
    """P^-1/2 H P^-1/2 v for a positive diagonal P given as a pytree shaped like ``params``."""
    inv_sqrt = jax.tree.map(lambda p: 1.0 / jnp.sqrt(p), precond)
    scaled = jax.tree.map(jnp.multiply, inv_sqrt, v)
    return jax.tree.map(jnp.multiply, inv_sqrt, hvp(loss_fn, params, scaled))


# ----------------------------------------------------------------------------- block Lanczos


def _row_products(a, b):
    """a b^T for row blocks a (p, n), b (s, n), without materialising a transpose."""
    return jnp.einsum("pn,sn->ps", a, b)


def _rows_times(c, b):
    """c b for c (p, s), b (s, n)."""
    return jnp.einsum("ps,sn->pn", c, b)


def _safe_normalize(w):
    norm = jnp.linalg.norm(w)
    return w / jnp.where(norm > 0, norm, 1.0), norm


def _project_out_basis(w, basis, num_blocks):
    """Subtract from the rows of ``w`` their components on the first ``num_blocks`` blocks, twice.

    ``basis`` has shape (max_blocks, b, n) and holds zeros past the filled blocks, so projecting
    on any longer prefix gives the same result. The prefix length is picked from a few static
    sizes (``lax.switch``), so the cost grows with the filled part, not with ``max_iters``.
    Classical Gram-Schmidt applied twice is as accurate as modified Gram-Schmidt here.
    """
    total, b, n = basis.shape

    def project(size):
        def branch(w):
            prefix = basis[:size].reshape(size * b, n)
            for _ in range(2):
                w = w - _rows_times(_row_products(w, prefix), prefix)
            return w

        return branch

    sizes = _bucket_sizes(total, smallest=4, growth=2)
    index = jnp.searchsorted(jnp.asarray(sizes), num_blocks)
    return jax.lax.switch(index, [project(size) for size in sizes], w)


def _combine_prefix(coeffs, basis, num_blocks):
    """Ritz vectors coeffs^T V for the first ``num_blocks`` blocks of the basis (prefix switch)."""
    total, b, n = basis.shape

    def combine(size):
        def branch(coeffs):
            return coeffs[: size * b].T @ basis[:size].reshape(size * b, n)

        return branch

    sizes = _bucket_sizes(total, smallest=4, growth=2)
    index = jnp.searchsorted(jnp.asarray(sizes), num_blocks)
    return jax.lax.switch(index, [combine(size) for size in sizes], coeffs)


def _orthonormalize_block(w, basis, num_blocks, scale, fill, step=0):
    """Orthonormalise the rows of ``w`` against the basis and each other (twice).

    Returns (q, r, alive) with w_l = sum_i r[i, l] q_i + (part in the basis) + (dropped noise),
    r upper triangular. A row whose remaining norm is below ``100 eps max(scale, |w_l|)`` carries
    no new direction: it is replaced by the random row ``fill[l]``, cyclically shifted by an
    amount that depends on ``step`` and made orthogonal to everything before it, and its
    diagonal entry of r is set to 0. If even that leaves nothing (the basis already spans the
    whole space), q_l = 0 and alive[l] = False: the row takes no part in the Ritz problem.

    The rows are processed by one ``lax.fori_loop`` (not a Python loop), so the compiled
    program has the same size for every block size k.
    """
    b, n = w.shape
    eps = jnp.finfo(w.dtype).eps
    w = _project_out_basis(w, basis, num_blocks)
    flat = basis.reshape(-1, n)

    def fill_direction(q, l):
        # rare path: project on the whole (zero-padded) basis, simple to compile
        z = jnp.roll(jax.lax.dynamic_slice_in_dim(fill, l, 1), step * _FILL_SHIFT % n, axis=1)
        start = jnp.linalg.norm(z)
        for _ in range(2):
            z = z - _rows_times(_row_products(z, flat), flat)
            z = z - _rows_times(_row_products(z, q), q)
        z, left = _safe_normalize(z[0])
        found = left > _ROUNDING_FACTOR * eps * start
        return jnp.where(found, z, 0.0), found

    def one_row(l, carry):
        q, r, alive = carry
        row = w[l]
        before = jnp.linalg.norm(row)
        coeffs = jnp.zeros((b,), w.dtype)
        for _ in range(2):
            c = q @ row  # rows >= l of q are still zero
            row = row - c @ q
            coeffs = coeffs + c
        row, norm = _safe_normalize(row)
        keep = norm > _ROUNDING_FACTOR * eps * jnp.maximum(scale, before)
        row, found = jax.lax.cond(
            keep, lambda q: (row, jnp.asarray(True)), lambda q: fill_direction(q, l), q
        )
        q = q.at[l].set(row)
        r = r.at[:, l].set(coeffs.at[l].set(jnp.where(keep, norm, 0.0)))
        return q, r, alive.at[l].set(found)

    init = (jnp.zeros_like(w), jnp.zeros((b, b), w.dtype), jnp.ones((b,), bool))
    return jax.lax.fori_loop(0, b, one_row, init)


def _ritz_top(t, inside, k):
    """Top-k eigenpairs of ``t`` restricted to the rows and columns where ``inside`` is True.

    The other rows are replaced by a decoupled diagonal far below the Gershgorin interval of the
    inside block, so ``eigh`` of the fixed-size matrix returns them last. Returns the top-k
    values (descending) and their eigenvectors (s, k), zero outside.
    """
    s = t.shape[0]
    mask = inside[:, None] & inside[None, :]
    t = jnp.where(mask, t, 0.0)
    radius = jnp.sum(jnp.abs(t), axis=1) - jnp.abs(jnp.diag(t))
    lo = jnp.min(jnp.where(inside, jnp.diag(t) - radius, jnp.inf))
    hi = jnp.max(jnp.where(inside, jnp.diag(t) + radius, -jnp.inf))
    spread = jnp.maximum(jnp.maximum(hi - lo, jnp.abs(lo)), jnp.maximum(jnp.abs(hi), 1e-30))
    pad = lo - spread
    t = t + jnp.diag(jnp.where(inside, 0.0, pad))
    values, vectors = jnp.linalg.eigh(t)  # ascending
    top = s - 1 - jnp.arange(k)
    return values[top], vectors[:, top] * inside[:, None]


def _bucket_sizes(total: int, smallest: int, growth: int) -> list[int]:
    """Static sizes smallest, smallest * growth, ... below total, then total.

    Each size is one branch of a ``lax.switch``: more sizes cost compile time, fewer cost
    run time (work on a zero-padded prefix up to ``growth`` times longer than needed).
    """
    sizes, s = [], smallest
    while s < total:
        sizes.append(s)
        s *= growth
    return sizes + [total]


@functools.partial(jax.jit, static_argnames=("matvec", "k", "max_iters"))
def _block_lanczos(matvec, v0, tol, key, *, k, max_iters):
    n = v0.shape[1]
    dtype = v0.dtype
    eps = jnp.finfo(dtype).eps
    size = k * max_iters
    # k = 1 calls matvec directly: vmap over a batch of one can give slower kernels
    batched = (lambda q: matvec(q[0])[None]) if k == 1 else jax.vmap(matvec)
    buckets = _bucket_sizes(size, smallest=8 * k, growth=4)

    def ritz(t, alive, dim):
        def solve(s):
            def branch(t):
                inside = (jnp.arange(s) < dim) & alive[:s]
                theta, vecs = _ritz_top(t[:s, :s], inside, k)
                return theta, jnp.zeros((size, k), dtype).at[:s].set(vecs)

            return branch

        index = jnp.searchsorted(jnp.asarray(buckets), dim)
        return jax.lax.switch(index, [solve(s) for s in buckets], t)

    basis = jnp.zeros((max_iters, k, n), dtype)
    start_ok = jnp.all(jnp.isfinite(v0))
    # random fill-in directions; step j uses them cyclically shifted by a step-dependent amount
    fill = jax.random.normal(jax.random.fold_in(key, 2), (k, n), dtype)
    q0, _, alive0 = _orthonormalize_block(jnp.where(start_ok, v0, 0.0), basis, 0, 0.0, fill)

    class State(NamedTuple):
        j: jax.Array
        basis: jax.Array  # blocks 0 .. j-1 of the Krylov basis, zeros after
        current: jax.Array  # block j
        t: jax.Array
        alive: jax.Array  # basis rows that hold a direction (False: space exhausted)
        anorm: jax.Array
        theta: jax.Array
        vecs: jax.Array
        residual: jax.Array
        converged: jax.Array
        failed: jax.Array

    def cond(st):
        return (st.j < max_iters) & ~st.converged & ~st.failed

    def body(st):
        j, q = st.j, st.current
        # write first, read after: XLA then updates the basis in place (no per-step copy)
        basis = jax.lax.dynamic_update_index_in_dim(st.basis, q, j, axis=0)
        w = batched(q)
        failed = ~jnp.all(jnp.isfinite(w))
        w = jnp.where(failed, 0.0, w)
        anorm = jnp.maximum(st.anorm, jnp.max(jnp.linalg.norm(w, axis=1)))
        alpha = _row_products(q, w)
        alpha = 0.5 * (alpha + alpha.T)
        new_q, beta, new_alive = _orthonormalize_block(w, basis, j + 1, anorm, fill, j + 1)
        alive = jax.lax.dynamic_update_slice(st.alive, new_alive, ((j + 1) * k,))
        t = jax.lax.dynamic_update_slice(st.t, alpha, (j * k, j * k))
        # rows of the next block, used from the next iteration on (T_m is its leading m*k block)
        t = jax.lax.dynamic_update_slice(t, beta, ((j + 1) * k, j * k))
        t = jax.lax.dynamic_update_slice(t, beta.T, (j * k, (j + 1) * k))
        dim = (j + 1) * k
        theta, vecs = ritz(t, alive, dim)
        last = jax.lax.dynamic_slice_in_dim(vecs, j * k, k, axis=0)  # (k, k)
        residual = jnp.linalg.norm(beta @ last, axis=0)
        converged = jnp.all(residual <= tol * jnp.abs(theta) + _ROUNDING_FACTOR * eps * anorm)
        converged = converged & ~failed
        return State(j + 1, basis, new_q, t, alive, anorm, theta, vecs, residual, converged, failed)

    nan_k = jnp.full((k,), jnp.nan, dtype)
    init = State(
        j=jnp.asarray(0, jnp.int32),
        basis=basis,
        current=q0,
        t=jnp.zeros((size + k, size + k), dtype),
        alive=jnp.ones((size + k,), bool).at[:k].set(alive0),
        anorm=jnp.asarray(0.0, dtype),
        theta=nan_k,
        vecs=jnp.zeros((size, k), dtype),
        residual=nan_k,
        converged=jnp.asarray(False),
        failed=~start_ok,
    )
    st = jax.lax.while_loop(cond, body, init)
    eigvecs = _combine_prefix(st.vecs, st.basis, st.j)
    failed = st.failed
    eigvals = jnp.where(failed, jnp.nan, st.theta)
    eigvecs = jnp.where(failed, jnp.nan, eigvecs)
    residual = jnp.where(failed, jnp.nan, st.residual)
    info = EigInfo(n_hvp=st.j * k, residual=residual, converged=st.converged & ~failed)
    return eigvals, eigvecs, info


def _check_tol(tol):
    return check_positive(tol, "tol")


def _check_start(v0, k: int, n: int | None = None):
    shape = jnp.shape(v0)
    if len(shape) == 1:
        v0 = jnp.reshape(v0, (1, -1))
    elif len(shape) != 2:
        raise ValueError(f"v0 must have shape (n,) or (j, n) with 1 <= j <= k, got shape {shape}")
    rows, dim = jnp.shape(v0)
    if n is not None and dim != n:
        raise ValueError(f"v0 must have {n} entries per vector (the parameter count), got {dim}")
    if not 1 <= rows <= k:
        raise ValueError(f"v0 must hold between 1 and k={k} start vectors, got {rows}")
    return v0


def top_eigenpairs(
    matvec: Callable,
    v0,
    k: int = 1,
    tol: float = 1e-3,
    max_iters: int = DEFAULT_MAX_ITERS,
    key=None,
):
    """Top-k (largest algebraic) eigenpairs of a symmetric operator by block Lanczos.

    Args:
      matvec: v -> A v on flat vectors of shape (n,), symmetric A, written in JAX (it is traced,
        vmapped over the k block vectors, and run inside one ``lax.while_loop``). Pass the same
        function object across calls to reuse the compiled solver.
      v0: start vector(s), shape (n,) or (j, n) with j <= k (for example the ``eigvecs`` of a
        previous call: a warm start). Missing or linearly dependent rows are filled with random
        directions; they need not be orthonormal.
      k: number of eigenpairs (also the Lanczos block size), 1 <= k <= n.
      tol: relative accuracy goal for the eigenvalues, > 0 (see the module docstring).
      max_iters: maximum number of block steps; at most ``k * max_iters`` products. The basis
        takes max_iters * k * n numbers of memory. Capped at ceil(n / k).
      key: PRNG key for the random start rows and fill-in directions (default
        ``jax.random.key(0)``).

    Returns:
      eigvals (k,) in descending order, eigvecs (k, n) orthonormal Ritz vectors (row i belongs to
      eigvals[i]), and an :class:`EigInfo`. ``info.converged`` means each value is within
      ``tol`` of some eigenvalue of A, not necessarily the i-th largest: see "What converged
      does and does not promise" in the module docstring for how to be sure of lambda_1.
    """
    _check_tol(tol)
    k = check_int_at_least(k, 1, "k")
    max_iters = check_int_at_least(max_iters, 1, "max_iters")
    v0 = _check_start(v0, k)
    n = v0.shape[1]
    if k > n:
        raise ValueError(f"k must lie in [1, n] with n = {n} (the operator's dimension), got {k}")
    max_iters = min(max_iters, -(-n // k))
    if v0.shape[0] < k:
        extra_key = jax.random.fold_in(_default_key(key), 1)
        extra = jax.random.normal(extra_key, (k - v0.shape[0], n), v0.dtype)
        v0 = jnp.concatenate([v0, extra], axis=0)
    return _block_lanczos(
        matvec, v0, jnp.asarray(tol, v0.dtype), _default_key(key), k=k, max_iters=max_iters
    )


def _default_key(key):
    return jax.random.key(0) if key is None else key


def _check_precond(precond, params):
    check_same_structure(precond, params, "precond")
    for leaf in jax.tree.leaves(precond):
        if isinstance(leaf, jax.core.Tracer):
            continue
        values = np.asarray(leaf)
        if not np.all(np.isfinite(values) & (values > 0)):
            raise ValueError(
                "precond must be a positive diagonal: every entry finite and > 0, "
                f"got min {np.min(values)!r}"
            )


def sharpness(
    loss_fn: Callable,
    params,
    k: int = 1,
    precond=None,
    v0=None,
    tol: float = 1e-3,
    max_iters: int = DEFAULT_MAX_ITERS,
    key=None,
):
    """Top-k eigenvalues of the Hessian of ``loss_fn`` at ``params``, optionally preconditioned.

    Args:
      loss_fn: params -> scalar loss (a closure over the data). It is a static argument of the
        compiled solver: a new function object means a new compilation (seconds). In a loop,
        call ``sharpness`` inside your own ``jax.jit`` that takes params and data as arguments,
        or reuse one ``loss_fn`` object.
      params: any pytree of float arrays; its dtype is kept (float32 params give float32 work).
      k: number of eigenvalues, 1 <= k <= number of parameters.
      precond: None for H itself, or a pytree shaped like ``params`` holding the positive diagonal
        P (e.g. ``optimizers.preconditioner(state)``): then the operator is P^-1/2 H P^-1/2,
        whose eigenvalues are those of P^-1 H (the preconditioned sharpness).
      v0: warm start: flat vector(s) of shape (n,) or (j, n), j <= k, such as the ``eigvecs`` of
        an earlier call. None: a random start from ``key``.
      tol: relative accuracy of the eigenvalues, > 0 (see the module docstring).
      max_iters: maximum block Lanczos steps (at most k * max_iters Hessian-vector products);
        the basis holds max_iters * k * n numbers.
      key: PRNG key for the random start (default ``jax.random.key(0)``).

    Returns:
      (eigvals, eigvecs, info): eigvals (k,) descending; eigvecs (k, n) flat orthonormal
      eigenvectors of the symmetric operator (H, or P^-1/2 H P^-1/2; the eigenvectors of P^-1 H
      are P^-1/2 times these), in ``ravel_pytree(params)`` order, usable as the next ``v0``
      (turn them into pytrees with :func:`unravel_eigvecs`); info an :class:`EigInfo`.
      Non-finite params give NaN eigenvalues and ``converged=False``. ``converged=True`` means
      within ``tol`` of SOME eigenvalue; to be sure of the top one use k >= 2, a ``tol`` below
      the gap, or a warm start (module docstring).
    """
    _check_tol(tol)
    k = check_int_at_least(k, 1, "k")
    max_iters = check_int_at_least(max_iters, 1, "max_iters")
    flat_params, unravel = ravel_pytree(params)
    n = flat_params.shape[0]
    if k > n:
        raise ValueError(f"k must lie in [1, n] with n = {n} (the parameter count), got {k}")
    if precond is not None:
        _check_precond(precond, params)
    if v0 is None:
        v0 = jax.random.normal(_default_key(key), (k, n), flat_params.dtype)
    else:
        v0 = _check_start(v0, k, n).astype(flat_params.dtype)
    return _sharpness(
        loss_fn, params, precond, v0, tol, _default_key(key), k=k, max_iters=max_iters
    )


@functools.partial(jax.jit, static_argnames=("loss_fn", "k", "max_iters"))
def _sharpness(loss_fn, params, precond, v0, tol, key, *, k, max_iters):
    flat_params, unravel = ravel_pytree(params)
    if precond is None:
        scale = None
    else:
        scale = 1.0 / jnp.sqrt(ravel_pytree(precond)[0].astype(flat_params.dtype))

    def matvec(v):
        if scale is not None:
            v = scale * v
        out = ravel_pytree(hvp(loss_fn, params, unravel(v)))[0]
        return out if scale is None else scale * out

    return top_eigenpairs(matvec, v0, k=k, tol=tol, max_iters=max_iters, key=key)


def unravel_eigvecs(eigvecs, params):
    """Turn flat eigenvectors (k, n) into a pytree shaped like ``params`` with a leading k axis."""
    _, unravel = ravel_pytree(params)
    return jax.vmap(unravel)(jnp.atleast_2d(eigvecs))
