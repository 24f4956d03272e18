import subprocess
import sys

import pytest

from aeos_lab.cli import main


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
