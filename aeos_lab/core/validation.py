"""Argument checks shared by the whole package.

Every public entry point validates its hyperparameters here, so that bad input fails early
with a ValueError that names the parameter and the range it must lie in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import jax


def _is_traced(value) -> bool:
    return isinstance(value, jax.core.Tracer)


def _as_float(value, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None


def check_positive(value, name: str = "eta"):
    """``value`` must be finite and > 0 (learning rates, eigenvalues, step sizes)."""
    if callable(value) or _is_traced(value):
        return value
    x = _as_float(value, name)
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return value


def check_beta(value, name: str = "beta1"):
    """``value`` must lie in [0, 1) (momentum and second-moment decay factors)."""
    if _is_traced(value):
        return value
    x = _as_float(value, name)
    if not (0.0 <= x < 1.0):
        raise ValueError(f"{name} must lie in [0, 1), got {value!r}")
    return value


def check_nonnegative(value, name: str = "eps"):
    """``value`` must be finite and >= 0 (eps, weight decay, initial accumulators)."""
    if _is_traced(value):
        return value
    x = _as_float(value, name)
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return value


def check_int_at_least(value, minimum: int, name: str = "k") -> int:
    """``value`` must be an integer >= ``minimum`` (k, steps, batch sizes)."""
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def canonical_name(name: str, allowed: Iterable[str], what: str = "optimizer") -> str:
    """Normalise ``name`` ("Frozen-Adam" -> "frozen_adam") and check it is one of ``allowed``."""
    allowed = tuple(allowed)
    key = str(name).strip().lower().replace("-", "_")
    if key not in allowed:
        raise ValueError(f"unknown {what} {name!r}; choose one of: {', '.join(allowed)}")
    return key


def check_same_structure(tree, reference, name: str = "precond"):
    """``tree`` must have the pytree structure and leaf shapes of ``reference``."""
    tree_def, ref_def = jax.tree.structure(tree), jax.tree.structure(reference)
    if tree_def != ref_def:
        raise ValueError(
            f"{name} must have the same pytree structure as the params; "
            f"got {tree_def}, expected {ref_def}"
        )
    for leaf, ref in zip(jax.tree.leaves(tree), jax.tree.leaves(reference), strict=True):
        if jax.numpy.shape(leaf) != jax.numpy.shape(ref):
            raise ValueError(
                f"{name} leaf shapes must match the params: got {jax.numpy.shape(leaf)}, "
                f"expected {jax.numpy.shape(ref)}"
            )
    return tree
