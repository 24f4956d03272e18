import json

import pytest

from aeos_lab.engine import cache


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    return tmp_path


def test_round_trip_and_miss():
    assert cache.load("abc") is None
    cache.save("abc", {"records": [{"step": 0, "loss": 1.5}]})
    assert cache.load("abc") == {"records": [{"step": 0, "loss": 1.5}]}


def test_corrupt_entry_is_dropped_not_trusted(isolated_cache):
    cache.save("abc", {"x": 1})
    path = isolated_cache / "abc.json"
    path.write_text(path.read_text()[:-7])  # a truncated write
    assert cache.load("abc") is None
    assert not path.exists()


def test_entry_under_the_wrong_name_is_rejected(isolated_cache):
    cache.save("abc", {"x": 1})
    (isolated_cache / "abc.json").rename(isolated_cache / "xyz.json")
    assert cache.load("xyz") is None


def test_write_is_atomic_no_temporary_files_left(isolated_cache, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", fail)
    with pytest.raises(OSError):
        cache.save("abc", {"x": 1})
    assert list(isolated_cache.iterdir()) == []


def test_clear_counts_entries():
    cache.save("a", {})
    cache.save("b", {})
    assert cache.clear() == 2
    assert cache.load("a") is None
