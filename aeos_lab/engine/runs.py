"""Running lists of configs for the lessons: cached runs at once, the rest trained with one
progress line; short run labels; snapping slider values onto trained settings.

A lesson's experiment builds its configs, calls :func:`run_configs` and summarises the
:class:`~aeos_lab.engine.results.RunResult` objects it gets back. A panel asks :func:`trained`
whether a setting can be drawn at once (every run it needs is in the bank or the run cache) or
has to wait for its Run button, and :func:`estimate_seconds` how long that Run will take.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence

import jax

from aeos_lab.core.formatting import format_sci
from aeos_lab.engine import bank, train
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.data import DEFAULT_TASK, GAUSS_TASK

__all__ = [
    "accelerator",
    "batch_label",
    "describe",
    "estimate_seconds",
    "examples_per_step",
    "pending",
    "provenance",
    "run_configs",
    "slider_beta",
    "snap",
    "star",
    "trained",
]


def accelerator() -> str | None:
    """The platform of JAX's default device when it is not a CPU ("gpu", "tpu"), else None."""
    platform = jax.devices()[0].platform
    return None if platform == "cpu" else platform


def pending(configs: Sequence[RunConfig]) -> list[RunConfig]:
    """The configs with no finished run in memory, the bank or the run cache, in order and
    without repeats."""
    unique = {config.key(): config for config in configs}
    return [config for config in unique.values() if not train.is_cached(config)]


def trained(configs: Sequence[RunConfig]) -> bool:
    """Whether every config has a finished run in memory, the bank or the run cache (then it
    loads at once)."""
    return all(train.is_cached(config) for config in configs)


_session_rates: dict[str, list[float]] = {}
"""Seconds per training step (:func:`aeos_lab.engine.bank.units`) of the runs
:func:`run_configs` trained in this session, under both of their
:func:`~aeos_lab.engine.bank.timing_keys`."""


def estimate_seconds(configs: Sequence[RunConfig]) -> float | None:
    """About how long training the configs not yet available (:func:`pending`) takes here:
    their steps times the median seconds per step of runs on the same task, measured in this
    session if any were trained, else recorded in the bank on this kind of device
    (:func:`aeos_lab.engine.bank.seconds_per_unit`). 0.0 when nothing is pending; None when a
    pending config's task has no timing (a panel then shows no estimate)."""
    total = 0.0
    for config in pending(configs):
        coarse, fine = bank.timing_keys(config)
        rates = _session_rates.get(fine) or _session_rates.get(coarse)
        rate = statistics.median(rates) if rates else bank.seconds_per_unit(config)
        if rate is None:
            return None
        total += rate * bank.units(config)
    return total


def describe(config: RunConfig) -> str:
    """A short label of a run, e.g. ``"adam η=3e-4 β₁=0.9 β₂=0.999 batch 64"``; only the
    hyperparameters the optimizer uses are named."""
    parts = [config.optimizer, f"η={format_sci(config.eta, 3)}"]
    used = config.hyperparameters
    for name, symbol in (("beta1", "β₁"), ("beta2", "β₂")):
        if name in used:
            parts.append(f"{symbol}={used[name]:g}")
    if config.batch_size is not None:
        parts.append(f"batch {config.batch_size}")
    if config.warmup_steps:
        parts.append(f"warmup {config.warmup_steps}")
    return " ".join(parts)


def examples_per_step(config: RunConfig) -> int:
    """Examples in one gradient: the batch size, or the training-set size for full batch."""
    n = config.n_train
    if n is None:
        n = {"digits": DEFAULT_TASK["n_train"], "gauss": GAUSS_TASK["n_train"]}.get(
            config.dataset, 5000
        )
    return n if config.batch_size is None else min(config.batch_size, n)


def batch_label(config: RunConfig) -> str:
    """A label such as "batch 64", or "full batch (1500)" when each step sees every example."""
    b = examples_per_step(config)
    full = config.batch_size is None or b == examples_per_step(config.replace(batch_size=None))
    return f"full batch ({b})" if full else f"batch {b}"


def run_configs(configs: Sequence[RunConfig], progress: Callable | None = None) -> list:
    """Results (:class:`aeos_lab.engine.results.RunResult`) of ``configs`` in their order,
    training those not cached yet.

    ``progress(done, total, message)`` (e.g. a :class:`aeos_lab.viz.widgets.Progress`) hears
    how many steps of the pending runs are done. On a CPU the pending runs train one at a
    time, each with its own message; on an accelerator those differing only in (eta, beta1,
    beta2) train as one vmapped group (:func:`aeos_lab.engine.train.sweep`).
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
        start = time.perf_counter()
        train.sweep(group, progress=report)
        rate = (time.perf_counter() - start) / sum(bank.units(c) for c in group)
        for key in {k for config in group for k in bank.timing_keys(config)}:
            _session_rates.setdefault(key, []).append(rate)
        done += work
    return train.sweep(configs, progress=False)


def provenance(configs: Sequence[RunConfig]) -> str:
    """Where the runs of ``configs`` shown now came from, for a panel's status line: e.g.
    "precomputed (aeos-lab 0.1.0, built 2026-12-06 on cpu)", "computed now", or a count per
    source ("2 precomputed (...), 1 computed now") when they differ. Runs this session does not
    hold yet count as "not computed yet"."""
    counts: dict[str, int] = {}
    for config in {c.key(): c for c in configs}.values():
        source = train.source_of(config) or "not computed yet"
        counts[source] = counts.get(source, 0) + 1
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{n} {source}" for source, n in counts.items())


def star(center: Mapping[str, float], axes: Mapping[str, Sequence[float]]) -> list[dict]:
    """The settings of a one-axis-at-a-time sweep, as the paper's Fig. 1 sweeps eta, beta1 and
    beta2: ``center``, then along each axis every value with the other fields at the centre
    (in order, without repeats)."""
    settings = [dict(center)]
    for name, values in axes.items():
        for value in values:
            setting = {**center, name: value}
            if setting not in settings:
                settings.append(setting)
    return settings


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


def slider_beta(value: float | None, grid: Sequence[float] = (), tol: float = 2e-4):
    """A slider's beta as a config value: rounded to 6 decimals (sliders produce values like
    0.9000000000000001, which would make a new run) and snapped to ``grid`` within ``tol``."""
    if value is None:
        return None
    return snap(round(float(value), 6), grid, rel=tol)
