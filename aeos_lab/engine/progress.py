"""Progress of a training run: a tqdm bar in a terminal, nothing under pytest, or a callback
(a notebook panel's progress line) that hears the fraction done."""

from __future__ import annotations

import os

__all__ = ["progress_bar"]


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


class _CallbackBar:
    def __init__(self, callback, total):
        self.callback, self.total, self.done = callback, total, 0

    def update(self, n):
        self.done += n
        self.callback(self.done / max(self.total, 1))

    def close(self):
        self.callback(1.0)


def progress_bar(progress, total: int, label: str):
    """progress: None (auto: a tqdm bar except under pytest), False, True, or a callable
    receiving the fraction done."""
    if callable(progress):
        return _CallbackBar(progress, total)
    if progress is None:
        progress = "PYTEST_CURRENT_TEST" not in os.environ
    if not progress:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, unit="step", leave=False)
