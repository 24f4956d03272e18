"""Static export of the paper figures: ``aeos-lab reproduce`` and :mod:`aeos_lab.reproduce`."""

import io
import json
import struct
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pandas as pd
import pytest

from aeos_lab import __version__
from aeos_lab import figures as reproduce
from aeos_lab.cli import main
from aeos_lab.engine import train

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Table 1 of the paper, written out here: eta * lambda* as a function of beta1.
TABLE1 = {
    "gd": lambda b: 2.0 + 0.0 * b,
    "standard_hb": lambda b: 2.0 + 2.0 * b,
    "ema_hb": lambda b: (2.0 + 2.0 * b) / (1.0 - b),
    "standard_nesterov": lambda b: (2.0 + 2.0 * b) / (1.0 + 2.0 * b),
    "ema_nesterov": lambda b: (2.0 + 2.0 * b) / ((1.0 - b) * (1.0 + 2.0 * b)),
}


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (right after the signature)."""
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_SIGNATURE
    assert header[12:16] == b"IHDR"
    return struct.unpack(">II", header[16:24])


def test_list_names_every_figure_and_alias(capsys):
    assert main(["reproduce", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    first_words = [line.split()[0] for line in lines if line.strip()]
    for figure in reproduce.FIGURES.values():
        assert figure.id in first_words
        row = lines[first_words.index(figure.id)]
        assert figure.paper in row and figure.notebook in row
    assert {"fig1", "table1", "fig3", "fig10", "fig11"} <= set(reproduce.FIGURES)
    for alias in reproduce.ALIASES:
        assert alias in lines[-1]


def test_unknown_figure_exits_nonzero_and_names_the_allowed_ids(tmp_path, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["reproduce", "fig99", "--out", str(tmp_path / "out")])
    assert excinfo.value.code != 0
    err = capsys.readouterr().err
    assert "fig99" in err and "table1" in err and "fig1" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["reproduce", "fig2"], "--out"),
        (["reproduce", "--out", "somewhere"], "figure"),
        (["reproduce", "fig2", "--out", "x", "--scale", "0"], "scale"),
    ],
)
def test_missing_or_bad_arguments_exit_nonzero(argv, named, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code != 0
    assert named in capsys.readouterr().err


def test_figure_lookup_aliases_and_overrides():
    assert reproduce.get_figure(" FIG16 ").id == "fig15"
    assert reproduce.get_figure("fig19").id == "fig10"
    fig1 = reproduce.get_figure("fig1")
    assert fig1.params()["EQ_STEPS"] == 600 and fig1.params(fast=True)["EQ_STEPS"] == 400
    assert fig1.params(overrides={"EQ_STEPS": 7})["EQ_STEPS"] == 7
    with pytest.raises(ValueError, match="EQ_STEPS"):
        fig1.params(overrides={"EQ_STEP": 7})
    with pytest.raises(ValueError, match="format"):
        reproduce.export("fig2", "unused", fmt="jpg")


def test_table1_writes_png_and_csv_of_the_closed_form_thresholds(tmp_path):
    out = tmp_path / "new" / "folder"
    assert main(["reproduce", "table1", "--out", str(out), "--fast", "--quiet"]) == 0

    width, height = png_size(out / "table1.png")
    assert width > 500 and height > 300

    frame = pd.read_csv(out / "table1.csv")
    grid = reproduce.get_figure("table1").params(fast=True)["MAP_GRID"]
    assert set(frame["method"]) == set(TABLE1)
    assert (frame["steps"] == 100).all()
    for method, closed_form in TABLE1.items():
        rows = frame[frame["method"] == method]
        assert len(rows) == grid[0] * grid[1]
        np.testing.assert_allclose(
            rows["threshold_eta_lambda"], closed_form(rows["beta1"].to_numpy()), rtol=1e-12
        )
        past = rows["eta_lambda"].to_numpy() > closed_form(rows["beta1"].to_numpy())
        assert (past == rows["past_threshold"].to_numpy()).all()
        grew = rows["max_abs_x"].to_numpy() > 1.0
        assert np.mean(grew == past) > 0.95  # the simulated maps follow Table 1

    meta = json.loads((out / "table1.json").read_text())
    assert meta["figure"] == "table1" and meta["paper_figure"] == "Table 1"
    assert meta["variant"] == "fast" and meta["parameters"]["MAP_GRID"] == list(grid)
    assert meta["library_version"] == __version__ and meta["base_config"] is None
    assert meta["rows"] == len(frame)


def test_fig2_data_follow_the_heavy_ball_recurrence():
    frame, chart, params = reproduce.build("fig2", fast=True)
    beta, steps = params["beta1"], params["STEPS"]
    assert chart.to_dict()  # a valid Vega-Lite spec
    for eta, rows in frame.groupby("eta"):
        # x_{t+1} = (1 + b - eta (1 - b)) x_t - b x_{t-1}, x_0 = 1, x_1 = 1 - eta (1 - b)
        x = np.empty(steps + 1)
        x[0], x[1] = 1.0, 1.0 - eta * (1 - beta)
        for t in range(1, steps):
            x[t + 1] = (1 + beta - eta * (1 - beta)) * x[t] - beta * x[t - 1]
        shown = rows.sort_values("step")["abs_x"].to_numpy()
        finite = np.isfinite(shown)
        assert finite.sum() > 20
        np.testing.assert_allclose(shown[finite], np.abs(x[finite]), rtol=1e-9)
        assert rows["diverging"].all() == (eta > 38.0)


def test_fig14_svg_and_growth_factors_match_polynomial_roots(tmp_path):
    assert main(["reproduce", "fig14", "--out", str(tmp_path), "--format", "svg", "--fast"]) == 0
    svg = (tmp_path / "fig14.svg").read_text()
    assert "<svg" in svg[:200] and svg.rstrip().endswith("</svg>")
    assert "Growth factor" in svg

    frame = pd.read_csv(tmp_path / "fig14.csv")
    eta, b = 0.2, 0.9
    for label, coefficients in {
        "GD": lambda lam: [1.0, -(1.0 - eta * lam)],
        "HB EMA": lambda lam: [1.0, -(1 + b - eta * (1 - b) * lam), b],
        "Nesterov EMA": lambda lam: [
            1.0,
            -(1 + b) * (1 - eta * (1 - b) * lam),
            b * (1 - eta * (1 - b) * lam),
        ],
    }.items():
        rows = frame[frame["method"] == label]
        assert len(rows) > 100
        expected = [np.abs(np.roots(coefficients(lam))).max() for lam in rows["lam"]]
        np.testing.assert_allclose(rows["growth"], expected, rtol=1e-7, atol=1e-12)
        ratio = rows["lam_ratio"].to_numpy()
        assert (rows["growth"][ratio > 1.001] > 1).all()  # unstable exactly past lambda*
        assert (rows["growth"][(ratio > 0) & (ratio < 0.999)] < 1).all()


def _parameters(notebook: str, fast: bool) -> dict:
    cells = nbformat.read(NOTEBOOKS / f"{notebook}.ipynb", as_version=4).cells
    (cell,) = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    namespace = {"notebook": SimpleNamespace(fast_mode=lambda: fast)}
    exec(cell.source, namespace)
    return namespace


@pytest.mark.parametrize("fast", [False, True])
def test_figure_sizes_are_the_notebooks_parameters(fast):
    cache = {}
    for figure in reproduce.FIGURES.values():
        if figure.notebook not in cache:
            cache[figure.notebook] = _parameters(figure.notebook, fast)
        names = cache[figure.notebook]
        for key, value in figure.params(fast).items():
            if key.isupper():  # upper case = a variable of the notebook's parameters cell
                assert key in names, (figure.id, key)
                assert value == names[key], (figure.id, key, value, names[key])


def test_text_progress_prints_on_new_messages_only():
    stream = io.StringIO()
    report = reproduce.text_progress("fig1: ", stream=stream, every=60.0)
    report(0, 100, "run 1/2")
    report(10, 100, "run 1/2")
    report(50, 100, "run 2/2")
    assert stream.getvalue().splitlines() == [
        "fig1: run 1/2 (0% of 100 steps)",
        "fig1: run 2/2 (50% of 100 steps)",
    ]


TINY_TASK = {
    "dataset": "digits",
    "n_train": 48,
    "n_test": 16,
    "label_noise": 1.0,
    "model": "fc",
    "width": 12,
    "depth": 2,
}


def test_training_figure_exports_and_a_second_export_reads_the_cache(tmp_path, monkeypatch):
    overrides = {
        "task": TINY_TASK,
        "EQ_STEPS": 20,
        "EQ_TRACK": 10,
        "EQ_ETAS": (1e-3,),
        "EQ_BETA1S": (0.9,),
        "EQ_BETA2S": (0.999,),
    }
    paths = reproduce.export("fig1", tmp_path / "a", fast=True, overrides=overrides)
    png_size(paths["chart"])
    frame = pd.read_csv(paths["data"])
    assert sorted(frame["step"].unique()) == [10, 20]  # step 0 (P = eps) is left off
    assert set(frame["sweep"]) == {"eta", "beta1", "beta2"}
    np.testing.assert_allclose(frame["threshold"], (2 + 2 * 0.9) / ((1 - 0.9) * 1e-3))
    np.testing.assert_allclose(frame["ratio"], frame["precond_sharpness"] / frame["threshold"])
    meta = json.loads(paths["metadata"].read_text())
    assert meta["base_config"]["width"] == 12 and meta["base_config"]["steps"] == 20
    assert meta["parameters"]["task"] == TINY_TASK

    class NoTraining:
        def __init__(self, *args, **kwargs):
            raise AssertionError("the second export trained a run")

    monkeypatch.setattr(train, "_Engine", NoTraining)
    monkeypatch.setattr(train, "_memory", {})  # only the disk cache is left
    again = reproduce.export("fig1", tmp_path / "b", fast=True, overrides=overrides)
    pd.testing.assert_frame_equal(pd.read_csv(again["data"]), frame)
