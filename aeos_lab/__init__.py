"""aeos_lab: a small JAX / Optax library behind the aeos-lab notebooks.

It reproduces the measurements of Cohen et al. (2022), "Adaptive Gradient Methods at the
Edge of Stability": stability thresholds of momentum methods, optimizers that expose their
preconditioner P, and the top eigenvalues of the Hessian H and of P^-1/2 H P^-1/2.
"""

__version__ = "0.1.0"
