"""Losses and metrics on a batch of network outputs ``f(x)`` of shape ``(n, k)``.

* :func:`mse`: ``L = 1/(2n) * sum_i ||f(x_i) - y_i||^2`` (sum over the k outputs, mean over the
  n examples, times 1/2), the convention of the paper's experiments. Its Gauss-Newton part has
  Hessian ``(1/n) J^T J`` (no extra factor 2).
* :func:`cross_entropy`: ``L = -1/n * sum_i sum_c y_ic log softmax(f(x_i))_c`` (optax).
* :func:`accuracy`: fraction of examples whose argmax output is the argmax target.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import optax

from aeos_lab.core.validation import canonical_name

__all__ = ["LOSSES", "accuracy", "cross_entropy", "get_loss", "mse"]


def mse(outputs, targets):
    """Half the mean over examples of the squared error summed over outputs."""
    outputs = jnp.asarray(outputs)
    targets = jnp.asarray(targets, dtype=outputs.dtype)
    return 0.5 * jnp.mean(jnp.sum(jnp.square(outputs - targets), axis=-1))


def cross_entropy(outputs, targets_one_hot):
    """Mean softmax cross-entropy against one-hot (or soft) targets."""
    outputs = jnp.asarray(outputs)
    targets = jnp.asarray(targets_one_hot, dtype=outputs.dtype)
    return jnp.mean(optax.softmax_cross_entropy(outputs, targets))


def accuracy(outputs, targets_one_hot):
    """Fraction of rows where ``argmax(outputs) == argmax(targets)``."""
    hits = jnp.argmax(outputs, axis=-1) == jnp.argmax(targets_one_hot, axis=-1)
    return jnp.mean(hits.astype(jnp.result_type(outputs)))


LOSSES: dict[str, Callable] = {"mse": mse, "ce": cross_entropy}


def get_loss(name: str) -> Callable:
    """Loss by name: "mse" or "ce" (cross-entropy; "cross_entropy" is accepted too)."""
    key = str(name).strip().lower().replace("-", "_")
    if key == "cross_entropy":
        key = "ce"
    return LOSSES[canonical_name(key, LOSSES, what="loss")]
