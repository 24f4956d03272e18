"""A disk cache for finished runs, keyed by :meth:`aeos_lab.config.RunConfig.key`.

Each entry is one JSON file named by the key. Writes go to a temporary file in the same folder
and are moved into place with :func:`os.replace`, so a reader never sees half an entry. An entry
that cannot be parsed, or whose stored key differs from its name, is deleted and reported as a
miss, so it is recomputed rather than trusted. The folder is ``$AEOS_LAB_CACHE_DIR`` when that
variable is set, else ``~/.cache/aeos_lab/runs``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

CACHE_ENV = "AEOS_LAB_CACHE_DIR"


def cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV)
    path = Path(root) if root else Path.home() / ".cache" / "aeos_lab" / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _entry(key: str) -> Path:
    return cache_dir() / f"{key}.json"


def load(key: str) -> dict | None:
    """The payload stored under ``key``, or None on a miss or a corrupt entry."""
    path = _entry(key)
    try:
        with open(path) as fh:
            entry = json.load(fh)
        if entry.get("key") != key or "payload" not in entry:
            raise ValueError("key mismatch")
        return entry["payload"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, AttributeError):
        path.unlink(missing_ok=True)
        return None


def save(key: str, payload: dict) -> Path:
    """Store ``payload`` (JSON-serialisable) under ``key`` atomically."""
    path = _entry(key)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump({"key": key, "payload": payload}, fh, allow_nan=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def clear() -> int:
    """Delete every entry; returns how many were removed."""
    removed = 0
    for path in cache_dir().glob("*.json"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed
