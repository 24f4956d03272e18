"""The tasks the notebooks train on, and the choice between the CPU task and the paper's.

* ``"default"``: :data:`aeos_lab.engine.data.DEFAULT_TASK`, 1,500 digits with 30% random
  labels, FC tanh network 64-200x5-10 (``RunConfig()``); notebooks 04 and 05.
* ``"lab"``: :data:`LAB_TASK`, the same digits with every label random and width 100;
  notebooks 02 and 03 (see its docstring for why).
* the paper's CIFAR-10 FC setting, :data:`PAPER_TASK`, used when a notebook asks for paper
  scale and JAX computes on an accelerator (:func:`choose_scale`).
"""

from __future__ import annotations

from dataclasses import dataclass

from aeos_lab.engine import smoke
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.data import DEFAULT_TASK
from aeos_lab.engine.runs import accelerator

__all__ = ["CPU_TASKS", "LAB_TASK", "MICRO_TASK", "PAPER_TASK", "Scale", "choose_scale"]

LAB_TASK = {
    "dataset": "digits",
    "n_train": 1500,
    "n_test": 297,
    "label_noise": 1.0,
    "model": "fc",
    "width": 100,
    "depth": 5,
}
"""The CPU task of notebooks 02 and 03: the 1,500 training digits of the default task with
every label replaced by a random class, and the paper's FC tanh network of depth 5 at width 100
instead of 200 (a step costs about a third). Fitting random labels is pure memorisation: the
loss falls slowly and progressive sharpening goes on for the whole run. With 30% noise (the
default task) the frozen-Adam and AEoS effects show too, but Adam's raw sharpness rises less
late in a run (measured: +12% against +34% at eta = 1e-4, beta2 = 0.99, over steps 1000-1500),
and it is that rise which notebooks 02 and 03 contrast with frozen Adam."""

MICRO_TASK = {"dataset": "gauss", "model": "fc", "width": 12, "depth": 2}
"""The micro task of the live panels of notebooks 02 and 03
(:func:`aeos_lab.engine.data.gauss_task`): a tanh network 4-12-12-2 (242 parameters) on 256
Gaussian points with Gaussian targets. It cannot interpolate its 256 random targets, so it keeps
sharpening, and a 3000-step run with 151 measurements takes about a third of a second (fused
mode, :data:`aeos_lab.engine.train.FUSED_MAX_PARAMS`): small enough to recompute on every
slider release."""

PAPER_TASK = {
    "dataset": "cifar10",
    "n_train": 5000,
    "n_test": 1000,
    "label_noise": 0.0,
    "model": "fc",
    "width": 200,
    "depth": 5,
}
"""The paper's FC setting (sec. 4, App. G.1): the first 5,000 CIFAR-10 training images, 1,000
test images held out, five tanh layers of width 200, MSE loss. CIFAR-10 (about 170 MB) is
downloaded once, by the first run that needs it."""

CPU_TASKS = {
    "default": (
        {},
        f"the default task: {DEFAULT_TASK['n_train']} digits (8x8 pixels) with "
        f"{DEFAULT_TASK['label_noise']:.0%} of their labels randomised, {DEFAULT_TASK['n_test']} "
        "clean digits held out, FC tanh network 64-200x5-10, MSE loss",
    ),
    "lab": (
        LAB_TASK,
        "the lab task: 1,500 digits with random labels, FC tanh network of width 100 and "
        "depth 5, full batch, MSE loss",
    ),
    "micro": (
        MICRO_TASK,
        "the micro task: 256 random Gaussian points in 4 dimensions with random Gaussian "
        "targets, tanh network 4-12-12-2 (242 parameters), full batch, MSE loss",
    ),
}
"""Name -> (RunConfig fields, a sentence describing the task) of the CPU tasks."""


@dataclass(frozen=True)
class Scale:
    """The base config a notebook's experiments start from; ``paper`` says whether it is the
    paper's task, ``note`` says in a sentence which task runs and why."""

    base: RunConfig
    paper: bool
    note: str

    def config(self, **changes) -> RunConfig:
        """``base`` with ``changes`` applied (a :class:`~aeos_lab.engine.config.RunConfig`)."""
        return self.base.replace(**changes)


def choose_scale(
    paper_scale: bool, cpu_task: str = "default", *, platform: str | None | bool = True
) -> Scale:
    """The CPU task named ``cpu_task`` (a key of :data:`CPU_TASKS`), or :data:`PAPER_TASK`
    when ``paper_scale`` is asked for and JAX computes on an accelerator.

    ``platform``: True asks JAX (:func:`aeos_lab.engine.runs.accelerator`); a platform name or
    None decides without asking (for tests). Asked for without an accelerator, paper scale
    falls back to the CPU task and the note says so. Nothing is downloaded here.
    """
    if cpu_task not in CPU_TASKS:
        raise ValueError(f"cpu_task must be one of {', '.join(CPU_TASKS)}, got {cpu_task!r}")
    fields, label = CPU_TASKS[cpu_task]
    cpu = RunConfig(**fields)
    if platform is True:
        platform = "cpu (paper-scale smoke test)" if smoke.active() else accelerator()
    if not paper_scale:
        return Scale(
            cpu,
            False,
            f"Running {label}. PAPER_SCALE = True on a GPU trains on the paper's CIFAR-10 "
            "task instead.",
        )
    if not platform:
        return Scale(
            cpu,
            False,
            "PAPER_SCALE = True, but JAX sees no GPU (it computes on the CPU), where the "
            f"paper's CIFAR-10 runs would take hours. Falling back to {label}.",
        )
    task = {**PAPER_TASK, **(smoke.TASK if smoke.active() else {})}
    return Scale(
        RunConfig(**task),
        True,
        f"Paper scale on {platform.upper()}: the first {task['n_train']} CIFAR-10 "
        "training images (downloaded once, about 170 MB), FC tanh network 3072-200x5-10, "
        "MSE loss.",
    )
