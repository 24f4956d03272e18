"""Static export of the paper figures: ``aeos-lab reproduce`` and :mod:`aeos_lab.figures`.

The data of each figure are tested with its lesson (tests/lessons); here: the registry, the
export files and their metadata, the command line, and that a second export reads the cache."""

import io
import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aeos_lab import __version__
from aeos_lab import figures as reproduce
from aeos_lab.cli import main
from aeos_lab.engine import cache
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.tasks import Scale

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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
    assert fig1.params().eq_steps == 600 and fig1.params(fast=True).eq_steps == 400
    assert fig1.params().variant == "full" and fig1.params(fast=True).variant == "fast"
    assert fig1.params(overrides={"eq_steps": 7}).eq_steps == 7
    with pytest.raises(ValueError, match="eq_steps"):
        fig1.params(overrides={"eq_step": 7})
    with pytest.raises(ValueError, match="format"):
        reproduce.export("fig2", "unused", fmt="jpg")


def test_table1_writes_png_csv_and_metadata(tmp_path):
    out = tmp_path / "new" / "folder"
    assert main(["reproduce", "table1", "--out", str(out), "--fast", "--quiet"]) == 0

    width, height = png_size(out / "table1.png")
    assert width > 500 and height > 300

    frame = pd.read_csv(out / "table1.csv")  # its values are tested with notebook 01
    grid = reproduce.get_figure("table1").params(fast=True).map_grid
    assert len(frame) == 5 * grid[0] * grid[1]  # one map of the grid per momentum method
    assert frame["method"].nunique() == 5 and (frame["steps"] == 100).all()

    meta = json.loads((out / "table1.json").read_text())
    assert meta["figure"] == "table1" and meta["paper_figure"] == "Table 1"
    assert meta["variant"] == "fast" and meta["parameters"]["map_grid"] == list(grid)
    assert meta["library_version"] == __version__ and meta["task"] is None
    assert meta["rows"] == len(frame)


def test_fig14_exports_an_svg_and_its_data(tmp_path):
    assert main(["reproduce", "fig14", "--out", str(tmp_path), "--format", "svg", "--fast"]) == 0
    svg = (tmp_path / "fig14.svg").read_text()
    assert "<svg" in svg[:200] and svg.rstrip().endswith("</svg>")
    assert "Growth factor" in svg

    frame = pd.read_csv(tmp_path / "fig14.csv")  # the values are tested with notebook 01
    assert {"method", "lam", "growth", "lam_ratio"} <= set(frame.columns) and len(frame) > 300


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


def test_training_figure_exports_and_a_second_export_reads_the_cache(isolated_run_cache):
    tiny = Scale(RunConfig(**TINY_TASK), False, "a tiny task")
    overrides = {
        "scale": tiny,
        "eq_steps": 20,
        "eq_track": 10,
        "eq_etas": (1e-3,),
        "eq_beta1s": (0.9,),
        "eq_beta2s": (0.999,),
    }
    paths = reproduce.export("fig1", isolated_run_cache / "a", fast=True, overrides=overrides)
    png_size(paths["chart"])
    frame = pd.read_csv(paths["data"])
    assert sorted(frame["step"].unique()) == [10, 20]  # step 0 (P = eps) is left off
    assert set(frame["sweep"]) == {"eta", "beta1", "beta2"}
    np.testing.assert_allclose(frame["threshold"], (2 + 2 * 0.9) / ((1 - 0.9) * 1e-3))
    np.testing.assert_allclose(frame["ratio"], frame["precond_sharpness"] / frame["threshold"])
    meta = json.loads(paths["metadata"].read_text())
    assert meta["task"]["width"] == 12 and meta["task"]["n_train"] == 48
    assert meta["parameters"]["eq_steps"] == 20 and meta["variant"] == "fast"

    entries = {path: path.stat().st_mtime_ns for path in cache.cache_dir().glob("*.json")}
    assert entries  # the runs went to the run cache
    again = reproduce.export("fig1", isolated_run_cache / "b", fast=True, overrides=overrides)
    pd.testing.assert_frame_equal(pd.read_csv(again["data"]), frame)
    after = {path: path.stat().st_mtime_ns for path in cache.cache_dir().glob("*.json")}
    assert after == entries  # nothing was trained or written again
