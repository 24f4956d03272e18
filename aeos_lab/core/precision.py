"""float64 for one block of JAX code.

The quadratics of notebook 01 reach |x| below 1e-100 and the Prop. 1 check on the network
compares iterates to 1e-15: both need 64-bit floats, while the rest of the suite trains in
float32. :func:`float64` switches JAX to 64 bits inside a ``with`` block only.
"""

from __future__ import annotations

import contextlib

import jax

__all__ = ["float64"]


@contextlib.contextmanager
def float64():
    """``with float64(): ...`` computes in 64-bit JAX (``jax.enable_x64`` on jax >= 0.6, the
    experimental context manager on older releases such as Colab's)."""
    if hasattr(jax, "enable_x64"):
        with jax.enable_x64(True):
            yield
    else:  # pragma: no cover - older jax
        from jax.experimental import enable_x64

        with enable_x64():
            yield
