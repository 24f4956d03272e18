"""Root pytest configuration: notebooks collected by nbmake run their fast variant."""

import os

os.environ.setdefault("AEOS_LAB_FAST", "1")
