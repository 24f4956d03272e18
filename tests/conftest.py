import jax
import pytest

from aeos_lab.engine import train

# Tests compare against float64 references; float32 paths pass float32 inputs explicitly.
jax.config.update("jax_enable_x64", True)


@pytest.fixture
def isolated_run_cache(tmp_path, monkeypatch):
    """A fresh, empty run cache, on disk and in memory, for one test; yields its folder."""
    monkeypatch.setenv("AEOS_LAB_CACHE_DIR", str(tmp_path / "cache"))
    train._memory.clear()
    yield tmp_path / "cache"
    train._memory.clear()
