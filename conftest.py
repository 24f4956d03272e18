"""Root pytest configuration, read before any test or notebook runs.

Notebooks collected by nbmake run their fast variant, and every run the tests compute goes to
a fresh cache folder, so no result cached by an earlier session or version is reused.
Kernels started by nbmake inherit both variables.
"""

import os
import tempfile

os.environ.setdefault("AEOS_LAB_FAST", "1")
os.environ.setdefault("AEOS_LAB_CACHE_DIR", tempfile.mkdtemp(prefix="aeos_lab_test_cache_"))
