import pytest

from aeos_lab.engine import train
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


# The defaults each optimizer documents (aeos_lab.core.optimizers' docstrings and signatures:
# eps = 1e-7 everywhere, RMSprop's beta2 = 0.99, bias correction on for AdamW only).
DOCUMENTED = {
    "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-7, "bias_correction": False},
    "adamw": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-7, "bias_correction": True},
    "nadam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-7, "bias_correction": False},
    "amsgrad": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-7, "bias_correction": False},
    "padam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-7, "bias_correction": False},
    "rmsprop": {"beta2": 0.99, "eps": 1e-7},
    "adagrad": {"eps": 1e-7},
    "adafactor": {"beta1": 0.9, "eps": 1e-7},
    "gd": {},
    "ema_hb": {"beta1": 0.9},
    "frozen_adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-7},  # beta2, eps: its P's Adam
}


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_an_unset_hyperparameter_is_the_optimizers_own_default(name):
    extra = {"freeze_at": 5} if name == "frozen_adam" else {}
    config = RunConfig(optimizer=name, **extra)
    assert config.hyperparameters == DOCUMENTED[name]
    assert {k: v for k, v in config.to_dict().items() if k in DOCUMENTED["adamw"]} == (
        DOCUMENTED[name]
    )


def test_rmsprop_trains_with_its_own_beta2(isolated_run_cache):
    tiny = {"n_train": 32, "width": 8, "depth": 1, "steps": 6, "track_every": 3, "eta": 1e-2}
    plain = RunConfig(optimizer="rmsprop", **tiny)
    assert plain == RunConfig(optimizer="rmsprop", beta2=0.99, **tiny)
    assert plain.key() == RunConfig(optimizer="rmsprop", beta2=0.99, **tiny).key()
    runs = {
        beta2: train.run(RunConfig(optimizer="rmsprop", beta2=beta2, **tiny), cache=False)
        for beta2 in (0.99, 0.999)
    }
    default = train.run(plain, cache=False).records
    assert default["loss"].equals(runs[0.99].records["loss"])
    assert not default["loss"].equals(runs[0.999].records["loss"])


def test_a_field_the_optimizer_ignores_changes_nothing():
    plain = RunConfig(optimizer="adagrad")
    noisy = RunConfig(optimizer="adagrad", beta1=0.5, beta2=0.5, bias_correction=True)
    assert plain == noisy and plain.key() == noisy.key() and hash(plain) == hash(noisy)
    assert not {"beta1", "beta2", "bias_correction"} & set(noisy.to_dict())
    assert RunConfig.from_dict(noisy.to_dict()) == plain
    # and a change to a hyperparameter it uses does change the run
    assert RunConfig(optimizer="adagrad", eps=1e-5) != plain


def test_switching_the_optimizer_takes_the_new_ones_defaults():
    base = RunConfig()  # nothing set: Adam's defaults
    assert base.replace(optimizer="rmsprop").hyperparameters["beta2"] == 0.99
    tuned = RunConfig(beta2=0.95)  # set by hand: kept
    assert tuned.replace(optimizer="rmsprop").hyperparameters["beta2"] == 0.95
