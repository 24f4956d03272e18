import json
import subprocess
import sys

import pytest

from aeos_lab.cli import build_parser, main


def test_threshold_command_prints_adam_threshold(capsys):
    assert main(["threshold", "adam", "--eta", "1e-3", "--beta1", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "ema_hb" in out
    assert "38000" in out  # (2 + 2*0.9) / ((1 - 0.9) * 1e-3)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["threshold", "adam", "--eta", "-1"], "eta"),
        (["threshold", "adam", "--eta", "1e-3", "--beta1", "1.5"], "beta1"),
        (["threshold", "sgdx", "--eta", "1e-3"], "optimizer"),
    ],
)
def test_bad_arguments_exit_nonzero_and_name_the_argument(argv, named, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code != 0
    assert named in capsys.readouterr().err


def test_console_script_entry_point_runs():
    result = subprocess.run(
        [sys.executable, "-m", "aeos_lab.cli", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "aeos-lab" in result.stdout


def test_run_command_writes_the_records_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AEOS_LAB_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "r.json"
    argv = [
        "run",
        "--optimizer",
        "adam",
        "--eta",
        "1e-3",
        "--n",
        "64",
        "--steps",
        "20",
        "--track-every",
        "10",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    payload = json.loads(out.read_text())
    assert {"config", "device", "diverged", "records"} <= set(payload)
    assert payload["config"]["optimizer"] == "adam" and payload["config"]["n_train"] == 64
    assert [r["step"] for r in payload["records"]] == [0, 10, 20]
    for record in payload["records"]:
        assert {"step", "lr", "loss", "sharpness", "precond_sharpness", "threshold"} <= set(record)
        assert record["threshold"] == pytest.approx(38 / 1e-3)
    assert "device: cpu" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["run", "--eta", "0"], "--eta"),
        (["run", "--lr", "0"], "--eta"),
        (["run", "--beta2", "1.0"], "beta2"),
        (["run", "--optimizer", "sgdx"], "optimizer"),
        (["run", "--batch-size", "0"], "--batch-size"),
        (["run", "--optimizer", "frozen-adam"], "freeze_at"),
        (["run", "--model", "mlp"], "model"),
        (["run", "--steps", "ten"], "--steps"),
    ],
)
def test_run_rejects_bad_arguments_naming_them(argv, named, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code != 0
    assert named in capsys.readouterr().err


def test_eta_is_the_learning_rate_option_everywhere_with_lr_as_its_alias():
    parser = build_parser()
    for argv in (["run", "--eta", "3e-4"], ["run", "--lr", "3e-4"]):
        assert parser.parse_args(argv).eta == 3e-4
    frozen = ["run", "--freeze-at", "5"]
    assert parser.parse_args([*frozen, "--freeze-eta", "1e-3"]).freeze_eta == 1e-3
    assert parser.parse_args([*frozen, "--freeze-lr", "1e-3"]).freeze_eta == 1e-3
    assert parser.parse_args(["threshold", "adam", "--eta", "1e-3"]).eta == 1e-3


def test_run_without_hyperparameters_uses_the_optimizers_own(tmp_path, monkeypatch):
    monkeypatch.setenv("AEOS_LAB_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "r.json"
    argv = ["run", "--optimizer", "rmsprop", "--n", "32", "--steps", "4", "--track-every", "2"]
    assert main([*argv, "--quiet", "--out", str(out)]) == 0
    config = json.loads(out.read_text())["config"]
    assert config["beta2"] == 0.99 and config["eps"] == 1e-7  # make_optimizer("rmsprop")'s
    assert "beta1" not in config and "bias_correction" not in config  # RMSprop has neither


def test_threshold_takes_the_optimizers_own_beta1(capsys):
    assert main(["threshold", "adam", "--eta", "1e-3"]) == 0
    assert "= 38000 at eta=0.001, beta1=0.9" in capsys.readouterr().out
    assert main(["threshold", "rmsprop", "--eta", "1e-3"]) == 0
    assert "= 2000 at eta=0.001" in capsys.readouterr().out
