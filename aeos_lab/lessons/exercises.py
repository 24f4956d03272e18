"""Exercises: the learner's own code, checked.

An exercise in a notebook is four cells:

1. a markdown cell that states the task (``### Exercise N · ...``);
2. the learner's code cell (tag ``exercise``), a scaffold whose body raises
   ``NotImplementedError`` or leaves a value as ``...``;
3. a markdown cell with the solution in a collapsed ``<details>`` block;
4. a check cell (tag ``exercise-check``) that calls one of the lesson's ``check_*`` functions,
   built on :func:`check` below.

A check says *right* (and what it compared), raises :class:`WrongAnswer` saying what differs,
or, while the scaffold is untouched, says the exercise is not attempted yet and lets Run All
go on. Under nbmake the hidden solution runs right after the scaffold (the cell's metadata
``nbmake.post_cell_execute``, kept equal to the solution block by ``tests/test_exercises.py``),
so CI checks every solution; that test also feeds each check a wrong answer and expects
:class:`WrongAnswer`. With ``AEOS_LAB_EXPECT_SOLVED=1`` (set by the test suite for nbmake) an
unattempted exercise is an error, so a solution that nbmake failed to run cannot pass unseen.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

EXPECT_SOLVED_ENV = "AEOS_LAB_EXPECT_SOLVED"

__all__ = ["EXPECT_SOLVED_ENV", "WrongAnswer", "answer", "check", "expect", "expect_close"]


class WrongAnswer(AssertionError):
    """The learner's answer was checked and is wrong; the message says how."""


def answer(value):
    """A value the learner fills in: ``...`` (still the scaffold) means not attempted yet."""
    if value is Ellipsis:
        raise NotImplementedError("fill in the value")
    return value


def expect(condition: bool, message: str) -> None:
    """Raise :class:`WrongAnswer` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise WrongAnswer(message)


def expect_close(got, want, what: str, rtol: float = 1e-6, atol: float = 0.0) -> str:
    """Compare the learner's ``got`` with the library's ``want`` (arrays or numbers, with
    ``numpy.allclose`` semantics); return a one-line account of the agreement."""
    got_a = np.asarray(got, dtype=float)
    want_a = np.asarray(want, dtype=float)
    expect(
        got_a.shape == want_a.shape,
        f"{what}: your answer has shape {got_a.shape}, expected {want_a.shape}",
    )
    expect(bool(np.all(np.isfinite(got_a))), f"{what}: your answer is not finite: {got}")
    if not np.allclose(got_a, want_a, rtol=rtol, atol=atol):
        worst = float(np.max(np.abs(got_a - want_a) / np.maximum(np.abs(want_a), 1e-300)))
        raise WrongAnswer(
            f"{what}: yours {_short(got_a)}, expected {_short(want_a)} "
            f"(largest relative difference {worst:.2g}, tolerance {rtol:g})"
        )
    worst = float(np.max(np.abs(got_a - want_a) / np.maximum(np.abs(want_a), 1e-300)))
    return f"{what} agrees (largest relative difference {worst:.1e})"


def check(name: str, judge: Callable[[], str]) -> bool | None:
    """Run ``judge`` (which calls the learner's code and compares it with the library).

    Returns True and prints ``"<name>: right. <what judge returned>"``; returns None and says
    so when the learner's code still raises ``NotImplementedError`` (not attempted); raises
    :class:`WrongAnswer` (``"<name>: wrong. ..."``) when the answer is wrong.
    """
    try:
        detail = judge()
    except NotImplementedError:
        if os.environ.get(EXPECT_SOLVED_ENV) == "1":
            raise AssertionError(
                f"{name}: not attempted, but {EXPECT_SOLVED_ENV}=1 says the hidden solution "
                "should have run after the exercise cell (nbmake's post_cell_execute)"
            ) from None
        print(
            f"{name}: not attempted yet. Write your answer in the cell above (the solution is "
            "hidden below it), run that cell, then this one."
        )
        return None
    except WrongAnswer as wrong:
        raise WrongAnswer(f"{name}: wrong. {wrong}") from None
    print(f"{name}: right. {detail}")
    return True


def _short(values: np.ndarray) -> str:
    flat = values.ravel()
    text = np.array2string(flat[:4], precision=5, separator=", ")
    return text if flat.size <= 4 else text[:-1] + ", ...]"
