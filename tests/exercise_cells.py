"""Reading a notebook's exercises: scaffold cell, hidden solution, check cell.

Run as ``python tests/exercise_cells.py notebooks/NN_*.ipynb`` to copy each solution block into
its scaffold's ``nbmake.post_cell_execute`` metadata (what nbmake runs after the scaffold).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOLUTION = re.compile(r"<details>.*?```python\n(.*?)```.*?</details>", re.S)


@dataclass
class Exercise:
    notebook: str
    index: int  # the scaffold cell's position
    scaffold: str
    solution: str  # from the <details> block under the scaffold
    nbmake_solution: str  # what nbmake runs after the scaffold
    wrong_answer: str  # a wrong answer its check must reject
    check: str


def source(cell: dict) -> str:
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def exercises(path: Path) -> list[Exercise]:
    """The notebook's exercises, in order; raises ValueError on a malformed one."""
    cells = load(path)["cells"]
    found = []
    for i, cell in enumerate(cells):
        if "exercise" not in tags(cell):
            continue
        if i + 2 >= len(cells):
            raise ValueError(
                f"{path.name} cell {i}: an exercise needs a solution and a check after it"
            )
        hidden, check = cells[i + 1], cells[i + 2]
        match = SOLUTION.search(source(hidden)) if hidden["cell_type"] == "markdown" else None
        if match is None:
            raise ValueError(f"{path.name} cell {i + 1}: no <details> block with a python solution")
        if "exercise-check" not in tags(check):
            raise ValueError(
                f"{path.name} cell {i + 2}: the check cell must be tagged exercise-check"
            )
        meta = cell.get("metadata", {})
        found.append(
            Exercise(
                notebook=path.name,
                index=i,
                scaffold=source(cell),
                solution=match.group(1),
                nbmake_solution="\n".join(meta.get("nbmake", {}).get("post_cell_execute", [])),
                wrong_answer="\n".join(meta.get("aeos_lab", {}).get("wrong_answer", [])),
                check=source(check),
            )
        )
    return found


def setup_code(path: Path) -> str:
    """The code an exercise may rely on: the notebook's setup cell (the one that calls
    ``notebook.setup()``) and its parameters cell."""
    cells = load(path)["cells"]
    chosen = [
        source(c)
        for c in cells
        if c["cell_type"] == "code" and ("notebook.setup()" in source(c) or "parameters" in tags(c))
    ]
    return "\n\n".join(chosen)


def sync(path: Path) -> int:
    """Copy every solution block into its scaffold's nbmake metadata; returns how many changed."""
    nb = load(path)
    changed = 0
    for exercise in exercises(path):
        meta = nb["cells"][exercise.index].setdefault("metadata", {})
        lines = exercise.solution.rstrip("\n").split("\n")
        if meta.setdefault("nbmake", {}).get("post_cell_execute") != lines:
            meta["nbmake"]["post_cell_execute"] = lines
            changed += 1
    if changed:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {sync(Path(name))} solution(s) copied into nbmake metadata")
