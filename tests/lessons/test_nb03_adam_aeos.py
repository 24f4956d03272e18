"""Lesson nb03_adam_aeos: parameters, part 1's micro network (Fig. 1's sweeps and your run,
the instability cycle, the self-check's grid), Fig. 1's sweeps, raw sharpness under Adam and
frozen Adam, the zoom, the other optimizers, the corner case and the CNN, their views, the
panels, the slider grids and what the bank holds for them, and the figures.

Network runs use a tiny network (16 wide, depth 2, 64 digits) and tiny sizes, so the file
compiles a handful of kernels; the CNN is not trained here (compiling its measurement takes
half a minute), its views are drawn from a result written out by hand. The micro runs use the
notebook's own micro settings (2000 steps, a few tenths of a second each after compiling).
Expected values come from the runs' own records through numpy, from closed forms or from the
paper's settings written out here.
"""

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from chart_data import dataset_with

from aeos_lab import figures as registry
from aeos_lab.engine import runs, train
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.tasks import LAB_TASK, MICRO_TASK, PAPER_TASK, Scale
from aeos_lab.lessons.nb03_adam_aeos import (
    experiments,
    experiments_bank,
    experiments_micro,
    panels,
    panels_micro,
    params,
    views,
    views_micro,
)

FIGURES = registry.of_notebook(params.VARIANTS.notebook)

pytestmark = pytest.mark.usefixtures("isolated_run_cache")

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "03_adam_aeos.ipynb"

TASK = RunConfig(n_train=64, n_test=32, label_noise=1.0, width=16, depth=2)
SMALL = params.FAST.replace(
    scale=Scale(TASK, False, "a tiny task for tests"),
    eq_steps=29,  # last third: steps 20, 25, 29
    eq_track=5,
    eq_etas=(1e-3, 2e-3),
    eq_slider_etas=(1e-3, 2e-3, 4e-3),
    eq_beta1s=(0.8, 0.9),
    eq_beta2s=(0.99, 0.999),
    fig8_steps=29,
    fig8_track=5,
    fig8_etas=(1e-3, 2e-3),
    freeze_eta=1e-3,
    freeze_at=10,
    zoom_length=10,
    zoom_starts=((1e-3, 10), (3e-3, 20)),
    zoom_k=2,
    opt_steps=29,
    opt_track=5,
    opt_etas=(("RMSprop", (1e-3,)), ("Nadam", (1e-3, 2e-3))),
    corner_eta=1e-4,
    corner_steps=40,
    corner_freeze=20,
    corner_track=10,
)
MICRO = params.FULL  # the micro settings are the notebook's in every variant
B = 0.9
ADAM = (2 + 2 * B) / (1 - B)  # eta * threshold of Adam, Table 1 (EMA heavy ball)
NADAM = (2 + 2 * B) / ((1 - B) * (1 + 2 * B))  # EMA Nesterov


def late(config: RunConfig) -> pd.DataFrame:
    """The records of ``config``'s run in its last third (steps >= 2/3 of the last step)."""
    records = train.run(config).records
    return records[records["step"] >= records["step"].max() * 2 / 3]


# ---------------------------------------------------------------------------------------------
# parameters


def test_variants_hold_the_notebooks_sizes_and_the_papers():
    full, fast, paper = params.FULL, params.FAST, params.PAPER
    assert (full.eq_steps, full.fig8_steps, full.zoom_length) == (600, 1500, 200)
    assert (full.opt_steps, full.corner_steps, full.corner_freeze) == (800, 2000, 1000)
    assert full.eq_etas == (3e-4, 1e-3, 3e-3) and dict(full.zoom_starts) == {1e-4: 1000, 1e-3: 300}
    assert dict(full.opt_etas)["Padam"] == (1e-2, 3e-2) and len(full.opt_etas) == 8
    assert (full.cnn_etas, full.cnn_steps, full.cnn_n_train) == ((5e-4,), 200, 64)
    changed = {k for k, v in fast.values().items() if v != full.values()[k]}
    assert changed == {
        "eq_steps",
        "eq_etas",
        "fig8_steps",
        "zoom_length",
        "opt_steps",
        "opt_track",
        "opt_etas",
        "corner_steps",
        "corner_freeze",
    }
    assert set(dict(fast.opt_etas).values()) == {(1e-3,), (3e-2,), (1e-2,)}
    assert [label for label, _ in fast.opt_etas] == [label for label, _ in full.opt_etas]
    # sec. 4 and 6, App. G.2: Fig. 1 and 8's learning rates, P from step 1100 at eta 2e-5
    assert paper.eq_etas == (1e-5, 3e-5, 1e-4, 3e-4) and paper.eq_eta == 1e-4
    assert paper.fig8_etas == (5e-5, 1e-4, 2e-4, 4e-4)
    assert (paper.freeze_at, paper.freeze_eta, paper.eig_tol) == (1100, 2e-5, 1e-3)
    assert dict(paper.zoom_starts) == {5e-5: 3000, 2e-4: 1500}
    np.testing.assert_allclose(dict(paper.opt_etas)["Adagrad"], np.geomspace(1e-2, 1e-1, 5))
    np.testing.assert_allclose(dict(paper.opt_etas)["AdamW"], np.geomspace(3e-5, 1e-3, 5))
    assert (paper.corner_eta, paper.corner_freeze) == (2.236e-6, 6000)  # Fig. 16
    assert paper.cnn_n_train is None and paper.cnn_etas == (1e-5, 3e-5, 1e-4)


@pytest.mark.parametrize("variant", ["full", "fast", "paper"])
def test_every_field_is_documented_and_each_slider_holds_its_start(variant):
    P = getattr(params, variant.upper())
    assert all(doc for _, _, doc in P.rows())

    def holds(bounds, *etas):  # within rounding (np.logspace(-5, -3)[0] < 1e-5)
        return all(bounds[0] * (1 - 1e-9) <= eta <= bounds[1] * (1 + 1e-9) for eta in etas)

    assert holds(P.eq_eta_range, P.eq_eta, *P.eq_etas)
    assert holds(P.fig8_eta_range, *P.fig8_etas)
    assert holds(P.opt_eta_range, *(eta for _, etas in P.opt_etas for eta in etas))
    assert holds(P.cnn_eta_range, *P.cnn_etas, *P.cnn_slider_etas)
    assert holds(P.eq_eta_range, *P.eq_slider_etas)
    assert P.corner_freeze < P.corner_steps and P.freeze_at < P.fig8_steps
    # grid sliders: every start and every sweep value is a slider position
    assert {*P.eq_etas, P.eq_eta} <= set(P.eq_slider_etas) and P.beta1 in P.eq_beta1s
    assert P.beta2 in P.eq_beta2s and {P.beta1} <= set(P.fig8_beta1s) & set(P.zoom_beta1s)
    assert P.fig8_beta2 in P.fig8_beta2s and P.fig8_beta2 in P.zoom_beta2s
    assert P.corner_eta in P.corner_etas and set(P.cnn_etas) <= set(P.cnn_slider_etas)
    for beta1s, beta2s in ((P.opt_beta1s, P.opt_beta2s), (P.corner_beta1s, P.corner_beta2s)):
        assert P.beta1 in beta1s and P.beta2 in beta2s
    assert P.beta1 in P.cnn_beta1s and P.beta2 in P.cnn_beta2s
    # part 1: the micro sliders start inside their ranges, the sweeps and the grid too
    low, high = P.micro_eta_range
    assert all(low <= e <= high for e in (P.micro_eta, *P.micro_etas, *P.check_etas))
    assert P.micro_beta1_range[0] <= min(P.micro_beta1s) and max(P.micro_beta1s) <= 0.95
    assert P.micro_beta2_range == (0.9, 0.999) and P.micro_cycle_beta2 in P.micro_beta2s
    assert len(P.check_etas) >= 5 and len(P.check_beta1s) >= 3 and len(P.check_beta2s) >= 3


def test_select_picks_the_variant_and_each_section_its_runs():
    fast = params.select(fast=True, platform=None)
    assert fast.variant == "fast" and fast.eq_steps == 400
    assert fast.base == RunConfig(**LAB_TASK)
    no_gpu = params.select(True, fast=False, platform=None)
    assert no_gpu.variant == "full" and no_gpu.base == RunConfig(**LAB_TASK)
    paper = params.select(True, fast=True, platform="gpu")
    assert paper.variant == "paper" and paper.base == RunConfig(**PAPER_TASK)

    eq = experiments.equilibrium_base(fast)
    assert (eq.steps, eq.track_every, eq.eig_tol, eq.beta1, eq.beta2) == (400, 50, 1e-2, B, 0.999)
    fig8 = experiments.fig8_base(fast)
    assert (fig8.eta, fig8.beta2, fig8.steps, fig8.track_every) == (1e-4, 0.99, 1200, 100)
    opt = experiments.optimizer_base(fast)
    assert (opt.steps, opt.track_every) == (300, 25)
    corner = experiments.corner_base(fast)
    assert (corner.steps, corner.track_every, corner.beta2) == (1000, 100, 0.999)
    cnn = experiments.cnn_base(fast)
    assert (cnn.model, cnn.n_train, cnn.steps, cnn.width) == ("cnn", 64, 200, 100)
    assert experiments.cnn_base(paper).n_train == PAPER_TASK["n_train"]


def test_the_notebook_takes_its_parameters_from_the_lesson():
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    (cell,) = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert "params.select(PAPER_SCALE)" in cell.source
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    imports = "from aeos_lab.lessons.nb03_adam_aeos import experiments_micro, panels, panels_micro"
    assert imports in code
    assert "adaptive" not in code and "globals()" not in code
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in cells[1:])


# ---------------------------------------------------------------------------------------------
# (a) the equilibrium (Fig. 1)


def test_equilibrium_grid_lists_the_three_sweeps_and_their_runs():
    grid = experiments.EquilibriumGrid(
        etas=(1e-3, 3e-3), beta1s=(0.8, 0.9), beta2s=(0.9, 0.999), eta=1e-3
    )
    settings = grid.settings()
    assert settings["eta"] == [(1e-3, 0.9, 0.999), (3e-3, 0.9, 0.999)]
    assert settings["beta1"] == [(1e-3, 0.8, 0.999), (1e-3, 0.9, 0.999)]
    assert settings["beta2"] == [(1e-3, 0.9, 0.9), (1e-3, 0.9, 0.999)]
    assert grid.snap(1.01e-3, 0.8001, 0.9) == (1e-3, 0.8, 0.9)
    assert grid.snap(2e-3, 0.85, 0.95) == (2e-3, 0.85, 0.95)
    configs = experiments.equilibrium_configs(TASK, grid)
    assert [(c.eta, c.beta1, c.beta2) for c in configs] == [
        (1e-3, 0.9, 0.999),
        (3e-3, 0.9, 0.999),
        (1e-3, 0.8, 0.999),
        (1e-3, 0.9, 0.9),
    ]
    assert {c.optimizer for c in configs} == {"adam"}
    off_grid = experiments.equilibrium_configs(TASK, grid, (2e-3, 0.85, 0.95))
    assert len(off_grid) == 5 and (off_grid[-1].eta, off_grid[-1].beta1) == (2e-3, 0.85)


def test_equilibrium_sweeps_summary_matches_the_records_and_draws():
    base = experiments.equilibrium_base(SMALL)
    grid = experiments.equilibrium_grid(SMALL)
    result = experiments.equilibrium_sweeps(base, grid, selected=(1e-3, 0.8, 0.999))
    assert result.selected == (1e-3, 0.8, 0.999)
    summary = result.summary.set_index(["sweep", "eta", "beta1", "beta2"])
    assert len(summary) == 6
    for (sweep, eta, beta1, beta2), row in summary.iterrows():
        records = late(experiments.adam_at(base, eta, beta1, beta2))
        assert row["late_ratio"] == pytest.approx(np.median(records["ratio"])), sweep
        assert row["threshold"] == pytest.approx((2 + 2 * beta1) / ((1 - beta1) * eta))
    assert summary.loc[("beta1", 1e-3, 0.8, 0.999), "formula"] == "18/η"
    chosen = late(experiments.adam_at(base, 1e-3, 0.8, 0.999))
    assert result.chosen_ratio == pytest.approx(np.median(chosen["ratio"]))
    assert result.chosen_threshold == pytest.approx(18 / 1e-3)
    assert set(result.chosen["quantity"]) == {"λ₁(P⁻¹H)", "λ₁(H)"}
    sweeps = result.sweeps
    assert set(sweeps["sweep"]) == {"eta", "beta1", "beta2"} and 0 not in set(sweeps["step"])
    bold = sweeps[sweeps["selected"]]
    assert set(bold["sweep"]) == {"beta1"} and set(bold["beta1"]) == {0.8}

    domain = SMALL.eq_eta_range
    rules = dataset_with(views.sweep_chart(result, "beta1", domain), "threshold")
    assert sorted(rules["label"]) == ["18/η = 1.8e4", "38/η = 3.8e4"]
    assert len(dataset_with(views.sweep_chart(result, "beta2", domain), "threshold")) == 1
    eta_rules = dataset_with(views.sweep_chart(result, "eta", domain), "threshold")
    assert sorted(eta_rules["eta"]) == [1e-3, 2e-3]
    assert views.chosen_run_chart(result).to_dict()["title"].startswith("Your setting: η = 1e-3")
    frame, caption = views.equilibrium_table(result)
    assert len(frame) == 6 and f"{result.chosen_ratio:.3f}" in caption


# ---------------------------------------------------------------------------------------------
# (b) raw sharpness under Adam and frozen Adam (Fig. 8)


def test_raw_rise_comparison_measures_both_runs_over_the_last_third():
    base = experiments.fig8_base(SMALL)
    result = experiments.raw_rise_comparison(
        base, SMALL.fig8_etas, freeze_at=10, freeze_eta=1e-3, selected=2e-3
    )
    assert len(result.summary) == 4 and result.formula == "38/η"
    assert (result.steps, result.fraction) == (29, pytest.approx(1 / 3))
    configs = {
        "Adam": base.replace(optimizer="adam", eta=2e-3),
        "frozen Adam": base.replace(
            optimizer="frozen_adam", eta=2e-3, freeze_at=10, freeze_eta=1e-3
        ),
    }
    summary = result.summary.set_index(["eta", "run"])
    for run, config in configs.items():
        records = late(config)
        sharp = records["sharpness"].to_numpy()
        row = summary.loc[(2e-3, run)]
        assert row["late_ratio"] == pytest.approx(np.median(records["ratio"]))
        assert (row["sharpness_from"], row["sharpness_to"]) == pytest.approx((sharp[0], sharp[-1]))
        steps = records["step"].to_numpy(float)
        slope = np.polyfit(steps, sharp, 1)[0]
        change = slope * (steps[-1] - steps[0]) / sharp.mean()
        assert row["trend"] == pytest.approx(change)
        assert row["trend_points"] == len(sharp) and row["trend_stderr"] >= 0
        assert row["selected"] and not summary.loc[(1e-3, run), "selected"]
    assert set(result.table["run"]) == {"Adam", "frozen Adam"}

    domain = SMALL.fig8_eta_range
    ratio = views.raw_rise_chart(result, "ratio", domain)
    assert dataset_with(ratio, "label")["label"].tolist() == ["λ₁(P⁻¹H) = 38/η = 1"]
    shade = dataset_with(views.raw_rise_chart(result, "sharpness", domain), "start")
    assert (shade["start"].item(), shade["stop"].item()) == pytest.approx((29 * 2 / 3, 29))
    frame, _ = views.raw_rise_table(result)
    assert frame["run"].tolist() == ["Adam", "frozen Adam"] * 2


# ---------------------------------------------------------------------------------------------
# (c) the zoom (Figs. 9 and 18)


def test_zoom_config_and_window_start():
    config = experiments.zoom_config(TASK, 1e-3, 100, 20, k=3)
    assert (config.optimizer, config.steps, config.dense_window, config.k) == (
        "adam",
        120,
        (100, 120),
        3,
    )
    starts = ((1e-4, 1000), (1e-3, 300))
    assert experiments.zoom_start(starts, 2e-4) == 1000  # nearer 1e-4 on a log scale
    assert experiments.zoom_start(dict(starts), 5e-4) == 300


def test_zoom_splits_the_preconditioned_gradient():
    base = experiments.fig8_base(SMALL)
    result = experiments.zoom(base, 1e-3, 10, 10, k=2)
    records = train.run(experiments.zoom_config(base, 1e-3, 10, 10, k=2)).records
    window = records[records["step"].between(10, 20)]
    assert list(result.window["step"]) == list(range(10, 21))
    share = window["precond_grad_top_share"].to_numpy()
    total = window["precond_grad_norm"].to_numpy() ** 2
    np.testing.assert_allclose(result.window["top_sq"], share * total)
    np.testing.assert_allclose(result.window["top_sq"] + result.window["rest_sq"], total)
    mean_p = window["P_mean"].to_numpy()
    np.testing.assert_allclose(result.window["P_change"], 100 * (mean_p / mean_p[0] - 1))
    assert result.mean_top_share == pytest.approx(share.mean())
    assert result.burst_top_share == pytest.approx(share[total >= np.quantile(total, 0.9)].mean())
    assert result.quiet_top_share == pytest.approx(share[total <= np.median(total)].mean())
    ratio = window["ratio"].to_numpy()
    steps = window["step"].to_numpy()
    up = [int(s) for s, a, b in zip(steps[1:], ratio[:-1], ratio[1:], strict=True) if a <= 1 < b]
    assert result.crossings == up
    assert result.late_ratio == pytest.approx(np.median(ratio))
    assert result.threshold == pytest.approx(ADAM / 1e-3) and result.formula == "38/η"
    assert set(result.eigs["eigenvalue"]) == {"λ1", "λ2"}
    for quantity in views.ZOOM_QUANTITIES:
        assert dataset_with(views.zoom_chart(result, quantity), quantity)["step"].max() == 20
    parts = dataset_with(views.zoom_grad_chart(result), "part")
    assert set(parts["part"]) == {"all", "in the top 2", "rest"}
    views.zoom_eig_chart(result).to_dict()
    frame, _ = views.zoom_table(result)
    assert frame["upward crossings"].tolist() == [len(up)]


# ---------------------------------------------------------------------------------------------
# (d) the other adaptive optimizers (Fig. 5)


def test_optimizer_settings_follow_the_paper():
    rms = experiments.optimizer_config(TASK, "RMSprop", 1e-3)
    assert rms.optimizer == "rmsprop" and rms.beta2 == 0.995
    padam = experiments.optimizer_config(TASK, "Padam", 1e-2)
    assert dict(padam.extra)["exponent"] == 0.25
    adam_bc = experiments.optimizer_config(TASK, "Adam, bias-corrected", 1e-3)
    assert adam_bc.optimizer == "adam" and adam_bc.bias_correction is True
    adafactor = experiments.optimizer_config(TASK, "Adafactor", 1e-3)
    assert dict(adafactor.extra)["decay_rate"] == 0.8
    assert set(experiments.OPTIMIZER_SETTINGS) == {label for label, _ in params.FULL.opt_etas}
    configs = experiments.optimizer_configs(TASK, SMALL.opt_etas, ("RMSprop", 3e-3))
    assert [(c.optimizer, c.eta) for c in configs] == [
        ("rmsprop", 1e-3),
        ("nadam", 1e-3),
        ("nadam", 2e-3),
        ("rmsprop", 3e-3),
    ]


def test_optimizer_runs_sit_at_their_own_thresholds():
    base = experiments.optimizer_base(SMALL)
    result = experiments.optimizer_runs(base, SMALL.opt_etas, selected=("Nadam", 2e-3))
    assert result.labels == ("RMSprop", "Nadam") and result.selected == ("Nadam", 2e-3)
    summary = result.summary.set_index(["label", "eta"])
    expected = {("RMSprop", 1e-3): 2 / 1e-3, ("Nadam", 1e-3): NADAM / 1e-3}
    expected[("Nadam", 2e-3)] = NADAM / 2e-3
    for (label, eta), threshold in expected.items():
        row = summary.loc[(label, eta)]
        assert row["threshold"] == pytest.approx(threshold)
        ratio = late(experiments.optimizer_config(base, label, eta))["ratio"].to_numpy()
        assert row["late_ratio"] == pytest.approx(np.median(ratio))
        assert row["share_above"] == pytest.approx(np.mean(ratio > 1))
        hovers = np.mean(ratio > 1) >= 0.75
        assert row["behaviour"] == ("hovers above" if hovers else "oscillates around")
    assert summary.loc[("RMSprop", 1e-3), "formula"] == "2/η"
    assert summary.loc[("Nadam", 1e-3), "evaluated_formula"] == "13.57/η"
    assert summary["selected"].sum() == 1 and summary.loc[("Nadam", 2e-3), "selected"]
    assert list(result.runs["optimizer_label"].unique()) == ["RMSprop", "Nadam"]

    grid = views.optimizer_grid_chart(result, SMALL.opt_eta_range).to_dict()
    assert [c["title"] for c in grid["concat"]] == [
        "RMSprop: 2/η",
        "Nadam: (2+2β₁)/((1−β₁)(1+2β₁)η)",
    ]
    ratio_chart = views.optimizer_ratio_chart(result, SMALL.opt_eta_range)
    assert ratio_chart.to_dict()["title"].startswith("Nadam")
    frame, caption = views.optimizer_table(result)
    assert len(frame) == 3 and "75%" in caption


# ---------------------------------------------------------------------------------------------
# (e) the corner case (Figs. 15 and 16)


def test_corner_case_freezes_p_mid_run():
    base = experiments.corner_base(SMALL)
    adam, frozen = experiments.corner_configs(base, 1e-4, freeze_at=20)
    assert (adam.freeze_precond_at, frozen.freeze_precond_at) == (None, 20)
    assert adam.replace(freeze_precond_at=20) == frozen
    result = experiments.corner_case(base, 1e-4, freeze_at=20)
    summary = result.summary.set_index("run")
    for label, config in (("Adam", adam), ("P frozen at step 20", frozen)):
        records = train.run(config).records.set_index("step")
        at, end = records.loc[20], records.loc[40]
        assert summary.loc[label, "gain"] == pytest.approx(end["ratio"] / at["ratio"])
        assert summary.loc[label, "p_change"] == pytest.approx(end["P_median"] / at["P_median"] - 1)
    assert summary.loc["P frozen at step 20", "p_change"] == pytest.approx(0.0, abs=1e-6)
    assert 0 not in set(result.table["step"])  # step 0 (P = eps) is left off the charts
    assert set(result.table["run"]) == {"Adam", "P frozen at step 20"}
    for y in views.CORNER_QUANTITIES:
        datasets = views.corner_chart(result, y).to_dict()["datasets"].values()
        assert [{"step": 20.0}] in list(datasets)  # the dashed rule at the freeze
    frame, caption = views.corner_table(result)
    assert "ratio at step 20" in frame.columns and "38/η" in caption


# ---------------------------------------------------------------------------------------------
# (f) the CNN (Fig. 4)


def cnn_result() -> experiments.CnnRuns:
    """A CnnRuns written out by hand: two etas, three measurements each."""
    table = pd.DataFrame(
        {
            "step": [50, 100, 150] * 2,
            "eta": [5e-4] * 3 + [1e-3] * 3,
            "precond_sharpness": [9e4, 8e4, 7.4e4, 5e4, 4e4, 3.6e4],
            "loss": [0.5, 0.1, 0.01, 0.4, 0.05, 0.005],
            "label": ["η=5e-4"] * 3 + ["η=1e-3"] * 3,
            "selected": [False] * 3 + [True] * 3,
        }
    )
    summary = pd.DataFrame(
        {
            "eta": [5e-4, 1e-3],
            "threshold": [ADAM / 5e-4, ADAM / 1e-3],
            "late_ratio": [0.97, 0.95],
            "final_loss": [0.01, 0.005],
            "status": ["step_limit"] * 2,
        }
    )
    return experiments.CnnRuns(table, summary, "38/η", "cpu")


def test_cnn_configs_train_adam_on_the_cnn_and_the_views_draw():
    configs = experiments.cnn_configs(TASK, [5e-4], selected=1e-3)
    assert [(c.model, c.optimizer, c.eta) for c in configs] == [
        ("cnn", "adam", 5e-4),
        ("cnn", "adam", 1e-3),
    ]
    result = cnn_result()
    domain = SMALL.cnn_eta_range
    rules = dataset_with(views.cnn_chart(result, "precond_sharpness", domain), "threshold")
    assert sorted(rules["label"]) == ["38/η = 3.8e4", "38/η = 7.6e4"]
    views.cnn_chart(result, "loss", domain).to_dict()
    frame, caption = views.cnn_table(result)
    assert frame["38/η"].tolist() == ["7.6e4", "3.8e4"] and caption == "Trained on: cpu."


# ---------------------------------------------------------------------------------------------
# panels


def test_every_panel_starts_where_the_parameters_say_and_steps_through_its_grid():
    P = params.FULL.replace(scale=SMALL.scale)
    makers = {
        "c": panels.equilibrium_panel,
        "d": panels.raw_rise_panel,
        "e": panels.zoom_panel,
        "f": panels.optimizer_panel,
        "g": panels.corner_panel,
        "h": panels.cnn_panel,
    }
    starts = {
        "c": (P.eq_eta, P.beta1, P.beta2),
        "d": (P.fig8_etas[0], P.beta1, 0.99),
        "e": (P.zoom_starts[0][0], P.beta1, 0.99),
        "f": (P.opt_etas[0][1][0], P.beta1, 0.999),
        "g": (P.corner_eta, P.beta1, 0.999),
        "h": (P.cnn_etas[0], P.beta1, 0.999),
    }
    positions = {
        "c": ((1e-4, 3e-4, 1e-3, 3e-3, 1e-2), (0.8, 0.9, 0.95), (0.9, 0.99, 0.999)),
        "d": ((1e-4, 2e-4), (0.8, 0.9, 0.95), (0.99, 0.999)),
        "e": ((1e-4, 1e-3), (0.8, 0.9, 0.95), (0.99, 0.999)),
        "f": ((3e-4, 1e-3, 1e-2, 3e-2), (0.8, 0.9, 0.95), (0.99, 0.999)),
        "g": ((1e-5, 3e-5, 1e-4), (0.8, 0.9, 0.95), (0.99, 0.999)),
        "h": ((2e-4, 5e-4, 1e-3, 2e-3), (0.8, 0.9, 0.95), (0.99, 0.999)),
    }
    for section, make in makers.items():
        panel = make(P)
        assert panel.stale and panel.last_result is None, section
        values = panel.values
        assert (values["eta"], values["beta1"], values["beta2"]) == starts[section], section
        for name, expected in zip(("eta", "beta1", "beta2"), positions[section], strict=True):
            options = [value for _, value in panel.controls[name].options]
            assert options == pytest.approx(expected), (section, name)
            with pytest.raises(ValueError, match="must be one of"):
                panel.set(**{name: expected[0] * 1.01})  # off the grid: not a position
    optimizer = panels.optimizer_panel(P).controls["optimizer"]
    assert list(optimizer.options) == [label for label, _ in P.opt_etas]


def test_equilibrium_panel_shows_available_settings_at_once():
    panel = panels.equilibrium_panel(SMALL)
    result = panel.set_and_run(eta=1e-3, beta1=0.9, beta2=0.999)
    assert isinstance(result, experiments.Equilibrium) and result.selected == (1e-3, 0.9, 0.999)
    grid = experiments.equilibrium_grid(SMALL)
    assert runs.trained(experiments.equilibrium_configs(experiments.equilibrium_base(SMALL), grid))
    assert "computed now" in panel.status.value  # where the runs came from
    before = panel.run_count
    panel.set(beta1=0.8)  # a trained setting of the beta1 sweep: drawn without Run
    assert panel.run_count == before + 1 and not panel.stale
    assert panel.last_result.selected == (1e-3, 0.8, 0.999)
    assert panel.charts[-1].frame is not None
    panel.set(eta=4e-3)  # on the slider, not trained: waits for Run
    assert panel.stale and panel.last_result.selected == (1e-3, 0.8, 0.999)


def test_optimizer_panel_picks_the_run_drawn_on_its_own_below_a_fixed_grid():
    panel = panels.optimizer_panel(SMALL)
    result = panel.set_and_run(optimizer="Nadam", eta=2e-3)
    assert isinstance(result, experiments.OptimizerRuns) and result.selected == ("Nadam", 2e-3)
    grid, below = panel.charts[0], panel.charts[1]
    builds = dict(grid.counts)
    panel.set(optimizer="RMSprop", eta=1e-3)
    assert not panel.stale and panel.last_result.selected == ("RMSprop", 1e-3)
    panel.set(eta=2e-3)  # a rate of Fig. 5's grid that RMSprop does not run: one more run
    assert panel.stale
    result = panel.set_and_run(eta=2e-3)
    added = result.runs[result.runs["optimizer_label"] == "RMSprop"]["eta"]
    assert set(added) == {1e-3, 2e-3}
    assert grid.counts == builds  # the grid shows Fig. 5's runs only: never rebuilt here
    drawn = dataset_with(below.chart, "ratio")
    assert set(drawn["label"]) == {"η=1e-3", "η=2e-3"}  # below: RMSprop with the added run
    grid_runs = views.optimizer_grid_runs(result, SMALL.opt_etas)
    pairs = set(zip(grid_runs["optimizer_label"], grid_runs["eta"], strict=True))
    assert pairs == {("RMSprop", 1e-3), ("Nadam", 1e-3), ("Nadam", 2e-3)}
    assert len(views.optimizer_grid_runs(result)) == len(result.runs)


def test_live_betas_name_the_betas_each_optimizer_uses():
    base = experiments.optimizer_base(SMALL)
    live = {label: experiments.live_betas(base, label) for label, _ in params.FULL.opt_etas}
    assert live == {
        "Adam, bias-corrected": ("beta1", "beta2"),
        "AdamW": ("beta1", "beta2"),
        "Adafactor": ("beta1",),  # its second moment decays by t^-0.8, not by beta2
        "AMSGrad": ("beta1", "beta2"),
        "Padam": ("beta1", "beta2"),
        "Nadam": ("beta1", "beta2"),
        "RMSprop": (),  # no momentum; its beta2 is App. G's 0.995
        "Adagrad": (),
    }


def test_optimizer_panel_disables_the_betas_the_chosen_optimizer_ignores():
    panel = panels.optimizer_panel(SMALL)
    beta1, beta2 = panel.controls["beta1"], panel.controls["beta2"]
    assert panel.values["optimizer"] == "RMSprop"  # SMALL's first optimizer
    assert beta1.disabled and beta2.disabled
    panel.set_and_run(eta=1e-3)
    shown, runs_before, values = panel.last_result, panel.run_count, panel.values
    builds = [dict(chart.counts) for chart in panel.charts if hasattr(chart, "counts")]
    panel.set(beta1=0.8, beta2=0.99)  # a disabled slider moved from code: nothing happens
    assert panel.values == values and panel.ignored == 2
    assert panel.run_count == runs_before and panel.last_result is shown and not panel.stale
    assert [dict(chart.counts) for chart in panel.charts if hasattr(chart, "counts")] == builds
    assert "nothing was retrained" in panel.status.value
    panel.set(optimizer="Nadam", beta1=0.8)  # the optimizer is chosen first: beta1 is live
    assert not beta1.disabled and not beta2.disabled and panel.values["beta1"] == 0.8
    assert panel.stale and panel.ignored == 2  # a new setting: it waits for Run


def test_zoom_panel_takes_the_window_of_its_eta():
    panel = panels.zoom_panel(SMALL)
    result = panel.set_and_run(eta=3e-3)  # window 20-30
    assert isinstance(result, experiments.Zoom) and result.eta == pytest.approx(3e-3)
    assert list(result.window["step"]) == list(range(20, 31))
    assert len(panel.charts) == len(views.ZOOM_QUANTITIES) + 3


# ---------------------------------------------------------------------------------------------
# the slider grids and the bank


def _key_set(configs) -> set[str]:
    return {c.key() for c in configs}


@pytest.mark.parametrize("P", [params.FULL, SMALL], ids=["full", "small"])
def test_bank_runs_cover_every_setting_of_every_grid(P):
    P = P if P.scale is not None else params.select(False, fast=False, platform=None)
    banked = _key_set(experiments.bank_runs(P))
    needed = set()
    for section, (grid_of, needs) in experiments_bank.SLIDER_GRIDS.items():
        grid = grid_of(P)
        assert grid.settings and grid.start in [
            {k: s[k] for k in grid.start} for s in grid.settings
        ], section
        for setting in grid.settings:
            for name, value in setting.items():  # every setting is made of slider positions
                if name in grid.positions:
                    assert value in grid.positions[name], (section, setting)
            keys = _key_set(needs(P, setting))
            assert keys <= banked, (section, setting)
            needed |= keys
    assert needed == banked  # and the bank holds nothing else


def test_the_full_banks_settings_follow_the_papers_sweeps():
    P = params.select(False, fast=False, platform=None)
    count = {s: len(g(P).settings) for s, (g, _) in experiments_bank.SLIDER_GRIDS.items()}
    # (c) the full product 5 x 3 x 3; (d) two etas along a star of 3 + 2 - 1 betas; (e) the
    # windows' etas; (f) 8 optimizers x 4 learning rates; (g) 3 etas + a star of 4 - 1 betas;
    # (h) 4 etas
    assert count == {"c": 45, "d": 8, "e": 2, "f": 32, "g": 6, "h": 4}
    configs = experiments.bank_runs(P)
    by_model = {m: sum(c.model == m for c in configs) for m in ("fc", "cnn")}
    assert by_model == {"fc": 45 + 2 * 8 + 2 + 32 + 2 * 6, "cnn": 4}  # (d), (g): two runs each
    assert {c.dense_window for c in configs if c.dense_window} == {(1000, 1200), (300, 500)}


def test_a_grid_panel_needs_what_it_computes():
    P = SMALL
    for section, make, setting in (
        ("d", panels.raw_rise_panel, {"eta": 2e-3, "beta1": 0.9, "beta2": 0.999}),
        ("g", panels.corner_panel, {"eta": 1e-4, "beta1": 0.8, "beta2": 0.999}),
    ):
        needs = experiments_bank.SLIDER_GRIDS[section][1](P, setting)
        panel = make(P)
        panel.set(**setting)
        assert panel.stale and not runs.trained(needs)
        panel.set_and_run(**setting)
        assert runs.trained(needs), section  # what it trained is what its ready test asks
        assert "computed now" in panel.status.value


# ---------------------------------------------------------------------------------------------
# part 1: the micro network


def test_the_micro_base_is_the_micro_task_with_the_notebooks_sizes():
    base = experiments_micro.micro_base(MICRO)
    assert base == RunConfig(
        **MICRO_TASK, eta=1.2e-2, beta1=0.9, beta2=0.999, steps=2000, track_every=25, eig_tol=1e-2
    )
    grid = experiments_micro.micro_grid(MICRO)
    assert grid.settings()["eta"] == [(3e-3, 0.9, 0.999), (1.2e-2, 0.9, 0.999), (5e-2, 0.9, 0.999)]
    assert grid.settings()["beta1"][0] == (1.2e-2, 0.8, 0.999)
    micro = [n for n in params.FULL.values() if n.startswith(("micro_", "check_"))]
    for P in (params.FAST, params.PAPER):  # the same in every variant
        assert {n: P.values()[n] for n in micro} == {n: MICRO.values()[n] for n in micro}
    cycle = experiments_micro.cycle_config(base, (1e-2, 0.8, 0.99), 30)
    assert (cycle.steps, cycle.dense_window, cycle.k, cycle.track_every) == (
        2030,
        (2000, 2030),
        1,
        25,
    )
    assert (cycle.eta, cycle.beta1, cycle.beta2) == (1e-2, 0.8, 0.99)


def test_micro_equilibrium_matches_the_runs_records_and_holds_the_line():
    base, grid = experiments_micro.micro_base(MICRO), experiments_micro.micro_grid(MICRO)
    sweeps = experiments_micro.sweep_runs(base, grid)
    assert len(sweeps) == 7  # three sweeps through one centre
    result = experiments_micro.micro_equilibrium(base, grid, (2e-2, 0.85, 0.95), sweeps=sweeps)
    assert isinstance(result, experiments.Equilibrium)
    records = train.run(experiments.adam_at(base, 2e-2, 0.85, 0.95), cache=False).records
    late_records = records[records["step"] >= 2000 * 2 / 3]
    assert result.chosen_ratio == pytest.approx(np.median(late_records["ratio"]))
    assert result.chosen_threshold == pytest.approx((2 + 2 * 0.85) / (0.15 * 2e-2))
    summary = result.summary.set_index(["sweep", "eta", "beta1", "beta2"])
    row = summary.loc[("beta1", 1.2e-2, 0.95, 0.999)]
    assert row["formula"] == "78/η" and row["threshold"] == pytest.approx(78 / 1.2e-2)
    sweep_records = sweeps[(1.2e-2, 0.95, 0.999)].records
    late_sweep = sweep_records[sweep_records["step"] >= 2000 * 2 / 3]
    assert row["late_ratio"] == pytest.approx(np.median(late_sweep["ratio"]))
    # the equilibrium itself: every sweep member and this run end within 15% of their line
    assert result.summary["late_ratio"].between(0.85, 1.15).all()
    assert 0.85 <= result.chosen_ratio <= 1.15
    assert not result.sweeps["selected"].any()  # off the sweeps: nothing drawn bold there
    on_sweep = experiments_micro.micro_equilibrium(base, grid, (5e-2, 0.9, 0.999), sweeps=sweeps)
    bold = on_sweep.sweeps[on_sweep.sweeps["selected"]]
    assert set(bold["sweep"]) == {"eta"} and set(bold["eta"]) == {5e-2}


def test_micro_cycle_measures_every_step_of_the_window():
    base = experiments_micro.micro_base(MICRO).replace(steps=500)
    result = experiments_micro.micro_cycle(base, (1.2e-2, 0.9, 0.99), 60)
    assert isinstance(result, experiments.Zoom) and result.k == 1
    records = train.run(
        experiments_micro.cycle_config(base, (1.2e-2, 0.9, 0.99), 60), cache=False
    ).records
    window = records[records["step"] >= 500]
    assert list(result.window["step"]) == list(range(500, 561))
    total = window["precond_grad_norm"].to_numpy() ** 2
    bursts, quiet = total >= np.quantile(total, 0.9), total <= np.median(total)
    assert result.burst_gain == pytest.approx(np.sqrt(total[bursts].mean() / np.median(total)))
    mean_p = window["P_mean"].to_numpy()
    step_change = np.concatenate([[np.nan], 100 * (mean_p[1:] / mean_p[:-1] - 1)])
    assert result.burst_p_step == pytest.approx(np.nanmean(step_change[bursts]))
    assert result.quiet_p_step == pytest.approx(np.nanmean(step_change[quiet]))
    ratio = window["ratio"].to_numpy()
    up = [
        int(s)
        for s, a, b in zip(window["step"][1:], ratio[:-1], ratio[1:], strict=True)
        if a <= 1 < b
    ]
    assert result.crossings == up and result.formula == "38/η"
    for quantity in views.CYCLE_QUANTITIES:
        assert dataset_with(views.zoom_chart(result, quantity), quantity)["step"].min() == 500
    rule = dataset_with(views.zoom_chart(result, "ratio"), "label")
    assert rule["label"].tolist() == ["λ₁(P⁻¹H) = 38/η = 1"]
    frame, caption = views_micro.cycle_table(result)
    assert frame["upward crossings"].tolist() == [len(up)] and "Bursts" in caption


def test_grid_check_counts_the_late_medians_in_the_band():
    base = experiments_micro.micro_base(MICRO)
    result = experiments_micro.grid_check(
        base, (6e-3, 2.5e-2), (0.9,), (0.99, 0.999), band=(0.97, 1.03)
    )
    table = result.table
    assert list(zip(table["eta"], table["beta2"], strict=True)) == [
        (6e-3, 0.99),
        (6e-3, 0.999),
        (2.5e-2, 0.99),
        (2.5e-2, 0.999),
    ]
    for row in table.itertuples():
        config = experiments.adam_at(base, row.eta, row.beta1, row.beta2)
        records = train.run(config, cache=False).records
        late_ratio = np.median(records[records["step"] >= 2000 * 2 / 3]["ratio"])
        assert row.late_ratio == pytest.approx(late_ratio)
        assert row.inside == (0.97 <= late_ratio <= 1.03)
        assert row.threshold == pytest.approx(ADAM / row.eta)
    assert result.rate == pytest.approx(table["inside"].mean())
    frame, caption = views_micro.grid_table(result)
    assert frame.columns.tolist() == ["β₁", "β₂", "η = 6e-3", "η = 0.025"]
    assert len(frame) == 2 and f"of {len(table)} inside" in caption


def test_micro_panels_retrain_on_every_release():
    panel = panels_micro.equilibrium_panel(MICRO)
    assert panel.last_result.selected == (1.2e-2, 0.9, 0.999) and not panel.run_button
    panel.set(eta=2e-2, beta1=0.85)
    result = panel.last_result
    assert (
        result.selected == (pytest.approx(2e-2), 0.85, 0.999) and result.chosen_formula == "24.67/η"
    )
    assert panel.cache_info()["misses"] == 2
    cycle = panels_micro.cycle_panel(MICRO)
    assert cycle.values["beta2"] == 0.99 and len(cycle.charts) == len(panels_micro.CYCLE_ROWS) + 1
    cycle.set(beta2=0.999)
    assert cycle.last_result.window["step"].iloc[0] == MICRO.micro_steps
    assert cycle.charts[-1].frame["η"].tolist() == ["0.012"]


# ---------------------------------------------------------------------------------------------
# figures


def test_figures_follow_the_papers_list():
    assert [f.id for f in FIGURES] == ["fig1", "fig8", "fig9", "fig18", "fig5", "fig15", "fig4"]
    for figure in FIGURES:
        assert figure.notebook == "03_adam_aeos" and figure.trains
        assert figure.params(fast=True).values() == params.FAST.values()
    fig1 = FIGURES[0]
    assert fig1.params().eq_steps == 600 and fig1.params(fast=True).eq_steps == 400
    assert fig1.params(overrides={"eq_steps": 7}).eq_steps == 7
    with pytest.raises(ValueError, match="eq_steps"):
        fig1.params(overrides={"eq_step": 7})


def test_fig1_computes_draws_and_tabulates_the_sweeps():
    figure = FIGURES[0]
    result = figure.compute(SMALL, None)
    spec = json.dumps(figure.draw(result, SMALL).to_dict())
    assert f'"domain": {json.dumps(list(SMALL.eq_eta_range))}' in spec  # the panel's colours
    frame = figure.data(result)
    assert sorted(frame["step"].unique()) == [5, 10, 15, 20, 25, 29]  # step 0 is left off
    assert set(frame["sweep"]) == {"eta", "beta1", "beta2"} and frame.columns[-1] == "sweep"
    np.testing.assert_allclose(
        frame["threshold"], (2 + 2 * frame["beta1"]) / ((1 - frame["beta1"]) * frame["eta"])
    )
    np.testing.assert_allclose(frame["ratio"], frame["precond_sharpness"] / frame["threshold"])
    assert len(frame) == 6 * 6  # six sweep members, six measurements each


@pytest.mark.parametrize("name", ["fig8", "fig9", "fig5", "fig15"])
def test_each_training_figure_computes_draws_and_tabulates(name):
    figure = next(f for f in FIGURES if f.id == name)
    result = figure.compute(SMALL, None)
    figure.draw(result, SMALL).to_dict()
    frame = figure.data(result)
    expected = {
        "fig8": (["run"], {"Adam", "frozen Adam"}),
        "fig9": (["eta"], {1e-3, 3e-3}),
        "fig5": (["optimizer_label"], {"RMSprop", "Nadam"}),
        "fig15": (["run"], {"Adam", "P frozen at step 20"}),
    }
    (column,), values = expected[name]
    assert set(frame[column]) == values
    assert (frame.columns[-1] == column) == (name != "fig8")  # fig8 relabels the runs' keys
    if name == "fig9":
        fig18 = next(f for f in FIGURES if f.id == "fig18")
        fig18.draw(result, SMALL).to_dict()
        pd.testing.assert_frame_equal(fig18.data(result), frame)


def test_fig4_draws_the_cnn_runs():
    figure = FIGURES[-1]
    assert len(figure.draw(cnn_result(), SMALL).to_dict()["hconcat"]) == 2
    pd.testing.assert_frame_equal(figure.data(cnn_result()), cnn_result().table)
