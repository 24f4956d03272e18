"""Control panel and live charts, driven from code the way a notebook self-check drives them."""

import altair as alt
import ipywidgets
import numpy as np
import pandas as pd
import pytest

from aeos_lab.viz import charts, widgets

LAM = 100.0  # curvature of the toy quadratic f(x) = LAM * x^2 / 2
STEPS = np.arange(40)


def gd_trajectory(eta):
    """Gradient descent on f(x) = LAM x^2 / 2 from x0 = 1: x_t = (1 - eta LAM)^t."""
    return (1.0 - eta * LAM) ** STEPS


class Recorder:
    """A compute function that counts its calls and returns GD trajectories."""

    def __init__(self, fail_above=None):
        self.calls = []
        self.fail_above = fail_above

    def __call__(self, values):
        self.calls.append(dict(values))
        if self.fail_above is not None and values["eta"] > self.fail_above:
            raise ValueError(f"eta too large: {values['eta']}")
        return pd.DataFrame(
            {"step": STEPS, "x": gd_trajectory(values["eta"]), "eta": values["eta"]}
        )


def build(frame):
    return charts.line_chart(frame, y="x", thresholds=2 / LAM, formula="2/λ")


def line_rows(live):
    """The dataset of the trajectory lines as the browser last received it."""
    (rows,) = [rows for rows in live.data.values() if rows and "step" in rows[0]]
    return rows


def pushed(live):
    """Datasets sent in the chart's last in-place update, by name."""
    return {u["name"]: u["value"] for u in live.jchart._py_to_js_updates or []}


def record_sends(live):
    """Collect the names of the chart-widget traits sent to the browser from now on."""
    sent = []
    original = live.jchart.send_state

    def send_state(key=None):
        sent.extend([key] if isinstance(key, str) else list(key or []))
        return original(key)

    live.jchart.send_state = send_state
    return sent


@pytest.fixture
def compute():
    return Recorder()


@pytest.fixture
def panel(compute):
    return widgets.ControlPanel(compute, [build], eta=(1e-3, 1e-4, 1e-1), beta2=(0.99, 0.9, 0.999))


def test_controls_are_named_log_eta_and_never_continuous(compute):
    extra_widget = ipywidgets.IntSlider(value=10, min=0, max=100, continuous_update=True)
    panel = widgets.ControlPanel(
        compute,
        eta=(1e-2, 1e-4, 1.0),
        beta2=(0.999, 0.9, 0.9999, 1e-4),
        optimizers=["adam", "rmsprop"],
        extra={"P": (1.0, 0.1, 10.0), "warmup": extra_widget},
    )
    eta = panel.sliders["eta"]
    assert isinstance(eta, ipywidgets.FloatLogSlider)
    assert eta.base == 10
    assert (eta.min, eta.max) == pytest.approx((-4.0, 0.0))
    assert eta.readout_format in (".1e", ".2e")
    descriptions = {name: w.description for name, w in panel.controls.items()}
    assert descriptions == {
        "eta": "eta",
        "beta1": "beta1",
        "beta2": "beta2",
        "optimizer": "optimizer",
        "P": "P",
        "warmup": "warmup",
    }
    assert isinstance(panel.controls["optimizer"], ipywidgets.Dropdown)
    assert set(panel.sliders) == {"eta", "beta1", "beta2", "P", "warmup"}
    assert all(w.continuous_update is False for w in panel.sliders.values())
    assert panel.values == {
        "eta": pytest.approx(1e-2),
        "beta1": 0.9,
        "beta2": 0.999,
        "optimizer": "adam",
        "P": 1.0,
        "warmup": 10,
    }


def test_slider_move_recomputes_once_and_swaps_only_data(panel, compute):
    live = panel.charts[0]
    assert len(compute.calls) == 1 and live.counts == {"data": 0, "spec": 1}
    sent = record_sends(live)

    panel.sliders["eta"].value = 1.5e-2  # what a learner's slider release does

    assert len(compute.calls) == 2
    assert compute.calls[-1]["eta"] == pytest.approx(1.5e-2)
    assert live.counts == {"data": 1, "spec": 1}
    assert "_py_to_js_updates" in sent and "spec" not in sent  # no re-embed, no flicker
    rows = line_rows(live)
    np.testing.assert_allclose([r["x"] for r in rows], gd_trajectory(1.5e-2))
    assert pushed(live)  # the browser receives the new rows ...
    lines = [v for v in pushed(live).values() if "step" in v[0]][0]
    np.testing.assert_allclose([r["x"] for r in lines], gd_trajectory(1.5e-2))
    name = [n for n, v in live.data.items() if v is rows][0]
    assert live.jchart.spec["datasets"][name] == rows  # ... and a reloaded page too
    assert panel.last_result["x"].to_numpy() == pytest.approx(gd_trajectory(1.5e-2))


def test_returning_to_an_earlier_value_uses_the_cache(panel, compute):
    panel.set(eta=5e-3)
    panel.set(eta=1e-3)
    assert len(compute.calls) == 2  # initial value and 5e-3 only
    assert panel.cache_info()["hits"] == 1
    np.testing.assert_allclose([r["x"] for r in line_rows(panel.charts[0])], gd_trajectory(1e-3))
    assert "cached" in panel.status.value


def test_lru_cache_drops_the_oldest_setting(compute):
    panel = widgets.ControlPanel(compute, eta=(1e-3, 1e-4, 1e-1), cache_size=2)
    panel.set(eta=2e-3)
    panel.set(eta=3e-3)  # cache now holds 2e-3 and 3e-3
    panel.set(eta=2e-3)
    assert len(compute.calls) == 3
    panel.set(eta=1e-3)
    assert len(compute.calls) == 4


def test_set_from_code_takes_the_slider_path_and_batches(panel, compute):
    seen = []
    panel.sliders["eta"].observe(lambda change: seen.append(change["new"]), names="value")
    panel.set(eta=2e-3, beta1=0.5, beta2=0.95)
    assert seen == [pytest.approx(2e-3)]  # the widget itself moved
    assert len(compute.calls) == 2  # one recompute for three controls
    assert compute.calls[-1] == {
        "eta": pytest.approx(2e-3),
        "beta1": 0.5,
        "beta2": 0.95,
    }
    by_code = line_rows(panel.charts[0])
    panel.set(eta=1e-3)
    panel.sliders["eta"].value = 2e-3  # the same setting, by "hand"
    assert line_rows(panel.charts[0]) == by_code


def test_set_rejects_unknown_names_and_out_of_range_values(panel, compute):
    with pytest.raises(ValueError, match="unknown control"):
        panel.set(learning_rate=1e-3)
    with pytest.raises(ValueError, match=r"eta must lie in \[0\.0001, 0\.1\]"):
        panel.set(eta=1.0)
    with pytest.raises(ValueError, match="beta1"):
        panel.set(beta1=1.5)
    assert len(compute.calls) == 1
    assert panel.values["eta"] == pytest.approx(1e-3)

    shifted = widgets.ControlPanel(compute, eta=None, beta1=None, extra={"x0": (0.0, -1.0, 1.0)})
    shifted.set(x0=-1.0)  # the lower end itself is allowed
    assert compute.calls[-1] == {"x0": -1.0}
    with pytest.raises(ValueError, match=r"x0 must lie in \[-1, 1\]"):
        shifted.set(x0=-1.5)


def test_raising_compute_shows_error_and_panel_stays_usable():
    compute = Recorder(fail_above=5e-2)
    panel = widgets.ControlPanel(compute, [build], eta=(1e-3, 1e-4, 1e-1))
    before = line_rows(panel.charts[0])
    panel.set(eta=8e-2)
    assert "Error" in panel.status.value and "eta too large" in panel.status.value
    assert isinstance(panel.last_error, ValueError)
    assert line_rows(panel.charts[0]) == before  # the chart keeps its last good data
    assert not panel.button.disabled
    panel.set(eta=2e-2)
    assert panel.last_error is None and panel.status.value.startswith("Ready")
    np.testing.assert_allclose([r["x"] for r in line_rows(panel.charts[0])], gd_trajectory(2e-2))
    panel.set(eta=8e-2)  # errors are not cached: it computes (and fails) again
    assert len(compute.calls) == 4


def test_error_in_first_compute_does_not_raise():
    panel = widgets.ControlPanel(Recorder(fail_above=0.0), [build])
    assert "Error in compute" in panel.status.value
    assert panel.last_result is None


def test_run_button_mode_waits_for_the_click(compute):
    panel = widgets.ControlPanel(compute, [build], eta=(1e-3, 1e-4, 1e-1), run_button=True)
    assert compute.calls == [] and panel.charts[0].jchart is None
    panel.set(eta=2e-3)
    panel.sliders["beta1"].value = 0.5
    assert compute.calls == []
    assert "Run" in panel.status.value and panel.stale
    panel.button.click()
    assert len(compute.calls) == 1
    assert compute.calls[0] == {"eta": pytest.approx(2e-3), "beta1": 0.5}
    np.testing.assert_allclose([r["x"] for r in line_rows(panel.charts[0])], gd_trajectory(2e-3))
    panel.set(eta=3e-3)  # new setting: waits again
    assert len(compute.calls) == 1
    panel.set(eta=2e-3)  # back to a computed setting: shown at once, no compute
    assert len(compute.calls) == 1 and not panel.stale


def test_progress_reaches_the_status_line():
    snapshots = []

    def slow(values, progress):
        for _ in progress.track(range(4)):
            snapshots.append((panel.bar.value, panel.bar.max, panel.status.value))
        progress(7, 10, "epoch 7")
        snapshots.append((panel.bar.value, panel.bar.max, panel.status.value))
        return pd.DataFrame({"step": [0, 1], "x": [1.0, 0.5], "eta": values["eta"]})

    panel = widgets.ControlPanel(slow, [build], run_button=True)
    panel.button.click()
    assert snapshots[0][:2] == (0, 4)
    assert snapshots[-1][:2] == (7, 10) and "7/10 epoch 7" in snapshots[-1][2]
    assert panel.status.value.startswith("Ready")
    assert panel.bar.layout.visibility == "hidden"


def test_layout_change_replaces_the_chart(compute):
    def titled(frame):
        return charts.line_chart(frame, y="x", title=f"eta = {frame.eta.iloc[0]:.0e}")

    panel = widgets.ControlPanel(compute, [titled], eta=(1e-3, 1e-4, 1e-1))
    live = panel.charts[0]
    first = live.jchart
    sent = record_sends(live)
    panel.set(eta=2e-3)
    assert live.counts == {"data": 0, "spec": 2}
    # a new layout gets a new chart widget, embedded once with its final spec; the old one is
    # closed (re-embedding one widget leaves stale update listeners in the browser)
    assert live.jchart is not first and first.comm is None and sent == []
    assert live.widget.children == (live.jchart,)
    assert live.jchart.spec["title"] == "eta = 2e-03"
    assert set(live.jchart.spec["datasets"]) == set(live.data)  # stable names from the start


def test_dict_results_and_keyed_charts():
    def two_tables(values):
        frame = pd.DataFrame({"step": STEPS, "x": gd_trajectory(values["eta"]), "eta": 0.0})
        return {"runs": frame.assign(eta=values["eta"]), "loss": frame.assign(x=frame.x**2)}

    runs = widgets.LiveChart(lambda f: charts.line_chart(f, y="x"), key="runs")
    loss = widgets.LiveChart(lambda f: charts.line_chart(f, y="x", color=None), key="loss")
    panel = widgets.ControlPanel(two_tables, [runs, loss], eta=(1e-3, 1e-4, 1e-1))
    panel.set(eta=4e-3)
    np.testing.assert_allclose([r["x"] for r in line_rows(runs)], gd_trajectory(4e-3))
    np.testing.assert_allclose([r["x"] for r in line_rows(loss)], gd_trajectory(4e-3) ** 2)
    assert runs.counts["data"] == loss.counts["data"] == 1
    assert panel.widget.children[-2:] == (runs.widget, loss.widget)


def test_output_mode_redraws(compute):
    live = widgets.LiveChart(build, compute({"eta": 1e-3}), mode="output")
    assert isinstance(live.widget.children[0], ipywidgets.Output)
    assert live.update(compute({"eta": 2e-3})) == "spec"
    np.testing.assert_allclose([r["x"] for r in line_rows(live)], gd_trajectory(2e-3))


def test_measure_latency_counts_one_update_per_setting(panel, compute):
    settings = [{"eta": eta} for eta in (2e-3, 3e-3, 4e-3)]
    result = widgets.measure_latency(panel, settings)
    assert len(result["times_ms"]) == 3 and len(compute.calls) == 4
    assert result["median_ms"] == pytest.approx(float(np.median(result["times_ms"])))
    assert result["max_ms"] < 5000
    with pytest.raises(ValueError, match="exactly one update"):
        widgets.measure_latency(panel, [{"eta": 4e-3}])  # no change, no update


def test_enable_offline_bundles_the_javascript():
    pytest.importorskip("vl_convert")
    try:
        assert widgets.enable_offline() is True
        assert "https://esm.sh" not in alt.JupyterChart._esm
    finally:
        widgets.enable_offline(False)
    assert "https://esm.sh" in alt.JupyterChart._esm


def test_ready_settings_show_at_once_and_others_wait_for_run():
    calls = []
    trained = {1e-3}

    def compute(values, progress=None):
        calls.append(values["eta"])
        trained.add(values["eta"])
        return pd.DataFrame({"step": [0, 1], "value": [1.0, 2.0]})

    panel = widgets.ControlPanel(
        compute,
        [lambda frame: charts.line_chart(frame, color=None)],
        ready=lambda values: values["eta"] in trained,
        run_button=True,
        auto_run=False,
        eta=(1e-3, 1e-4, 1e-1),
        beta1=None,
    )
    assert calls == []  # nothing runs before show()
    panel.show()
    assert calls == [1e-3]
    panel.set(eta=1e-2)  # not trained: waits
    assert panel.stale and calls == [1e-3]
    panel.button.click()
    assert not panel.stale and calls == [1e-3, 1e-2]
    panel.set(eta=1e-3)  # memoised by the panel
    panel.set(eta=1e-2)
    assert calls == [1e-3, 1e-2]
    trained.add(3e-2)
    panel.set(eta=3e-2)  # ready (cached by the engine): computed without Run
    assert calls == [1e-3, 1e-2, 3e-2] and not panel.stale
    panel.set_and_run(eta=5e-2)  # not trained: set_and_run presses Run
    assert calls[-1] == 5e-2 and not panel.stale and panel.last_values["eta"] == 5e-2


def test_set_and_run_raises_when_the_computation_failed():
    def compute(values):
        raise ValueError("eta out of range")

    panel = widgets.ControlPanel(compute, [], run_button=True, auto_run=False, beta1=None)
    with pytest.raises(RuntimeError, match="failed") as info:
        panel.set_and_run(eta=0.5)
    assert isinstance(info.value.__cause__, ValueError)
    assert panel.ready is None and panel.stale
