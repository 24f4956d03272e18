"""The paper-scale path of notebooks 02-05, end to end on the CPU.

A Colab user with a GPU sets ``PAPER_SCALE = True``; nothing else in the suite ran that branch.
Here each notebook runs with that one line changed, under the test-only switch of
:mod:`aeos_lab.engine.smoke` (accelerator check forced, paper sizes shrunk) and with a generated
CIFAR-10 archive of a few hundred images in ``$AEOS_LAB_DATA_DIR``: the data loader, the
paper's FC network (and CNN), the panels, charts and self-checks all run. At these sizes the
phenomena are not expected, so a self-check may fail on an ``assert``, and only there; any
other error fails the test.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from aeos_lab.engine import smoke
from aeos_lab.lessons.exercises import EXPECT_SOLVED_ENV

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PAPER_NOTEBOOKS = (
    "02_frozen_adam",
    "03_adam_aeos",
    "04_minibatch_and_warmup",
    "05_sharp_solutions",
)


def write_cifar10(path: Path, n_train: int = 300, n_test: int = 100, seed: int = 0) -> Path:
    """A CIFAR-10 archive in the official layout (five pickled train batches, a test batch,
    channel-planar uint8 rows), holding random images and labels."""
    rng = np.random.default_rng(seed)
    per_batch = -(-n_train // 5)

    def add(tar, name, rows, labels):
        payload = pickle.dumps({b"data": rows, b"labels": list(map(int, labels))})
        info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))

    with tarfile.open(path, "w:gz") as tar:
        for b in range(5):
            n = max(0, min(per_batch, n_train - b * per_batch))
            add(
                tar,
                f"data_batch_{b + 1}",
                rng.integers(0, 256, (n, 3072), np.uint8),
                rng.integers(0, 10, n),
            )
        add(
            tar,
            "test_batch",
            rng.integers(0, 256, (n_test, 3072), np.uint8),
            rng.integers(0, 10, n_test),
        )
    return path


@pytest.fixture(scope="module")
def paper_smoke_env(tmp_path_factory):
    data = tmp_path_factory.mktemp("cifar")
    write_cifar10(data / "cifar-10-python.tar.gz")
    patch = pytest.MonkeyPatch()
    patch.setenv(smoke.ENV, "1")
    patch.setenv("AEOS_LAB_DATA_DIR", str(data))
    patch.setenv("AEOS_LAB_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    patch.delenv(EXPECT_SOLVED_ENV, raising=False)  # nbclient, not nbmake: exercises as a learner
    yield data
    patch.undo()


def _errors(cell) -> list[str]:
    return [
        f"{out['ename']}: {out['evalue']}"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]


@pytest.mark.parametrize("name", PAPER_NOTEBOOKS)
def test_the_paper_scale_branch_runs_end_to_end(name, paper_smoke_env):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    (cell,) = [c for c in notebook.cells if "PAPER_SCALE = False" in c.source]
    cell.source = cell.source.replace("PAPER_SCALE = False", "PAPER_SCALE = True")
    client = NotebookClient(
        notebook,
        timeout=600,
        allow_errors=True,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()

    text = "\n".join(
        out.get("text", "") + "".join(map(str, out.get("data", {}).values()))
        for c in notebook.cells
        if c.cell_type == "code"
        for out in c.get("outputs", [])
    )
    assert "Paper scale on CPU (PAPER-SCALE SMOKE TEST)" in text  # the paper branch was taken
    assert "paper (smoke test)" in text and "CIFAR-10" in text
    self_check = False
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("## Self-check"):
            self_check = True
        if cell.cell_type != "code":
            continue
        errors = _errors(cell)
        if self_check:  # the phenomena need the real sizes: only a failed assert is allowed
            assert all(e.startswith("AssertionError") for e in errors), (cell.source, errors)
        else:
            assert errors == [], (cell.source, errors)
    widgets = [
        out
        for c in notebook.cells
        if c.cell_type == "code"
        for out in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
    ]
    assert widgets  # the panels were displayed
