"""Time each code cell of a notebook and the kernel's CPU time, from an empty run cache.

    AEOS_LAB_FAST=0 .venv/bin/python benchmarks/notebook_times.py notebooks/03_adam_aeos.ipynb

Executes the notebook with nbclient in a fresh ``$AEOS_LAB_CACHE_DIR`` (so every run trains),
reads nbclient's per-cell timestamps, and appends one cell that reports the kernel's CPU time
(``getrusage``). Prints a table: seconds per code cell, then wall and CPU totals. The closing
notes' notebook times come from this script.
"""

import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

CPU_MARK = "KERNEL_CPU_SECONDS"


def _seconds(execution: dict) -> float | None:
    start, end = execution.get("iopub.execute_input"), execution.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = datetime.datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def main(path: str) -> None:
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "import resource\nr = resource.getrusage(resource.RUSAGE_SELF)\n"
            f"print('{CPU_MARK}', r.ru_utime + r.ru_stime)"
        )
    )
    os.environ["AEOS_LAB_CACHE_DIR"] = tempfile.mkdtemp(prefix="aeos_lab_nb_times_")
    client = NotebookClient(
        notebook, timeout=1800, resources={"metadata": {"path": str(Path(path).parent)}}
    )
    start = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - start
    print("| cell | seconds | first line |\n|---|---|---|")
    cpu = float("nan")
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("name") == "stdout" and CPU_MARK in output.get("text", ""):
                cpu = float(output["text"].split()[-1])
        seconds = _seconds(cell.metadata.get("execution", {}))
        if seconds is not None and CPU_MARK not in cell.source:
            first = (cell.source.splitlines() or [""])[0][:70]
            print(f"| {index} | {seconds:.1f} | `{first}` |")
    mode = "fast" if os.environ.get("AEOS_LAB_FAST", "0") == "1" else "full"
    print(f"\n{Path(path).name} ({mode} variant): wall {wall:.1f} s, kernel CPU {cpu:.1f} s")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: notebook_times.py NOTEBOOK.ipynb")
    main(sys.argv[1])
