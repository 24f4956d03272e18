"""Offline checks of the ways to launch the suite: Binder, Colab and the index notebook.

Nothing here installs anything or reaches the network. The real install is checked by
``bash binder/check.sh`` (a fresh Python 3.12 environment from binder/requirements.txt).
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
import types
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
NOTEBOOKS = ROOT / "notebooks"
INDEX = NOTEBOOKS / "00_index.ipynb"
REPO_URL = "https://github.com/aeos-lab/aeos-lab"
COLAB_BASE = "https://colab.research.google.com/github/aeos-lab/aeos-lab/blob/main/notebooks/"
BINDER_URL = "https://mybinder.org/v2/gh/aeos-lab/aeos-lab/main?urlpath=lab/tree/notebooks/"
SUITE = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))

# Colab's GPU runtime, from googlecolab/backend-info pip-freeze.gpu.txt (Python 3.12). The
# install cell keeps these; a lower bound above one of them would make pip replace it.
COLAB_GPU_STACK = {
    "numpy": "2.0.2",
    "jax": "0.7.2",
    "flax": "0.11.2",
    "optax": "0.2.8",
    "pandas": "2.2.2",
    "scikit-learn": "1.6.1",
    "tqdm": "4.67.3",
    "altair": "5.5.0",
    "anywidget": "0.9.21",
    "ipywidgets": "7.7.1",
}


def runtime_dependencies() -> dict[str, Requirement]:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = (Requirement(line) for line in project["dependencies"])
    return {canonicalize_name(r.name): r for r in requirements}


def requirement_lines() -> list[str]:
    text = (BINDER / "requirements.txt").read_text(encoding="utf-8")
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def read_notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    return "".join(cell["source"])


def first_code_cell(path: Path) -> str:
    return next(source(c) for c in read_notebook(path)["cells"] if c["cell_type"] == "code")


def markdown(path: Path) -> str:
    cells = read_notebook(path)["cells"]
    return "\n".join(source(c) for c in cells if c["cell_type"] == "markdown")


# --------------------------------------------------------------------------- Binder


def test_runtime_is_python_312():
    assert (BINDER / "runtime.txt").read_text(encoding="utf-8").strip() == "python-3.12"


def test_requirements_pin_every_runtime_dependency_and_jupyterlab():
    lines = requirement_lines()
    assert lines[-1] == ".", "the last line must install the repository itself"
    pins = {}
    for line in lines[:-1]:
        requirement = Requirement(line)
        (specifier,) = requirement.specifier  # exactly one specifier ...
        assert specifier.operator == "==", line  # ... and it is a pin
        pins[canonicalize_name(requirement.name)] = Version(specifier.version)
    dependencies = runtime_dependencies()
    assert set(pins) == set(dependencies) | {"jaxlib", "jupyterlab"}
    for name, requirement in dependencies.items():
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} vs pyproject"
    assert pins["jax"] == pins["jaxlib"], "jax and jaxlib are released together"


def test_check_script_is_valid_bash():
    script = BINDER / "check.sh"
    assert script.stat().st_mode & stat.S_IXUSR, "binder/check.sh should be executable"
    subprocess.run(["bash", "-n", str(script)], check=True)


# --------------------------------------------------------------------------- Colab


@pytest.mark.parametrize("name", sorted(COLAB_GPU_STACK))
def test_colab_stack_satisfies_lower_bounds(name):
    requirement = runtime_dependencies()[name]
    assert requirement.specifier.contains(COLAB_GPU_STACK[name]), (
        f"Colab ships {name} {COLAB_GPU_STACK[name]}; {requirement} would make pip replace it"
    )


def run_install_cell(monkeypatch, in_colab: bool) -> list[tuple[str, str]]:
    """Run the index's first code cell as IPython would, with a recording stand-in for
    ``get_ipython``. Returns the magics it ran, with variables expanded as IPython does."""
    from IPython.core.inputtransformer2 import TransformerManager
    from IPython.utils.text import DollarFormatter

    namespace: dict = {}
    calls: list[tuple[str, str]] = []

    def run_line_magic(magic: str, line: str) -> None:
        calls.append((magic, DollarFormatter().vformat(line, args=[], kwargs=namespace)))

    namespace["get_ipython"] = lambda: types.SimpleNamespace(run_line_magic=run_line_magic)
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    code = TransformerManager().transform_cell(first_code_cell(INDEX))
    exec(compile(code, "install-cell", "exec"), namespace)
    return calls


def test_install_cell_does_nothing_outside_colab(monkeypatch, capsys):
    assert run_install_cell(monkeypatch, in_colab=False) == []
    assert "nothing to install" in capsys.readouterr().out


def test_install_cell_in_colab_installs_from_github_and_keeps_jax(monkeypatch):
    from importlib.metadata import version

    calls = run_install_cell(monkeypatch, in_colab=True)
    assert len(calls) == 1
    magic, line = calls[0]
    assert magic == "pip"
    words = line.split()
    assert words[0] == "install"
    assert f'"aeos-lab @ git+{REPO_URL}@main"' in line
    assert f"jax=={version('jax')}" in words, "the installed jax must be pinned"
    assert not {"-U", "--upgrade", "--force-reinstall"} & set(words)


@pytest.mark.parametrize("name", SUITE)
def test_first_code_cell_is_the_colab_install_cell(name):
    """01-05 fail until the index's install cell is pasted into them as their first code cell."""
    assert first_code_cell(NOTEBOOKS / name) == first_code_cell(INDEX)


# --------------------------------------------------------------------------- index notebook


def test_index_links_every_notebook_and_nothing_else():
    text = markdown(INDEX)
    relative = sorted(set(re.findall(r"\]\(([\w.-]+\.ipynb)\)", text)))
    colab = sorted(set(re.findall(re.escape(COLAB_BASE) + r"([\w.-]+\.ipynb)\)", text)))
    others = [name for name in SUITE if name != INDEX.name]
    assert len(others) == 5
    assert relative == others
    assert colab == others


def test_index_lists_the_figures_of_each_notebook():
    rows, column = {}, None
    for line in markdown(INDEX).splitlines():
        if line.startswith("| notebook |") and "paper (Cohen" in line:
            column = [c.strip() for c in line.split("|")].index("paper (Cohen et al., 2022)")
        match = re.match(r"\| \[(\d\d) ·", line)
        if match:
            rows[match.group(1)] = line.split("|")[column]
    assert rows["01"].strip() == "Table 1, Figs. 2, 12, 14, 17, Prop. 1"
    assert rows["02"].strip() == "Fig. 3, Prop. 1"
    assert rows["03"].strip() == "Figs. 1, 4, 5, 8, 9, 15, 16, 18, App. C"
    assert rows["04"].strip() == "Figs. 6, 7"
    assert rows["05"].strip() == "Figs. 10, 11, 19"


def test_index_is_committed_clean():
    notebook = read_notebook(INDEX)
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert "widgets" not in notebook["metadata"]
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


# --------------------------------------------------------------------------- README


def test_readme_badges_point_at_existing_notebooks():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    binder = re.findall(re.escape(BINDER_URL) + r"([\w.-]+\.ipynb)\)", readme)
    assert binder and set(binder) == {INDEX.name}
    colab = re.findall(re.escape(COLAB_BASE) + r"([\w.-]+\.ipynb)\)", readme)
    assert sorted(set(colab)) == SUITE
