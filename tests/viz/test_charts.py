"""Chart builders: assertions on the Vega-Lite spec dicts (chart.to_dict())."""

import math

import numpy as np
import pandas as pd
import pytest

from aeos_lab.viz import charts

ETAS = [1e-3, 1e-2]


def units(spec, data=None):
    """Yield (unit spec, dataset name) for every mark in a (nested) layer/concat spec."""
    data = spec.get("data", {}).get("name", data)
    if "mark" in spec:
        yield spec, data
    for key in ("layer", "concat", "hconcat", "vconcat"):
        for child in spec.get(key, []):
            yield from units(child, data)


def mark_type(unit):
    mark = unit["mark"]
    return mark if isinstance(mark, str) else mark["type"]


def find(spec, kind):
    found = [(u, d) for u, d in units(spec) if mark_type(u) == kind]
    assert found, f"no {kind} mark in spec"
    return found


def sharpness_frame(steps=50):
    """Toy sharpness curves rising to 38/eta, one series per eta."""
    rows = [
        {"step": s, "sharpness": 38 / eta * (1 - math.exp(-s / 10)), "eta": eta}
        for eta in ETAS
        for s in range(steps)
    ]
    return pd.DataFrame(rows)


def test_format_sci_examples():
    assert charts.format_sci(38 / 1e-3) == "3.8e4"
    assert charts.format_sci(1e-3) == "1e-3"
    assert charts.format_sci(2.5e-5) == "2.5e-5"
    assert charts.format_sci(200.0) == "200"
    assert charts.format_sci(0.5) == "0.5"
    assert charts.format_sci(3800.0) == "3800"
    assert charts.format_sci(1.0) == "1"


def test_threshold_frame_per_eta():
    etas = np.array(ETAS)
    frame = charts.threshold_frame(38 / etas, "38/η", eta=etas)
    np.testing.assert_allclose(frame["threshold"], [38000.0, 3800.0])
    np.testing.assert_allclose(frame["eta"], etas)
    assert list(frame["label"]) == ["38/η = 3.8e4", "38/η = 3800"]


def test_line_chart_has_dashed_labelled_threshold_layer():
    etas = np.array(ETAS)
    chart = charts.line_chart(
        sharpness_frame(),
        y="sharpness",
        thresholds=charts.threshold_frame(38 / etas, "38/η", eta=etas),
    )
    spec = chart.to_dict()
    ((rule, rule_data),) = find(spec, "rule")
    assert len(rule["mark"]["strokeDash"]) == 2
    assert rule["encoding"]["y"]["field"] == "threshold"
    ((text, text_data),) = find(spec, "text")
    assert text["encoding"]["text"]["field"] == "label"
    assert rule_data == text_data
    rows = spec["datasets"][text_data]
    assert {r["label"] for r in rows} == {"38/η = 3.8e4", "38/η = 3800"}
    assert sorted(r["threshold"] for r in rows) == pytest.approx([3800.0, 38000.0])


def test_single_threshold_value_is_neutral_and_labelled():
    spec = charts.line_chart(
        sharpness_frame(), y="sharpness", thresholds=2 / 0.01, formula="2/η"
    ).to_dict()
    ((rule, data),) = find(spec, "rule")
    assert "value" in rule["encoding"].get("color", {"value": None})
    assert [r["label"] for r in spec["datasets"][data]] == ["2/η = 200"]


def test_log_scales_where_promised():
    frame = sharpness_frame()
    spec = charts.line_chart(frame, y="sharpness", log_y=True).to_dict()
    ((line, _),) = find(spec, "line")
    assert line["encoding"]["y"]["scale"]["type"] == "log"
    assert line["encoding"]["x"]["scale"].get("type") != "log"

    sweep = pd.DataFrame({"eta": [1e-4, 1e-3, 1e-2], "value": [1.0, 2.0, 3.0]})
    ((line, _),) = find(charts.line_chart(sweep, x="eta", color=None, log_x=True).to_dict(), "line")
    assert line["encoding"]["x"]["field"] == "eta"
    assert line["encoding"]["x"]["scale"]["type"] == "log"


def test_log_axis_drops_nonpositive_values():
    frame = pd.DataFrame({"step": [0, 1, 2], "value": [0.0, 1.0, 2.0], "eta": 1e-3})
    spec = charts.line_chart(frame, log_y=True).to_dict()
    ((line, _),) = find(spec, "line")
    assert any("> 0" in str(t.get("filter")) for t in line["transform"])


def test_ratio_chart_has_constant_rule_at_one():
    frame = sharpness_frame().assign(ratio=lambda d: d.sharpness * d.eta / 38)
    spec = charts.ratio_chart(frame).to_dict()
    ((line, line_data),) = find(spec, "line")
    assert line["encoding"]["y"]["field"] == "ratio"
    ((rule, rule_data),) = find(spec, "rule")
    assert rule["mark"]["strokeDash"]
    assert [r["threshold"] for r in spec["datasets"][rule_data]] == [1.0]
    assert rule_data != line_data


def test_eta_colour_scale_shared_between_runs_and_thresholds():
    etas = np.array(ETAS)
    domain = (1e-4, 1e-1)
    spec = charts.line_chart(
        sharpness_frame(),
        y="sharpness",
        thresholds=charts.threshold_frame(38 / etas, "38/η", eta=etas),
        eta_domain=domain,
    ).to_dict()
    ((line, _),) = find(spec, "line")
    ((rule, _),) = find(spec, "rule")
    for color in (line["encoding"]["color"], rule["encoding"]["color"]):
        assert color["field"] == "eta"
        assert color["type"] == "quantitative"
        assert color["scale"]["type"] == "log"
        assert color["scale"]["domain"] == list(domain)
    assert line["encoding"]["color"]["scale"] == rule["encoding"]["color"]["scale"]
    assert "resolve" not in spec  # layers share scales by default

    other = charts.ratio_chart(sharpness_frame().assign(ratio=1.0), eta_domain=domain)
    ((other_line, _),) = find(other.to_dict(), "line")
    assert other_line["encoding"]["color"]["scale"] == line["encoding"]["color"]["scale"]


def test_categorical_colour_for_other_series():
    frame = pd.DataFrame(
        {"step": [0, 1, 0, 1], "x": [1.0, 0.5, 1.0, -0.5], "method": ["gd", "gd", "hb", "hb"]}
    )
    ((line, _),) = find(charts.line_chart(frame, y="x", color="method").to_dict(), "line")
    assert line["encoding"]["color"] == {"field": "method", "type": "nominal", "title": "method"}


def test_heatmap_cells_boundary_and_log_colour():
    x_grid = [0.1, 1.0, 10.0]
    y_grid = [0.0, 0.5]
    values = {0.1: 0.5, 1.0: 1.0, 10.0: np.inf}
    grid = pd.DataFrame(
        [{"eta_lambda": x, "beta1": y, "max_abs_x": values[x]} for x in x_grid for y in y_grid]
    )
    beta1 = np.linspace(0.0, 0.5, 6)
    boundary = pd.DataFrame({"beta1": beta1, "eta_lambda": (2 + 2 * beta1) / (1 - beta1)})
    spec = charts.stability_heatmap(grid, boundary=boundary, color_domain=(1e-2, 1e2)).to_dict()

    ((rect, rect_data),) = find(spec, "rect")
    assert rect["encoding"]["x"]["scale"]["type"] == "log"
    assert rect["encoding"]["color"]["scale"]["type"] == "log"
    cells = pd.DataFrame(spec["datasets"][rect_data])
    middle = cells[(cells.eta_lambda == 1.0) & (cells.beta1 == 0.0)].iloc[0]
    assert middle.eta_lambda_lo == pytest.approx(math.sqrt(0.1))  # geometric midpoints
    assert middle.eta_lambda_hi == pytest.approx(math.sqrt(10.0))
    assert middle.beta1_lo == pytest.approx(-0.25)
    assert middle.beta1_hi == pytest.approx(0.25)
    diverged = cells[cells.eta_lambda == 10.0]
    assert (diverged.max_abs_x == 1e2).all()  # inf takes the top of the colour domain

    ((line, line_data),) = find(spec, "line")
    drawn = pd.DataFrame(spec["datasets"][line_data]).sort_values("order")
    np.testing.assert_allclose(drawn.eta_lambda, (2 + 2 * beta1) / (1 - beta1))
    np.testing.assert_allclose(drawn.beta1, beta1)
    assert line["encoding"]["x"]["scale"]["type"] == "log"


def test_downsample_keeps_first_last_and_caps_rows():
    long = pd.DataFrame({"step": np.arange(10_001), "eta": 1e-3})
    short = pd.DataFrame({"step": np.arange(37), "eta": 1e-2})
    frame = pd.concat([long, short])  # index labels 0..36 appear twice
    frame = frame.iloc[np.random.default_rng(0).permutation(len(frame))]
    frame["row"] = np.arange(len(frame))
    thin = charts.downsample(frame, x="step", by=["eta"], max_rows=500)
    assert len(thin) <= 500
    for eta, size in ((1e-3, 10_001), (1e-2, 37)):
        steps = np.sort(thin.loc[thin.eta == eta, "step"].to_numpy())
        assert steps[0] == 0 and steps[-1] == size - 1
        strides = np.diff(steps[:-1])
        assert len(set(strides)) <= 1  # every k-th step (then the last one)
    assert (np.diff(thin["row"]) > 0).all()  # original order kept, no row twice
    assert len(thin) > 250  # not thinned much more than needed


def test_downsample_leaves_small_frames_alone_and_rejects_impossible_caps():
    frame = pd.DataFrame({"step": np.arange(10), "eta": 1e-3})
    assert charts.downsample(frame, by=["eta"], max_rows=10) is frame
    many = pd.DataFrame({"step": np.tile(np.arange(5), 10), "run": np.repeat(np.arange(10), 5)})
    with pytest.raises(ValueError, match="max_rows"):
        charts.downsample(many, by=["run"], max_rows=15)


def test_line_chart_caps_rows_per_dataset():
    frame = pd.DataFrame(
        {
            "step": np.tile(np.arange(4000), 3),
            "value": 1.0,
            "eta": np.repeat([1e-3, 1e-2, 1e-1], 4000),
        }
    )
    spec = charts.line_chart(frame).to_dict()
    ((_, data),) = find(spec, "line")
    rows = pd.DataFrame(spec["datasets"][data])
    assert len(rows) <= charts.MAX_ROWS
    assert (rows.groupby("eta").step.agg(["min", "max"]).to_numpy() == [0, 3999]).all()


def test_every_builder_uses_the_theme():
    frame = sharpness_frame()
    grid = pd.DataFrame({"eta_lambda": [1.0, 2.0], "beta1": [0.0, 0.0], "max_abs_x": [1.0, 2.0]})
    built = [
        charts.line_chart(frame, y="sharpness"),
        charts.ratio_chart(frame.assign(ratio=1.0)),
        charts.stability_heatmap(grid),
        charts.runs_chart(frame.assign(label="a"), "sharpness", title="t", y_title="y"),
    ]
    expected = charts.theme()["config"]
    for chart in built:
        config = chart.to_dict()["config"]
        assert {key: config[key] for key in expected} == expected
