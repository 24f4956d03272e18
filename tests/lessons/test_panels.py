"""The panel wiring the network panels share (aeos_lab.lessons.panels)."""

from aeos_lab.engine import train
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.tasks import MICRO_TASK
from aeos_lab.lessons import panels


def test_grid_sliders_step_through_their_grid_from_the_start():
    sliders = panels.grid_sliders({"eta": ((1e-3, 3e-3, 1e-2), 3e-3), "beta1": ((0.8, 0.9), 0.9)})
    assert [value for _, value in sliders["eta"].options] == [1e-3, 3e-3, 1e-2]
    assert [label for label, _ in sliders["eta"].options] == ["1e-3", "3e-3", "0.01"]
    assert (sliders["eta"].value, sliders["beta1"].value) == (3e-3, 0.9)
    assert sliders["beta1"].description == "beta1"


def test_run_panel_waits_for_run_until_every_needed_run_exists(isolated_run_cache, monkeypatch):
    monkeypatch.setenv("AEOS_LAB_BANK", "0")
    base = RunConfig(**MICRO_TASK, steps=20, track_every=10, eig_tol=1e-2)

    def needs(values):
        return [base.replace(eta=values["eta"])]

    def compute(values, progress=None):
        return train.sweep(needs(values), progress=progress)[0]

    sliders = panels.grid_sliders({"eta": ((1e-2, 2e-2), 1e-2)})
    panel = panels.run_panel(compute, [], needs, **sliders)
    assert set(panel.controls) == {"eta"}  # no beta sliders unless given
    panel.set(eta=1e-2)
    assert panel.stale and panel.last_result is None  # not trained: waits for Run
    assert "Run" in panel.status.value
    result = panel.run()
    assert result.config == needs({"eta": 1e-2})[0] and not panel.stale
    assert "computed now" in panel.status.value
    panel.set(eta=2e-2)
    assert panel.stale  # the other grid value is not trained yet
    panel.set(eta=1e-2)
    assert not panel.stale  # back to a trained setting: drawn at once


def test_live_panels_say_their_picture_was_computed_now():
    from aeos_lab.lessons.nb02_frozen_adam import panels_micro as micro_02
    from aeos_lab.lessons.nb02_frozen_adam import params as params_02
    from aeos_lab.lessons.nb03_adam_aeos import panels_micro as micro_03
    from aeos_lab.lessons.nb03_adam_aeos import params as params_03

    small_02 = params_02.FULL.replace(micro_steps=40, micro_track_every=20, micro_freeze_at=20)
    small_03 = params_03.FULL.replace(micro_steps=40, micro_track=20, micro_window=4)
    for panel in (
        micro_02.gd_edge_panel(small_02),
        micro_02.adam_frozen_panel(small_02),
        micro_03.cycle_panel(small_03),
    ):
        panel.run()
        assert panel.last_error is None
        assert "Runs: computed now, on this release." in panel.status.value
