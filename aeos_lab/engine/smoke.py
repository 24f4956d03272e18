"""A documented, test-only switch: the paper-scale path, shrunk so that a CPU runs it in a test.

Set ``AEOS_LAB_PAPER_SMOKE=1`` (tests/test_paper_scale.py does) and the suite behaves as on a
GPU with ``PAPER_SCALE = True``, at sizes a CPU finishes in seconds:

* :func:`aeos_lab.engine.tasks.choose_scale` treats JAX's CPU as an accelerator, so a notebook
  takes its paper-scale branch;
* the paper's CIFAR-10 task keeps only the first few hundred images, on a narrower network
  (:data:`TASK`);
* each lesson's parameters take their ``smoke`` variant: the paper variant with tiny step
  counts and sweeps (:meth:`aeos_lab.lessons.parameters.Variants.select`);
* a CIFAR archive in ``$AEOS_LAB_DATA_DIR`` whose checksum is not the published one is read,
  with a warning, instead of being replaced by a download: the test places a generated
  archive of a few hundred images there.

It exercises the code a Colab user runs, from the data loader to the charts and self-checks;
the numbers it produces mean nothing, and no learner should set it.
"""

from __future__ import annotations

import os

__all__ = ["ENV", "TASK", "active"]

ENV = "AEOS_LAB_PAPER_SMOKE"
TASK = {"n_train": 256, "n_test": 64, "width": 32}
"""The paper task's sizes under the switch: a few hundred images (what a generated archive
holds) and a narrower network (the layers and code paths stay the paper's)."""


def active() -> bool:
    """Whether ``$AEOS_LAB_PAPER_SMOKE`` is "1"."""
    return os.environ.get(ENV, "0").strip().lower() in ("1", "true", "yes")
