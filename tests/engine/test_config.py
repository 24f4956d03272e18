import pytest

from aeos_lab.engine.config import RunConfig


def test_key_is_stable_and_sensitive_to_every_field():
    base = RunConfig()
    assert base.key() == RunConfig().key()
    assert base.key() == RunConfig.from_dict(base.to_dict()).key()
    for change in (
        {"eta": 2e-3},
        {"beta2": 0.99},
        {"batch_size": 64},
        {"seed": 1},
        {"extra": (("exponent", 0.25),)},
        {"dense_window": (10, 20)},
    ):
        assert base.replace(**change).key() != base.key(), change


def test_names_are_normalised():
    config = RunConfig(optimizer="Frozen-Adam", freeze_at=10)
    assert config.optimizer == "frozen_adam"
    assert config.freeze_eta == config.eta  # defaults to the run's own eta


def test_sweep_key_ignores_only_the_swept_hyperparameters():
    base = RunConfig()
    assert base.replace(eta=3e-4, beta1=0.8, beta2=0.99).sweep_key() == base.sweep_key()
    assert base.replace(batch_size=64).sweep_key() != base.sweep_key()


def test_warmup_schedule():
    config = RunConfig(eta=1e-3, warmup_steps=4)
    assert [config.warmup_eta(t) for t in range(6)] == pytest.approx(
        [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3]
    )


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"eta": 0.0}, "eta"),
        ({"eta": float("nan")}, "eta"),
        ({"beta1": 1.0}, "beta1"),
        ({"beta2": -0.1}, "beta2"),
        ({"eps": -1e-8}, "eps"),
        ({"optimizer": "sgdx"}, "optimizer"),
        ({"model": "resnet"}, "model"),
        ({"loss": "hinge"}, "loss"),
        ({"dataset": "mnist"}, "dataset"),
        ({"k": 0}, "k"),
        ({"steps": 0}, "steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"label_noise": 1.5}, "label_noise"),
        ({"optimizer": "frozen_adam"}, "freeze_at"),
        ({"freeze_at": 10}, "freeze_at"),
        ({"dense_window": (5, 5)}, "dense_window"),
    ],
)
def test_bad_config_names_the_parameter(kwargs, named):
    with pytest.raises(ValueError, match=named):
        RunConfig(**kwargs)
