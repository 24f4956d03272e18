"""The notebooks' exercises: each one is well formed, its hidden solution passes its check, a
wrong answer fails it, and the untouched scaffold lets Run All go on."""

from __future__ import annotations

import ast
import contextlib
import io

import exercise_cells
import pytest

from aeos_lab.lessons.exercises import EXPECT_SOLVED_ENV, WrongAnswer

LESSONS = sorted(p for p in exercise_cells.NOTEBOOKS.glob("0[1-9]_*.ipynb"))
FOUND = {path: exercise_cells.exercises(path) for path in LESSONS}
ALL = [(path, ex) for path, found in FOUND.items() for ex in found]
IDS = [f"{path.stem[:2]}-{n}" for path, found in FOUND.items() for n in range(1, len(found) + 1)]


def run_cells(*blocks: str):
    """Execute ``blocks`` in one fresh namespace; return the value of the last block's final
    expression (the check's verdict) and what was printed."""
    namespace: dict = {"__name__": "__exercise__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks[:-1]:
            exec(compile(block, "<cell>", "exec"), namespace)
        tree = ast.parse(blocks[-1])
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<check>", "exec"), namespace)
        value = (
            eval(compile(ast.Expression(last.value), "<check>", "eval"), namespace)
            if last
            else None
        )
    return value, out.getvalue()


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem[:2] for p in LESSONS])
def test_every_lesson_has_two_to_four_well_formed_exercises(path):
    found = FOUND[path]
    assert 2 <= len(found) <= 4, f"{path.name} has {len(found)} exercises"
    for ex in found:
        assert ex.nbmake_solution.strip() == ex.solution.strip(), (
            f"{path.name} cell {ex.index}: nbmake would run another solution than the hidden one "
            "(python tests/exercise_cells.py notebooks/*.ipynb copies it over)"
        )
        assert ex.wrong_answer.strip(), (
            f"{path.name} cell {ex.index}: no wrong answer to test the check"
        )
        assert "exercises.check" in ex.check or ".check_" in ex.check


@pytest.mark.parametrize(("path", "ex"), ALL, ids=IDS)
def test_hidden_solution_passes_its_check(path, ex):
    setup = exercise_cells.setup_code(path)
    verdict, printed = run_cells(setup, ex.scaffold, ex.solution, ex.check)
    assert verdict is True, printed
    assert ": right." in printed


@pytest.mark.parametrize(("path", "ex"), ALL, ids=IDS)
def test_wrong_answer_fails_its_check(path, ex):
    setup = exercise_cells.setup_code(path)
    with pytest.raises(WrongAnswer, match="wrong"):
        run_cells(setup, ex.scaffold, ex.wrong_answer, ex.check)


@pytest.mark.parametrize(("path", "ex"), ALL, ids=IDS)
def test_untouched_scaffold_is_not_attempted_and_does_not_stop_run_all(path, ex, monkeypatch):
    monkeypatch.delenv(EXPECT_SOLVED_ENV)  # as a learner runs it
    setup = exercise_cells.setup_code(path)
    verdict, printed = run_cells(setup, ex.scaffold, ex.check)
    assert verdict is None and "not attempted" in printed
