"""aeos_lab.experiments: task choice, training a list of configs with progress, run labels and
snapping slider positions onto trained settings."""

import pytest

from aeos_lab import experiments, train
from aeos_lab.config import RunConfig

TINY = RunConfig(n_train=64, n_test=32, width=16, depth=2, steps=20, track_every=10, eig_tol=1e-2)


pytestmark = pytest.mark.usefixtures("isolated_run_cache")


def test_snap_selects_a_grid_value_only_when_close():
    grid = [1e-4, 2e-4, 4e-4]
    assert experiments.snap(1.995e-4, grid) == 2e-4  # a log slider's 10**-3.7
    assert experiments.snap(3e-4, grid) == 3e-4  # 25% from 4e-4: kept as is
    assert experiments.snap(2.95e-3, [1e-3, 3e-3]) == 3e-3
    assert experiments.snap(0.951, [0.9, 0.95], rel=0.002) == 0.95
    assert experiments.snap(0.999, [0.99, 0.999], rel=1e-3) == 0.999
    assert experiments.snap(5.0, []) == 5.0


def test_choose_scale_falls_back_to_the_cpu_task_without_a_gpu():
    plain = experiments.choose_scale(False, TINY, "a tiny task", platform="gpu")
    assert plain.base == TINY and not plain.paper and "a tiny task" in plain.note
    fallback = experiments.choose_scale(True, TINY, "a tiny task", platform=None)
    assert fallback.base == TINY and not fallback.paper
    assert "no GPU" in fallback.note and "a tiny task" in fallback.note
    paper = experiments.choose_scale(True, TINY, "a tiny task", platform="gpu")
    assert paper.paper and paper.base == RunConfig(**experiments.PAPER_TASK)
    assert paper.base.dataset == "cifar10" and paper.base.n_train == 5000
    assert paper.config(eta=1e-4).eta == 1e-4 and paper.config().width == 200


def test_describe_names_only_the_hyperparameters_in_use():
    assert experiments.describe(TINY.replace(optimizer="adam", eta=3e-4)) == (
        "adam η=3e-4 β₁=0.9 β₂=0.999"
    )
    label = experiments.describe(TINY.replace(optimizer="ema_hb", eta=0.1, batch_size=16))
    assert "β₂" not in label and label.endswith("batch 16")
    assert "β₁" not in experiments.describe(TINY.replace(optimizer="rmsprop", beta1=None))


def test_run_configs_trains_once_reports_progress_then_uses_the_cache():
    configs = [TINY.replace(eta=1e-3), TINY.replace(eta=3e-3), TINY.replace(eta=1e-3)]
    assert experiments.pending(configs) == configs[:2]
    assert not experiments.trained(configs)
    calls = []
    first = experiments.run_configs(configs, lambda d, t, m: calls.append((d, t, m)))
    assert [r.config for r in first] == configs
    dones = [d for d, _, _ in calls]
    assert dones == sorted(dones) and calls[-1][:2] == (40, 40)  # two distinct 20-step runs
    assert any("run 2/2" in m for _, _, m in calls)
    assert experiments.pending(configs) == [] and experiments.trained(configs)
    train._memory.clear()  # the disk cache alone still counts as trained
    assert experiments.trained(configs)
    again = []
    second = experiments.run_configs(configs, lambda d, t, m: again.append(d))
    assert again == [] and second[0].records.equals(first[0].records)
