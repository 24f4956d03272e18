"""The paper's effects on the default task (fast variants of issue 3's acceptance runs).

ratio = lambda_1(P^-1 H) / threshold, with threshold (2 + 2 beta1) / ((1 - beta1) eta) = 38/eta
for Adam and frozen Adam at beta1 = 0.9 (Cohen et al. 2022, sec. 4-5).
"""

import numpy as np
import pytest

from aeos_lab.engine import train
from aeos_lab.engine.analysis import late_median
from aeos_lab.engine.config import RunConfig

DEFAULT = RunConfig(track_every=50)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AEOS_LAB_CACHE_DIR", str(tmp_path))


def test_adam_equilibrates_at_38_over_eta():
    result = train.run(DEFAULT.replace(eta=1e-3, steps=600))
    ratio = late_median(result.records, "ratio", 0.5)
    print(f"Adam eta=1e-3: median ratio over steps 300-600 = {ratio:.3f}")
    assert 0.9 <= ratio <= 1.1


def test_frozen_adam_rises_to_its_threshold_and_raw_sharpness_stalls():
    config = DEFAULT.replace(
        optimizer="frozen_adam",
        freeze_at=300,
        freeze_eta=1e-3,
        eta=3e-4,
        steps=2000,
        track_every=100,
    )
    records = train.run(config).records
    ratio = late_median(records, "ratio", 0.5)
    early = records.loc[records["step"] == 100, "ratio"].item()
    late = records[records["step"] >= 1000]["sharpness"]
    growth = late.iloc[-1] / late.iloc[0] - 1
    print(
        f"frozen Adam: ratio {early:.2f} at step 100, late median {ratio:.3f}, "
        f"raw sharpness growth over the last half {growth:.1%}"
    )
    assert early < 0.7  # it starts well below the threshold ...
    assert 0.9 <= ratio <= 1.1  # ... and rises to it
    assert growth < 0.1


def test_warmup_pushes_psharp_down_along_38_over_eta_t():
    records = train.run(DEFAULT.replace(eta=1e-3, warmup_steps=1000, steps=1000)).records
    reached = records[(records["ratio"] >= 0.9) & (records["step"] > 0)]["step"].min()
    after = records[records["step"] >= reached]
    print(
        f"warmup: ratio reached 0.9 at step {reached}; afterwards "
        f"{after['ratio'].min():.3f}..{after['ratio'].max():.3f} while eta_t rose "
        f"{after['lr'].min():.2e}..{after['lr'].max():.2e}"
    )
    assert reached <= 500
    assert after["lr"].iloc[0] < 0.6 * after["lr"].iloc[-1]  # the threshold still moves
    assert after["ratio"].between(0.85, 1.15).all()


def test_smaller_batches_sit_further_below_the_threshold():
    medians = []
    for batch_size in (64, 256, None):
        result = train.run(DEFAULT.replace(eta=1e-3, steps=600, batch_size=batch_size))
        medians.append(late_median(result.records, "ratio", 0.5))
    print("median late ratio at batch 64, 256, full:", np.round(medians, 3))
    assert medians[0] < medians[1] < medians[2]
    assert medians[2] > 0.9
