"""Lesson nb02_frozen_adam: parameters, Adam's P at a snapshot, the frozen-Adam sweep, Prop. 1
on the network, their views, the panels and Fig. 3.

Training runs use a tiny network (16 wide, depth 2, 64 digits) and tiny sizes, so the file
compiles a handful of kernels. Expected values come from the runs' own records through numpy,
from closed forms or from the paper's settings written out here.
"""

import json
from pathlib import Path

import jax
import nbformat
import numpy as np
import pandas as pd
import pytest
from chart_data import dataset_with

from aeos_lab import figures as registry
from aeos_lab.engine import runs, traces, train
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.tasks import LAB_TASK, PAPER_TASK, Scale
from aeos_lab.lessons.nb02_frozen_adam import experiments, panels, params, views

FIGURES = registry.of_notebook(params.VARIANTS.notebook)

pytestmark = pytest.mark.usefixtures("isolated_run_cache")

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02_frozen_adam.ipynb"

TASK = RunConfig(n_train=64, n_test=32, label_noise=1.0, width=16, depth=2)
TINY = TASK.replace(steps=30, track_every=10, eta=1e-3, beta2=0.99, eig_tol=1e-2)
SMALL = params.FAST.replace(
    scale=Scale(TASK, False, "a tiny task for tests"),
    steps=29,  # last third: steps 20, 25, 29
    track_every=5,
    freeze_eta=1e-3,
    freeze_at=10,
    frozen_etas=(1e-3, 2e-3),
    snapshots=(0, 4),
    trace_every=4,
    prop1_steps=8,
)


def flat(tree) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(a)) for a in jax.tree.leaves(tree)])


# ---------------------------------------------------------------------------------------------
# parameters


def test_variants_hold_the_notebooks_sizes_and_the_papers():
    full, fast, paper = params.FULL, params.FAST, params.PAPER
    assert (full.steps, full.trace_every, full.prop1_steps) == (1500, 10, 50)
    assert full.frozen_etas == (1e-4, 1.4e-4, 2e-4)
    assert (fast.steps, fast.trace_every, fast.prop1_steps) == (1200, 20, 20)
    assert fast.frozen_etas == (1e-4, 2e-4)
    changed = {k for k, v in fast.values().items() if v != full.values()[k]}
    assert changed == {"steps", "trace_every", "prop1_steps", "frozen_etas"}
    # App. G.2: P from step 1100 of Adam at eta 2e-5, beta2 = 0.999
    assert (paper.freeze_at, paper.freeze_eta, paper.beta2) == (1100, 2e-5, 0.999)
    assert (paper.steps, paper.eig_tol, paper.frozen_etas) == (5000, 1e-3, (1e-5, 2e-5, 4e-5))


@pytest.mark.parametrize("variant", ["full", "fast", "paper"])
def test_every_field_is_documented_and_each_slider_holds_its_start(variant):
    P = getattr(params, variant.upper())
    assert all(doc for _, _, doc in P.rows())
    low, high = P.frozen_eta_range
    assert all(low <= eta <= high for eta in P.frozen_etas)
    assert P.trace_eta_range[0] <= P.freeze_eta <= P.trace_eta_range[1]
    assert P.prop1_eta_range[0] <= P.frozen_etas[0] <= P.prop1_eta_range[1]


def test_select_picks_the_variant_and_the_task():
    fast = params.select(fast=True, platform=None)
    assert fast.variant == "fast" and fast.steps == 1200
    assert fast.base == RunConfig(**LAB_TASK)
    no_gpu = params.select(True, fast=False, platform=None)
    assert no_gpu.variant == "full" and no_gpu.base == RunConfig(**LAB_TASK)
    paper = params.select(True, fast=True, platform="gpu")
    assert paper.variant == "paper" and paper.freeze_at == 1100
    assert paper.base == RunConfig(**PAPER_TASK)
    base = experiments.run_base(fast)
    assert (base.eta, base.beta1, base.beta2) == (1e-4, 0.9, 0.99)
    assert (base.steps, base.track_every, base.eig_tol) == (1200, 100, 1e-2)


def test_the_notebook_takes_its_parameters_from_the_lesson():
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    (cell,) = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert "params.select(PAPER_SCALE)" in cell.source
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    assert "from aeos_lab.lessons.nb02_frozen_adam import panels, params" in code
    assert "adaptive" not in code and "globals()" not in code


# ---------------------------------------------------------------------------------------------
# (a) Adam's P at a snapshot


def test_precond_source_reads_the_trace_at_the_chosen_snapshot():
    spec = experiments.source_trace_config(TINY, snapshots=[0], freeze_at=12, every=4)
    assert spec.snapshots == (0, 12) and not experiments.traced(spec)
    late = experiments.precond_source(TINY, snapshots=[0], freeze_at=12, step=12, every=4)
    assert experiments.traced(spec)
    reference = flat(traces.adam_precond(TINY, 12))
    assert late.median_p == pytest.approx(np.median(reference), rel=1e-6)
    assert late.at_eps == pytest.approx(np.mean(reference < 10 * 1e-7))
    assert late.hist["count"].sum() == reference.size and set(late.hist["step"]) == {12}
    assert late.step == late.freeze_at == 12 and late.eps == 1e-7
    # quantiles every 4 steps, ordered smallest first at each step
    wide = late.quantiles.pivot(index="step", columns="quantile", values="P")
    assert list(wide.index) == [0, 4, 8, 12]
    assert (np.diff(wide[list(late.quantile_order)].to_numpy(), axis=1) >= 0).all()
    start = experiments.precond_source(TINY, snapshots=[0], freeze_at=12, step=0, every=4)
    assert start.at_eps == 1.0 and start.median_p == pytest.approx(1e-7)
    with pytest.raises(ValueError, match="snapshots"):
        experiments.precond_source(TINY, snapshots=[0], freeze_at=12, step=5, every=4)
    for chart in (views.precond_quantile_chart(late), views.precond_histogram_chart(late)):
        chart.to_dict()
    eps_rule = dataset_with(views.precond_histogram_chart(late), "text")
    assert eps_rule["log10_P"].tolist() == [-7.0] and eps_rule["text"].tolist() == ["ε = 1e-7"]
    frame, caption = views.precond_source_table(late)
    assert frame["share of P still near ε"].tolist() == [f"{late.at_eps:.1%}"]
    assert "step 12" in caption


# ---------------------------------------------------------------------------------------------
# (b) frozen Adam against Adam


def test_frozen_sweep_summary_matches_the_records_and_draws():
    base = TINY.replace(steps=29, track_every=5)  # last third: steps 20, 25, 29
    sweep = experiments.frozen_sweep(
        base, [1e-3, 2e-3], freeze_at=10, freeze_eta=1e-3, selected=2e-3
    )
    summary = sweep.summary.set_index("eta")
    frozen = train.run(experiments.frozen_config(base, 2e-3, freeze_at=10, freeze_eta=1e-3))
    late = frozen.records[frozen.records["step"] >= 20]
    assert summary.loc[2e-3, "late_ratio"] == pytest.approx(np.median(late["ratio"]))
    assert summary.loc[2e-3, "threshold"] == pytest.approx(38 / 2e-3)
    sharp = late["sharpness"].to_numpy()
    assert summary.loc[2e-3, "frozen_rise"] == pytest.approx((sharp[-1] - sharp[0]) / sharp[0])
    assert summary.loc[2e-3, "selected"] and not summary.loc[1e-3, "selected"]
    assert set(sweep.frozen["optimizer"]) == {"frozen_adam"}
    assert set(sweep.adam["optimizer"]) == {"adam"}
    assert 0 in set(sweep.frozen["step"]) and 0 not in set(sweep.adam["step"])
    assert sweep.formula == "38/η" and (sweep.steps, sweep.selected) == (29, 2e-3)

    domain = (1e-4, 1e-2)
    psharp = views.frozen_chart(sweep, "precond_sharpness", domain)
    rules = dataset_with(psharp, "threshold")
    np.testing.assert_allclose(sorted(rules["threshold"]), [38 / 2e-3, 38 / 1e-3])
    assert set(rules["label"]) == {"38/η = 1.9e4", "38/η = 3.8e4"}
    assert psharp.title == "Preconditioned sharpness λ₁(P⁻¹H) and 38/η"
    for y in views.FROZEN_QUANTITIES:
        assert set(dataset_with(views.frozen_chart(sweep, y, domain), y)["eta"]) == {1e-3, 2e-3}
    versus = dataset_with(views.frozen_versus_chart(sweep), "run")
    at_selected = [
        table.loc[table["eta"] == 2e-3, "sharpness"].tolist()
        for table in (sweep.frozen, sweep.adam)
    ]
    assert [
        versus.loc[versus["run"] == run, "sharpness"].tolist() for run in ("frozen Adam", "Adam")
    ] == at_selected
    frame, _ = views.frozen_table(sweep)
    assert frame["38/η"].tolist() == ["3.8e4", "1.9e4"]
    assert frame["shown bold"].tolist() == ["", "◀"]


def test_frozen_sweep_configs_name_every_run_of_the_sweep():
    configs = experiments.frozen_sweep_configs(
        TINY, [1e-3, 2e-3], freeze_at=10, freeze_eta=1e-3, selected=3e-3
    )
    assert [(c.optimizer, c.eta) for c in configs] == [
        ("frozen_adam", 1e-3),
        ("frozen_adam", 2e-3),
        ("frozen_adam", 3e-3),
        ("adam", 1e-3),
        ("adam", 2e-3),
        ("adam", 3e-3),
    ]
    assert {(c.freeze_at, c.freeze_eta) for c in configs[:3]} == {(10, 1e-3)}
    assert {(c.freeze_at, c.freeze_eta) for c in configs[3:]} == {(None, None)}


# ---------------------------------------------------------------------------------------------
# (c) Prop. 1 on the network


def test_prop1_holds_on_the_network_and_fails_without_p():
    precond = experiments.frozen_precond(TINY, freeze_at=10, freeze_eta=1e-3)
    result = experiments.prop1_check(TINY, precond, eta=2e-3, beta1=0.8, steps=8)
    assert result.max_prop1_gap < 1e-12 and result.max_loss_gap < 1e-12
    assert result.max_plain_gap > 1e-2
    assert (result.eta, result.beta1) == (2e-3, 0.8) and list(result.steps["step"]) == list(
        range(9)
    )
    ones = jax.tree.map(np.ones_like, precond)
    same = experiments.prop1_check(TINY, ones, eta=2e-3, beta1=0.8, steps=8)
    assert same.max_plain_gap < 1e-12  # with P = I frozen Adam is EMA heavy ball
    views.isomorphism_chart(result).to_dict()
    frame, caption = views.isomorphism_table(result)
    assert len(frame) == 3 and caption.startswith("η = 2e-3, β₁ = 0.8")


# ---------------------------------------------------------------------------------------------
# panels


def test_precond_source_panel_waits_for_run_then_moves_between_snapshots():
    panel = panels.precond_source_panel(SMALL)
    assert panel.stale and panel.last_result is None
    assert panel.controls["step"].options == (0, 4, 10)
    assert panel.controls["beta1"].min == 0.0
    panel.button.click()
    assert isinstance(panel.last_result, experiments.PrecondSource)
    assert panel.last_result.step == 10 and panel.last_error is None
    panel.set(step=0)  # a snapshot of the same trace: at once
    assert not panel.stale and panel.last_result.at_eps == 1.0
    panel.set(beta2=0.999)
    assert panel.stale


def test_frozen_sweep_panel_shows_trained_settings_at_once():
    panel = panels.frozen_sweep_panel(SMALL)
    assert panel.values["eta"] == pytest.approx(2e-3) and panel.stale
    assert panel.controls["beta1"].min == 0.5
    result = panel.set_and_run(eta=1e-3, beta1=0.9, beta2=0.99)
    assert isinstance(result, experiments.FrozenSweep) and result.selected == 1e-3
    assert runs.trained(
        experiments.frozen_sweep_configs(
            experiments.run_base(SMALL), SMALL.frozen_etas, freeze_at=10, freeze_eta=1e-3
        )
    )
    before = panel.run_count
    panel.set(eta=1.99e-3)  # snapped onto the trained 2e-3: drawn without Run
    assert panel.run_count == before + 1 and not panel.stale
    assert panel.last_result.selected == 2e-3
    panel.set(eta=5e-3)  # off the grid: a new run, waits for Run
    assert panel.stale


def test_isomorphism_panel_redraws_on_a_slider_move():
    panel = panels.isomorphism_panel(SMALL)
    assert panel.last_result.eta == pytest.approx(1e-3)
    panel.set(eta=2e-3, beta1=0.8)
    result = panel.last_result
    assert result.eta == pytest.approx(2e-3) and result.beta1 == pytest.approx(0.8)
    assert len(result.steps) == SMALL.prop1_steps + 1 and result.max_prop1_gap < 1e-10
    assert panel.charts[1].frame is not None


# ---------------------------------------------------------------------------------------------
# Fig. 3


def test_fig3_computes_draws_and_tabulates_the_sweep():
    (figure,) = FIGURES
    assert (figure.id, figure.paper, figure.notebook) == ("fig3", "Fig. 3", "02_frozen_adam")
    assert figure.trains and figure.params(fast=True).values() == params.FAST.values()
    result = figure.compute(SMALL, None)
    assert result.selected == SMALL.frozen_etas[0]
    spec = figure.draw(result, SMALL).to_dict()
    scales = [s for s in json.dumps(spec).split('"domain": ')[1:]]
    assert any(s.startswith(json.dumps(list(SMALL.frozen_eta_range))) for s in scales)
    data = figure.data(result)
    frozen, adam = result.frozen, result.adam
    assert len(data) == len(frozen) + len(adam)
    assert list(data.columns) == list(frozen.columns)
    assert data["optimizer"].tolist() == ["frozen_adam"] * len(frozen) + ["adam"] * len(adam)
    pd.testing.assert_frame_equal(data.iloc[: len(frozen)], frozen, check_dtype=False)
    assert set(data["eta"]) == set(SMALL.frozen_etas) and data["step"].max() == 29
