"""Root pytest configuration, read before any test or notebook runs.

nbmake runs each notebook as a learner on a fresh install gets it: full-size parameters (no
``AEOS_LAB_FAST``) and the bank of precomputed runs on, so the numbers its self-checks assert
are the numbers the text quotes. Every run the tests compute goes to a fresh cache folder, so no
result cached by an earlier session or version is reused (the user's run cache starts empty).
Kernels started by nbmake inherit the variable. ``tests/lessons/test_live_panels.py`` keeps the
engine path of every network panel covered with the bank off.
"""

import os
import tempfile

os.environ.setdefault("AEOS_LAB_CACHE_DIR", tempfile.mkdtemp(prefix="aeos_lab_test_cache_"))
