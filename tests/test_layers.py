"""The package's layers only look down: a test that reads every module's imports.

core (math) <- engine (config -> runs) <- lessons' experiments <- figures
viz (charts, tables, widgets) <- lessons' views <- lessons' panels <- notebooks
Only panels build widgets; views never train; figures never build a panel.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "aeos_lab"

WIDGET_LIBS = {"ipywidgets", "IPython", "anywidget"}
CHART_LIBS = {"altair", "vl_convert"}


def imports_of(source: str, module: str) -> set[str]:
    """Absolute names imported by ``source`` (the module ``module``), except those under
    ``if TYPE_CHECKING:`` (annotations only, nothing runs)."""
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    package = module.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                stem = f"{base}.{node.module}" if node.module else base
            else:
                stem = node.module
            if stem.startswith("aeos_lab"):  # from aeos_lab.x import y: y may be a module
                names |= {f"{stem}.{alias.name}" for alias in node.names}
                if not _is_package(stem):
                    names.add(stem)
            else:
                names.add(stem)
    return names


def _is_package(name: str) -> bool:
    return (PACKAGE.parent.joinpath(*name.split(".")) / "__init__.py").is_file()


def layer(module: str) -> str:
    """The layer a module of the package belongs to."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in ("core", "engine", "viz"):
        return parts[1]
    if len(parts) >= 2 and parts[1] == "lessons":
        if len(parts) == 3:  # shared by the lessons; lessons/panels.py is panel wiring
            return "lessons.panels" if parts[2] == "panels" else "lessons.shared"
        for role in ("params", "experiments", "exercises", "views", "panels", "figures"):
            if len(parts) >= 4 and parts[3].startswith(role):  # e.g. experiments_figures
                return "figures" if role == "figures" else f"lessons.{role}"
        return "lessons.package"
    return parts[1] if len(parts) >= 2 else "root"


def _ours(names: set[str]) -> set[str]:
    return {n for n in names if n.startswith("aeos_lab.")}


def _third(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names if not n.startswith("aeos_lab")}


def violations(module: str, names: set[str]) -> list[str]:
    """Why ``module`` may not import ``names`` (empty when it may)."""
    kind = layer(module)
    ours = {n for n in _ours(names) if n.count(".") >= 1}
    third = _third(names)
    problems = []

    def forbid(condition, what):
        bad = sorted(n for n in ours if condition(n))
        if bad:
            problems.append(f"{module} ({kind}) imports {what}: {bad}")

    def forbid_libs(libs, what):
        bad = sorted(third & libs)
        if bad:
            problems.append(f"{module} ({kind}) imports {what}: {bad}")

    def under(*prefixes):
        return lambda n: any(n == p or n.startswith(p + ".") for p in prefixes)

    upper = ("aeos_lab.lessons", "aeos_lab.figures", "aeos_lab.cli", "aeos_lab.notebook")
    if kind == "core":
        forbid(under("aeos_lab.engine", "aeos_lab.viz", *upper), "a layer above core")
        forbid_libs(WIDGET_LIBS | CHART_LIBS | {"pandas"}, "pandas, charts or widgets")
    elif kind == "engine":
        forbid(under("aeos_lab.viz", *upper), "viz or a layer above the engine")
        forbid_libs(WIDGET_LIBS | CHART_LIBS, "charts or widgets")
    elif kind == "viz":
        forbid(under("aeos_lab.engine", *upper), "the engine or a lesson (viz never trains)")
        if not module.endswith(".widgets"):
            forbid_libs(WIDGET_LIBS, "widgets outside viz.widgets")
    elif kind in ("lessons.params", "lessons.experiments", "lessons.exercises"):
        forbid(under("aeos_lab.viz", "aeos_lab.figures", "aeos_lab.notebook"), "viz")
        forbid(lambda n: n.split(".")[-1] in ("views", "panels"), "views or panels")
        forbid_libs(WIDGET_LIBS | CHART_LIBS, "charts or widgets")
    elif kind == "lessons.views":
        allowed = ("aeos_lab.viz.charts", "aeos_lab.viz.tables")
        forbid(lambda n: not under(*allowed)(n), "anything but viz.charts and viz.tables")
        forbid_libs(WIDGET_LIBS | {"jax"}, "widgets or jax")
    elif kind == "lessons.panels":
        forbid(under("aeos_lab.figures", "aeos_lab.cli"), "figures or the command line")
    elif kind == "figures":
        forbid(lambda n: n.split(".")[-1] == "panels", "a panel")
        forbid(under("aeos_lab.viz.widgets"), "widgets")
        forbid_libs(WIDGET_LIBS, "widgets")
    elif kind == "lessons.package":  # __init__: imports nothing, so a view never pulls widgets
        forbid(lambda n: True, "anything (a lesson's __init__ stays empty)")
    elif kind == "lessons.shared":
        forbid(under("aeos_lab.viz", "aeos_lab.figures"), "viz or figures")
        forbid_libs(WIDGET_LIBS | CHART_LIBS, "charts or widgets")
    if kind not in ("lessons.panels", "viz", "notebook") and not module.endswith(".widgets"):
        forbid(under("aeos_lab.viz.widgets"), "widgets (only panels build widgets)")
    return problems


def package_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1] + ["__init__"]
        yield ".".join(parts), path


def test_every_module_respects_the_layers():
    problems = []
    for module, path in package_modules():
        problems += violations(module, imports_of(path.read_text(), module))
    assert problems == []


def test_every_lesson_has_the_four_parts():
    lessons = sorted(p for p in (PACKAGE / "lessons").iterdir() if p.name.startswith("nb"))
    assert [p.name for p in lessons] == [
        "nb01_quadratics",
        "nb02_frozen_adam",
        "nb03_adam_aeos",
        "nb04_minibatch_warmup",
        "nb05_sharp_solutions",
    ]
    for lesson in lessons:
        parts = {p.stem for p in lesson.glob("*.py")}
        assert {"params", "experiments", "views", "panels"} <= parts, lesson.name


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("aeos_lab.core.thresholds", "import pandas"),
        ("aeos_lab.core.curvature", "from aeos_lab.engine import train"),
        ("aeos_lab.engine.train", "import altair as alt"),
        ("aeos_lab.engine.runs", "from aeos_lab.viz import charts"),
        ("aeos_lab.viz.charts", "from aeos_lab.engine import train"),
        ("aeos_lab.viz.charts", "import ipywidgets"),
        ("aeos_lab.lessons.nb03_adam_aeos.experiments", "from aeos_lab.viz import charts"),
        ("aeos_lab.lessons.nb03_adam_aeos.experiments", "from . import views"),
        ("aeos_lab.lessons.nb03_adam_aeos.views", "from aeos_lab.engine import train"),
        ("aeos_lab.lessons.nb03_adam_aeos.views", "from aeos_lab.viz import widgets"),
        ("aeos_lab.lessons.nb03_adam_aeos.views", "import ipywidgets"),
        ("aeos_lab.figures", "from aeos_lab.lessons.nb03_adam_aeos import panels"),
        ("aeos_lab.figures", "from aeos_lab.lessons.nb01_quadratics.panels import x"),
        ("aeos_lab.figures", "import ipywidgets"),
        ("aeos_lab.lessons.nb01_quadratics.figures", "from . import panels"),
        ("aeos_lab.lessons.nb01_quadratics.experiments_figures", "import altair"),
        ("aeos_lab.lessons.nb01_quadratics.__init__", "from . import panels"),
    ],
)
def test_a_forbidden_import_is_caught(module, source):
    assert violations(module, imports_of(source, module))


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("aeos_lab.engine.train", "from aeos_lab.core import optimizers"),
        ("aeos_lab.lessons.nb03_adam_aeos.experiments", "from aeos_lab.engine import runs"),
        ("aeos_lab.lessons.nb03_adam_aeos.views", "from aeos_lab.viz import charts"),
        (
            "aeos_lab.lessons.nb03_adam_aeos.views",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import experiments",
        ),
        ("aeos_lab.lessons.nb03_adam_aeos.panels", "from aeos_lab.viz import widgets"),
        ("aeos_lab.figures", "from aeos_lab.lessons.nb03_adam_aeos import views"),
    ],
)
def test_an_allowed_import_passes(module, source):
    assert violations(module, imports_of(source, module)) == []
