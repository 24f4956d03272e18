"""The engine: a run's configuration in, typed records out; the one place that trains.

* :mod:`~aeos_lab.engine.config`: :class:`~aeos_lab.engine.config.RunConfig` and its cache key;
* :mod:`~aeos_lab.engine.data`, :mod:`~aeos_lab.engine.models`, :mod:`~aeos_lab.engine.losses`:
  the tasks (digits, CIFAR), the paper's FC and CNN networks, MSE and cross-entropy;
* :mod:`~aeos_lab.engine.tasks`: the named CPU tasks and the paper-scale choice;
* :mod:`~aeos_lab.engine.train`: jitted training with sharpness tracking, sweeps, the run cache
  in memory; :mod:`~aeos_lab.engine.cache`: the run cache on disk; :mod:`~aeos_lab.engine.bank`:
  the precomputed runs shipped with the package, read before the run cache;
* :mod:`~aeos_lab.engine.runs`: lists of configs with progress, labels, slider snapping;
* :mod:`~aeos_lab.engine.traces`: Adam's preconditioner along a run, Prop. 1 on a network;
* :mod:`~aeos_lab.engine.analysis`: run summaries (late medians, rises, crossings).
"""
