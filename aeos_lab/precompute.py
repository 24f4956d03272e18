"""What the bank holds, and building, verifying and describing it (``aeos-lab bank ...``).

The bank (:mod:`aeos_lab.engine.bank`) holds, for each of notebooks 02-05, the runs its network
panels need at every on-grid slider setting: ``experiments.bank_runs(P)`` of the lesson, and
``experiments.bank_traces(P)`` (Adam's P traces) where the lesson defines it (notebook 02), for
P = ``params.FULL`` on the lesson's CPU task (:func:`lesson_params`). A paper-scale bank
(``--paper``: the paper variant on CIFAR-10, for a GPU) goes to files "nb02-paper", ....
One bank file per lesson (``nb02.json.xz``, ...): a file stands alone, so a run two lessons
need is stored in both (trained once, copied).

* :func:`build` trains what is missing with the engine, one line of progress per run with an
  estimated time left. Each finished entry goes to the file's journal at once, so an
  interrupted build resumes where it stopped, and a second build trains nothing. When JAX sees
  an accelerator, runs that differ only in (eta, beta1, beta2) train as one vmapped sweep
  (``train.sweep(..., vectorize=True)``), in groups of ``group_size``; on a CPU one after
  another (vmap is slower than a loop there: :func:`aeos_lab.engine.train.vectorize_by_default`).
  Entries a lesson no longer asks for are dropped from its file.
* :func:`verify` recomputes a random sample of entries with the bank and the run cache off and
  compares their summaries with the stored ones (tolerances: :data:`TOLERANCES`).
* :func:`info` lists the files, their entries, sizes and provenance.
"""

from __future__ import annotations

import functools
import importlib
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from aeos_lab.core.formatting import format_sci
from aeos_lab.engine import analysis, bank, results, runs, traces, train
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.traces import PrecondConfig, TraceConfig

__all__ = [
    "LESSONS",
    "TOLERANCES",
    "BuildReport",
    "Check",
    "Contents",
    "build",
    "info",
    "lesson_contents",
    "registry",
    "verify",
]

LESSONS = {
    "nb02": "nb02_frozen_adam",
    "nb03": "nb03_adam_aeos",
    "nb04": "nb04_minibatch_warmup",
    "nb05": "nb05_sharp_solutions",
}
"""Bank file name -> the lesson package whose panels it serves."""


@dataclass(frozen=True)
class Contents:
    """What one lesson's panels need at every on-grid slider setting: network ``runs``,
    Adam's P ``traces`` and Adam's whole P at a step (``preconds``)."""

    runs: tuple[RunConfig, ...]
    traces: tuple[TraceConfig, ...] = ()
    preconds: tuple[PrecondConfig, ...] = ()


def lesson_params(package: str, paper: bool = False):
    """The parameters the bank serves for lesson package ``package``: ``params.FULL`` with
    the lesson's CPU task, as a notebook selects them without paper scale (the sizes CI and a
    learner run); ``paper``: its paper variant on the paper's task (as on a GPU)."""
    params = importlib.import_module(f"aeos_lab.lessons.{package}.params")
    if paper:
        return params.VARIANTS.select(True, fast=False, platform="gpu")
    return params.VARIANTS.select(False, fast=False, platform=None)


def lesson_contents(package: str, paper: bool = False) -> Contents:
    """``experiments.bank_runs(P)`` (and ``bank_traces(P)`` where the lesson defines it) of
    lesson package ``package`` (e.g. "nb02_frozen_adam") for P = :func:`lesson_params`."""
    P = lesson_params(package, paper)
    experiments = importlib.import_module(f"aeos_lab.lessons.{package}.experiments")
    if not hasattr(experiments, "bank_runs"):
        raise ValueError(
            f"aeos_lab.lessons.{package}.experiments defines no bank_runs(P): the lesson does "
            "not say which runs its panels need, so its bank cannot be built"
        )
    bank_traces = getattr(experiments, "bank_traces", None)  # notebook 02 only
    bank_preconds = getattr(experiments, "bank_preconds", None)  # notebook 02 only
    return Contents(
        tuple(experiments.bank_runs(P)),
        tuple(bank_traces(P)) if bank_traces is not None else (),
        tuple(bank_preconds(P)) if bank_preconds is not None else (),
    )


def registry(paper: bool = False) -> dict[str, Callable[[], Contents]]:
    """Bank file name -> a function giving its :class:`Contents` (:data:`LESSONS`); with
    ``paper`` the paper-scale bank ("nb02-paper", ...: CIFAR-10, to be built on a GPU)."""
    suffix = "-paper" if paper else ""
    return {
        name + suffix: functools.partial(lesson_contents, package, paper)
        for name, package in LESSONS.items()
    }


# ---------------------------------------------------------------------------------------------
# Build


@dataclass(frozen=True)
class _Item:
    """One wanted entry: a run config, a trace spec or a precond spec, its bank key and
    training steps."""

    kind: str
    key: str
    spec: RunConfig | TraceConfig | PrecondConfig
    units: int

    @property
    def label(self) -> str:
        if self.kind == "run":
            return f"{runs.describe(self.spec)} ({self.spec.steps} steps)"
        if self.kind == "precond":
            return f"P of adam η={format_sci(self.spec.run.eta, 3)} at step {self.units}"
        return f"P trace of adam η={format_sci(self.spec.run.eta, 3)} to step {self.units}"


def _items(contents: Contents) -> list[_Item]:
    """The entries of ``contents`` in order, without repeats."""
    items = [_Item("run", bank.run_key(c), c, bank.units(c)) for c in contents.runs]
    items += [_Item("trace", bank.trace_key(s), s, s.snapshots[-1]) for s in contents.traces]
    items += [_Item("precond", bank.precond_key(s), s, s.step) for s in contents.preconds]
    return list({item.key: item for item in items}.values())


@dataclass(frozen=True)
class BuildReport:
    """What :func:`build` did: entries ``trained``, ``copied`` from another bank file,
    ``dropped`` (no longer wanted), still ``missing`` (left by ``limit``), and its wall
    ``seconds``."""

    trained: int
    copied: int
    dropped: int
    missing: int
    seconds: float


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _groups(items: list[_Item], vectorize: bool, group_size: int) -> list[list[_Item]]:
    """Training batches: with ``vectorize``, runs that differ only in (eta, beta1, beta2) (equal
    :meth:`RunConfig.sweep_key`), at most ``group_size`` per batch; otherwise one by one."""
    if not vectorize:
        return [[item] for item in items]
    by_key: dict[tuple, list[_Item]] = {}
    for item in items:
        sweep = item.spec.sweep_key() if item.kind == "run" else ("trace", item.key)
        by_key.setdefault(sweep, []).append(item)
    return [
        group[i : i + group_size]
        for group in by_key.values()
        for i in range(0, len(group), group_size)
    ]


def _float32_matmuls():
    """Matrix products in full float32 precision: on a GPU, JAX's default for float32 is
    TF32 (a 10-bit mantissa), which would make a bank built there differ from the float32 runs
    of a learner's CPU by more than rounding. No effect on a CPU."""
    return jax.default_matmul_precision("highest")


def _train(group: list[_Item], vectorize: bool) -> tuple[list, float]:
    """Payloads (runs) or tables (traces) of ``group``, computed with the bank and the run
    cache off, and the wall seconds per entry."""
    with _float32_matmuls():
        return _compute(group, vectorize)


def _compute(group: list[_Item], vectorize: bool) -> tuple[list, float]:
    start = time.perf_counter()
    if group[0].kind == "run":
        configs = [item.spec for item in group]
        results = train.sweep(configs, cache=False, progress=False, vectorize=vectorize)
        out = [result.to_payload() for result in results]
    elif group[0].kind == "precond":
        out = [traces.precond_values(item.spec) for item in group]
    else:
        spec = group[0].spec
        trace = traces.precond_trace(spec.run, spec.snapshots, every=spec.every, use_cache=False)
        out = [
            {name: getattr(trace, name).to_dict("list") for name in ("trace", "hist", "summary")}
        ]
    return out, (time.perf_counter() - start) / len(group)


def build(
    lessons: Sequence[str] | None = None,
    *,
    limit: int | None = None,
    directory: Path | str | None = None,
    contents: Mapping[str, Callable[[], Contents]] | None = None,
    paper: bool = False,
    vectorize: bool | None = None,
    group_size: int = 32,
    dry_run: bool = False,
    out: Callable[[str], None] = print,
) -> BuildReport:
    """Train the entries of ``lessons`` (default: all of ``contents``, default
    :func:`registry` of ``paper``) that the bank in ``directory`` (default
    :func:`bank.bank_dir`) lacks.

    ``limit``: train at most this many entries (the rest stay missing for a later build).
    ``vectorize``: vmapped sweeps (default: when JAX sees an accelerator). ``dry_run``: only
    say what is missing. ``out`` receives one line per run: its position, lesson, label, wall
    time and the estimated time left (from the seconds per step so far)."""
    start = time.perf_counter()
    directory = Path(directory) if directory is not None else bank.bank_dir()
    contents = registry(paper) if contents is None else contents
    names = list(contents) if lessons is None else list(lessons)
    unknown = [name for name in names if name not in contents]
    if unknown:
        raise ValueError(f"lessons must be among {', '.join(contents)}, got {unknown}")
    if vectorize is None:
        vectorize = runs.accelerator() is not None
    wanted = {name: _items(contents[name]()) for name in names}
    bank.reset()
    held = {e.key: (f, e) for f in bank.files(directory) if f.usable for e in f.entries.values()}
    writers = {name: bank.Writer(directory, name) for name in names}
    copied = dropped = 0
    for name, writer in writers.items():
        for note in writer.notes:
            out(f"{name}: {note}")
        gone = writer.keep_only(item.key for item in wanted[name])
        dropped += gone
        if gone:
            out(f"{name}: dropped {gone} entries the lesson no longer asks for")
        for item in wanted[name]:
            if item.key not in writer and item.key in held:
                bank_file, entry = held[item.key]
                line = bank_file.raw(item.key)
                if line is not None:
                    row = (entry.seconds, entry.units, entry.timing, entry.build)
                    writer.add_line(item.key, item.kind, line, *row)
                    copied += 1
    todo = list(
        {i.key: i for name in names for i in wanted[name] if i.key not in writers[name]}.values()
    )
    chosen = todo if limit is None else todo[: max(limit, 0)]
    out(
        f"bank {directory}: {sum(len(w) for w in wanted.values())} entries wanted by "
        f"{', '.join(names)}; {len(todo)} to train"
        + (f", {len(chosen)} of them now (--limit)" if len(chosen) < len(todo) else "")
        + (f"; {copied} copied from other bank files" if copied else "")
        + (f" ({'vmapped sweeps' if vectorize else 'one run at a time'})" if chosen else "")
    )
    if dry_run:
        known, seconds = 0, 0.0
        for item in todo:
            rate = None
            if item.kind == "run":
                rate = bank.seconds_per_unit(item.spec, directory=directory)
            out(
                f"  missing: {item.label}"
                + ("" if rate is None else f", about {rate * item.units:.0f} s")
            )
            if rate is not None:
                known, seconds = known + 1, seconds + rate * item.units
        if known:
            out(f"{known} of {len(todo)} timed from the bank's runs: about {_duration(seconds)}")
        return BuildReport(0, copied, dropped, len(todo), time.perf_counter() - start)
    trained, done_units, train_seconds = 0, 0, 0.0
    total_units = sum(item.units for item in chosen)
    try:
        for group in _groups(chosen, vectorize, group_size):
            results, seconds = _train(group, vectorize)
            for item, result in zip(group, results, strict=True):
                line = None
                for name in names:
                    writer = writers[name]
                    if item.key in writer or all(w.key != item.key for w in wanted[name]):
                        continue
                    if line is not None:
                        timing = bank.timing_keys(item.spec) if item.kind == "run" else ()
                        row = (seconds, item.units, timing, writer.build)
                        writer.add_line(item.key, item.kind, line, *row)
                    elif item.kind == "run":
                        writer.add_run(item.spec, result, seconds)
                    elif item.kind == "precond":
                        writer.add_precond(item.spec, result, seconds)
                    else:
                        writer.add_trace(item.spec, result, seconds)
                    line = writer.lines[item.key]
                trained += 1
                done_units += item.units
                train_seconds += seconds
                left = (total_units - done_units) * train_seconds / max(done_units, 1)
                out(
                    f"[{trained}/{len(chosen)}] {item.label}: {seconds:.1f} s; "
                    f"about {_duration(left)} left"
                )
    finally:
        for writer in writers.values():
            if writer.changed:
                writer.flush()
        bank.reset()
    report = BuildReport(trained, copied, dropped, len(todo) - trained, time.perf_counter() - start)
    out(
        f"done: {report.trained} trained, {report.copied} copied, {report.dropped} dropped, "
        f"{report.missing} still missing, in {_duration(report.seconds)}"
    )
    return report


# ---------------------------------------------------------------------------------------------
# Verify


TOLERANCES = {
    "late_ratio": ("abs", 0.05),
    "final_loss": ("log10", 0.5),
    "final_sharpness": ("rel", 0.08),
    "steps_done": ("rel", 0.02),
    "P_10%": ("rel", 0.08),
    "P_median": ("rel", 0.08),
    "P_90%": ("rel", 0.08),
}
"""Quantity -> (how its deviation is measured, the largest deviation that agrees).

Exact floats are not reproducible across machines: XLA orders float32 sums differently on
another CPU, BLAS or GPU (on one machine, a code change that only reordered float32 operations
moved a median of P from 1.13e-4 to 1.11e-4). A run at the edge of stability amplifies such
differences: it is chaotic (the sharpness keeps crossing its threshold, and the oscillation
that follows grows from whatever perturbation is there), so after a while two runs differ by
the spread of the dynamics, whatever the size of the first difference. The tolerances are set
on that spread, measured by changing eta by one float32 ulp (relative 6e-8, the size of one
reordered sum) in eight runs at the lessons' sizes (lab task: Adam at eta 1e-4 and 2e-4 over
1500 steps, at 1e-3 and 3e-3 over 600, frozen Adam; default task: minibatch Adam, Adam with
warmup, Adam to a loss threshold) and in two P traces (Adam at 1e-4 and 1e-3 to step 1000):

* ``late_ratio``, the median of lambda_1(P^-1/2 H P^-1/2) / threshold over the last half of
  the run, moved by at most 0.013 (typically 0.002-0.01): it is the self-stabilised quantity.
  Tolerance 0.05 absolute: about 4x the largest, and far tighter than any lesson's claim (their
  checks use bands such as [0.85, 1.15]).
* ``final_sharpness`` (raw lambda_1(H) at the last record) moved by at most 2.0%. Tolerance 8%.
* ``final_loss``: at the edge of stability the loss spikes whenever the sharpness overshoots,
  and the last record may fall in a spike or not: it moved by up to a factor of 1.9 (frozen
  Adam 1.07e-3 -> 1.65e-3; Adam at 3e-3 3.9e-3 -> 2.1e-3; with warmup 7.5e-4 -> 4.5e-4).
  Compared as |log10(recomputed / stored)| <= 0.5, a factor of 3.2: loose, but a wrong entry
  (untrained, another task, another eta) is off by far more. Runs below the edge of stability
  agreed to 1e-6 in every quantity.
* ``steps_done`` differs only for runs stopped at a loss threshold (it did not move); 2%.
* P traces: the quantiles P_10%, P_median, P_90% of Adam's P = sqrt(nu) + eps at each snapshot
  after step 0. P averages squared gradients over ~1 / (1 - beta2) steps, so it is smoother than
  the loss; they moved by at most 2.7% (P_10% at step 1000). Tolerance 8%. P_min and P_max are
  not compared: single entries (P_min sits at eps; P_max moved 4.7%) say little about a trace.

``status`` (step limit, loss threshold, diverged) must be the same.
"""


@dataclass(frozen=True)
class Check:
    """One compared quantity of one entry: ``entry`` (file: label), ``quantity``, the
    ``stored`` and ``recomputed`` values, their ``deviation`` (as :data:`TOLERANCES` measures
    it; 0 or inf for ``status``), the ``tolerance`` and whether it is ``ok``."""

    entry: str
    quantity: str
    stored: float | str
    recomputed: float | str
    deviation: float
    tolerance: float
    ok: bool


def _deviation(quantity: str, stored: float, recomputed: float) -> tuple[float, float]:
    how, tolerance = TOLERANCES[quantity]
    if not (np.isfinite(stored) and np.isfinite(recomputed)):
        same = stored == recomputed or (np.isnan(stored) and np.isnan(recomputed))
        return (0.0 if same else float("inf")), tolerance
    if how == "abs":
        return abs(recomputed - stored), tolerance
    if how == "log10":
        if stored <= 0 or recomputed <= 0:
            return (0.0 if stored == recomputed else float("inf")), tolerance
        return abs(float(np.log10(recomputed / stored))), tolerance
    return abs(recomputed - stored) / max(abs(stored), 1e-30), tolerance


def run_summary(records: pd.DataFrame, steps_done: int) -> dict[str, float]:
    """The compared summaries of a run: late median ratio (last half), final loss and
    sharpness, steps done."""
    return {
        "late_ratio": analysis.late_median(records, "ratio"),
        "final_loss": float(records["loss"].iloc[-1]),
        "final_sharpness": float(records["sharpness"].iloc[-1]),
        "steps_done": float(steps_done),
    }


def trace_summary(trace: pd.DataFrame, snapshots: Iterable[int]) -> dict[str, float]:
    """The compared summaries of a P trace: P_10%, P_median, P_90% at each snapshot after 0."""
    rows = trace.set_index("step")
    return {
        f"{quantity} @ {step}": float(rows.loc[step, quantity])
        for step in snapshots
        if step > 0
        for quantity in ("P_10%", "P_median", "P_90%")
    }


def _compare(label: str, stored: dict, fresh: dict) -> list[Check]:
    checks = []
    for name, value in stored.items():
        quantity = name.split(" @ ")[0]
        deviation, tolerance = _deviation(quantity, value, fresh[name])
        checks.append(
            Check(label, name, value, fresh[name], deviation, tolerance, deviation <= tolerance)
        )
    return checks


def precond_summary(values) -> dict[str, float]:
    """The compared summaries of Adam's whole P: its 10%, 50% and 90% quantiles."""
    values = np.asarray(values, dtype=np.float64)
    quantiles = np.quantile(values, [0.1, 0.5, 0.9])
    return dict(zip(("P_10%", "P_median", "P_90%"), map(float, quantiles), strict=True))


def _verify_entry(entry: bank.Entry, payload: dict) -> list[Check]:
    if entry.kind == "run":
        stored = results.RunResult.from_payload(payload)
        (fresh,) = train.sweep([stored.config], cache=False, progress=False, vectorize=False)
        label = f"{entry.file}: {runs.describe(stored.config)}"
        same = stored.status == fresh.status
        deviation = 0.0 if same else float("inf")
        status = Check(label, "status", stored.status, fresh.status, deviation, 0.0, same)
        return [
            status,
            *_compare(
                label,
                run_summary(stored.records, stored.steps_done),
                run_summary(fresh.records, fresh.steps_done),
            ),
        ]
    spec = payload["spec"]
    config = RunConfig.from_dict(spec["run"])
    if entry.kind == "precond":
        fresh = traces.precond_values(traces.PrecondConfig(config, spec["step"]))
        label = f"{entry.file}: P of adam η={format_sci(config.eta, 3)} at step {spec['step']}"
        return _compare(label, precond_summary(payload["P"]), precond_summary(fresh))
    recomputed = traces.precond_trace(
        config, spec["snapshots"], every=spec["every"], use_cache=False
    )
    label = f"{entry.file}: P trace adam η={format_sci(config.eta, 3)}"
    return _compare(
        label,
        trace_summary(pd.DataFrame(payload["trace"]), spec["snapshots"]),
        trace_summary(recomputed.trace, spec["snapshots"]),
    )


def verify(
    sample: int,
    *,
    seed: int = 0,
    directory: Path | str | None = None,
    max_seconds: float | None = None,
    out: Callable[[str], None] = print,
) -> list[Check]:
    """Recompute ``sample`` entries drawn at random (``seed``) from the bank in ``directory``
    (only among those whose build took at most ``max_seconds``, when given), with the bank and
    the run cache off, and compare their summaries (:func:`run_summary`,
    :func:`trace_summary`) within :data:`TOLERANCES`. ``out`` receives a table: entry,
    quantity, stored, recomputed, deviation, tolerance, ok."""
    if max_seconds is not None and max_seconds <= 0:
        raise ValueError(f"max_seconds must be > 0, got {max_seconds}")
    directory = Path(directory) if directory is not None else bank.bank_dir()
    bank.reset()
    pool = bank.entries(directory)
    if max_seconds is not None:
        pool = [entry for entry in pool if entry.seconds <= max_seconds]
    chosen = random.Random(seed).sample(pool, min(max(sample, 0), len(pool)))
    checks: list[Check] = []
    out(f"verifying {len(chosen)} of {len(pool)} entries of {directory} (seed {seed})")
    header = f"{'entry':<52} {'quantity':<18} {'stored':>11} {'recomputed':>11} {'dev.':>9}  ok"
    out(header)
    for entry in chosen:
        payload = bank.payload_of(entry, directory)
        if payload is None:
            checks.append(Check(entry.key, "readable", "no", "-", float("inf"), 0.0, False))
            continue
        with _float32_matmuls():
            entry_checks = _verify_entry(entry, payload)
        for check in entry_checks:
            checks.append(check)
            out(_row(check))
    bad = [c for c in checks if not c.ok]
    finite = [c.deviation / c.tolerance for c in checks if c.tolerance > 0]
    worst = max(finite, default=0.0)
    out(
        f"{len(chosen) - len({c.entry for c in bad})} of {len(chosen)} entries agree; largest "
        f"deviation {worst:.2f} x its tolerance"
    )
    return checks


def _row(check: Check) -> str:
    def cell(value):
        return f"{value:>11.4g}" if isinstance(value, float) else f"{value!s:>11}"

    deviation = "-" if check.tolerance == 0 and check.ok else f"{check.deviation:9.3g}"
    return (
        f"{check.entry[:52]:<52} {check.quantity:<18} {cell(check.stored)} "
        f"{cell(check.recomputed)} {deviation:>9}  {'yes' if check.ok else 'NO'}"
    )


# ---------------------------------------------------------------------------------------------
# Info


def info(directory: Path | str | None = None, out: Callable[[str], None] = print) -> dict:
    """Print the bank in ``directory``: each file's entries (runs, traces), size and builds
    (provenance); return the totals {"files", "entries", "bytes"}."""
    directory = Path(directory) if directory is not None else bank.bank_dir()
    bank.reset()
    files = bank.files(directory)
    lookups = "on" if bank.enabled() else f"off: {bank.BANK_ENV}=0"
    out(f"bank {directory} (schema {bank.SCHEMA_NUMBER}; lookups {lookups})")
    total = {"files": 0, "entries": 0, "bytes": 0}
    for bank_file in files:
        size = bank_file.path.stat().st_size if bank_file.path.exists() else 0
        if not bank_file.usable:
            out(f"  {bank_file.path.name}: UNUSABLE, {bank_file.problem}")
            continue
        kinds = [e.kind for e in bank_file.entries.values()]
        preconds = f", {kinds.count('precond')} P snapshots" if "precond" in kinds else ""
        out(
            f"  {bank_file.path.name}: {kinds.count('run')} runs, {kinds.count('trace')} "
            f"traces{preconds}, {size / 1e6:.2f} MB"
        )
        for build_ in bank_file.builds:
            count = sum(e.build == build_ for e in bank_file.entries.values())
            out(f"    {count} {build_.line}")
        total["files"] += 1
        total["entries"] += len(kinds)
        total["bytes"] += size
    megabytes = total["bytes"] / 1e6
    out(f"total: {total['entries']} entries in {total['files']} files, {megabytes:.2f} MB")
    return total
