"""Summaries of training runs, computed from the tidy table of :func:`aeos_lab.train.to_table`.

Every notebook from 02 on asks the same few questions of a run: where does the preconditioned
sharpness settle relative to its threshold (the median of ``ratio`` late in the run), how sharp
is the solution, how many steps did it take, did it diverge. They are answered here once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .train import HYPER_COLUMNS, RunResult, to_table


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


def table(results: list[RunResult], min_step: int = 0) -> pd.DataFrame:
    """The tidy table of ``results`` with records before ``min_step`` dropped (at step 0 Adam's
    preconditioned sharpness is huge because nu starts at zero, see design notes)."""
    frame = to_table(results)
    return frame[frame["step"] >= min_step].reset_index(drop=True)
