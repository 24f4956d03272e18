#!/usr/bin/env bash
# Check the Binder environment without Docker: install binder/requirements.txt into a fresh
# virtual environment of the Python version in binder/runtime.txt, from the repository root
# (as repo2docker does), then import every aeos_lab module from that environment and run a
# small smoke test. Prints the elapsed seconds; the temporary folder is always removed.
#
# Usage: bash binder/check.sh
# The interpreter is $BINDER_PYTHON if set, else pythonX.Y from PATH, else pyenv's X.Y.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
start=$SECONDS

runtime=$(tr -d '[:space:]' < binder/runtime.txt)  # e.g. python-3.12
version=${runtime#python-}

right_version() {
    [[ -n "$1" ]] && "$1" -c "import sys; sys.exit(f'{sys.version_info[0]}.{sys.version_info[1]}' != '$version')" 2>/dev/null
}
python=""
for candidate in "${BINDER_PYTHON:-}" "python$version" "$HOME"/.pyenv/versions/"$version".*/bin/python; do
    if right_version "$candidate"; then
        python=$candidate
        break
    fi
done
if [[ -z "$python" ]]; then
    echo "binder check: no Python $version found (set BINDER_PYTHON=/path/to/python$version)" >&2
    exit 2
fi

workdir=$(mktemp -d "${TMPDIR:-/tmp}/aeos_lab_binder_check.XXXXXX")
trap 'rm -rf "$workdir"' EXIT

echo "binder check: $("$python" -V) from $python, fresh venv in $workdir"
"$python" -m venv "$workdir/venv"
pip=("$workdir/venv/bin/python" -m pip)
"${pip[@]}" install --quiet --upgrade pip
# repo2docker: `${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir -r "binder/requirements.txt"`
# run in the repository root (its WORKDIR). The pip cache is kept here: it changes no version.
"${pip[@]}" install --quiet -r binder/requirements.txt
"${pip[@]}" check

cd "$workdir"  # away from the checkout, so the import finds the installed package
"$workdir/venv/bin/python" - "$repo" <<'EOF'
import importlib
import math
import pathlib
import pkgutil
import sys

import jax

import aeos_lab
from aeos_lab.core import thresholds

repo = pathlib.Path(sys.argv[1])
venv = pathlib.Path(sys.prefix)
assert venv in pathlib.Path(aeos_lab.__file__).parents, f"aeos_lab came from {aeos_lab.__file__}"
modules = [info.name for info in pkgutil.walk_packages(aeos_lab.__path__, "aeos_lab.")]
for name in modules:
    importlib.import_module(name)
value = thresholds.threshold("ema_hb", 1e-3, 0.9)
assert math.isclose(value, 38000.0, rel_tol=1e-12), value
assert (repo / "notebooks" / "00_index.ipynb").is_file(), "Binder opens notebooks/00_index.ipynb"
print(f"imported {len(modules)} aeos_lab modules from {venv}")
print(f"threshold('ema_hb', 1e-3, 0.9) = {value:g}")
print(f"JAX {jax.__version__}, devices: {jax.devices()}")
EOF

# the notebooks' widgets need these JupyterLab extensions in the same environment
extensions=$("$workdir/venv/bin/jupyter" labextension list 2>&1)
for extension in "@jupyter-widgets/jupyterlab-manager" "anywidget"; do
    if ! grep -q "$extension" <<< "$extensions"; then
        echo "binder check: JupyterLab extension $extension missing" >&2
        exit 1
    fi
done
echo "JupyterLab $("$workdir/venv/bin/jupyter" lab --version) with the widget extensions"
echo "binder check passed in $((SECONDS - start)) s"
