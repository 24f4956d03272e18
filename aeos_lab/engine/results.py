"""What a run gives back: :class:`RunResult` (its config, one record per measurement, how it
ended, where this copy came from) and :func:`to_table`, the tidy long-form table of many runs
that charts draw and summaries (:mod:`aeos_lab.engine.analysis`) read."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from aeos_lab.engine.config import RunConfig

__all__ = ["COMPUTED", "HYPER_COLUMNS", "RUN_CACHE", "RunResult", "to_table"]


@dataclass
class RunResult:
    """One finished run: its config, its records (one row per measurement) and how it ended.

    ``source`` says where this copy came from: :data:`COMPUTED` (trained in this session),
    :data:`RUN_CACHE` (the user's run cache on disk) or the bank's provenance line, e.g.
    "precomputed (aeos-lab 0.1.0, built 2026-12-06 on cpu)" (:mod:`aeos_lab.engine.bank`)."""

    config: RunConfig
    records: pd.DataFrame
    status: str
    diverged: bool
    steps_done: int
    device: str
    source: str = "computed now"

    @classmethod
    def from_payload(cls, payload: dict) -> RunResult:
        return cls(
            RunConfig.from_dict(payload["config"]),
            pd.DataFrame(payload["records"]),
            payload["status"],
            payload["diverged"],
            payload["steps_done"],
            payload["device"],
        )

    def to_payload(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "status": self.status,
            "diverged": self.diverged,
            "steps_done": self.steps_done,
            "device": self.device,
            "records": self.records.to_dict("records"),
        }

    def table(self) -> pd.DataFrame:
        return to_table([self])


COMPUTED, RUN_CACHE = "computed now", "your run cache"
"""Values of :attr:`RunResult.source` besides the bank's provenance line."""


HYPER_COLUMNS = (
    "optimizer",
    "eta",
    "beta1",
    "beta2",
    "batch_size",
    "warmup_steps",
    "freeze_at",
    "freeze_eta",
    "freeze_precond_at",
    "model",
    "dataset",
)


def to_table(results: list[RunResult]) -> pd.DataFrame:
    """One tidy long-form table: a row per (run, measurement), a column per hyperparameter and
    metric, ready for Altair."""
    frames = []
    for result in results:
        frame = result.records.copy()
        used = result.config.hyperparameters
        for name in HYPER_COLUMNS:
            frame[name] = (
                used.get(name) if name in ("beta1", "beta2") else getattr(result.config, name)
            )
        frame["run"] = result.config.key()
        frame["diverged"] = result.diverged
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
