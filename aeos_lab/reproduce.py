"""Static export of the paper figures the notebooks reproduce: ``aeos-lab reproduce FIGURE``.

Each entry of :data:`FIGURES` names one paper figure (or table), the notebook that covers it,
and a builder that computes the figure with the library's public compute functions and draws it
with the notebooks' own chart builders. :func:`export` writes three files into a folder:

* ``<id>.png`` (or ``.svg``): the chart, rendered by vl-convert through ``chart.save``;
* ``<id>.csv``: the tidy data behind it, one row per plotted point;
* ``<id>.json``: metadata: the figure, a caption, the parameters, the base run config (for
  figures that train), the library version and the elapsed time.

Sizes follow the notebooks' parameters cells: the full variant by default, the fast variant
(the one CI runs) with ``fast=True``. The notebook-01 figures are quadratics and take seconds;
the others train networks through :mod:`aeos_lab.train`, whose disk cache
(``$AEOS_LAB_CACHE_DIR``) makes a second export instant and shares runs with the notebooks.
On the CPU default, notebooks 02 and 03 train on the lab task (:data:`aeos_lab.adaptive.LAB_TASK`)
and notebooks 04 and 05 on the default digits task (``RunConfig()``); the ``task`` parameter
replaces either (e.g. with the paper's CIFAR-10 task on a GPU).

Example::

    from aeos_lab import reproduce
    reproduce.export("fig1", "figures")          # figures/fig1.png, .csv, .json
    frame, chart, params = reproduce.build("fig14", fast=True)
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd

from . import __version__
from .charts import format_sci
from .config import RunConfig

__all__ = [
    "ALIASES",
    "FIGURES",
    "FORMATS",
    "Figure",
    "build",
    "export",
    "get_figure",
    "listing",
    "text_progress",
]

FORMATS = ("png", "svg")

Progress = Callable[[int, int, str], None]
"""``progress(done, total, message)``: steps trained so far over all runs still to train."""


@dataclass(frozen=True)
class Figure:
    """One exportable paper figure.

    ``full`` holds the parameters of the notebook's full variant (upper-case names are the
    notebook's own variables), ``fast`` the changes of its fast variant. ``build(params,
    progress)`` returns the tidy data and the chart; ``base(params)`` the run config that the
    figure's training runs start from (None for the quadratic figures of notebook 01).
    """

    id: str
    paper: str
    notebook: str
    title: str
    description: str
    caption: str
    build: Callable[[dict, Progress | None], tuple[pd.DataFrame, alt.TopLevelMixin]]
    full: dict = field(default_factory=dict)
    fast: dict = field(default_factory=dict)
    base: Callable[[dict], RunConfig] | None = None

    @property
    def trains(self) -> bool:
        return self.base is not None

    def params(self, fast: bool = False, overrides: Mapping | None = None) -> dict:
        """The parameters of the full (or ``fast``) variant with ``overrides`` applied."""
        params = {**self.full, **(self.fast if fast else {})}
        unknown = sorted(set(overrides or {}) - set(params))
        if unknown:
            raise ValueError(
                f"overrides {unknown} are not parameters of {self.id}; "
                f"allowed: {', '.join(sorted(params))}"
            )
        params.update(overrides or {})
        return params


# ---------------------------------------------------------------------------------------------
# Helpers


@contextlib.contextmanager
def _float64():
    """JAX in float64 for a block, as notebook 01 runs (its iterates reach 1e-100)."""
    import jax

    if hasattr(jax, "enable_x64"):
        with jax.enable_x64(True):
            yield
    else:  # pragma: no cover - older jax
        from jax.experimental import enable_x64

        with enable_x64():
            yield


def _lab_config(params: dict, **changes) -> RunConfig:
    """A config on the task of notebooks 02 and 03 (``params["task"]``, default the lab task)."""
    from . import adaptive

    task = adaptive.LAB_TASK if params["task"] is None else params["task"]
    return RunConfig(**{**task, **changes})


def _default_config(params: dict, **changes) -> RunConfig:
    """A config on the task of notebooks 04 and 05 (``params["task"]``, default RunConfig())."""
    return RunConfig(**{**(params["task"] or {}), **changes})


def _panel_result(panel, progress: Progress | None):
    """Compute a notebook panel's current setting without displaying it; return the result
    and the panel's charts (its tables left out), drawn by the panel's own builders."""
    from .stability import TableView

    result = panel.compute(dict(panel.values), progress=progress)
    charts = [chart.build(result) for chart in panel.charts if not isinstance(chart, TableView)]
    return result, charts


def _practice_scale(p: dict):
    from .experiments import Scale

    return Scale(_default_config(p), False, "")


def _rows(*charts):
    """Charts side by side, each keeping its own colour scale and legend."""
    return alt.hconcat(*charts).resolve_scale(color="independent")


def _json_safe(value):
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


# ---------------------------------------------------------------------------------------------
# Notebook 01: quadratics (seconds; float64 as in the notebook)

_NB01 = "01_quadratic_stability"
_NB01_FULL = {
    "STEPS": 200,
    "MAP_GRID": (60, 40),
    "MAP_STEPS": (25, 50, 100, 200),
    "GROWTH_POINTS": 150,
    "FIG17_STEPS": 30,
    "RMSPROP_STEPS": 2000,
}
_NB01_FAST = {"STEPS": 100, "MAP_GRID": (36, 20), "MAP_STEPS": (25, 50, 100), "GROWTH_POINTS": 80}
_NB01_FAST_RMSPROP = {"RMSPROP_STEPS": 1000}


def _table1(p: dict, progress=None):
    from . import stability, thresholds

    steps = max(p["MAP_STEPS"])
    low, high = p["eta_lambda_range"]
    eta_lambda = np.geomspace(low, high, p["MAP_GRID"][0])
    betas = np.linspace(0.0, p["beta1_max"], p["MAP_GRID"][1])
    fine = np.linspace(0.0, p["beta1_max"], 200)
    no_marker = pd.DataFrame({"eta_lambda": [], "beta1": []}, dtype=float)
    frames, maps = [], []
    with _float64():
        for method in thresholds.MOMENTUM_METHODS:
            label = stability.METHOD_LABELS[method]
            grid = stability.stability_grid(method, eta_lambda, betas, [steps])
            agreement = stability.map_agreement(grid, method)
            result = {
                "grid": grid,
                "boundary": stability.stability_boundary(method, fine, (low, high)),
                "marker": no_marker,
                "caption": pd.DataFrame(
                    {"text": [f"N = {steps}; colours agree with the line on {agreement:.1%}"]}
                ),
            }
            formula = thresholds.threshold_formula(method)
            maps.append(
                stability.stability_map_chart(result).properties(
                    title=f"{label}: λ* = {formula}", width=300, height=200
                )
            )
            threshold = stability.critical_eta(method, grid["beta1"].to_numpy())
            frames.append(
                grid.assign(
                    method=method,
                    label=label,
                    formula=formula,
                    threshold_eta_lambda=threshold,
                    past_threshold=grid["eta_lambda"].to_numpy() > threshold,
                    grew=grid["max_abs_x"].to_numpy() > 1.0,
                )
            )
    return pd.concat(frames, ignore_index=True), alt.concat(*maps, columns=3)


def _fig2(p: dict, progress=None):
    from . import charts, stability

    frames = []
    with _float64():
        for eta in p["etas"]:
            result = stability.divergence_runs(
                eta, p["beta1"], steps=p["STEPS"], methods=["ema_hb"]
            )
            row = result["summary"].iloc[0]
            verdict = "diverges" if row["diverging"] else "stable"
            frames.append(
                result["runs"].assign(
                    eta=eta,
                    beta1=p["beta1"],
                    threshold=row["threshold"],
                    diverging=bool(row["diverging"]),
                    run=f"η = {eta:g} ({verdict})",
                )
            )
    frame = pd.concat(frames, ignore_index=True)
    critical = stability.critical_eta("ema_hb", p["beta1"])
    chart = charts.line_chart(
        frame,
        y="abs_x",
        color="run",
        log_y=True,
        thresholds=1.0,
        formula="|x_0|",
        x_title="step t",
        y_title="|x_t| (log)",
        title=f"EMA heavy ball (β₁ = {p['beta1']:g}) on f(x) = x²/2: diverges iff η > {critical:g}",
    )
    return frame, chart.properties(width=520, height=280)


def _fig12(p: dict, progress=None):
    from . import stability

    frames, rows = [], []
    with _float64():
        for beta2 in p["beta2s"]:
            result = stability.rmsprop_runs(p["eta"], beta2, steps=p["RMSPROP_STEPS"])
            frozen = result["trajectories"]
            frozen = frozen[frozen["run"] != "RMSprop"]["abs_x"].to_numpy()
            frames.append(result["runs"].assign(eta=p["eta"], beta2=beta2, frozen_abs_x=frozen))
            panels = [
                stability.rmsprop_chart(result, quantity).properties(
                    title=f"β₂ = {beta2:g}: {title}", width=380
                )
                for quantity, title in (
                    ("x", "|x_t| of RMSprop and of the run with ν frozen"),
                    ("sharpness", "λ/P_t against its threshold 2/η"),
                    ("nu", "second moment ν_t"),
                )
            ]
            rows.append(alt.hconcat(*panels))
    return pd.concat(frames, ignore_index=True), alt.vconcat(*rows)


def _fig14(p: dict, progress=None):
    from . import stability

    result = stability.growth_curves(p["eta"], p["beta1"], points=p["GROWTH_POINTS"])
    frame = pd.concat(
        [result["curves"].assign(grid="linear"), result["log_curves"].assign(grid="log")],
        ignore_index=True,
    ).assign(eta=p["eta"], beta1=p["beta1"])
    chart = alt.hconcat(stability.growth_ratio_chart(result), stability.growth_lambda_chart(result))
    return frame, chart


def _fig17(p: dict, progress=None):
    from . import stability

    frames, columns = [], []
    with _float64():
        for eta in p["etas"]:
            result = stability.momentum_gradients(
                eta, p["beta1"], steps=p["FIG17_STEPS"], m0=p["m0"]
            )
            frames.append(result["runs"].assign(hb_eta=eta, beta1=p["beta1"]))
            panels = [
                stability.large_gradient_chart(result, q).properties(
                    title=f"η = {eta:g}: {name}", width=300, height=140
                )
                for q, name in (
                    ("x", "iterate"),
                    ("momentum", "momentum (heavy ball)"),
                    ("grad_sq", "squared gradient"),
                )
            ]
            columns.append(alt.vconcat(*panels))
    return pd.concat(frames, ignore_index=True), alt.hconcat(*columns)


def _prop1(p: dict, progress=None):
    from . import stability

    frames, rows = [], []
    with _float64():
        for index, case in enumerate(p["cases"]):
            hessian = stability.rotated_hessian(p["eigenvalues"], case["angle"])
            result = stability.preconditioning_runs(
                case["eta"],
                case["beta1"],
                (case["p1"], case["p2"]),
                hessian=hessian,
                steps=p["STEPS"],
            )
            frames.append(
                result["runs"].assign(
                    case=index + 1,
                    **case,
                    lam1_H=result["lam1_H"],
                    lam1_PHP=result["lam1_PHP"],
                    threshold=result["threshold"],
                    isomorphism_gap=result["isomorphism_gap"],
                )
            )
            text = (
                f"Case {index + 1}: η = {case['eta']:g}, P = diag({case['p1']:g}, {case['p2']:g}), "
                f"H rotated {case['angle']:g}°"
            )
            rows.append(
                alt.hconcat(
                    stability.preconditioning_chart(result).properties(title=text, width=380),
                    stability.eigenvalue_chart(result),
                )
            )
    return pd.concat(frames, ignore_index=True), alt.vconcat(*rows)


# ---------------------------------------------------------------------------------------------
# Notebooks 02 and 03: Adam and frozen Adam on the lab task

_NB02, _NB03 = "02_frozen_adam", "03_adam_aeos"
_FROZEN_DOMAIN = (1e-4, 1e-2)  # eta colour domains of the notebooks' panels
_ZOOM_DOMAIN = (1e-5, 1e-2)
_OPT_DOMAIN = (1e-5, 1e-1)

_FIG3_FULL = {
    "task": None,
    "STEPS": 1500,
    "TRACK_EVERY": 100,
    "EIG_TOL": 1e-2,
    "BETA2": 0.99,
    "FREEZE_ETA": 1e-4,
    "FREEZE_AT": 1000,
    "FROZEN_ETAS": (1e-4, 1.4e-4, 2e-4),
}
_FIG3_FAST = {"STEPS": 1200, "FROZEN_ETAS": (1e-4, 2e-4)}


def _fig3_base(p: dict) -> RunConfig:
    return _lab_config(
        p,
        eta=p["FREEZE_ETA"],
        beta1=0.9,
        beta2=p["BETA2"],
        steps=p["STEPS"],
        track_every=p["TRACK_EVERY"],
        eig_tol=p["EIG_TOL"],
    )


def _fig3(p: dict, progress=None):
    from . import adaptive

    result = adaptive.frozen_sweep(
        _fig3_base(p),
        p["FROZEN_ETAS"],
        freeze_at=p["FREEZE_AT"],
        freeze_eta=p["FREEZE_ETA"],
        selected=p["FROZEN_ETAS"][0],
        progress=progress,
    )
    loss, psharp, raw, versus = (b(result) for b in adaptive.frozen_charts(_FROZEN_DOMAIN))
    frame = pd.concat([result["frozen"], result["adam"]], ignore_index=True)
    chart = alt.vconcat(alt.hconcat(psharp, raw), alt.hconcat(loss, versus))
    return frame, chart


_FIG1_FULL = {
    "task": None,
    "EIG_TOL": 1e-2,
    "EQ_STEPS": 600,
    "EQ_TRACK": 50,
    "EQ_ETAS": (3e-4, 1e-3, 3e-3),
    "EQ_ETA": 1e-3,
    "EQ_BETA1S": (0.8, 0.9, 0.95),
    "EQ_BETA2S": (0.9, 0.99, 0.999),
}
_FIG1_FAST = {"EQ_STEPS": 400, "EQ_ETAS": (1e-3, 3e-3)}


def _fig1_base(p: dict) -> RunConfig:
    return _lab_config(p, steps=p["EQ_STEPS"], track_every=p["EQ_TRACK"], eig_tol=p["EIG_TOL"])


def _fig1(p: dict, progress=None):
    from . import adaptive

    grid = adaptive.EquilibriumGrid(
        etas=tuple(p["EQ_ETAS"]),
        beta1s=tuple(p["EQ_BETA1S"]),
        beta2s=tuple(p["EQ_BETA2S"]),
        eta=p["EQ_ETA"],
    )
    result = adaptive.equilibrium_sweeps(_fig1_base(p), grid, progress=progress)
    names = ("eta", "beta1", "beta2")
    frame = pd.concat(
        [result["tables"][name].assign(sweep=name) for name in names], ignore_index=True
    )
    return frame, _rows(*(adaptive.sweep_chart(result, name, _FROZEN_DOMAIN) for name in names))


_FIG8_FULL = {
    "task": None,
    "EIG_TOL": 1e-2,
    "FIG8_STEPS": 1500,
    "FIG8_TRACK": 100,
    "FIG8_BETA2": 0.99,
    "FIG8_ETAS": (1e-4, 2e-4),
    "FREEZE_ETA": 1e-4,
    "FREEZE_AT": 1000,
}
_FIG8_FAST = {"FIG8_STEPS": 1200}


def _fig8_base(p: dict) -> RunConfig:
    return _lab_config(
        p,
        eta=p["FREEZE_ETA"],
        beta1=0.9,
        beta2=p["FIG8_BETA2"],
        steps=p["FIG8_STEPS"],
        track_every=p["FIG8_TRACK"],
        eig_tol=p["EIG_TOL"],
    )


def _fig8(p: dict, progress=None):
    from . import adaptive

    result = adaptive.raw_rise_comparison(
        _fig8_base(p),
        p["FIG8_ETAS"],
        freeze_at=p["FREEZE_AT"],
        freeze_eta=p["FREEZE_ETA"],
        selected=p["FIG8_ETAS"][0],
        progress=progress,
    )
    chart = alt.hconcat(
        *(adaptive.raw_rise_chart(result, y, _FROZEN_DOMAIN) for y in ("ratio", "sharpness"))
    )
    return result["table"], chart


_ZOOM_FULL = {
    "task": None,
    "EIG_TOL": 1e-2,
    "FIG8_TRACK": 100,
    "FIG8_BETA2": 0.99,
    "ZOOM_LENGTH": 200,
    "ZOOM_STARTS": {1e-4: 1000, 1e-3: 300},
    "ZOOM_K": 4,
}
_ZOOM_FAST = {"ZOOM_LENGTH": 50}


def _zoom_base(p: dict) -> RunConfig:
    return _lab_config(
        p,
        beta1=0.9,
        beta2=p["FIG8_BETA2"],
        track_every=p["FIG8_TRACK"],
        eig_tol=p["EIG_TOL"],
    )


def _zooms(p: dict, progress) -> list[dict]:
    from . import adaptive

    base = _zoom_base(p)
    return [
        adaptive.zoom(base, eta, start, p["ZOOM_LENGTH"], k=p["ZOOM_K"], progress=progress)
        for eta, start in p["ZOOM_STARTS"].items()
    ]


def _zoom_frame(results: list[dict]) -> pd.DataFrame:
    return pd.concat([r["window"].assign(eta=r["eta"]) for r in results], ignore_index=True)


def _fig9(p: dict, progress=None):
    from . import adaptive

    results = _zooms(p, progress)
    columns = []
    for result in results:
        panels = [
            adaptive.zoom_chart(result, q).properties(width=420) for q in adaptive.ZOOM_QUANTITIES
        ]
        panels[0] = panels[0].properties(title=f"Adam at η = {format_sci(result['eta'])}")
        columns.append(alt.vconcat(*panels))
    return _zoom_frame(results), alt.hconcat(*columns)


def _fig18(p: dict, progress=None):
    from . import adaptive

    results = _zooms(p, progress)
    columns = []
    for result in results:
        loss = adaptive.zoom_chart(result, "loss").properties(
            title=f"Adam at η = {format_sci(result['eta'])}: train loss", width=420
        )
        eigs = adaptive.zoom_eig_chart(result).properties(width=420)
        grad = adaptive.zoom_grad_chart(result).properties(
            title=f"‖P^-½ g‖² and its part in the top {result['k']} eigenvectors", width=420
        )
        columns.append(alt.vconcat(loss, eigs, grad))
    return _zoom_frame(results), alt.hconcat(*columns)


_FIG5_FULL = {
    "task": None,
    "EIG_TOL": 1e-2,
    "OPT_STEPS": 800,
    "OPT_TRACK": 50,
    "OPT_ETAS": {
        "Adam, bias-corrected": (3e-4, 1e-3),
        "AdamW": (3e-4, 1e-3),
        "Adafactor": (3e-4, 1e-3),
        "AMSGrad": (3e-4, 1e-3),
        "Padam": (1e-2, 3e-2),
        "Nadam": (3e-4, 1e-3),
        "RMSprop": (3e-4, 1e-3),
        "Adagrad": (1e-2, 3e-2),
    },
}
_FIG5_FAST = {
    "OPT_STEPS": 300,
    "OPT_TRACK": 25,
    "OPT_ETAS": {
        "Adam, bias-corrected": (1e-3,),
        "AdamW": (1e-3,),
        "Adafactor": (1e-3,),
        "AMSGrad": (1e-3,),
        "Padam": (3e-2,),
        "Nadam": (1e-3,),
        "RMSprop": (1e-3,),
        "Adagrad": (1e-2,),
    },
}


def _fig5_base(p: dict) -> RunConfig:
    return _lab_config(p, steps=p["OPT_STEPS"], track_every=p["OPT_TRACK"], eig_tol=p["EIG_TOL"])


def _fig5(p: dict, progress=None):
    from . import adaptive

    result = adaptive.optimizer_runs(_fig5_base(p), p["OPT_ETAS"], progress=progress)
    frame = pd.concat(
        [table.assign(optimizer_label=label) for label, table in result["tables"].items()],
        ignore_index=True,
    )
    return frame, adaptive.optimizer_grid_chart(result, _OPT_DOMAIN)


_FIG15_FULL = {
    "task": None,
    "EIG_TOL": 1e-2,
    "CORNER_ETA": 3e-5,
    "CORNER_STEPS": 2000,
    "CORNER_FREEZE": 1000,
    "CORNER_TRACK": 100,
}
_FIG15_FAST = {"CORNER_STEPS": 1000, "CORNER_FREEZE": 500}


def _fig15_base(p: dict) -> RunConfig:
    return _lab_config(
        p,
        beta2=0.999,
        steps=p["CORNER_STEPS"],
        track_every=p["CORNER_TRACK"],
        eig_tol=p["EIG_TOL"],
    )


def _fig15(p: dict, progress=None):
    from . import adaptive

    result = adaptive.corner_case(
        _fig15_base(p), p["CORNER_ETA"], freeze_at=p["CORNER_FREEZE"], progress=progress
    )
    chart = _rows(*(adaptive.corner_chart(result, y) for y in ("ratio", "P_median", "sharpness")))
    return result["table"], chart


_FIG4_FULL = {
    "task": None,
    "EIG_TOL": 1e-2,
    "CNN_ETAS": (5e-4,),
    "CNN_STEPS": 200,
    "CNN_TRACK": 50,
    "CNN_N_TRAIN": 64,
}
_FIG4_FAST: dict = {}


def _fig4_base(p: dict) -> RunConfig:
    return _lab_config(
        p,
        model="cnn",
        steps=p["CNN_STEPS"],
        track_every=p["CNN_TRACK"],
        eig_tol=p["EIG_TOL"],
        n_train=p["CNN_N_TRAIN"],
    )


def _fig4(p: dict, progress=None):
    from . import adaptive

    result = adaptive.cnn_runs(_fig4_base(p), p["CNN_ETAS"], progress=progress)
    chart = alt.hconcat(
        *(adaptive.cnn_chart(result, y, _ZOOM_DOMAIN) for y in ("precond_sharpness", "loss"))
    )
    return result["table"], chart


# ---------------------------------------------------------------------------------------------
# Notebooks 04 and 05: minibatches, warmup and solutions on the default task

_NB04, _NB05 = "04_minibatch_and_warmup", "05_sharp_solutions"
_PRACTICE_EIG_TOL = 1e-2  # the panels' default

_FIG6_FULL = {
    "task": None,
    "TRACK_EVERY": 100,
    "BATCH_SIZES": (64, 256, None),
    "BATCH_ETAS": (3e-4, 1e-3),
    "BATCH_STEPS": 600,
}
_FIG6_FAST = {"TRACK_EVERY": 50, "BATCH_STEPS": 300}


def _practice_base(p: dict) -> RunConfig:
    return _default_config(p, eig_tol=_PRACTICE_EIG_TOL)


def _fig6(p: dict, progress=None):
    from . import practice

    panel = practice.batch_panel(
        _practice_scale(p),
        batch_sizes=p["BATCH_SIZES"],
        etas=p["BATCH_ETAS"],
        steps=p["BATCH_STEPS"],
        track_every=p["TRACK_EVERY"],
        eig_tol=_PRACTICE_EIG_TOL,
    )
    result, charts = _panel_result(panel, progress)
    return result["table"], alt.hconcat(*charts).resolve_scale(color="independent")


_FIG7_FULL = {
    "task": None,
    "TRACK_EVERY": 100,
    "WARMUP": 1000,
    "WARMUP_PEAK": 1e-3,
    "AFTER_WARMUP": 300,
}
_FIG7_FAST = {"TRACK_EVERY": 50, "WARMUP": 300, "AFTER_WARMUP": 100}


def _fig7_config(p: dict) -> RunConfig:
    from . import practice

    return practice.warmup_config(
        _practice_base(p),
        eta=p["WARMUP_PEAK"],
        warmup=p["WARMUP"],
        after=p["AFTER_WARMUP"],
        track_every=p["TRACK_EVERY"],
    )


def _fig7(p: dict, progress=None):
    from . import practice

    panel = practice.warmup_panel(
        _practice_scale(p),
        warmup=p["WARMUP"],
        after=p["AFTER_WARMUP"],
        eta=p["WARMUP_PEAK"],
        track_every=p["TRACK_EVERY"],
        eig_tol=_PRACTICE_EIG_TOL,
    )
    result, charts = _panel_result(panel, progress)
    config = result["config"]
    table = result["records"].assign(eta=config.eta, warmup_steps=config.warmup_steps)
    return table, alt.vconcat(*charts)


_FIG10_FULL = {
    "task": None,
    "LOSS_THRESHOLD": 0.01,
    "MAX_STEPS": 3000,
    "TRACK_EVERY": 250,
    "ETAS": (1e-4, 2e-4, 4e-4, 1e-3, 2e-3),
    "BETA2S": (0.9, 0.95, 0.99, 0.995, 0.999),
    "ETA_FOR_BETA2": 1e-3,
    "beta2_for_eta": 0.999,
    "LARGE_BATCH": 500,
    "LARGE_BATCH_ETAS": (4e-4, 1e-3, 2e-3),
    "LARGE_BATCH_BETA2S": (0.9, 0.99, 0.999),
    "LARGE_BATCH_STEPS": 700,
    "LARGE_BATCH_TRACK_EVERY": 100,
}
_FIG10_FAST = {
    "BETA2S": (0.9, 0.99, 0.999),
    "LARGE_BATCH_ETAS": (1e-3,),
    "LARGE_BATCH_BETA2S": (0.99, 0.999),
    "LARGE_BATCH_STEPS": 600,
}


def _fig10(p: dict, progress=None):
    from . import practice

    panel = practice.solutions_panel(
        _practice_scale(p),
        etas=p["ETAS"],
        beta2s=p["BETA2S"],
        eta_for_beta2=p["ETA_FOR_BETA2"],
        beta2_for_eta=p["beta2_for_eta"],
        loss_threshold=p["LOSS_THRESHOLD"],
        steps=p["MAX_STEPS"],
        track_every=p["TRACK_EVERY"],
        large_batch=p["LARGE_BATCH"],
        large_batch_etas=p["LARGE_BATCH_ETAS"],
        large_batch_beta2s=p["LARGE_BATCH_BETA2S"],
        large_batch_steps=p["LARGE_BATCH_STEPS"],
        large_batch_track_every=p["LARGE_BATCH_TRACK_EVERY"],
        eig_tol=_PRACTICE_EIG_TOL,
    )
    result, charts = _panel_result(panel, progress)
    return result["solutions"], alt.vconcat(*charts)


_FIG11_FULL = {
    "task": None,
    "LOSS_THRESHOLD": 0.01,
    "MAX_STEPS": 3000,
    "TRACK_EVERY": 250,
    "COMPARE_BETA2": 0.99,
    "COMPARE_ETAS": (1e-4, 2e-4, 4e-4),
    "MOMENTUM_ETAS": (0.5, 1.0, 1.5),
    "beta1": 0.9,
}
_FIG11_FAST = {"COMPARE_ETAS": (2e-4, 4e-4)}


def _fig11_base(p: dict) -> RunConfig:
    return _default_config(
        p,
        eig_tol=_PRACTICE_EIG_TOL,
        loss_threshold=p["LOSS_THRESHOLD"],
        steps=p["MAX_STEPS"],
        track_every=p["TRACK_EVERY"],
        batch_size=None,
        warmup_steps=0,
    )


def _fig11(p: dict, progress=None):
    from . import practice

    panel = practice.comparison_panel(
        _practice_scale(p),
        adam_etas=p["COMPARE_ETAS"],
        momentum_etas=p["MOMENTUM_ETAS"],
        beta2=p["COMPARE_BETA2"],
        beta2_options=(0.999,),
        loss_threshold=p["LOSS_THRESHOLD"],
        steps=p["MAX_STEPS"],
        track_every=p["TRACK_EVERY"],
        eig_tol=_PRACTICE_EIG_TOL,
    )
    result, (chart,) = _panel_result(panel, progress)
    return result["solutions"], chart


# ---------------------------------------------------------------------------------------------
# The registry

_FIGURE_LIST = [
    Figure(
        id="table1",
        paper="Table 1",
        notebook=_NB01,
        title="Stability maps of the five momentum methods",
        description="late |x_t| on x²/2 over (ηλ, β₁) for GD, heavy ball and Nesterov, with the "
        "closed-form thresholds",
        caption="Each map runs one momentum method on f(x) = x²/2 for N steps at every grid "
        "point (ηλ, β₁) and colours the largest |x_t| over the last tenth of the run: blue "
        "shrank, orange grew. The black line is the closed-form threshold of Table 1; the "
        "colours switch on it.",
        build=_table1,
        full={
            "MAP_GRID": _NB01_FULL["MAP_GRID"],
            "MAP_STEPS": _NB01_FULL["MAP_STEPS"],
            "eta_lambda_range": (0.1, 1000.0),
            "beta1_max": 0.99,
        },
        fast={"MAP_GRID": _NB01_FAST["MAP_GRID"], "MAP_STEPS": _NB01_FAST["MAP_STEPS"]},
    ),
    Figure(
        id="fig2",
        paper="Fig. 2",
        notebook=_NB01,
        title="EMA heavy ball on x²/2 below and above η = 38",
        description="|x_t| of EMA heavy ball (β₁ = 0.9) at several η: the runs past 38 diverge",
        caption="EMA heavy ball with β₁ = 0.9 minimises x²/2 from x₀ = 1. The curvature 1 "
        "passes the threshold 38/η exactly when η > 38: the runs below decay, the ones above "
        "grow by a sign flip every step.",
        build=_fig2,
        full={"STEPS": _NB01_FULL["STEPS"], "etas": (10.0, 30.0, 37.0, 39.0, 45.0), "beta1": 0.9},
        fast={"STEPS": _NB01_FAST["STEPS"]},
    ),
    Figure(
        id="fig12",
        paper="Fig. 12",
        notebook=_NB01,
        title="RMSprop halts its own divergence",
        description="RMSprop at η = 2.2 on x²/2 for three β₂: starts past 2/η, ν rises, no "
        "divergence",
        caption="RMSprop on x²/2 with ν₀ = 1 starts with λ/P above its threshold 2/η. The frozen "
        "run (ν held at its start) diverges; RMSprop's growing gradients raise ν, which pushes "
        "λ/P back under 2/η, so the iterate stays bounded.",
        build=_fig12,
        full={
            "RMSPROP_STEPS": _NB01_FULL["RMSPROP_STEPS"],
            "eta": 2.2,
            "beta2s": (0.9, 0.99, 0.999),
        },
        fast=_NB01_FAST_RMSPROP,
    ),
    Figure(
        id="fig14",
        paper="Fig. 14",
        notebook=_NB01,
        title="Growth factors just past the threshold",
        description="asymptotic growth factor of GD, EMA heavy ball and EMA Nesterov up to 1.1 λ*",
        caption="The largest root modulus of each method's recurrence against the curvature, up "
        "to 1.1 times the method's threshold. Past the threshold heavy ball's unstable "
        "direction grows much faster per step than GD's or Nesterov's.",
        build=_fig14,
        full={"GROWTH_POINTS": _NB01_FULL["GROWTH_POINTS"], "eta": 0.2, "beta1": 0.9},
        fast={"GROWTH_POINTS": _NB01_FAST["GROWTH_POINTS"]},
    ),
    Figure(
        id="fig17",
        paper="Fig. 17",
        notebook=_NB01,
        title="Momentum makes large gradients while stable",
        description="30 steps of EMA heavy ball from m₀ = 0.2 at stable η: the gradient grows "
        "before it decays; GD's never does",
        caption="EMA heavy ball (β₁ = 0.9) starts at x₀ = 1 with momentum 0.2 at learning rates "
        "below its threshold. Its squared gradient rises far above the start before decaying, "
        "while GD at the same long-run rate only shrinks.",
        build=_fig17,
        full={
            "FIG17_STEPS": _NB01_FULL["FIG17_STEPS"],
            "etas": (1.0, 20.0, 37.0),
            "beta1": 0.9,
            "m0": 0.2,
        },
    ),
    Figure(
        id="prop1",
        paper="Prop. 1 (§2)",
        notebook=_NB01,
        title="The threshold judges P^-1/2 H P^-1/2, not H",
        description="frozen-P EMA heavy ball on a 2x2 quadratic: λ₁(P^-1/2 H P^-1/2) decides "
        "divergence",
        caption="EMA heavy ball with a fixed diagonal preconditioner P on a two-dimensional "
        "quadratic, next to the same method with P = I. In each case λ₁(H) and "
        "λ₁(P^-1/2 H P^-1/2) sit on opposite sides of 38/η, and the preconditioned run follows "
        "the second.",
        build=_prop1,
        full={
            "STEPS": _NB01_FULL["STEPS"],
            "eigenvalues": (1.0, 20.0),
            "cases": (
                {"eta": 3.0, "beta1": 0.9, "p1": 1.0, "p2": 4.0, "angle": 0.0},
                {"eta": 1.0, "beta1": 0.9, "p1": 1.0, "p2": 0.25, "angle": 0.0},
                {"eta": 1.0, "beta1": 0.9, "p1": 3.0, "p2": 0.2, "angle": 30.0},
            ),
        },
        fast={"STEPS": _NB01_FAST["STEPS"]},
    ),
    Figure(
        id="fig3",
        paper="Fig. 3",
        notebook=_NB02,
        title="Frozen Adam at the edge of stability",
        description="Adam's P frozen at step 1000, then EMA heavy ball: λ₁(P⁻¹H) settles at "
        "38/η, λ₁(H) stops rising",
        caption="Preconditioned heavy ball with P taken from an Adam run and held fixed (frozen "
        "Adam), from the initialisation at several η. The preconditioned sharpness rises to "
        "38/η and stays; the raw sharpness stops growing, unlike under Adam.",
        build=_fig3,
        full=_FIG3_FULL,
        fast=_FIG3_FAST,
        base=_fig3_base,
    ),
    Figure(
        id="fig1",
        paper="Fig. 1",
        notebook=_NB03,
        title="Adam at the adaptive edge of stability",
        description="λ₁(P⁻¹H) of full-batch Adam over sweeps of η, β₁ and β₂, each at its "
        "threshold",
        caption="Full-batch Adam on the lab task for a sweep of η, of β₁ and of β₂. In every run "
        "the top eigenvalue of the preconditioned Hessian climbs to (2+2β₁)/((1−β₁)η), drawn "
        "dashed, and stays there.",
        build=_fig1,
        full=_FIG1_FULL,
        fast=_FIG1_FAST,
        base=_fig1_base,
    ),
    Figure(
        id="fig8",
        paper="Fig. 8",
        notebook=_NB03,
        title="Raw sharpness keeps rising under Adam, not under frozen Adam",
        description="Adam (solid) and frozen Adam (dashed): both at the threshold, only Adam's "
        "λ₁(H) keeps climbing",
        caption="Adam and frozen Adam at the same learning rates. Both hold λ₁(P⁻¹H) at the "
        "threshold, but only Adam's raw sharpness λ₁(H) keeps growing: Adam enlarges P to "
        "reach sharper regions.",
        build=_fig8,
        full=_FIG8_FULL,
        fast=_FIG8_FAST,
        base=_fig8_base,
    ),
    Figure(
        id="fig9",
        paper="Fig. 9",
        notebook=_NB03,
        title="A window measured at every step",
        description="psharp, sharpness, |g|, change of P and loss at every step of a 200-step "
        "window, threshold crossings in red",
        caption="Adam measured at every step inside a window late in training, for two learning "
        "rates. Red lines mark where λ₁(P⁻¹H) crosses the threshold upwards; gradient bursts "
        "and rises of P follow.",
        build=_fig9,
        full=_ZOOM_FULL,
        fast=_ZOOM_FAST,
        base=_zoom_base,
    ),
    Figure(
        id="fig18",
        paper="Fig. 18",
        notebook=_NB03,
        title="Gradient bursts live in the top eigenvectors",
        description="top-4 eigenvalues of P⁻¹H and the part of |P^-½ g|² in their eigenvectors",
        caption="The same windows: the top four eigenvalues of the preconditioned Hessian, and "
        "the squared preconditioned gradient split into its part in their eigenvectors and the "
        "rest. The bursts sit almost entirely in the top eigenvectors.",
        build=_fig18,
        full=_ZOOM_FULL,
        fast=_ZOOM_FAST,
        base=_zoom_base,
    ),
    Figure(
        id="fig5",
        paper="Fig. 5",
        notebook=_NB03,
        title="Eight adaptive optimizers, each at its own threshold",
        description="λ₁(P⁻¹H) of AdamW, Adafactor, AMSGrad, Padam, Nadam, RMSprop, Adagrad and "
        "bias-corrected Adam against their thresholds",
        caption="Eight adaptive optimizers train the same network full batch. Each one's "
        "preconditioned sharpness reaches the threshold of its frozen counterpart (given in "
        "the panel title) and stays at or just above it.",
        build=_fig5,
        full=_FIG5_FULL,
        fast=_FIG5_FAST,
        base=_fig5_base,
    ),
    Figure(
        id="fig15",
        paper="Figs. 15 and 16",
        notebook=_NB03,
        title="The corner case at a tiny learning rate",
        description="Adam at η = 3e-5 stays short of its threshold; the run with P frozen mid-way",
        caption="At a very small learning rate Adam's preconditioned sharpness stays below the "
        "threshold. A second run freezes P in the middle; what this lab task shows there is "
        "written in notebook 03 (e).",
        build=_fig15,
        full=_FIG15_FULL,
        fast=_FIG15_FAST,
        base=_fig15_base,
    ),
    Figure(
        id="fig4",
        paper="Fig. 4",
        notebook=_NB03,
        title="The CNN at the adaptive edge of stability",
        description="Adam on the paper's CNN (64 digits on the CPU): λ₁(P⁻¹H) settles at 38/η",
        caption="Full-batch Adam trains the paper's convolutional network. Its preconditioned "
        "sharpness equilibrates at 38/η as the fully connected network's does.",
        build=_fig4,
        full=_FIG4_FULL,
        fast=_FIG4_FAST,
        base=_fig4_base,
    ),
    Figure(
        id="fig6",
        paper="Fig. 6",
        notebook=_NB04,
        title="Minibatch Adam settles below the full-batch threshold",
        description="λ₁(P⁻¹H) on the full training set for batch sizes 64, 256 and full batch",
        caption="Adam with minibatches of several sizes. The preconditioned sharpness, measured "
        "on the whole training set, settles below the full-batch threshold, the further below "
        "the smaller the batch, and lower at the larger learning rate.",
        build=_fig6,
        full=_FIG6_FULL,
        fast=_FIG6_FAST,
        base=_practice_base,
    ),
    Figure(
        id="fig7",
        paper="Fig. 7",
        notebook=_NB04,
        title="Warmup pushes the preconditioned sharpness down",
        description="linear warmup: once λ₁(P⁻¹H) meets 38/η_t it rides down along it",
        caption="Adam with a linear learning-rate warmup. The threshold 38/η_t falls as η_t "
        "grows; once the preconditioned sharpness meets it, it follows the threshold down to "
        "the end of the warmup.",
        build=_fig7,
        full=_FIG7_FULL,
        fast=_FIG7_FAST,
        base=_fig7_config,
    ),
    Figure(
        id="fig10",
        paper="Figs. 10 and 19",
        notebook=_NB05,
        title="Sharpness and held-out accuracy at the solution",
        description="λ₁(H) and held-out accuracy where the train loss first drops below 0.01, "
        "against η and β₂",
        caption="Adam trained until the training loss first falls below the threshold, full "
        "batch and with a large batch. Left: the raw sharpness at that solution; right: the "
        "held-out accuracy there (±1 standard error), against η and against 1 − β₂.",
        build=_fig10,
        full=_FIG10_FULL,
        fast=_FIG10_FAST,
        base=_practice_base,
    ),
    Figure(
        id="fig11",
        paper="Fig. 11",
        notebook=_NB05,
        title="Adam against momentum at equal training speed",
        description="sharpness at the solution against steps to reach it, Adam (β₂ = 0.99) and "
        "EMA heavy ball",
        caption="Each point is one run, placed at the steps it needed to reach the loss "
        "threshold and the raw sharpness it found there. Momentum stops under its threshold "
        "38/η (grey dashes); Adam, free to grow P, ends sharper at the same speed.",
        build=_fig11,
        full=_FIG11_FULL,
        fast=_FIG11_FAST,
        base=_fig11_base,
    ),
]

FIGURES: dict[str, Figure] = {figure.id: figure for figure in _FIGURE_LIST}
"""Every exportable figure by id, in notebook order."""

ALIASES = {"fig16": "fig15", "fig19": "fig10"}
"""Paper figures drawn by another entry (same runs, same export)."""


def get_figure(name: str) -> Figure:
    """The :class:`Figure` called ``name`` (case-insensitive; aliases such as fig16 allowed)."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in FIGURES:
        raise ValueError(
            f"figure must be one of {', '.join(FIGURES)} (or {', '.join(ALIASES)}), got {name!r}"
        )
    return FIGURES[key]


def listing() -> str:
    """One line per figure: id, paper figure, notebook, what it shows."""
    id_width = max(len(k) for k in FIGURES)
    paper_width = max(len(f.paper) for f in FIGURES.values())
    notebook_width = max(len(f.notebook) for f in FIGURES.values())
    lines = []
    for figure in FIGURES.values():
        cost = "trains" if figure.trains else "quadratic"
        lines.append(
            f"{figure.id:<{id_width}}  {figure.paper:<{paper_width}}  "
            f"{figure.notebook:<{notebook_width}}  {cost:<9}  {figure.description}"
        )
    aliases = ", ".join(f"{a} = {t}" for a, t in ALIASES.items())
    lines.append(f"aliases: {aliases}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Building and exporting


def build(
    name: str,
    *,
    fast: bool = False,
    overrides: Mapping | None = None,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, alt.TopLevelMixin, dict]:
    """Compute figure ``name``: returns (tidy data, Altair chart, the parameters used).

    ``fast`` takes the notebook's fast-variant sizes; ``overrides`` replaces parameters by
    name (see ``get_figure(name).params()``); ``progress(done, total, message)`` hears about
    training runs that are not cached yet.
    """
    from . import charts

    charts.use_theme()
    figure = get_figure(name)
    params = figure.params(fast, overrides)
    frame, chart = figure.build(params, progress)
    return frame, chart, params


def export(
    name: str,
    out_dir: str | Path,
    *,
    fmt: str = "png",
    fast: bool = False,
    overrides: Mapping | None = None,
    scale_factor: float = 2.0,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write figure ``name`` into ``out_dir`` (created if missing) as ``<id>.<fmt>`` (png or
    svg, via vl-convert), ``<id>.csv`` (its tidy data) and ``<id>.json`` (metadata).

    Returns the three paths by kind ("chart", "data", "metadata").
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not (isinstance(scale_factor, (int, float)) and math.isfinite(scale_factor)) or (
        scale_factor <= 0
    ):
        raise ValueError(f"scale must be finite and > 0, got {scale_factor!r}")
    figure = get_figure(name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    frame, chart, params = build(figure.id, fast=fast, overrides=overrides, progress=progress)
    paths = {
        "chart": out / f"{figure.id}.{fmt}",
        "data": out / f"{figure.id}.csv",
        "metadata": out / f"{figure.id}.json",
    }
    chart.save(paths["chart"], format=fmt, scale_factor=scale_factor)
    frame.to_csv(paths["data"], index=False)
    metadata = {
        "figure": figure.id,
        "paper_figure": figure.paper,
        "notebook": figure.notebook,
        "title": figure.title,
        "caption": figure.caption,
        "variant": "fast" if fast else "full",
        "parameters": _json_safe(params),
        "base_config": _json_safe(figure.base(params).to_dict()) if figure.trains else None,
        "rows": len(frame),
        "columns": list(map(str, frame.columns)),
        "files": {kind: path.name for kind, path in paths.items()},
        "library_version": __version__,
        "altair_version": alt.__version__,
        "device": _device(),
        "seconds": round(time.perf_counter() - start, 2),
    }
    paths["metadata"].write_text(json.dumps(metadata, indent=1, ensure_ascii=False) + "\n")
    return paths


def _device() -> str:
    import jax

    device = jax.devices()[0]
    return f"{device.platform} ({device.device_kind})"


def text_progress(prefix: str = "", stream=None, every: float = 5.0) -> Progress:
    """A ``progress(done, total, message)`` printing a line when the message changes and at
    most every ``every`` seconds otherwise (to ``stream``, default stderr)."""
    state = {"message": None, "time": 0.0}

    def report(done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if message == state["message"] and now - state["time"] < every:
            return
        state.update(message=message, time=now)
        share = done / total if total else 1.0
        print(f"{prefix}{message} ({share:.0%} of {total} steps)", file=stream or sys.stderr)

    return report
