"""aeos_lab.core.split: lambda_1(P^-1 H) and the split of its change into P and H parts."""

from __future__ import annotations

import numpy as np
import pytest

from aeos_lab.core import split


def _spd(rng, n, scale=1.0):
    a = rng.standard_normal((n, n))
    return scale * (a @ a.T) / n


def _indefinite(rng, n):
    a = rng.standard_normal((n, n))
    return (a + a.T) / 2


def _precond(rng, n):
    return np.exp(rng.standard_normal(n))


def _brute(p, h):
    """lambda_1(P^-1 H) from the non-symmetric matrix itself (its eigenvalues are real)."""
    return np.max(np.linalg.eigvals(np.diag(1 / p) @ h).real)


def test_top_eigenvalue_matches_brute_force_of_the_nonsymmetric_matrix():
    rng = np.random.default_rng(0)
    for n in (3, 10, 40):
        p, h = _precond(rng, n), _indefinite(rng, n)
        assert split.preconditioned_top(p, h) == pytest.approx(_brute(p, h), rel=1e-9)


def test_top_eigenvalue_broadcasts_over_leading_axes():
    rng = np.random.default_rng(1)
    ps = np.stack([_precond(rng, 8) for _ in range(4)])
    hs = np.stack([_indefinite(rng, 8) for _ in range(4)])
    got = split.preconditioned_top(ps, hs)
    assert got.shape == (4,)
    np.testing.assert_allclose(got, [_brute(p, h) for p, h in zip(ps, hs, strict=True)])


def test_fixed_p_puts_the_whole_change_in_h():
    rng = np.random.default_rng(2)
    p = _precond(rng, 12)
    h0, h1 = _spd(rng, 12), _spd(rng, 12)
    s = split.split_change(p, p, h0, h1)
    assert s.p_part == pytest.approx(0.0, abs=1e-12)
    assert s.h_part == pytest.approx(s.total, rel=1e-12)
    assert s.interaction == pytest.approx(0.0, abs=1e-12)
    assert s.total == pytest.approx(_brute(p, h1) - _brute(p, h0), rel=1e-9)


def test_fixed_h_and_scaled_p_scales_lambda_by_one_over_c():
    rng = np.random.default_rng(3)
    p, h = _precond(rng, 12), _spd(rng, 12)
    for c in (0.5, 2.0, 10.0):
        s = split.split_change(p, c * p, h, h)
        assert s.lam_11 == pytest.approx(s.lam_00 / c, rel=1e-12)
        assert s.p_part == pytest.approx(s.total, rel=1e-12)
        assert s.h_part == pytest.approx(0.0, abs=1e-12)
        assert s.total == pytest.approx(s.lam_00 * (1 / c - 1), rel=1e-12)


def test_parts_and_interaction_sum_to_the_total_and_shapley_is_exact():
    rng = np.random.default_rng(4)
    p0, p1 = _precond(rng, 15), _precond(rng, 15)
    h0, h1 = _indefinite(rng, 15), _indefinite(rng, 15)
    s = split.split_change(p0, p1, h0, h1)
    assert s.p_part + s.h_part + s.interaction == pytest.approx(s.total, rel=1e-12)
    assert s.shapley_p + s.shapley_h == pytest.approx(s.total, rel=1e-12)
    # each of the four values is the brute-force eigenvalue of its own combination
    assert s.lam_10 == pytest.approx(_brute(p1, h0), rel=1e-9)
    assert s.lam_01 == pytest.approx(_brute(p0, h1), rel=1e-9)
    assert s.total == pytest.approx(_brute(p1, h1) - _brute(p0, h0), rel=1e-9)


def test_interaction_is_second_order_in_small_changes():
    rng = np.random.default_rng(5)
    p0, h0 = _precond(rng, 10), _spd(rng, 10)
    dp, dh = rng.standard_normal(10), _indefinite(rng, 10)
    sizes = []
    for t in (1e-2, 1e-3):
        s = split.split_change(p0, p0 * np.exp(t * dp), h0, h0 + t * dh)
        sizes.append((abs(s.interaction), abs(s.p_part) + abs(s.h_part)))
    # first-order parts shrink 10x, the interaction about 100x
    assert sizes[0][1] / sizes[1][1] == pytest.approx(10, rel=0.2)
    assert sizes[0][0] / sizes[1][0] > 50


def test_split_path_matches_split_change_interval_by_interval():
    rng = np.random.default_rng(6)
    ps = np.stack([_precond(rng, 9) for _ in range(5)])
    hs = np.stack([_spd(rng, 9) for _ in range(5)])
    path = split.split_path(ps, hs)
    assert path.total.shape == (4,)
    for i in range(4):
        one = split.split_change(ps[i], ps[i + 1], hs[i], hs[i + 1])
        assert path.p_part[i] == pytest.approx(one.p_part, rel=1e-12, abs=1e-12)
        assert path.h_part[i] == pytest.approx(one.h_part, rel=1e-12, abs=1e-12)
        assert path.total[i] == pytest.approx(one.total, rel=1e-12, abs=1e-12)
    # the totals telescope to the change over the whole path
    assert path.total.sum() == pytest.approx(path.lam_11[-1] - path.lam_00[0], rel=1e-12)


def test_bad_inputs_are_rejected():
    rng = np.random.default_rng(7)
    h = _spd(rng, 4)
    with pytest.raises(ValueError, match="> 0"):
        split.preconditioned_top(np.array([1.0, 0.0, 1.0, 1.0]), h)
    with pytest.raises(ValueError, match="square"):
        split.preconditioned_top(np.ones(4), np.ones((4, 3)))
    with pytest.raises(ValueError, match="entries"):
        split.preconditioned_top(np.ones(3), h)
    with pytest.raises(ValueError, match="m >= 2"):
        split.split_path(np.ones((1, 4)), h[None])
