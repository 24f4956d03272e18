"""Tests for aeos_lab.stability (notebook 01): measured divergence against closed forms."""

import math

import jax
import numpy as np
import pandas as pd
import pytest

from aeos_lab import stability
from aeos_lab.viz import charts

# Table 1 constants c(beta1) = eta * lam*, written out by hand.
TABLE1 = {
    "gd": lambda b: 2.0,
    "standard_hb": lambda b: 2 + 2 * b,
    "ema_hb": lambda b: (2 + 2 * b) / (1 - b),
    "standard_nesterov": lambda b: (2 + 2 * b) / (1 + 2 * b),
    "ema_nesterov": lambda b: (2 + 2 * b) / ((1 - b) * (1 + 2 * b)),
}


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
# Measuring divergence


@pytest.mark.parametrize("rate", [0.3, 0.95, 1.02, 4.0])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_envelope_growth_recovers_a_geometric_rate(rate, sign):
    values = 0.7 * (sign * rate) ** np.arange(101)
    assert stability.envelope_growth(values) == pytest.approx(rate, rel=1e-12)
    assert stability.envelope_growth(values, window=10) == pytest.approx(rate, rel=1e-12)
    assert stability.is_diverging(values) == (rate > 1)


def test_envelope_growth_edge_cases():
    steps = np.arange(41)
    assert stability.envelope_growth(np.where(steps > 0, 0.0, 1.0)) == 0.0
    overflowed = np.where(steps > 30, np.nan, 2.0**steps)
    assert stability.envelope_growth(overflowed) == math.inf
    assert stability.is_diverging(overflowed)
    batch = np.stack([0.5**steps, 1.5**steps])
    np.testing.assert_allclose(stability.envelope_growth(batch), [0.5, 1.5])
    np.testing.assert_array_equal(stability.is_diverging(batch), [False, True])
    with pytest.raises(ValueError, match="window"):
        stability.envelope_growth(steps, window=30)


def test_slow_oscillation_is_not_called_divergence():
    """A slow wave whose late window beats the one before but stays below |x_0|."""
    t = np.arange(101)
    values = np.where(t == 0, 1.0, 0.5 * np.abs(np.sin(np.pi * t / 200.0)))
    assert stability.envelope_growth(values) > 1.0
    assert not stability.is_diverging(values)


def test_clip_for_display():
    out = stability.clip_for_display([1e-20, 1.0, 1e20, np.inf, np.nan, -1.0], 1e-12, 1e12)
    np.testing.assert_array_equal(np.isnan(out), [True, False, True, True, True, True])
    assert out[1] == 1.0


def test_critical_eta_is_table1_constant_over_lam():
    for method, constant in TABLE1.items():
        assert stability.critical_eta(method, 0.9, lam=4.0) == pytest.approx(constant(0.9) / 4)
    assert stability.critical_eta("ema_hb", 0.9) == pytest.approx(38.0)


# ---------------------------------------------------------------------------------------------
# (a) and (b)


@pytest.mark.parametrize("beta1", [0.5, 0.9])
def test_divergence_flips_at_each_methods_own_threshold(beta1):
    for method, constant in TABLE1.items():
        label = stability.METHOD_LABELS[method]
        for factor in (0.98, 1.02):
            eta = factor * constant(beta1)
            result = stability.divergence_runs(eta, beta1, steps=120)
            row = result["summary"].set_index("method").loc[label]
            assert row["diverging"] == (factor > 1), (method, factor)
            assert row["ratio"] == pytest.approx(factor)
            expected = root_radius(method, eta, beta1, 1.0)
            assert row["predicted_growth"] == pytest.approx(expected, rel=1e-9)
            assert row["measured_growth"] == pytest.approx(expected, rel=2e-2), (method, factor)


def test_divergence_runs_trajectories_match_numpy():
    result = stability.divergence_runs(20.0, 0.9, steps=60)
    runs = result["runs"]
    assert set(runs["method"]) == set(stability.METHOD_LABELS.values())
    for method in ("ema_hb", "gd"):
        reference, _ = numpy_momentum(method, 20.0, 0.9, 1.0, 60)
        shown = runs[runs["method"] == stability.METHOD_LABELS[method]]["abs_x"].to_numpy()
        visible = (np.abs(reference) >= 1e-12) & (np.abs(reference) <= 1e12)
        np.testing.assert_allclose(shown[visible], np.abs(reference[visible]), rtol=1e-10)
        assert np.all(np.isnan(shown[~visible]))


def test_stability_grid_matches_numpy():
    eta_lambda, betas = np.array([1.0, 10.0, 50.0]), np.array([0.0, 0.9])
    grid = stability.stability_grid("ema_hb", eta_lambda, betas, steps=(20, 10))
    assert sorted(grid["steps"].unique()) == [10, 20]
    assert len(grid) == 2 * 3 * 2
    for row in grid.itertuples():
        xs, _ = numpy_momentum("ema_hb", row.eta_lambda, row.beta1, 1.0, row.steps)
        window = math.ceil(0.1 * row.steps)
        expected = np.max(np.abs(xs[row.steps - window + 1 :]))
        assert row.max_abs_x == pytest.approx(expected, rel=1e-9)


def test_stability_boundary_and_map_agree_with_table1():
    betas = np.array([0.0, 0.5, 0.9, 0.99])
    boundary = stability.stability_boundary("ema_hb", betas)
    np.testing.assert_allclose(boundary["eta_lambda"], [2.0, 6.0, 38.0, 398.0])
    cut = stability.stability_boundary("ema_hb", betas, (0.1, 100.0))
    np.testing.assert_allclose(cut["beta1"], [0.0, 0.5, 0.9])
    np.testing.assert_allclose(stability.stability_boundary("gd", betas)["eta_lambda"], 2.0)

    eta_lambda = np.geomspace(0.1, 1000.0, 30)
    grid = stability.stability_grid("standard_nesterov", eta_lambda, np.linspace(0, 0.9, 8), [200])
    right = stability.map_agreement(grid, "standard_nesterov")
    assert right > 0.97
    # the same map read against another method's boundary disagrees far more often
    assert stability.map_agreement(grid, "ema_hb") < right - 0.1


# ---------------------------------------------------------------------------------------------
# (c) and (d)


def test_growth_curves_fig14():
    result = stability.growth_curves(0.2, 0.9, points=50)
    summary = result["summary"].set_index("method")
    for method in stability.GROWTH_METHODS:
        label = stability.METHOD_LABELS[method]
        lam_star = TABLE1[method](0.9) / 0.2
        assert summary.loc[label, "threshold"] == pytest.approx(lam_star)
        edge = root_radius(method, 0.2, 0.9, 1.1 * lam_star)
        assert summary.loc[label, "growth_edge"] == pytest.approx(edge, rel=1e-9)
        assert summary.loc[label, "steps_to_10x"] == pytest.approx(math.log(10) / math.log(edge))
        curve = result["curves"][result["curves"]["method"] == label]
        assert curve["lam_ratio"].min() == 0.0 and curve["lam_ratio"].max() == pytest.approx(1.1)
        below = curve[(curve["lam_ratio"] > 0) & (curve["lam_ratio"] < 1)]["growth"]
        assert np.all(below < 1.0)
        assert np.all(curve[curve["lam_ratio"] > 1.0]["growth"] > 1.0)
    edges = summary["growth_edge"]
    assert edges["HB EMA"] > edges["Nesterov EMA"] > edges["GD"]
    assert edges["HB EMA"] == pytest.approx(1.772, abs=1e-3)
    table = stability.growth_table(result).set_index("method")
    assert table.loc["HB EMA", "ρ at 1.1 λ*"] == "1.772"
    assert table.loc["GD", "threshold λ*"] == "2/η = 10"


def test_momentum_gradients_fig17():
    result = stability.momentum_gradients(20.0, 0.9, steps=30)
    summary = result["summary"].set_index("method")
    hb, gd = summary.loc["HB EMA"], summary.loc["GD"]
    xs, ms = numpy_momentum("ema_hb", 20.0, 0.9, 1.0, 30, x0=1.0, m0=0.2)
    assert hb["grad_growth"] == pytest.approx(np.max(xs**2))
    assert hb["grad_growth"] > 20 and hb["stable"] and not hb["monotone"]
    runs = result["runs"]
    np.testing.assert_allclose(runs[runs["method"] == "HB EMA"]["momentum"], ms, rtol=1e-10)
    rho = root_radius("ema_hb", 20.0, 0.9, 1.0)
    assert gd["eta"] == pytest.approx(1 + rho)
    gd_x = runs[runs["method"] == "GD"]["x"].to_numpy()
    np.testing.assert_allclose(gd_x, (-rho) ** np.arange(31), rtol=1e-9)
    assert gd["stable"] and gd["monotone"] and gd["grad_growth"] == 1.0
    table = stability.large_gradient_table(result)
    assert table["|g_t| never increases"].tolist() == ["no", "yes"]
    unstable = stability.momentum_gradients(40.0, 0.9)["summary"].set_index("method")
    assert not unstable.loc["HB EMA", "stable"] and not unstable.loc["GD", "stable"]


# ---------------------------------------------------------------------------------------------
# (e) and (f)


def test_rotated_hessian_and_preconditioned_sharpness():
    h = stability.rotated_hessian((1.0, 20.0), 30.0)
    np.testing.assert_allclose(h, h.T)
    np.testing.assert_allclose(np.linalg.eigvalsh(h), [1.0, 20.0])
    assert h[0, 1] != 0
    p = np.array([2.0, 0.3])
    expected = np.max(np.linalg.eigvals(np.diag(1 / p) @ h).real)
    assert stability.precond_sharpness(h, p) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("eta", "precond", "angle"),
    [(3.0, (1.0, 4.0), 0.0), (1.0, (1.0, 0.25), 0.0), (1.0, (3.0, 0.2), 30.0)],
)
def test_preconditioning_follows_the_preconditioned_hessian(eta, precond, angle):
    h = stability.rotated_hessian((1.0, 20.0), angle)
    result = stability.preconditioning_runs(eta, 0.9, precond, hessian=h, steps=150)
    lam_star = 38.0 / eta
    assert result["threshold"] == pytest.approx(lam_star)
    assert result["lam1_H"] == pytest.approx(20.0)
    past_h = result["lam1_H"] > lam_star
    past_php = result["lam1_PHP"] > lam_star
    assert past_h != past_php  # the cases are chosen so that the two disagree
    assert result["diverging_without_P"] == past_h
    assert result["diverging_with_P"] == past_php
    assert result["isomorphism_gap"] < 1e-12
    assert list(result["summary"]["diverging"]) == [past_h, past_php]
    table, caption = stability.preconditioning_table(result)
    assert list(table["that run"]) == [
        "diverges" if past else "stays bounded" for past in (past_h, past_php)
    ]
    assert caption.startswith("Prop. 1 check")


def test_rmsprop_matches_numpy_and_halts_its_divergence():
    eta, beta2, eps = 2.2, 0.9, 1e-7
    result = stability.rmsprop_runs(eta, beta2, steps=400, eps=eps)
    x, nu, xs, nus = 1.0, 1.0, [1.0], [1.0]
    for _ in range(400):
        nu = beta2 * nu + (1 - beta2) * x**2
        x = x - eta * x / (math.sqrt(nu) + eps)
        xs.append(x)
        nus.append(nu)
    runs = result["runs"]
    np.testing.assert_allclose(runs["abs_x"], np.abs(xs), rtol=1e-8)
    np.testing.assert_allclose(runs["nu"], nus, rtol=1e-8)
    assert result["start_ratio"] == pytest.approx(1.1, rel=1e-6)
    assert result["frozen_diverging"] and result["finite"]
    assert result["nu_max"] > 1.0
    assert result["on_orbit"] and result["settled"]
    assert result["late_abs_x"] == pytest.approx(eta / 2, rel=1e-3)
    table, caption = stability.rmsprop_table(result)
    assert table["outcome"].tolist()[0] == "diverges"
    assert table["outcome"].tolist()[1].startswith("settled on the orbit")
    assert "1.1 × the threshold 2/η" in caption
    slow = stability.rmsprop_runs(eta, 0.999, steps=400)
    assert slow["finite"] and slow["nu_max"] > 1.0 and not slow["settled"]
    assert stability.rmsprop_table(slow)[0]["outcome"].iloc[1].startswith("still cycling")


# ---------------------------------------------------------------------------------------------
# Charts and panels


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


def test_html_table_escapes_and_table_view_updates():
    frame = pd.DataFrame({"a<b": ["x & y", 1.5]})
    text = stability.html_table(frame, caption="λ < 2/η")
    assert "a&lt;b" in text and "x &amp; y" in text and "λ &lt; 2/η" in text
    assert text.count("<tr>") == 3
    view = stability.TableView(lambda r: r["table"])
    assert view.update({"table": frame}) == "data"
    assert view.widget.value == stability.html_table(frame)
    summary = stability.divergence_runs(10.0, 0.9, steps=40)
    table = stability.divergence_table(summary)
    assert list(table["run"]) == ["diverges", "diverges", "stable", "diverges", "stable"]
    assert table["threshold λ*"].iloc[2] == "38/η = 3.8"


def test_charts_show_thresholds_log_axes_and_fixed_colours():
    result = stability.divergence_runs(10.0, 0.9, steps=40)
    spec = stability.trajectory_chart(result["runs"]).to_dict()
    (line,) = _find(spec, "line")
    (rule,) = _find(spec, "rule")
    threshold_rows = spec["datasets"][rule["data"]["name"]]
    assert [r["threshold"] for r in threshold_rows] == [1.0]  # the |x_0| rule kept its data
    assert all(layer["data"]["name"] in spec["datasets"] for layer in spec["layer"])
    assert line["encoding"]["y"]["scale"]["type"] == "log"
    assert line["encoding"]["y"]["axis"]["labelExpr"] == charts.COMPACT_LABEL
    assert line["encoding"]["x"]["scale"]["domain"] == [0, 40]
    colors = line["encoding"]["color"]["scale"]
    assert dict(zip(colors["domain"], colors["range"], strict=True)) == stability.METHOD_COLORS

    dots = stability.ratio_dots(result["summary"]).to_dict()
    (rule,) = _find(dots, "rule")
    assert rule["mark"]["strokeDash"] == charts.THRESHOLD_DASH
    (point,) = _find(dots, "point")
    assert point["encoding"]["x"]["scale"]["type"] == "log"
    assert [r["shown"] for r in dots["datasets"][rule["data"]["name"]]] == [1.0]


@pytest.fixture
def compile_events():
    events = []

    def listener(name, duration, **kwargs):
        if name == "/jax/core/compile/backend_compile_duration":
            events.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    yield events
    jax.monitoring.unregister_event_duration_listener(listener)


def test_panels_update_from_their_sliders_without_recompiling(compile_events):
    panels = {
        "a": stability.divergence_panel(steps=40),
        "b": stability.stability_map_panel(grid_size=(8, 5), steps_options=(10, 20)),
        "c": stability.growth_panel(points=30),
        "d": stability.large_gradient_panel(),
        "e": stability.preconditioning_panel(steps=40),
        "f": stability.rmsprop_panel(steps=60),
    }
    moves = {
        "a": {"eta": 37.0, "beta1": 0.5},
        "b": {"method": "gd", "steps": 10, "eta": 3.0},
        "c": {"eta": 0.05, "beta1": 0.6},
        "d": {"eta": 5.0, "beta1": 0.8},
        "e": {"p1": 0.5, "p2": 2.0, "angle": 30.0, "eta": 2.0},
        "f": {"eta": 3.0, "beta2": 0.95},
    }
    built = len(compile_events)
    for name, panel in panels.items():
        assert panel.last_error is None, name
        assert "eta" in panel.controls and ({"beta1", "beta2"} & set(panel.controls)), name
        before = panel.last_result
        panel.set(**moves[name])
        assert panel.last_error is None, (name, panel.last_error)
        assert panel.last_result is not before
    assert len(compile_events) == built, "a slider move recompiled"
    a = panels["a"].last_result["summary"].set_index("method")
    assert a.loc["HB EMA", "ratio"] == pytest.approx(37.0 / 6.0)
    b = panels["b"].last_result
    assert b["method"] == "gd" and set(b["grid"]["steps"]) == {10}
    assert isinstance(b["marker"], pd.DataFrame) and b["marker"]["eta_lambda"].iloc[0] == 3.0
    assert panels["f"].last_result["threshold"] == pytest.approx(2.0 / 3.0)
