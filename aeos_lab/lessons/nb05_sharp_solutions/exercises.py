"""Exercises of notebook 05 (sharp solutions): the learner's code, checked against the library.

1. :func:`check_stable_range`: the stable range of a learning-rate sweep (the runs that reached
   the solution, up to the fastest one), on which section (a) measures the Fig. 10 trend;
2. :func:`check_threshold`: EMA heavy ball's stability threshold (2 + 2 beta1) / ((1 - beta1)
   eta), which caps momentum's lambda_1(H) in section (b), compared with the runs;
3. :func:`check_matched`: "equal training speed" as section (b) defines it: momentum's sharpness
   at the solution interpolated, linearly in log(steps), to the steps an Adam run needed.

The data come from the runs the panels show (the bank of precomputed runs on the default task:
no training, so each check takes well under a second). :func:`eta_sweep` and
:func:`momentum_runs` give the learner the tables the exercises work on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from aeos_lab.core import thresholds
from aeos_lab.engine import runs
from aeos_lab.lessons import exercises
from aeos_lab.lessons.nb05_sharp_solutions import experiments
from aeos_lab.lessons.nb05_sharp_solutions.params import Params

__all__ = [
    "check_matched",
    "check_stable_range",
    "check_threshold",
    "comparison",
    "eta_sweep",
    "momentum_runs",
]

_SWEEP_COLUMNS = ["eta", "beta2", "status", "reached", "steps", "sharpness"]


def eta_sweep(P: Params) -> pd.DataFrame:
    """Full-batch Adam over ``P.etas`` at ``P.beta2_for_eta`` (panel (a)'s eta sweep), one row
    per run by eta: ``eta``, ``beta2``, ``status``, ``reached``, ``steps`` (to the solution) and
    ``sharpness`` (lambda_1(H) there)."""
    setup = experiments.solutions_setup(P)
    full = next(s for s in setup.sweeps if s.batch_size is None)
    configs = [
        c
        for c in experiments.sweep_configs(setup, full, P.beta1)
        if np.isclose(c.beta2, setup.beta2_for_eta)
    ]
    frame = experiments.solutions(runs.run_configs(configs), setup.loss_threshold)
    return frame[_SWEEP_COLUMNS].sort_values("eta").reset_index(drop=True)


def comparison(P: Params, beta2: float | None = None) -> experiments.Comparison:
    """Panel (b)'s comparison with Adam at ``beta2`` (default ``P.compare_beta2``)."""
    setup = experiments.comparison_setup(P)
    beta2 = P.compare_beta2 if beta2 is None else beta2
    selection = experiments.Selection(setup.adam_etas[0], P.beta1, float(beta2))
    return experiments.comparison(setup, selection)


def momentum_runs(P: Params) -> pd.DataFrame:
    """EMA heavy ball's runs of panel (b) (at ``P.beta1``), by eta: ``eta``, ``steps`` to the
    solution and ``sharpness`` there (runs that reached it)."""
    frame = comparison(P).solutions
    momentum = frame[(frame["optimizer"] == "ema_hb") & frame["reached"]]
    return momentum[["eta", "steps", "sharpness"]].sort_values("eta").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Exercise 1: the stable range of an eta sweep


def check_stable_range(stable_range: Callable, P: Params) -> bool | None:
    """Exercise 1: ``stable_range(sweep)`` returns the rows of an :func:`eta_sweep` frame that
    reached the solution, by eta, up to the eta that got there in the fewest steps
    (:func:`.experiments.stable_etas`). Checked on a hand-made sweep with a run that never got
    there, then on the notebook's sweep."""

    def judge() -> str:
        made_up = pd.DataFrame(
            {
                "eta": [4e-3, 1e-4, 1e-3, 2e-3, 3e-4],
                "reached": [False, True, True, True, True],
                "steps": [np.nan, 900.0, 310.0, 450.0, 500.0],
                "sharpness": [np.nan, 70.0, 30.0, 60.0, 50.0],
            }
        )
        _same_etas(stable_range(made_up.copy()), made_up, "hand-made sweep")
        sweep = eta_sweep(P)
        got = _same_etas(stable_range(sweep.copy()), sweep, "the notebook's sweep")
        ends = got.sort_values("eta")
        low, high = ends.iloc[0], ends.iloc[-1]
        return (
            f"the stable range has {len(got)} runs, eta {low.eta:g} to {high.eta:g}; across it "
            f"the sharpness at the solution goes from {high.sharpness:.1f} (eta {high.eta:g}) "
            f"to {low.sharpness:.1f} (eta {low.eta:g}), {low.sharpness / high.sharpness:.1f} "
            "times sharper at the small end."
        )

    return exercises.check("Exercise 1", judge)


def _same_etas(got, sweep: pd.DataFrame, what: str) -> pd.DataFrame:
    exercises.expect(
        isinstance(got, pd.DataFrame), f"{what}: return a DataFrame (rows of the sweep)"
    )
    exercises.expect("eta" in got.columns, f"{what}: the rows you return have no 'eta' column")
    want = experiments.stable_etas(sweep)
    mine = sorted(float(e) for e in got["eta"])
    right = sorted(float(e) for e in want["eta"])
    exercises.expect(
        len(mine) == len(right) and np.allclose(mine, right),
        f"{what}: your stable range has the etas {mine}, expected {right} (the runs that "
        "reached the solution, up to the eta with the fewest steps)",
    )
    return got


# ---------------------------------------------------------------------------------------------
# Exercise 2: momentum's threshold against its runs


def check_threshold(momentum_threshold: Callable, P: Params) -> bool | None:
    """Exercise 2: ``momentum_threshold(eta, beta1)`` is EMA heavy ball's stability threshold
    on lambda_1(H), (2 + 2 beta1) / ((1 - beta1) eta) (paper Table 1; notebook 01). Checked at
    several (eta, beta1); then each momentum run of panel (b) is set beside its threshold."""

    def judge() -> str:
        pairs = [(e, b) for e in (0.5, 1.0, 1.5, 2.0, 0.01) for b in (0.0, 0.5, 0.9)]
        got = [float(momentum_threshold(e, b)) for e, b in pairs]
        want = [float(thresholds.threshold("ema_hb", e, b)) for e, b in pairs]
        agreement = exercises.expect_close(
            got, want, "thresholds at eta in {0.01, 0.5, 1, 1.5, 2}, beta1 in {0, 0.5, 0.9}"
        )
        lines = [
            f"eta {row.eta:g}: threshold {momentum_threshold(row.eta, P.beta1):.1f}, sharpness "
            f"at the solution {row.sharpness:.1f} "
            f"({row.sharpness / momentum_threshold(row.eta, P.beta1):.2f} of it)"
            for row in momentum_runs(P).itertuples()
        ]
        return f"{agreement}. Momentum's runs (beta1 = {P.beta1:g}): " + "; ".join(lines) + "."

    return exercises.check("Exercise 2", judge)


# ---------------------------------------------------------------------------------------------
# Exercise 3: equal training speed


def check_matched(momentum_sharpness_at: Callable, P: Params) -> bool | None:
    """Exercise 3: ``momentum_sharpness_at(steps, momentum_steps, momentum_sharpness)`` is
    momentum's sharpness at the solution interpolated linearly in log(steps) between its runs
    (given in any order), as :func:`.experiments.matched_sharpness` does. Checked on a
    hand-made case, then at the steps of each Adam run of panel (b) that momentum's runs
    bracket."""

    def judge() -> str:
        made = float(momentum_sharpness_at(316.227766, np.array([1000.0, 100.0]), [20.0, 10.0]))
        exercises.expect_close(
            made,
            15.0,
            "hand-made case: runs at 100 and 1000 steps (sharpness 10 and 20), "
            "at 316 steps (halfway in log steps)",
            rtol=1e-4,
        )
        result = comparison(P)
        momentum = momentum_runs(P)
        matched = result.matched
        exercises.expect(len(matched) > 0, "no Adam run lies inside momentum's range of steps")
        got = [
            float(
                momentum_sharpness_at(
                    float(row.steps),
                    momentum["steps"].to_numpy(float),
                    momentum["sharpness"].to_numpy(float),
                )
            )
            for row in matched.itertuples()
        ]
        agreement = exercises.expect_close(
            got, matched["momentum_sharpness"].to_numpy(float), "momentum's matched sharpness"
        )
        pairs = "; ".join(
            f"Adam eta {row.eta:g} ({row.steps:.0f} steps): {row.sharpness:.1f} against "
            f"{mine:.1f}, ratio {row.sharpness / mine:.2f}"
            for row, mine in zip(matched.itertuples(), got, strict=True)
        )
        return f"{agreement}. At beta2 = {result.selection.beta2:g}: {pairs}."

    return exercises.check("Exercise 3", judge)
