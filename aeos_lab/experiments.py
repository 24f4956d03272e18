"""What notebooks 02-05 share around the engine: the task a notebook trains on (:class:`Scale`,
the CPU task or the paper's CIFAR-10 task on a GPU), training a list of configs with one
progress line (:func:`run_configs`), short run labels, and snapping slider positions onto
trained settings.

Their panels are :class:`aeos_lab.widgets.ControlPanel` objects with a Run button and a
``ready`` test built from :func:`trained`: a setting whose runs are all cached is drawn as soon
as a slider selects it, any other waits for Run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax

from aeos_lab.engine import train
from aeos_lab.engine.config import RunConfig
from aeos_lab.viz import charts

__all__ = [
    "PAPER_TASK",
    "Scale",
    "accelerator",
    "choose_scale",
    "describe",
    "pending",
    "run_configs",
    "snap",
    "trained",
]

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


@dataclass(frozen=True)
class Scale:
    """The base config a notebook's experiments start from; ``paper`` says whether it is the
    paper's task, ``note`` says in a sentence which task runs and why."""

    base: RunConfig
    paper: bool
    note: str

    def config(self, **changes) -> RunConfig:
        """``base`` with ``changes`` applied (a :class:`~aeos_lab.config.RunConfig`)."""
        return self.base.replace(**changes)


def accelerator() -> str | None:
    """The platform of JAX's default device when it is not a CPU ("gpu", "tpu"), else None."""
    platform = jax.devices()[0].platform
    return None if platform == "cpu" else platform


def choose_scale(
    paper_scale: bool,
    cpu_task: RunConfig,
    cpu_label: str,
    *,
    platform: str | None | bool = True,
) -> Scale:
    """``cpu_task`` (described by ``cpu_label``), or :data:`PAPER_TASK` when ``paper_scale``
    is asked for and JAX computes on an accelerator.

    ``platform``: True asks JAX (:func:`accelerator`); a platform name or None decides without
    asking (for tests). Asked for without an accelerator, paper scale falls back to the CPU
    task and the note says so. Nothing is downloaded here.
    """
    platform = accelerator() if platform is True else platform
    if not paper_scale:
        return Scale(
            cpu_task,
            False,
            f"Running {cpu_label}. PAPER_SCALE = True on a GPU "
            "trains on the paper's CIFAR-10 task instead.",
        )
    if not platform:
        return Scale(
            cpu_task,
            False,
            "PAPER_SCALE = True, but JAX sees no GPU (it computes on the CPU), where the "
            f"paper's CIFAR-10 runs would take hours. Falling back to {cpu_label}.",
        )
    return Scale(
        RunConfig(**PAPER_TASK),
        True,
        f"Paper scale on {platform.upper()}: the first {PAPER_TASK['n_train']} CIFAR-10 "
        "training images (downloaded once, about 170 MB), FC tanh network 3072-200x5-10, "
        "MSE loss.",
    )


def pending(configs: Sequence[RunConfig]) -> list[RunConfig]:
    """The configs with no finished run in the run cache, in order and without repeats."""
    unique = {config.key(): config for config in configs}
    return [config for config in unique.values() if not train.is_cached(config)]


def trained(configs: Sequence[RunConfig]) -> bool:
    """Whether every config has a finished run in the run cache (then it loads at once)."""
    return all(train.is_cached(config) for config in configs)


def describe(config: RunConfig) -> str:
    """A short label of a run, e.g. ``"adam η=3e-4 β₁=0.9 β₂=0.999 batch 64"``; only the
    hyperparameters the optimizer uses are named."""
    parts = [config.optimizer, f"η={charts.format_sci(config.eta, 3)}"]
    if config.beta1 is not None and config.optimizer not in ("rmsprop", "adagrad", "gd"):
        parts.append(f"β₁={config.beta1:g}")
    uses_beta2 = config.optimizer not in ("adagrad", "adafactor", "gd", "ema_hb", "standard_hb")
    if config.beta2 is not None and uses_beta2:
        parts.append(f"β₂={config.beta2:g}")
    if config.batch_size is not None:
        parts.append(f"batch {config.batch_size}")
    if config.warmup_steps:
        parts.append(f"warmup {config.warmup_steps}")
    return " ".join(parts)


def run_configs(configs: Sequence[RunConfig], progress: Callable | None = None) -> list:
    """Results (:class:`aeos_lab.train.RunResult`) of ``configs`` in their order, training
    those not cached yet.

    ``progress(done, total, message)`` (e.g. a :class:`aeos_lab.widgets.Progress`) hears how
    many steps of the pending runs are done. On a CPU the pending runs train one at a time,
    each with its own message; on an accelerator those differing only in (eta, beta1, beta2)
    train as one vmapped group (:func:`aeos_lab.train.sweep`).
    """
    configs = list(configs)
    todo = pending(configs)
    if accelerator() is None:
        groups = [[config] for config in todo]
    else:
        by_key: dict[tuple, list[RunConfig]] = {}
        for config in todo:
            by_key.setdefault(config.sweep_key(), []).append(config)
        groups = list(by_key.values())
    total, done = sum(c.steps for c in todo), 0
    for index, group in enumerate(groups):
        work = sum(c.steps for c in group)
        what = describe(group[0]) + (f" (+{len(group) - 1} more)" if len(group) > 1 else "")
        message = f"run {index + 1}/{len(groups)}: {what}"
        report = False
        if progress is not None:

            def report(fraction, start=done, work=work, message=message):
                progress(int(start + fraction * work), total, message)

            report(0.0)
        train.sweep(group, progress=report)
        done += work
    return train.sweep(configs, progress=False)


def snap(value: float, grid: Sequence[float], rel: float = 0.03) -> float:
    """The element of ``grid`` nearest to ``value`` when within relative distance ``rel``,
    else ``value``.

    Log sliders land on values such as 1.995e-4; snapping lets them select a sweep's 2e-4, so
    the trained run is shown instead of a new one being asked for.
    """
    grid = [float(g) for g in grid]
    if not grid:
        return float(value)
    nearest = min(grid, key=lambda g: abs(g - value) / abs(g))
    return nearest if abs(nearest - value) <= rel * abs(nearest) else float(value)
