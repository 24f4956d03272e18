"""Summaries of training runs, from the tidy table of :func:`aeos_lab.engine.results.to_table`.

Every notebook from 02 on asks the same few questions of a run: where does the preconditioned
sharpness settle relative to its threshold (the median of ``ratio`` late in the run), how sharp
is the solution, how many steps did it take, did it diverge. They are answered here once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from aeos_lab.engine.results import HYPER_COLUMNS, RunResult, to_table
from aeos_lab.engine.runs import describe


def late(records: pd.DataFrame, fraction: float = 0.5, step: str = "step") -> pd.DataFrame:
    """The records in the last ``fraction`` of the run's steps (by step, not by row: dense
    windows do not skew it)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}")
    last = records[step].max()
    return records[records[step] >= last * (1 - fraction)]


def late_median(records: pd.DataFrame, column: str = "ratio", fraction: float = 0.5) -> float:
    """Median of ``column`` over the last ``fraction`` of the run (e.g. psharp / threshold)."""
    return float(np.median(late(records, fraction)[column]))


def summarize(results: list[RunResult], fraction: float = 0.5) -> pd.DataFrame:
    """One row per run: its hyperparameters, how it ended, and the late median ratio, the final
    loss, sharpness and accuracies (the solution, when the run stopped at a loss threshold)."""
    rows = []
    for result in results:
        records, config = result.records, result.config
        final = records.iloc[-1]
        row = {name: getattr(config, name) for name in HYPER_COLUMNS}
        row.update(
            run=config.key(),
            status=result.status,
            diverged=result.diverged,
            steps=result.steps_done,
            late_ratio=late_median(records, "ratio", fraction),
            late_precond_sharpness=late_median(records, "precond_sharpness", fraction),
            final_loss=float(final["loss"]),
            final_sharpness=float(final["sharpness"]),
            final_train_acc=float(final["train_acc"]),
            final_test_acc=float(final["test_acc"]),
            threshold=float(final["threshold"]),
        )
        rows.append(row)
    return pd.DataFrame(rows)


def spearman(x, y) -> float:
    """Spearman's rank correlation of two sequences (ties get their mean rank)."""
    x, y = pd.Series(np.asarray(x, float)), pd.Series(np.asarray(y, float))
    if len(x) != len(y) or len(x) < 3:
        raise ValueError(f"x and y must have the same length >= 3, got {len(x)} and {len(y)}")
    return float(x.rank().corr(y.rank()))


def rise(records: pd.DataFrame, column: str = "sharpness", start: float = 0.5) -> float:
    """Relative change of ``column`` from the first record at or after ``start`` (a fraction of
    the run) to the last record: how much a quantity still grows late in the run."""
    late_part = late(records, 1 - start)
    first, last = float(late_part[column].iloc[0]), float(late_part[column].iloc[-1])
    return (last - first) / abs(first)


class Trend(NamedTuple):
    """A relative change over the late part of a run, from a fitted line, with its spread."""

    change: float  # slope x steps spanned / mean: e.g. 0.21 is a 21% rise
    stderr: float  # standard error of ``change`` (from the slope's standard error)
    points: int  # measurements the line was fitted to

    def text(self) -> str:
        """e.g. ``"+21% ± 3% (40 measurements)"``."""
        return f"{self.change:+.0%} ± {self.stderr:.0%} ({self.points} measurements)"


def fitted_trend(records: pd.DataFrame, column: str, fraction: float) -> Trend:
    """How much ``column`` changes over the last ``fraction`` of the run, relative to its size
    there: the least-squares slope a of column ~ a * step + b over those records, times the
    steps they span, divided by their mean, with the standard error of that number (the
    slope's standard error, se(a) = sqrt(sum r^2 / (n-2) / sum (s - mean s)^2), scaled the same
    way). A straight-line fit, so a single spike at either end does not decide it (unlike the
    change between two endpoints). With two measurements the spread is NaN, with fewer (or one
    step) both numbers are."""
    part = late(records, fraction)
    steps, values = part["step"].to_numpy(float), part[column].to_numpy(float)
    n = len(steps)
    if n < 2 or steps[-1] == steps[0]:  # no line through fewer than two steps
        return Trend(float("nan"), float("nan"), n)
    if n == 2:  # a line, but no spread to measure
        change = (values[1] - values[0]) / np.mean(values)
        return Trend(float(change), float("nan"), n)
    slope, intercept = np.polyfit(steps, values, 1)
    residuals = values - (slope * steps + intercept)
    spread = np.sum((steps - steps.mean()) ** 2)
    slope_se = np.sqrt(np.sum(residuals**2) / (n - 2) / spread) if spread > 0 else np.inf
    scale = (steps[-1] - steps[0]) / np.mean(values)
    return Trend(float(slope * scale), float(slope_se * abs(scale)), n)


def relative_trend(records: pd.DataFrame, column: str, fraction: float) -> float:
    """The ``change`` of :func:`fitted_trend`: the relative change of ``column`` over the last
    ``fraction`` of the run, from a fitted line."""
    return fitted_trend(records, column, fraction).change


def table(results: list[RunResult], min_step: int = 0) -> pd.DataFrame:
    """The tidy table of ``results`` with records before ``min_step`` dropped (at step 0 Adam's
    preconditioned sharpness is huge because nu starts at zero, see design notes)."""
    frame = to_table(results)
    return frame[frame["step"] >= min_step].reset_index(drop=True)


def trajectories(results: list[RunResult], labels: list[str] | None = None) -> pd.DataFrame:
    """The tidy table of ``results`` (:func:`aeos_lab.engine.results.to_table`) plus a ``label``
    column (default: :func:`aeos_lab.engine.runs.describe` of each config).

    Step 0 is dropped for adaptive optimizers: there nu = 0, so P = eps and the preconditioned
    sharpness is thousands of times the threshold (it would flatten every chart). Frozen Adam
    keeps its step 0 (its P is the frozen one from the start).
    """
    frames = []
    for i, result in enumerate(results):
        frame = to_table([result])
        if result.config.optimizer != "frozen_adam":
            frame = frame[frame["step"] > 0]
        frame["label"] = describe(result.config) if labels is None else labels[i]
        frames.append(frame)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def threshold_crossings(records: pd.DataFrame, column: str = "ratio") -> list[int]:
    """Steps at which ``column`` goes from <= 1 to > 1 between consecutive records (the steps
    where the preconditioned sharpness crosses its threshold upwards, Fig. 9's red lines)."""
    values = records[column].to_numpy()
    steps = records["step"].to_numpy()
    up = (values[:-1] <= 1.0) & (values[1:] > 1.0)
    return [int(s) for s in steps[1:][up]]


class Oscillation(NamedTuple):
    """How psharp / threshold behaves late in a run (:func:`oscillation_stats`)."""

    median: float
    share_above: float
    low: float
    high: float
    count: int


def oscillation_stats(records: pd.DataFrame, fraction: float = 1 / 3) -> Oscillation:
    """psharp / threshold over the last ``fraction`` of a run: ``median``, ``share_above``
    (share of records with ratio > 1), ``low`` and ``high`` (10th and 90th percentiles) and
    ``count`` (how many measurements these rest on).

    Hovering above the threshold (App. C: GD-like methods) shows as share_above near 1 and a
    10th percentile near or above 1; oscillating around it (heavy-ball methods) as a share
    well below 1 and a 10th percentile clearly under 1.
    """
    ratio = late(records, fraction)["ratio"].to_numpy()
    return Oscillation(
        float(np.median(ratio)),
        float(np.mean(ratio > 1.0)),
        float(np.quantile(ratio, 0.1)),
        float(np.quantile(ratio, 0.9)),
        int(ratio.size),
    )
