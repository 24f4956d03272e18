"""The math layer: pure JAX / numpy, no pandas, charts or widgets.

* :mod:`~aeos_lab.core.thresholds`: closed-form stability thresholds (paper Table 1), frozen
  counterparts, companion matrices and growth factors;
* :mod:`~aeos_lab.core.optimizers`: Optax transformations whose states expose the diagonal
  preconditioner P;
* :mod:`~aeos_lab.core.quadratic`: the optimizers on quadratics, jitted and vectorised;
* :mod:`~aeos_lab.core.curvature`: Hessian-vector products and a warm-started top-k eigensolver
  for H and P^-1/2 H P^-1/2;
* :mod:`~aeos_lab.core.validation`, :mod:`~aeos_lab.core.formatting`,
  :mod:`~aeos_lab.core.precision`: argument checks, the one number formatter, float64 blocks.
"""
