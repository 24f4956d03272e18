"""Notebook 01 (stability on quadratics): parameters, experiments against hand-written
recurrences and Table 1, views, panels (no slider move recompiles) and the paper figures."""

import dataclasses
import math

import altair as alt
import jax
import numpy as np
import pandas as pd
import pytest

from aeos_lab import figures as registry
from aeos_lab.lessons.nb01_quadratics import experiments, panels, params, views
from aeos_lab.viz import charts

FIGURES = registry.of_notebook(params.VARIANTS.notebook)

# Table 1 constants c(beta1) = eta * lam*, written out by hand.
TABLE1 = {
    "gd": lambda b: 2.0 + 0.0 * b,
    "standard_hb": lambda b: 2 + 2 * b,
    "ema_hb": lambda b: (2 + 2 * b) / (1 - b),
    "standard_nesterov": lambda b: (2 + 2 * b) / (1 + 2 * b),
    "ema_nesterov": lambda b: (2 + 2 * b) / ((1 - b) * (1 + 2 * b)),
}

# Small sizes for the panels and figures (the fast variant with shorter runs, smaller maps).
SMALL = params.FAST.replace(
    steps=40, map_grid=(8, 5), map_steps=(10, 20), growth_points=30, rmsprop_steps=60
)


def numpy_momentum(method, eta, beta1, lam, steps, x0=1.0, m0=0.0):
    """Reference iterates of the five methods on lam x^2 / 2 (plain Python loop)."""
    b = 0.0 if method == "gd" else beta1
    c = 1.0 - b if method.startswith("ema") else 1.0
    x, m, xs, ms = x0, m0, [x0], [m0]
    for _ in range(steps):
        g = lam * x
        m = b * m + c * g
        if method == "gd":
            d = g
        elif method.endswith("hb"):
            d = m
        else:
            d = b * m + c * g
        x = x - eta * d
        xs.append(x)
        ms.append(m)
    return np.array(xs), np.array(ms)


def root_radius(method, eta, beta1, lam):
    """Largest |root| of the x-only recurrence's characteristic polynomial (Lemmas 1-2)."""
    b = 0.0 if method == "gd" else beta1
    a = eta * lam * ((1.0 - b) if method.startswith("ema") else 1.0)
    if method.endswith("nesterov"):
        coefficients = [1.0, -(1 + b) * (1 - a), b * (1 - a)]
    else:
        coefficients = [1.0, -(1 + b - a), b]
    return float(np.max(np.abs(np.roots(coefficients))))


# ---------------------------------------------------------------------------------------------
# Parameters


def test_fast_variant_shrinks_only_the_sizes():
    full, fast = params.FULL.values(), params.FAST.values()
    changed = {name for name in full if full[name] != fast[name]}
    assert changed == {"steps", "map_grid", "map_steps", "growth_points", "rmsprop_steps"}
    assert fast["steps"] < full["steps"] and fast["rmsprop_steps"] < full["rmsprop_steps"]
    assert np.prod(fast["map_grid"]) < np.prod(full["map_grid"])
    assert max(fast["map_steps"]) < max(full["map_steps"])
    assert fast["fig17_steps"] == 30  # the paper's 30 steps, not shrunk


def test_every_parameter_is_documented():
    rows = params.FULL.rows()
    assert len(rows) == len(params.FULL.values()) > 10
    for name, _, doc in rows:
        assert name == name.lower() and len(doc) > 10, name


def test_select_picks_the_variant_and_refuses_paper_scale(monkeypatch):
    assert params.select(fast=True).values() == params.FAST.values()
    assert params.select(fast=True).variant == "fast"
    assert params.select(fast=False).values() == params.FULL.values()
    monkeypatch.setenv("AEOS_LAB_FAST", "1")
    assert params.select().variant == "fast"
    monkeypatch.setenv("AEOS_LAB_FAST", "0")
    assert params.select().variant == "full"
    assert params.VARIANTS.paper is None and params.VARIANTS.cpu_task is None
    with pytest.raises(ValueError, match="paper"):
        params.select(paper_scale=True)
    with pytest.raises(ValueError, match="unknown"):
        params.FULL.replace(STEPS=10)


def test_prop1_cases_put_the_two_eigenvalues_on_opposite_sides():
    """The self-check's settings, checked by hand: 20 vs 38/eta, and h_i / p_i for diagonal H."""
    first, second, third = params.FULL.prop1_cases
    assert first == params.FULL.precond_start
    assert (20 > 38 / first.eta) and (max(1 / first.p1, 20 / first.p2) < 38 / first.eta)
    assert (20 < 38 / second.eta) and (max(1 / second.p1, 20 / second.p2) > 38 / second.eta)
    assert third.angle != 0


# ---------------------------------------------------------------------------------------------
# Measuring divergence


@pytest.mark.parametrize("rate", [0.3, 0.95, 1.02, 4.0])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_envelope_growth_recovers_a_geometric_rate(rate, sign):
    values = 0.7 * (sign * rate) ** np.arange(101)
    assert experiments.envelope_growth(values) == pytest.approx(rate, rel=1e-12)
    assert experiments.envelope_growth(values, window=10) == pytest.approx(rate, rel=1e-12)
    assert experiments.is_diverging(values) == (rate > 1)


def test_envelope_growth_edge_cases():
    steps = np.arange(41)
    assert experiments.envelope_growth(np.where(steps > 0, 0.0, 1.0)) == 0.0
    overflowed = np.where(steps > 30, np.nan, 2.0**steps)
    assert experiments.envelope_growth(overflowed) == math.inf
    assert experiments.is_diverging(overflowed)
    batch = np.stack([0.5**steps, 1.5**steps])
    np.testing.assert_allclose(experiments.envelope_growth(batch), [0.5, 1.5])
    np.testing.assert_array_equal(experiments.is_diverging(batch), [False, True])
    with pytest.raises(ValueError, match="window"):
        experiments.envelope_growth(steps, window=30)


def test_slow_oscillation_is_not_called_divergence():
    """A slow wave whose late window beats the one before but stays below |x_0|."""
    t = np.arange(101)
    values = np.where(t == 0, 1.0, 0.5 * np.abs(np.sin(np.pi * t / 200.0)))
    assert experiments.envelope_growth(values) > 1.0
    assert not experiments.is_diverging(values)


def test_clip_for_display():
    out = experiments.clip_for_display([1e-20, 1.0, 1e20, np.inf, np.nan, -1.0], 1e-12, 1e12)
    np.testing.assert_array_equal(np.isnan(out), [True, False, True, True, True, True])
    assert out[1] == 1.0


def test_critical_eta_is_table1_constant_over_lam():
    for method, constant in TABLE1.items():
        assert experiments.critical_eta(method, 0.9, lam=4.0) == pytest.approx(constant(0.9) / 4)
    assert experiments.critical_eta("ema_hb", 0.9) == pytest.approx(38.0)


# ---------------------------------------------------------------------------------------------
# (a) and (b)


@pytest.mark.parametrize("beta1", [0.5, 0.9])
def test_divergence_flips_at_each_methods_own_threshold(beta1):
    for method, constant in TABLE1.items():
        label = experiments.METHOD_LABELS[method]
        for factor in (0.98, 1.02):
            eta = factor * constant(beta1)
            result = experiments.divergence_runs(eta, beta1, steps=120)
            assert isinstance(result, experiments.Divergence)
            row = result.summary.set_index("method").loc[label]
            assert row["diverging"] == (factor > 1), (method, factor)
            assert row["ratio"] == pytest.approx(factor)
            expected = root_radius(method, eta, beta1, 1.0)
            assert row["predicted_growth"] == pytest.approx(expected, rel=1e-9)
            assert row["measured_growth"] == pytest.approx(expected, rel=2e-2), (method, factor)


def test_divergence_runs_trajectories_match_numpy():
    result = experiments.divergence_runs(20.0, 0.9, steps=60)
    runs = result.runs
    assert set(runs["method"]) == set(experiments.METHOD_LABELS.values())
    assert (result.eta, result.beta1, result.lam) == (20.0, 0.9, 1.0)
    for method in ("ema_hb", "gd"):
        reference, _ = numpy_momentum(method, 20.0, 0.9, 1.0, 60)
        shown = runs[runs["method"] == experiments.METHOD_LABELS[method]]["abs_x"].to_numpy()
        visible = (np.abs(reference) >= 1e-12) & (np.abs(reference) <= 1e12)
        np.testing.assert_allclose(shown[visible], np.abs(reference[visible]), rtol=1e-10)
        assert np.all(np.isnan(shown[~visible]))


def test_stability_grid_matches_numpy():
    eta_lambda, betas = np.array([1.0, 10.0, 50.0]), np.array([0.0, 0.9])
    grid = experiments.stability_grid("ema_hb", eta_lambda, betas, steps=(20, 10))
    assert sorted(grid["steps"].unique()) == [10, 20]
    assert len(grid) == 2 * 3 * 2
    for row in grid.itertuples():
        xs, _ = numpy_momentum("ema_hb", row.eta_lambda, row.beta1, 1.0, row.steps)
        window = math.ceil(0.1 * row.steps)
        expected = np.max(np.abs(xs[row.steps - window + 1 :]))
        assert row.max_abs_x == pytest.approx(expected, rel=1e-9)


def test_stability_boundary_and_map_agree_with_table1():
    betas = np.array([0.0, 0.5, 0.9, 0.99])
    boundary = experiments.stability_boundary("ema_hb", betas)
    np.testing.assert_allclose(boundary["eta_lambda"], [2.0, 6.0, 38.0, 398.0])
    cut = experiments.stability_boundary("ema_hb", betas, (0.1, 100.0))
    np.testing.assert_allclose(cut["beta1"], [0.0, 0.5, 0.9])
    np.testing.assert_allclose(experiments.stability_boundary("gd", betas)["eta_lambda"], 2.0)

    eta_lambda = np.geomspace(0.1, 1000.0, 30)
    grid = experiments.stability_grid(
        "standard_nesterov", eta_lambda, np.linspace(0, 0.9, 8), [200]
    )
    right = experiments.map_agreement(grid, "standard_nesterov")
    assert right > 0.97
    # the same map read against another method's boundary disagrees far more often
    assert experiments.map_agreement(grid, "ema_hb") < right - 0.1


def test_stability_map_picks_a_map_and_places_the_marker():
    maps = experiments.stability_maps(
        grid_size=(6, 4), steps=(10, 30), eta_lambda_range=(0.1, 1000.0), beta1_max=0.9
    )
    assert set(maps.grids) == set(TABLE1) and maps.steps == (10, 30)
    result = experiments.stability_map(maps, "standard_hb", 10, marker=(5.0, 0.5))
    assert isinstance(result, experiments.StabilityMap)
    assert (result.label, result.steps, result.marker) == ("HB standard", 10, (5.0, 0.5))
    assert result.past == (5.0 > TABLE1["standard_hb"](0.5))
    assert len(result.grid) == 24 and set(result.grid["steps"]) == {10}
    np.testing.assert_allclose(
        result.grid["threshold_eta_lambda"], TABLE1["standard_hb"](result.grid["beta1"])
    )
    past = result.grid["eta_lambda"] > TABLE1["standard_hb"](result.grid["beta1"])
    assert (result.grid["past_threshold"] == past).all()
    assert (result.grid["grew"] == (result.grid["max_abs_x"] > 1)).all()
    assert result.agreement == pytest.approx(np.mean(past == result.grid["grew"]))
    assert result.formula == "(2+2β₁)/η"
    unmarked = experiments.stability_map(maps, "gd", 30)
    assert unmarked.marker is None and unmarked.past is None


# ---------------------------------------------------------------------------------------------
# (c) and (d)


def test_growth_curves_fig14():
    result = experiments.growth_curves(0.2, 0.9, points=50)
    assert isinstance(result, experiments.Growth) and (result.eta, result.beta1) == (0.2, 0.9)
    summary = result.summary.set_index("method")
    for method in experiments.GROWTH_METHODS:
        label = experiments.METHOD_LABELS[method]
        lam_star = TABLE1[method](0.9) / 0.2
        assert summary.loc[label, "threshold"] == pytest.approx(lam_star)
        edge = root_radius(method, 0.2, 0.9, 1.1 * lam_star)
        assert summary.loc[label, "growth_edge"] == pytest.approx(edge, rel=1e-9)
        assert summary.loc[label, "steps_to_10x"] == pytest.approx(math.log(10) / math.log(edge))
        curve = result.curves[result.curves["method"] == label]
        assert curve["lam_ratio"].min() == 0.0 and curve["lam_ratio"].max() == pytest.approx(1.1)
        below = curve[(curve["lam_ratio"] > 0) & (curve["lam_ratio"] < 1)]["growth"]
        assert np.all(below < 1.0)
        assert np.all(curve[curve["lam_ratio"] > 1.0]["growth"] > 1.0)
    edges = summary["growth_edge"]
    assert edges["HB EMA"] > edges["Nesterov EMA"] > edges["GD"]
    assert edges["HB EMA"] == pytest.approx(1.772, abs=1e-3)
    table = views.growth_table(result).set_index("method")
    assert table.loc["HB EMA", "ρ at 1.1 λ*"] == "1.772"
    assert table.loc["GD", "threshold λ*"] == "2/η = 10"


def test_momentum_gradients_fig17():
    result = experiments.momentum_gradients(20.0, 0.9, steps=30)
    assert isinstance(result, experiments.MomentumGradients)
    summary = result.summary.set_index("method")
    hb, gd = summary.loc["HB EMA"], summary.loc["GD"]
    xs, ms = numpy_momentum("ema_hb", 20.0, 0.9, 1.0, 30, x0=1.0, m0=0.2)
    assert hb["grad_growth"] == pytest.approx(np.max(xs**2))
    assert hb["grad_growth"] > 20 and hb["stable"] and not hb["monotone"]
    runs = result.runs
    np.testing.assert_allclose(runs[runs["method"] == "HB EMA"]["momentum"], ms, rtol=1e-10)
    rho = root_radius("ema_hb", 20.0, 0.9, 1.0)
    assert gd["eta"] == pytest.approx(1 + rho)
    gd_x = runs[runs["method"] == "GD"]["x"].to_numpy()
    np.testing.assert_allclose(gd_x, (-rho) ** np.arange(31), rtol=1e-9)
    assert gd["stable"] and gd["monotone"] and gd["grad_growth"] == 1.0
    table = views.large_gradient_table(result)
    assert table["|g_t| never increases"].tolist() == ["no", "yes"]
    unstable = experiments.momentum_gradients(40.0, 0.9).summary.set_index("method")
    assert not unstable.loc["HB EMA", "stable"] and not unstable.loc["GD", "stable"]


# ---------------------------------------------------------------------------------------------
# (e) and (f)


def test_rotated_hessian_and_preconditioned_sharpness():
    h = experiments.rotated_hessian((1.0, 20.0), 30.0)
    np.testing.assert_allclose(h, h.T)
    np.testing.assert_allclose(np.linalg.eigvalsh(h), [1.0, 20.0])
    assert h[0, 1] != 0
    p = np.array([2.0, 0.3])
    expected = np.max(np.linalg.eigvals(np.diag(1 / p) @ h).real)
    assert experiments.precond_sharpness(h, p) == pytest.approx(expected)


@pytest.mark.parametrize("case", params.FULL.prop1_cases)
def test_preconditioning_follows_the_preconditioned_hessian(case):
    result = experiments.preconditioning(case, eigenvalues=(1.0, 20.0), steps=150)
    assert isinstance(result, experiments.Preconditioning)
    lam_star = 38.0 / case.eta
    assert result.threshold == pytest.approx(lam_star) and result.formula == "38/η"
    assert result.lam1_h == pytest.approx(20.0)
    h = experiments.rotated_hessian((1.0, 20.0), case.angle)
    p = np.array([case.p1, case.p2])
    expected = np.max(np.linalg.eigvals(np.diag(1 / p) @ h).real)
    assert result.lam1_php == pytest.approx(expected)
    past_h, past_php = result.lam1_h > lam_star, result.lam1_php > lam_star
    assert past_h != past_php  # the cases are chosen so that the two disagree
    assert result.diverging_without_p == past_h
    assert result.diverging_with_p == past_php
    assert result.isomorphism_gap < 1e-12
    assert list(result.summary["diverging"]) == [past_h, past_php]
    table, caption = views.preconditioning_table(result)
    assert list(table["that run"]) == [
        "diverges" if past else "stays bounded" for past in (past_h, past_php)
    ]
    assert caption.startswith("Prop. 1 check")


def test_rmsprop_matches_numpy_and_halts_its_divergence():
    eta, beta2, eps = 2.2, 0.9, 1e-7
    result = experiments.rmsprop_runs(eta, beta2, steps=400, eps=eps)
    assert isinstance(result, experiments.Rmsprop) and (result.eta, result.beta2) == (eta, beta2)
    x, nu, xs, nus = 1.0, 1.0, [1.0], [1.0]
    for _ in range(400):
        nu = beta2 * nu + (1 - beta2) * x**2
        x = x - eta * x / (math.sqrt(nu) + eps)
        xs.append(x)
        nus.append(nu)
    runs = result.runs
    np.testing.assert_allclose(runs["abs_x"], np.abs(xs), rtol=1e-8)
    np.testing.assert_allclose(runs["nu"], nus, rtol=1e-8)
    assert result.start_ratio == pytest.approx(1.1, rel=1e-6)
    assert result.frozen_diverging and result.finite
    assert result.nu_max > 1.0
    assert result.on_orbit and result.settled
    assert result.late_abs_x == pytest.approx(eta / 2, rel=1e-3)
    table, caption = views.rmsprop_table(result)
    assert table["outcome"].tolist()[0] == "diverges"
    assert table["outcome"].tolist()[1].startswith("settled on the orbit x = ±η/2 = ±1.1")
    assert "1.1 × the threshold 2/η" in caption
    slow = experiments.rmsprop_runs(eta, 0.999, steps=400)
    assert slow.finite and slow.nu_max > 1.0 and not slow.settled
    assert views.rmsprop_table(slow)[0]["outcome"].iloc[1].startswith("still cycling")


def test_rmsprop_bursts_split_the_trajectory():
    def fake(abs_x, precond, ratio, eta=2.0):
        runs = pd.DataFrame({"abs_x": abs_x, "precond": precond, "ratio": ratio})
        return dataclasses.replace(experiments.rmsprop_runs(eta, 0.9, steps=8), runs=runs)

    # two bursts above |x_0| = 1, a trough of 0.1 between them, then the orbit |x| = P = eta/2
    abs_x = [1.0, 3.0, 0.5, 0.1, 2.0, 1.0, 1.0, 1.0, 1.0]
    precond = [1.0, 1.5, 2.0, 2.0, 1.2, 1.0, 1.0, 1.0, 1.0]
    ratio = [1.1, 0.9, 0.8, 1.2, 0.9, 1.0, 1.0, 1.0, 1.0]
    bursts = experiments.rmsprop_bursts(fake(abs_x, precond, ratio))
    assert bursts.level == 1.0
    assert bursts.starts == (1, 4) and bursts.peaks == (3.0, 2.0) and bursts.troughs == (0.1,)
    assert bursts.floor == 0.1 and bursts.orbit_from == 5 and bursts.upward_crossings == 1
    # a run that ends off the orbit, and one without any burst
    assert experiments.rmsprop_bursts(fake(abs_x[:5], precond[:5], ratio[:5])).orbit_from is None
    calm = experiments.rmsprop_bursts(fake([1.0, 0.5, 0.2], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5]))
    assert calm.starts == () and calm.peaks == () and calm.floor == math.inf


def test_rmsprop_bursts_of_fig12():
    slow = experiments.rmsprop_bursts(experiments.rmsprop_runs(2.2, 0.999, steps=1000))
    assert [round(p, 1) for p in slow.peaks[:3]] == [6.5, 5.8, 5.2]
    assert np.all(np.diff(slow.peaks) < 0) and np.all(np.diff(slow.troughs) > 0)
    assert slow.orbit_from is None and slow.upward_crossings == len(slow.starts) - 1
    fast = experiments.rmsprop_bursts(experiments.rmsprop_runs(2.2, 0.9, steps=400))
    assert fast.orbit_from is not None and fast.orbit_from < 100


def test_results_are_frozen():
    result = experiments.divergence_runs(10.0, 0.9, steps=40)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.eta = 1.0


# ---------------------------------------------------------------------------------------------
# Views


def _find(spec, mark):
    found = []

    def visit(node):
        if isinstance(node, dict):
            kind = node.get("mark")
            if kind == mark or (isinstance(kind, dict) and kind.get("type") == mark):
                found.append(node)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(spec)
    return found


def test_method_colours_cover_every_method_label():
    assert set(views.METHOD_COLORS) == set(experiments.METHOD_LABELS.values())
    assert len(set(views.METHOD_COLORS.values())) == len(views.METHOD_COLORS)


def test_divergence_table_texts():
    table = views.divergence_table(experiments.divergence_runs(10.0, 0.9, steps=40))
    assert list(table["run"]) == ["diverges", "diverges", "stable", "diverges", "stable"]
    assert table["threshold λ*"].iloc[2] == "38/η = 3.8"


def test_charts_show_thresholds_log_axes_and_fixed_colours():
    result = experiments.divergence_runs(10.0, 0.9, steps=40)
    spec = views.divergence_chart(result).to_dict()
    (line,) = _find(spec, "line")
    (rule,) = _find(spec, "rule")
    threshold_rows = spec["datasets"][rule["data"]["name"]]
    assert [r["threshold"] for r in threshold_rows] == [1.0]  # the |x_0| rule kept its data
    assert all(layer["data"]["name"] in spec["datasets"] for layer in spec["layer"])
    assert line["encoding"]["y"]["scale"]["type"] == "log"
    assert line["encoding"]["y"]["axis"]["labelExpr"] == charts.COMPACT_LABEL
    assert line["encoding"]["x"]["scale"]["domain"] == [0, 40]
    colors = line["encoding"]["color"]["scale"]
    assert dict(zip(colors["domain"], colors["range"], strict=True)) == views.METHOD_COLORS

    dots = views.divergence_dots(result).to_dict()
    (rule,) = _find(dots, "rule")
    assert rule["mark"]["strokeDash"] == charts.THRESHOLD_DASH
    (point,) = _find(dots, "point")
    assert point["encoding"]["x"]["scale"]["type"] == "log"
    assert [r["shown"] for r in dots["datasets"][rule["data"]["name"]]] == [1.0]


def test_stability_map_chart_marks_the_setting_and_writes_the_caption():
    maps = experiments.stability_maps(
        grid_size=(6, 4), steps=(10,), eta_lambda_range=(0.1, 1000.0), beta1_max=0.9
    )
    marked = views.stability_map_chart(experiments.stability_map(maps, "ema_hb", 10, (50.0, 0.9)))
    spec = marked.to_dict()
    (diamond,) = _find(spec, "point")
    assert spec["datasets"][diamond["data"]["name"]] == [{"eta_lambda": 50.0, "beta1": 0.9}]
    (text,) = _find(spec, "text")
    (caption,) = spec["datasets"][text["data"]["name"]]
    assert caption["text"] == "HB EMA, N = 10;  ◆ your (η, β₁): past λ*"
    plain = views.stability_map_chart(experiments.stability_map(maps, "gd", 10)).to_dict()
    (text,) = _find(plain, "text")
    (caption,) = plain["datasets"][text["data"]["name"]]
    assert caption["text"].startswith("N = 10; colours agree with the line on")


def test_every_panel_chart_builds_from_its_result():
    growth = experiments.growth_curves(0.2, 0.9, points=20)
    gradients = experiments.momentum_gradients(20.0, 0.9, steps=10)
    precond = experiments.preconditioning(params.FULL.precond_start, eigenvalues=(1, 20), steps=20)
    rms = experiments.rmsprop_runs(2.2, 0.99, steps=50)
    built = [
        views.growth_ratio_chart(growth),
        views.growth_lambda_chart(growth),
        *(views.large_gradient_chart(gradients, q) for q in ("x", "momentum", "grad_sq")),
        views.preconditioning_chart(precond),
        views.eigenvalue_chart(precond),
        *(views.rmsprop_chart(rms, q) for q in ("x", "sharpness", "nu")),
    ]
    for chart in built:
        assert isinstance(chart, alt.LayerChart)
        assert not any(isinstance(layer, alt.LayerChart) for layer in chart.layer)  # flat
        assert chart.to_dict()["layer"]
    (rule,) = _find(views.rmsprop_chart(rms, "x").to_dict(), "rule")
    assert rule["encoding"]["y"]["field"] == "threshold"


# ---------------------------------------------------------------------------------------------
# Panels


@pytest.fixture
def compile_events():
    events = []

    def listener(name, duration, **kwargs):
        if name == "/jax/core/compile/backend_compile_duration":
            events.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    yield events
    jax.monitoring.unregister_event_duration_listener(listener)


def test_panels_start_at_the_parameters_and_update_without_recompiling(compile_events):
    built = {
        "a": panels.divergence_panel(SMALL),
        "b": panels.stability_map_panel(SMALL),
        "c": panels.growth_panel(SMALL),
        "d": panels.large_gradient_panel(SMALL),
        "e": panels.preconditioning_panel(SMALL),
        "f": panels.rmsprop_panel(SMALL),
    }
    start = SMALL.precond_start
    assert built["a"].values == {"eta": SMALL.divergence_eta, "beta1": SMALL.beta1}
    assert built["b"].values == {
        "eta": SMALL.map_eta,
        "beta1": SMALL.beta1,
        "method": SMALL.map_method,
        "steps": max(SMALL.map_steps),
    }
    assert built["e"].values == start._asdict()
    assert built["f"].values == {"eta": SMALL.rmsprop_eta, "beta2": SMALL.rmsprop_beta2}
    eta_a = built["a"].controls["eta"]
    assert (10**eta_a.min, 10**eta_a.max) == pytest.approx(SMALL.divergence_eta_range)
    assert built["b"].controls["steps"].options == SMALL.map_steps

    moves = {
        "a": {"eta": 37.0, "beta1": 0.5},
        "b": {"method": "gd", "steps": 10, "eta": 3.0},
        "c": {"eta": 0.05, "beta1": 0.6},
        "d": {"eta": 5.0, "beta1": 0.8},
        "e": {"p1": 0.5, "p2": 2.0, "angle": 30.0, "eta": 2.0},
        "f": {"eta": 3.0, "beta2": 0.95},
    }
    before_moves = len(compile_events)
    for name, panel in built.items():
        assert panel.last_error is None, name
        assert "eta" in panel.controls and ({"beta1", "beta2"} & set(panel.controls)), name
        before = panel.last_result
        panel.set(**moves[name])
        assert panel.last_error is None, (name, panel.last_error)
        assert panel.last_result is not before
    assert len(compile_events) == before_moves, "a slider move recompiled"
    a = built["a"].last_result.summary.set_index("method")
    assert a.loc["HB EMA", "ratio"] == pytest.approx(37.0 / 6.0)
    b = built["b"].last_result
    assert b.method == "gd" and set(b.grid["steps"]) == {10} and b.marker == (3.0, 0.9)
    e = built["e"].last_result
    assert e.lam1_php == pytest.approx(
        experiments.precond_sharpness(experiments.rotated_hessian((1, 20), 30.0), (0.5, 2.0))
    )
    assert built["f"].last_result.threshold == pytest.approx(2.0 / 3.0)
    table = built["f"].charts[-1]
    assert table.frame is not None and "RMSprop" in table.widget.value


def test_panel_controls_keep_their_names_and_ranges():
    panel = panels.preconditioning_panel(SMALL)
    assert list(panel.controls) == ["eta", "beta1", "p1", "p2", "angle"]
    for name in ("p1", "p2"):
        low, high = 10 ** panel.controls[name].min, 10 ** panel.controls[name].max
        assert (low, high) == pytest.approx(SMALL.p_range)
    with pytest.raises(ValueError, match="angle"):
        panel.set(angle=120.0)
    rms = panels.rmsprop_panel(SMALL)
    assert list(rms.controls) == ["eta", "beta2"]
    beta2 = rms.controls["beta2"]
    assert (beta2.min, beta2.max) == SMALL.rmsprop_beta2_range


# ---------------------------------------------------------------------------------------------
# Figures


def test_figures_are_notebook_01s_in_order():
    assert [f.id for f in FIGURES] == ["table1", "fig2", "fig12", "fig14", "fig17", "prop1"]
    for figure in FIGURES:
        assert figure.notebook == "01_quadratic_stability"
        assert figure.variants is params.VARIANTS and not figure.trains
        assert figure.title and figure.caption and figure.description


@pytest.fixture(scope="module")
def small_figures():
    """Each figure computed once on small sizes: (figure, params, result, data)."""
    out = {}
    for figure in FIGURES:
        p = figure.params(fast=True, overrides=SMALL.values())
        result = figure.compute(p, None)
        out[figure.id] = (figure, p, result, figure.data(result))
    return out


@pytest.mark.parametrize("name", ["table1", "fig2", "fig12", "fig14", "fig17", "prop1"])
def test_figure_draws_and_its_data_is_tidy(small_figures, name):
    figure, p, result, frame = small_figures[name]
    assert isinstance(frame, pd.DataFrame) and len(frame) > 0
    assert frame.columns.is_unique
    spec = figure.draw(result, p).to_dict()  # validates against the Vega-Lite schema
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


def test_table1_data_are_the_closed_form_thresholds(small_figures):
    _, p, _, frame = small_figures["table1"]
    assert set(frame["method"]) == set(TABLE1)
    assert (frame["steps"] == max(p.map_steps)).all()
    for method, closed_form in TABLE1.items():
        rows = frame[frame["method"] == method]
        assert len(rows) == p.map_grid[0] * p.map_grid[1]
        assert rows["beta1"].max() == pytest.approx(p.beta1_max)
        np.testing.assert_allclose(
            rows["threshold_eta_lambda"], closed_form(rows["beta1"].to_numpy()), rtol=1e-12
        )
        past = rows["eta_lambda"].to_numpy() > closed_form(rows["beta1"].to_numpy())
        assert (past == rows["past_threshold"].to_numpy()).all()
        assert (rows["grew"] == (rows["max_abs_x"] > 1.0)).all()
    assert list(frame.columns) == [
        "eta_lambda",
        "beta1",
        "steps",
        "max_abs_x",
        "method",
        "label",
        "formula",
        "threshold_eta_lambda",
        "past_threshold",
        "grew",
    ]


def test_fig2_data_follow_the_heavy_ball_recurrence(small_figures):
    _, p, result, frame = small_figures["fig2"]
    beta, steps = p.beta1, p.steps
    assert result.critical_eta == pytest.approx(38.0)
    assert sorted(frame["eta"].unique()) == sorted(p.fig2_etas)
    for eta, rows in frame.groupby("eta"):
        # x_{t+1} = (1 + b - eta (1 - b)) x_t - b x_{t-1}, x_0 = 1, x_1 = 1 - eta (1 - b)
        x = np.empty(steps + 1)
        x[0], x[1] = 1.0, 1.0 - eta * (1 - beta)
        for t in range(1, steps):
            x[t + 1] = (1 + beta - eta * (1 - beta)) * x[t] - beta * x[t - 1]
        shown = rows.sort_values("step")["abs_x"].to_numpy()
        finite = np.isfinite(shown)
        assert finite.sum() > 20
        np.testing.assert_allclose(shown[finite], np.abs(x[finite]), rtol=1e-9)
        assert rows["diverging"].all() == (eta > 38.0)
        verdict = "diverges" if eta > 38.0 else "stable"
        assert (rows["run"] == f"η = {eta:g} ({verdict})").all()


def test_fig14_growth_factors_match_polynomial_roots(small_figures):
    _, p, _, frame = small_figures["fig14"]
    eta, b = p.growth_eta, p.beta1
    assert set(frame["grid"]) == {"linear", "log"}
    for label, coefficients in {
        "GD": lambda lam: [1.0, -(1.0 - eta * lam)],
        "HB EMA": lambda lam: [1.0, -(1 + b - eta * (1 - b) * lam), b],
        "Nesterov EMA": lambda lam: [
            1.0,
            -(1 + b) * (1 - eta * (1 - b) * lam),
            b * (1 - eta * (1 - b) * lam),
        ],
    }.items():
        rows = frame[frame["method"] == label]
        assert len(rows) == 2 * p.growth_points
        expected = [np.abs(np.roots(coefficients(lam))).max() for lam in rows["lam"]]
        np.testing.assert_allclose(rows["growth"], expected, rtol=1e-7, atol=1e-12)
        ratio = rows["lam_ratio"].to_numpy()
        assert (rows["growth"][ratio > 1.001] > 1).all()  # unstable exactly past lambda*
        assert (rows["growth"][(ratio > 0) & (ratio < 0.999)] < 1).all()


def test_fig12_fig17_and_prop1_data_cover_every_setting(small_figures):
    _, p, _, frame = small_figures["fig12"]
    assert sorted(frame["beta2"].unique()) == sorted(p.fig12_beta2s)
    assert len(frame) == len(p.fig12_beta2s) * (p.rmsprop_steps + 1)
    start = frame[frame["step"] == 0]
    assert (start["frozen_abs_x"] == 1.0).all() and (start["eta"] == p.rmsprop_eta).all()

    _, p, _, frame = small_figures["fig17"]
    assert sorted(frame["hb_eta"].unique()) == sorted(p.fig17_etas)
    for eta, rows in frame[frame["method"] == "HB EMA"].groupby("hb_eta"):
        xs, _ = numpy_momentum("ema_hb", eta, p.beta1, 1.0, p.fig17_steps, m0=p.m0)
        np.testing.assert_allclose(rows["x"], xs, rtol=1e-9)

    _, p, result, frame = small_figures["prop1"]
    assert result.cases is p.prop1_cases  # the very settings of the notebook's self-check
    assert sorted(frame["case"].unique()) == [1, 2, 3]
    for index, case in enumerate(p.prop1_cases):
        rows = frame[frame["case"] == index + 1]
        for field, value in case._asdict().items():
            assert (rows[field] == value).all()
        assert (rows["isomorphism_gap"] < 1e-12).all()
        np.testing.assert_allclose(rows["threshold"], 38.0 / case.eta)


def test_figures_compute_in_float64_without_the_notebook():
    """With JAX left in float32 (no notebook setting), a figure still computes in float64."""
    (fig17,) = [f for f in FIGURES if f.id == "fig17"]
    p = fig17.params(fast=True, overrides={"fig17_etas": (37.0,)})
    with jax.enable_x64(False):
        frame = fig17.data(fig17.compute(p, None))
    hb = frame[frame["method"] == "HB EMA"]
    assert hb["x"].dtype == np.float64
    xs, _ = numpy_momentum("ema_hb", 37.0, p.beta1, 1.0, p.fig17_steps, m0=p.m0)
    np.testing.assert_allclose(hb["x"], xs, rtol=1e-12)  # float32 is off by ~1e-7
