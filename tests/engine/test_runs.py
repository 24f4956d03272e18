"""aeos_lab.engine.runs and .tasks: task choice, training a list of configs with progress, run
labels and snapping slider positions onto trained settings."""

import pytest

from aeos_lab.engine import results, runs, tasks, train
from aeos_lab.engine.config import RunConfig

TINY = RunConfig(n_train=64, n_test=32, width=16, depth=2, steps=20, track_every=10, eig_tol=1e-2)


pytestmark = pytest.mark.usefixtures("isolated_run_cache")


def test_snap_selects_a_grid_value_only_when_close():
    grid = [1e-4, 2e-4, 4e-4]
    assert runs.snap(1.995e-4, grid) == 2e-4  # a log slider's 10**-3.7
    assert runs.snap(3e-4, grid) == 3e-4  # 25% from 4e-4: kept as is
    assert runs.snap(2.95e-3, [1e-3, 3e-3]) == 3e-3
    assert runs.snap(0.951, [0.9, 0.95], rel=0.002) == 0.95
    assert runs.snap(0.999, [0.99, 0.999], rel=1e-3) == 0.999
    assert runs.snap(5.0, []) == 5.0


def test_choose_scale_falls_back_to_the_cpu_task_without_a_gpu():
    for name, (fields, label) in tasks.CPU_TASKS.items():
        plain = tasks.choose_scale(False, name, platform="gpu")
        assert plain.base == RunConfig(**fields) and not plain.paper and label in plain.note
        fallback = tasks.choose_scale(True, name, platform=None)
        assert fallback.base == RunConfig(**fields) and not fallback.paper
        assert "no GPU" in fallback.note and label in fallback.note
    assert tasks.choose_scale(False, "lab", platform=None).base.label_noise == 1.0
    assert tasks.choose_scale(False, "default", platform=None).base == RunConfig()
    paper = tasks.choose_scale(True, "lab", platform="gpu")
    assert paper.paper and paper.base == RunConfig(**tasks.PAPER_TASK)
    assert paper.base.dataset == "cifar10" and paper.base.n_train == 5000
    assert paper.config(eta=1e-4).eta == 1e-4 and paper.config().width == 200
    with pytest.raises(ValueError, match="cpu_task must be one of default, lab"):
        tasks.choose_scale(False, "mnist")


def test_slider_beta_rounds_and_snaps():
    assert runs.slider_beta(0.9000000000000001) == 0.9
    assert runs.slider_beta(0.99905, [0.999]) == 0.999
    assert runs.slider_beta(0.995, [0.999]) == 0.995
    assert runs.slider_beta(None) is None


def test_describe_names_only_the_hyperparameters_in_use():
    assert runs.describe(TINY.replace(optimizer="adam", eta=3e-4)) == (
        "adam η=3e-4 β₁=0.9 β₂=0.999"
    )
    label = runs.describe(TINY.replace(optimizer="ema_hb", eta=0.1, batch_size=16))
    assert "β₂" not in label and label.endswith("batch 16")
    assert "β₁" not in runs.describe(TINY.replace(optimizer="rmsprop", beta1=None))


def test_run_configs_trains_once_reports_progress_then_uses_the_cache():
    configs = [TINY.replace(eta=1e-3), TINY.replace(eta=3e-3), TINY.replace(eta=1e-3)]
    assert runs.pending(configs) == configs[:2]
    assert not runs.trained(configs)
    calls = []
    first = runs.run_configs(configs, lambda d, t, m: calls.append((d, t, m)))
    assert [r.config for r in first] == configs
    dones = [d for d, _, _ in calls]
    assert dones == sorted(dones) and calls[-1][:2] == (40, 40)  # two distinct 20-step runs
    assert any("run 2/2" in m for _, _, m in calls)
    assert runs.pending(configs) == [] and runs.trained(configs)
    train._memory.clear()  # the disk cache alone still counts as trained
    assert runs.trained(configs)
    again = []
    second = runs.run_configs(configs, lambda d, t, m: again.append(d))
    assert again == [] and second[0].records.equals(first[0].records)


def test_provenance_says_where_each_run_came_from():
    configs = [TINY.replace(eta=1e-3), TINY.replace(eta=3e-3)]
    assert runs.provenance(configs) == "not computed yet"
    runs.run_configs(configs[:1])
    assert runs.provenance(configs) == "1 computed now, 1 not computed yet"
    train._memory.clear()
    runs.run_configs(configs)  # the first from the disk cache, the second trained
    assert runs.provenance(configs) == "1 your run cache, 1 computed now"
    assert train.source_of(configs[0]) == results.RUN_CACHE
