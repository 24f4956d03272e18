"""Every network panel of notebooks 02-05 computes one setting live, through the engine.

The notebooks run under nbmake as a learner gets them: bank on, so their network panels draw
precomputed runs. This test keeps the engine path of each of those panels covered: the bank is
switched off and the run cache is empty, so the panel trains its start setting now, on the
lesson's parameters shrunk onto a tiny task (the test modules' small variants).
"""

import pytest
from test_nb02_frozen_adam import SMALL as SMALL_02
from test_nb03_adam_aeos import SMALL as SMALL_03
from test_nb04_minibatch_warmup import SMALL as SMALL_04
from test_nb05_sharp_solutions import TINY_P as SMALL_05

from aeos_lab.lessons.nb02_frozen_adam import panels as panels_02
from aeos_lab.lessons.nb03_adam_aeos import panels as panels_03
from aeos_lab.lessons.nb04_minibatch_warmup import panels as panels_04
from aeos_lab.lessons.nb05_sharp_solutions import panels as panels_05

SMALL_03_CNN = SMALL_03.replace(cnn_etas=(1e-3,), cnn_steps=6, cnn_track=3, cnn_n_train=16)

NETWORK_PANELS = {
    "02 (c) precond_source": (panels_02.precond_source_panel, SMALL_02),
    "02 (d) frozen_sweep": (panels_02.frozen_sweep_panel, SMALL_02),
    "03 (c) equilibrium": (panels_03.equilibrium_panel, SMALL_03),
    "03 (d) raw_rise": (panels_03.raw_rise_panel, SMALL_03),
    "03 (e) zoom": (panels_03.zoom_panel, SMALL_03),
    "03 (f) optimizer": (panels_03.optimizer_panel, SMALL_03),
    "03 (g) corner": (panels_03.corner_panel, SMALL_03),
    "03 (h) cnn": (panels_03.cnn_panel, SMALL_03_CNN),
    "04 (a) batch": (panels_04.batch_panel, SMALL_04),
    "04 (b) warmup": (panels_04.warmup_panel, SMALL_04),
    "04 (c) breakdown": (panels_04.breakdown_panel, SMALL_04),
    "05 (a) solutions": (panels_05.solutions_panel, SMALL_05),
    "05 (b) comparison": (panels_05.comparison_panel, SMALL_05),
}


@pytest.mark.parametrize("name", list(NETWORK_PANELS))
def test_the_panel_trains_its_start_setting_live(name, isolated_run_cache, monkeypatch):
    monkeypatch.setenv("AEOS_LAB_BANK", "0")
    factory, P = NETWORK_PANELS[name]
    panel = factory(P)
    panel.set(**panel.values)
    assert panel.stale, "with no bank and an empty cache the start setting must wait for Run"
    result = panel.set_and_run()
    assert result is not None and panel.last_error is None
    assert not panel.stale
    assert "computed now" in panel.status.value
    assert "precomputed" not in panel.status.value
