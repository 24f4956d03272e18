import gc
import os
from pathlib import Path

import jax
import pytest

from aeos_lab.engine import train
from aeos_lab.lessons.exercises import EXPECT_SOLVED_ENV

# Tests compare against float64 references; float32 paths pass float32 inputs explicitly.
jax.config.update("jax_enable_x64", True)

# nbmake runs each exercise's hidden solution after its cell: an exercise left unattempted in a
# notebook run by the tests is then an error (the kernels inherit this variable).
os.environ[EXPECT_SOLVED_ENV] = "1"


def _memory_maps() -> tuple[int, int] | None:
    """(memory mappings of this process, the kernel's limit), or None off Linux."""
    try:
        limit = int(Path("/proc/sys/vm/max_map_count").read_text())
        with open("/proc/self/maps") as maps:
            return sum(1 for _ in maps), limit
    except OSError:
        return None


@pytest.fixture(autouse=True)
def _release_compiled_programs():
    """XLA keeps every program it compiled mapped into the process (about three mappings
    each), and the test process compiles thousands. Past vm.max_map_count (65530 by default)
    the next compilation dies with a segmentation fault inside XLA, so after any test that
    leaves the process above half the limit the compiled programs are released (they are
    compiled again when next needed)."""
    yield
    counts = _memory_maps()
    if counts is not None and counts[0] > counts[1] // 2:
        jax.clear_caches()
        gc.collect()


@pytest.fixture
def isolated_run_cache(tmp_path, monkeypatch):
    """A fresh, empty run cache, on disk and in memory, for one test; yields its folder."""
    monkeypatch.setenv("AEOS_LAB_CACHE_DIR", str(tmp_path / "cache"))
    train._memory.clear()
    yield tmp_path / "cache"
    train._memory.clear()
