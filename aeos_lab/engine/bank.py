"""The bank: precomputed network runs (and Adam's P traces) shipped inside the package.

Panels of notebooks 02-05 show runs at their sliders' grid values. Training them on a learner's
CPU takes minutes, so ``aeos-lab bank build`` (:mod:`aeos_lab.precompute`) trains them once with
the engine and stores them here; :func:`aeos_lab.engine.train.sweep`,
:func:`~aeos_lab.engine.train.is_cached` and :func:`aeos_lab.engine.traces.precond_trace` read
the bank BEFORE the user's run cache. A run found here comes back with
``RunResult.source`` = its provenance line, e.g. "precomputed (aeos-lab 0.1.0, built
2026-12-06 on cpu)".

Lookup is by content: :func:`run_key` hashes :meth:`RunConfig.to_dict` (the hyperparameters
as the optimizer uses them), :func:`trace_key` a :class:`~aeos_lab.engine.traces.TraceConfig`'s
run, snapshots and spacing. The library version is NOT part of the key (unlike the run cache's
:meth:`RunConfig.key`), so a new release keeps its bank; what guards against a bank that no
longer matches the engine is the schema (below) and ``aeos-lab bank verify``.

Format (inspect with ``xz -dc nb02.json.xz | head -1 | python -m json.tool``)
------
The folder holds ``bank.json`` (the manifest: the files a build wrote and their entry counts)
and one ``NAME.json.xz`` per lesson: xz-compressed JSON lines.

* line 1, the header: ``format`` ("aeos-lab bank"), ``schema`` (:func:`schema`: a number bumped
  by hand when what the engine records changes meaning, and the field names of RunConfig and of
  a trace spec), ``name``, ``builds`` (library version, date and device of each build session)
  and ``index``: per entry its key, kind ("run", "trace" or "precond"), build, wall
  ``seconds`` and the step ``units`` it trained, and two timing keys (:func:`timing_keys`),
  in the order of the entry lines;
* every further line, one entry: ``{"key": ..., "kind": ..., "payload": ...}``. A run's
  payload is :meth:`RunResult.to_payload` with its records as columns (one list per metric); a
  trace's holds its spec and the columns of its trace, hist and summary tables; a precond's
  (Adam's whole P at one step, which notebook 02's Prop. 1 panel freezes) its spec and the
  flattened values of P. Floats of
  float32 runs are written as the shortest decimal that reads back as the same float32 (at
  most 9 significant digits, half the characters of a float64 repr): exact for what the engine
  measured in float32, 7 digits for the host's float64 columns (lr, threshold, ratio); float64
  runs keep every digit. Non-finite values are written as the strings "NaN", "Infinity",
  "-Infinity", so every line is strict JSON.

Reading is lazy: the first lookup reads the manifest and the header line of each file (a few
kilobytes decompressed); a file's entry lines are decompressed when it first holds a hit, and
one entry's JSON is parsed when it is asked for. Whatever cannot be read (a missing or truncated
file, bad JSON, a wrong header, an entry whose config does not hash to its key) is reported with
one :class:`BankWarning` and treated as absent, so the caller computes: the bank never raises
into a notebook. A file written under another :func:`schema` is reported and ignored, never
used. ``AEOS_LAB_BANK=0`` switches lookups off; ``AEOS_LAB_BANK_DIR`` points them at another
folder (tests, a bank being built).

Writing (:class:`Writer`, used by the build) appends each new entry to a journal next to the
file at once (one flushed line, so an interrupted build resumes where it stopped) and rewrites
the compressed file atomically (temporary file + :func:`os.replace`) on :meth:`Writer.flush`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import lzma
import math
import os
import statistics
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aeos_lab import __version__
from aeos_lab.engine.config import RunConfig, stable_key

if TYPE_CHECKING:
    from aeos_lab.engine.traces import PrecondConfig, TraceConfig

__all__ = [
    "BANK_ENV",
    "DIR_ENV",
    "BankWarning",
    "Build",
    "Entry",
    "Writer",
    "bank_dir",
    "current_build",
    "enabled",
    "entries",
    "files",
    "has_precond",
    "has_run",
    "has_trace",
    "lookup_precond",
    "lookup_run",
    "lookup_trace",
    "payload_of",
    "precond_key",
    "reset",
    "run_key",
    "schema",
    "seconds_per_unit",
    "timing_keys",
    "trace_key",
    "units",
]

BANK_ENV = "AEOS_LAB_BANK"
"""Set to 0 (or false, no, off) to switch bank lookups off."""
DIR_ENV = "AEOS_LAB_BANK_DIR"
"""The bank's folder; default: ``aeos_lab/bank`` inside the installed package."""
FORMAT = "aeos-lab bank"
SCHEMA_NUMBER = 1
"""Bump when what a stored entry means changes without a config field changing (e.g. the
engine records a metric differently): every bank file written before is then ignored."""
MANIFEST = "bank.json"
SUFFIX = ".json.xz"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / "bank"


class BankWarning(UserWarning):
    """A bank file or entry that cannot be used; the runs it would have supplied are computed."""


def schema() -> dict:
    """The config schema entries are written under: :data:`SCHEMA_NUMBER` and the field names
    of RunConfig and of a trace spec. A file whose header holds another schema is ignored."""
    return {
        "number": SCHEMA_NUMBER,
        "run_config": [f.name for f in dataclasses.fields(RunConfig)],
        "trace_config": ["run", "snapshots", "every"],
    }


def enabled() -> bool:
    """Whether lookups read the bank (``AEOS_LAB_BANK`` unset or not 0/false/no/off)."""
    return os.environ.get(BANK_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def bank_dir() -> Path:
    """``$AEOS_LAB_BANK_DIR`` when set, else the package's ``aeos_lab/bank`` folder."""
    root = os.environ.get(DIR_ENV)
    return Path(root) if root else PACKAGE_DIR


def run_key(config: RunConfig) -> str:
    """The bank key of a run: a hash of :meth:`RunConfig.to_dict` (no library version)."""
    return stable_key({"bank": "run", "config": config.to_dict()})


def trace_key(spec: TraceConfig) -> str:
    """The bank key of a P trace: a hash of its Adam run, snapshots and spacing."""
    return stable_key(
        {
            "bank": "trace",
            "run": spec.run.to_dict(),
            "snapshots": list(spec.snapshots),
            "every": spec.every,
        }
    )


def precond_key(spec: PrecondConfig) -> str:
    """The bank key of Adam's whole P at one step: a hash of its Adam run and the step."""
    return stable_key({"bank": "precond", "run": spec.run.to_dict(), "step": spec.step})


def units(config: RunConfig) -> int:
    """Training steps a run costs: its steps plus, for frozen Adam, the Adam run to freeze_at
    that supplies its P."""
    return config.steps + (config.freeze_at or 0)


def timing_keys(config: RunConfig) -> tuple[str, str]:
    """(coarse, fine) keys under which a run's seconds per step are pooled: the task and batch
    size; and also the optimizer and the measurement schedule (k, spacing, dense window)."""
    coarse = {"task": config.task().to_dict(), "batch_size": config.batch_size}
    fine = coarse | {
        "optimizer": config.optimizer,
        "track_every": config.track_every,
        "dense_window": config.to_dict()["dense_window"],
        "k": config.k,
        "eig_tol": config.eig_tol,
    }
    return stable_key(coarse), stable_key(fine)


# ---------------------------------------------------------------------------------------------
# Provenance


@dataclass(frozen=True)
class Build:
    """One build session: library version, date (ISO) and device ("cpu", "gpu (NVIDIA H100)")."""

    version: str
    date: str
    device: str

    @property
    def line(self) -> str:
        """The provenance line of its runs: "precomputed (aeos-lab 0.1.0, built DATE on cpu)"."""
        return f"precomputed (aeos-lab {self.version}, built {self.date} on {self.device})"

    @property
    def platform(self) -> str:
        return self.device.split(" ", 1)[0]


def current_build() -> Build:
    """This session as a build: the library version, today and JAX's default device."""
    import jax

    device = jax.devices()[0]
    kind = str(getattr(device, "device_kind", "")).strip()
    name = device.platform if kind in ("", device.platform) else f"{device.platform} ({kind})"
    return Build(__version__, datetime.date.today().isoformat(), name)


# ---------------------------------------------------------------------------------------------
# Encoding


def _compact_column(values: list, exact: bool) -> list:
    """A float column as shortest float32 decimals (``exact``: kept as float64); non-finite
    values as strings, so the JSON stays strict. Other columns pass through."""
    if not values or not all(isinstance(v, float) for v in values):
        return list(values)
    array = np.asarray(values, dtype=np.float64 if exact else np.float32)
    out = []
    for value in array:
        if not math.isfinite(value):
            out.append("NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity"))
        else:
            out.append(float(value) if exact else float(str(value)))
    return out


def _compact_table(table, exact: bool) -> dict:
    """Rows (a list of dicts) or columns (a dict of lists) as compact columns."""
    if isinstance(table, list):
        names = list(table[0]) if table else []
        table = {name: [row[name] for row in table] for name in names}
    return {name: _compact_column(list(column), exact) for name, column in table.items()}


def _expand_table(columns: dict) -> dict:
    """Compact columns back to lists of numbers (the strings of non-finite values to floats);
    ValueError when they are not lists of one length (a table that would not load)."""
    if not columns or len({len(column) for column in columns.values()}) != 1:
        raise ValueError("its table is empty or its columns differ in length")
    out = {}
    for name, column in columns.items():
        if any(isinstance(v, str) for v in column) and any(isinstance(v, float) for v in column):
            column = [float(v) if isinstance(v, str) else v for v in column]
        elif column and all(v in ("NaN", "Infinity", "-Infinity") for v in column):
            column = [float(v) for v in column]
        out[name] = column
    return out


def encode_run(payload: dict) -> dict:
    """A run payload (:meth:`RunResult.to_payload`) as stored: records as compact columns."""
    exact = payload["config"].get("dtype") == "float64"
    return payload | {"records": _compact_table(payload["records"], exact)}


def encode_trace(spec: TraceConfig, tables: dict) -> dict:
    """A P trace as stored: its spec and the compact columns of trace, hist and summary."""
    exact = spec.run.dtype == "float64"
    return {
        "spec": {
            "run": spec.run.to_dict(),
            "snapshots": list(spec.snapshots),
            "every": spec.every,
        },
        **{name: _compact_table(tables[name], exact) for name in ("trace", "hist", "summary")},
    }


def encode_precond(spec: PrecondConfig, values) -> dict:
    """Adam's P as stored: its spec and the flattened values (shortest float32 decimals)."""
    exact = spec.run.dtype == "float64"
    flat = [float(v) for v in np.asarray(values).ravel()]
    spec_dict = {"run": spec.run.to_dict(), "step": spec.step}
    return {"spec": spec_dict, "P": _compact_column(flat, exact)}


def _check_entry(kind: str, key: str, payload: dict) -> dict:
    """The payload with its tables expanded, after checking that its config hashes to ``key``
    (ValueError or TypeError otherwise: a corrupt entry or one of another schema)."""
    if kind == "run":
        config = RunConfig.from_dict(payload["config"])
        if run_key(config) != key:
            raise ValueError("its config does not hash to its key")
        missing = [n for n in ("status", "diverged", "steps_done", "device") if n not in payload]
        if missing:
            raise ValueError(f"its payload lacks {missing}")
        return payload | {"records": _expand_table(payload["records"])}
    if kind == "trace":
        from aeos_lab.engine.traces import TraceConfig

        spec = payload["spec"]
        trace = TraceConfig(
            RunConfig.from_dict(spec["run"]), tuple(spec["snapshots"]), spec["every"]
        )
        if trace_key(trace) != key:
            raise ValueError("its spec does not hash to its key")
        return payload | {
            name: _expand_table(payload[name]) for name in ("trace", "hist", "summary")
        }
    if kind == "precond":
        from aeos_lab.engine.traces import PrecondConfig

        spec = payload["spec"]
        if precond_key(PrecondConfig(RunConfig.from_dict(spec["run"]), spec["step"])) != key:
            raise ValueError("its spec does not hash to its key")
        return payload | _expand_table({"P": payload["P"]})
    raise ValueError(f"unknown kind {kind!r}")


# ---------------------------------------------------------------------------------------------
# Reading


_warned: set[str] = set()


def _warn(message: str) -> None:
    """One :class:`BankWarning` per distinct message (per process)."""
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, BankWarning, stacklevel=3)


@dataclass(frozen=True)
class Entry:
    """An index row of a bank file: ``key``, ``kind`` ("run", "trace", "precond"), ``build`` (its
    :class:`Build`), the wall ``seconds`` it took, the step ``units`` it trained, its
    :func:`timing_keys` (empty for traces) and the ``file`` (name) it lives in."""

    key: str
    kind: str
    build: Build
    seconds: float
    units: int
    timing: tuple[str, ...]
    file: str


class BankFile:
    """One ``NAME.json.xz``: its header read on opening, its entry lines on first use."""

    def __init__(self, path: Path):
        self.path, self.name = path, path.name[: -len(SUFFIX)]
        self.entries: dict[str, Entry] = {}
        self.builds: list[Build] = []
        self._lines: list[str] | None = None
        self._positions: dict[str, int] | None = None
        self.usable = False
        self.problem: str | None = None
        try:
            with lzma.open(path, "rt", encoding="utf-8") as fh:
                header = json.loads(fh.readline())
            self._read_header(header)
        except FileNotFoundError:
            self._fail("is missing")
        except (OSError, EOFError, lzma.LZMAError, UnicodeDecodeError) as exc:
            self._fail(f"cannot be decompressed ({exc})")
        except ValueError as exc:  # json.JSONDecodeError included
            self._fail(f"has a bad header ({exc})")
        except (KeyError, TypeError, AttributeError) as exc:
            self._fail(f"has a malformed header ({type(exc).__name__}: {exc})")

    def _fail(self, why: str) -> None:
        self.usable, self.problem, self._lines, self.entries = False, why, None, {}
        _warn(f"aeos-lab bank: {self.path} {why}; the runs it holds are computed instead.")

    def _read_header(self, header: dict) -> None:
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT!r} file")
        if header.get("schema") != schema():
            got = header.get("schema", {})
            got = got.get("number") if isinstance(got, dict) else got
            self.usable, self.problem = False, f"schema {got} (this library: {SCHEMA_NUMBER})"
            _warn(
                f"aeos-lab bank: {self.path} was written under another config schema "
                f"(schema {got}, RunConfig fields of that library) than this library's "
                f"(schema {SCHEMA_NUMBER}): its {len(header.get('index', []))} entries are "
                "ignored and computed instead. Rebuild it with `aeos-lab bank build`."
            )
            return
        self.builds = [Build(**build) for build in header["builds"]]
        for row in header["index"]:
            self.entries[row["key"]] = Entry(
                row["key"],
                row["kind"],
                self.builds[row["build"]],
                float(row["seconds"]),
                int(row["units"]),
                tuple(row.get("timing", ())),
                self.name,
            )
        self.usable = True

    def lines(self) -> list[str] | None:
        """The entry lines in index order (decompressed once), or None when unreadable."""
        if not self.usable:
            return None
        if self._lines is None:
            try:
                text = lzma.decompress(self.path.read_bytes()).decode("utf-8")
            except (OSError, EOFError, lzma.LZMAError, UnicodeDecodeError) as exc:
                self._fail(f"cannot be decompressed ({exc})")
                return None
            lines = text.split("\n")[1:]
            if lines and lines[-1] == "":
                lines.pop()
            keys = list(self.entries)
            if len(lines) != len(keys) or any(
                not line.startswith(f'{{"key":"{key}"')
                for line, key in zip(lines, keys, strict=True)
            ):
                self._fail("has entry lines that do not match its index (corrupt)")
                return None
            self._lines = lines
        return self._lines

    def payload(self, key: str) -> dict | None:
        """The checked payload of entry ``key`` (None, with a warning, when it is corrupt)."""
        lines = self.lines()
        if lines is None or key not in self.entries:
            return None
        try:
            entry = json.loads(lines[self._position(key)])
            return _check_entry(entry["kind"], key, entry["payload"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            _warn(f"aeos-lab bank: entry {key} of {self.path} is unusable ({exc}); computing it.")
            return None

    def _position(self, key: str) -> int:
        if self._positions is None:
            self._positions = {k: i for i, k in enumerate(self.entries)}
        return self._positions[key]

    def raw(self, key: str) -> str | None:
        """Entry ``key``'s stored line (for copying it into another file), or None."""
        lines = self.lines()
        return None if lines is None else lines[self._position(key)]


class _Bank:
    """The files of one folder, their headers read on first use."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.files: list[BankFile] = []
        manifest = directory / MANIFEST
        listed: list[str] = []
        try:
            with open(manifest, encoding="utf-8") as fh:
                listed = list(json.load(fh)["files"])
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _warn(f"aeos-lab bank: {manifest} is unreadable ({exc}); reading the files present.")
        names = sorted(set(listed) | {p.name[: -len(SUFFIX)] for p in directory.glob("*" + SUFFIX)})
        self.files = [BankFile(directory / f"{name}{SUFFIX}") for name in names]

    def announce(self) -> None:
        """Warn (once) when a lookup finds no bank at all: a notebook then computes every run,
        and its reader should know why it is slow."""
        if not self.files:
            _warn(
                f"aeos-lab bank: no precomputed runs in {self.directory} (no {MANIFEST}); "
                "every run is computed. `aeos-lab bank build` writes the bank."
            )

    def find(self, key: str) -> tuple[BankFile, dict] | None:
        """The first usable file holding ``key`` and the entry's payload."""
        for bank_file in self.files:
            if key in bank_file.entries:
                payload = bank_file.payload(key)
                if payload is not None:
                    return bank_file, payload
        return None

    def has(self, key: str) -> bool:
        """Whether a usable file holds ``key`` (its entry lines are read to make sure)."""
        return any(key in f.entries and f.lines() is not None for f in self.files)


_banks: dict[str, _Bank] = {}


def _bank(directory: Path | None = None) -> _Bank:
    directory = Path(directory) if directory is not None else bank_dir()
    name = str(directory.resolve())
    if name not in _banks:
        _banks[name] = _Bank(directory)
    return _banks[name]


def reset() -> None:
    """Forget what was read (after a build, or when a test changes the folder's files) and
    which warnings were given."""
    _banks.clear()
    _warned.clear()


def files(directory: Path | None = None) -> list[BankFile]:
    """The bank files of ``directory`` (default :func:`bank_dir`), headers read."""
    return list(_bank(directory).files)


def entries(directory: Path | None = None) -> list[Entry]:
    """Every entry of the usable files, file by file in index order."""
    return [entry for f in files(directory) if f.usable for entry in f.entries.values()]


def payload_of(entry: Entry, directory: Path | None = None) -> dict | None:
    """The stored payload of ``entry`` (as :func:`lookup_run` returns it), or None."""
    for bank_file in files(directory):
        if bank_file.name == entry.file:
            return bank_file.payload(entry.key)
    return None


def _lookup(key: str) -> tuple[dict, str] | None:
    if not enabled():
        return None
    try:
        store = _bank()
        store.announce()
        found = store.find(key)
    except Exception as exc:  # the bank never raises into a notebook
        _warn(f"aeos-lab bank: lookup failed ({type(exc).__name__}: {exc}); computing instead.")
        return None
    if found is None:
        return None
    bank_file, payload = found
    return payload, bank_file.entries[key].build.line


def _has(key: str) -> bool:
    if not enabled():
        return False
    try:
        store = _bank()
        store.announce()
        return store.has(key)
    except Exception as exc:
        _warn(f"aeos-lab bank: lookup failed ({type(exc).__name__}: {exc}); computing instead.")
        return False


def lookup_run(config: RunConfig) -> tuple[dict, str] | None:
    """(payload, provenance line) of ``config``'s precomputed run, or None. The payload is
    what :meth:`RunResult.from_payload` reads (records as columns)."""
    return _lookup(run_key(config))


def has_run(config: RunConfig) -> bool:
    """Whether the bank holds ``config``'s run in a readable file (no entry is parsed)."""
    return _has(run_key(config))


def lookup_trace(spec: TraceConfig) -> tuple[dict, str] | None:
    """(tables, provenance line) of a precomputed P trace: ``tables`` holds the columns of its
    trace, hist and summary (as :func:`aeos_lab.engine.traces.precond_trace` stores them)."""
    return _lookup(trace_key(spec))


def has_trace(spec: TraceConfig) -> bool:
    """Whether the bank holds the P trace ``spec`` in a readable file."""
    return _has(trace_key(spec))


def lookup_precond(spec: PrecondConfig) -> tuple[dict, str] | None:
    """(payload, provenance line) of a precomputed P of Adam: ``payload["P"]`` holds its
    values, flattened as :func:`aeos_lab.engine.traces.precond_values` gives them."""
    return _lookup(precond_key(spec))


def has_precond(spec: PrecondConfig) -> bool:
    """Whether the bank holds Adam's P of ``spec`` in a readable file."""
    return _has(precond_key(spec))


def seconds_per_unit(
    config: RunConfig, platform: str | None = None, directory: Path | None = None
) -> float | None:
    """The median seconds per training step (:func:`units`) of the bank's runs on the same
    task, built on ``platform`` (default: JAX's default backend): those with the same
    :func:`timing_keys` fine key if any, else the same coarse key; None without any."""
    if not enabled():
        return None
    if platform is None:
        import jax

        platform = jax.default_backend()
    coarse, fine = timing_keys(config)
    try:
        pool = {  # a run stored in two files counts once
            e.key: e
            for e in entries(directory)
            if e.kind == "run" and e.units > 0 and e.timing and e.build.platform == platform
        }.values()
    except Exception:
        return None
    for position, key in ((1, fine), (0, coarse)):
        rates = [e.seconds / e.units for e in pool if e.timing[position] == key]
        if rates:
            return statistics.median(rates)
    return None


# ---------------------------------------------------------------------------------------------
# Writing


def _dump(entry: dict) -> str:
    """One entry line: key first (the reader checks each line's prefix against the index)."""
    ordered = {"key": entry["key"], "kind": entry["kind"], "payload": entry["payload"]}
    return json.dumps(ordered, separators=(",", ":"), allow_nan=False)


class Writer:
    """Adds entries to ``directory/NAME.json.xz``, keeping the entries already there (when the
    file is readable and of this schema) and those of an interrupted build's journal.

    :meth:`add_run` / :meth:`add_trace` append the entry to the journal ``.NAME.journal`` at
    once (its first line names the schema; a journal of another schema is discarded);
    :meth:`flush` writes the compressed file atomically and removes the journal."""

    def __init__(self, directory: Path, name: str, build: Build | None = None):
        self.directory, self.name = Path(directory), name
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / f"{name}{SUFFIX}"
        self.journal = self.directory / f".{name}.journal"
        self.build = build or current_build()
        self.builds: list[Build] = []
        self.rows: dict[str, dict] = {}  # key -> index row (build as a Build)
        self.lines: dict[str, str] = {}
        self.dropped = 0
        self.changed = False  # whether flush has something to write
        self.notes: list[str] = []
        if self.path.exists():
            old = BankFile(self.path)
            lines = old.lines()
            if lines is None:
                self.notes.append(f"{self.path.name} {old.problem}: starting it afresh")
                self.changed = True
            else:
                for (key, entry), line in zip(old.entries.items(), lines, strict=True):
                    self._keep(key, entry, line)
        self._replay()

    def _keep(self, key: str, entry: Entry, line: str) -> None:
        self.rows[key] = {
            "key": key,
            "kind": entry.kind,
            "build": entry.build,
            "seconds": entry.seconds,
            "units": entry.units,
            "timing": list(entry.timing),
        }
        self.lines[key] = line

    def _replay(self) -> None:
        if not self.journal.exists():
            return
        count = 0
        head, *texts = self.journal.read_text(encoding="utf-8").splitlines() or [""]
        if head != json.dumps({"schema": schema()}, separators=(",", ":")):
            self.notes.append("ignored the journal of an interrupted build of another schema")
            self.journal.unlink()
            return
        for text in texts:
            try:
                item = json.loads(text)
                row = item["row"] | {"build": Build(**item["row"]["build"])}
                line = item["line"]
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by an interruption
            self.rows[row["key"]], self.lines[row["key"]] = row, line
            count += 1
        self.notes.append(f"resumed {count} entries from an interrupted build")
        self.changed = True

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def keys(self) -> list[str]:
        return list(self.rows)

    def _add(self, key: str, kind: str, payload: dict, seconds: float, units_: int, timing):
        line = _dump({"key": key, "kind": kind, "payload": payload})
        self.add_line(key, kind, line, seconds, units_, timing, self.build)

    def add_line(self, key, kind, line, seconds, units_, timing, build: Build) -> None:
        """Add an entry from its stored line (also how entries are copied between files)."""
        row = {
            "key": key,
            "kind": kind,
            "build": build,
            "seconds": float(seconds),
            "units": int(units_),
            "timing": list(timing),
        }
        record = {"row": row | {"build": dataclasses.asdict(build)}, "line": line}
        fresh = not self.journal.exists()
        with open(self.journal, "a", encoding="utf-8") as fh:
            if fresh:  # the journal's first line: the schema its entries are written under
                fh.write(json.dumps({"schema": schema()}, separators=(",", ":")) + "\n")
            fh.write(json.dumps(record, separators=(",", ":")) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.rows[key], self.lines[key] = row, line
        self.changed = True

    def add_run(self, config: RunConfig, payload: dict, seconds: float) -> str:
        """Store a run (``payload``: :meth:`RunResult.to_payload`) that took ``seconds``."""
        key = run_key(config)
        self._add(key, "run", encode_run(payload), seconds, units(config), timing_keys(config))
        return key

    def add_trace(self, spec: TraceConfig, tables: dict, seconds: float) -> str:
        """Store a P trace (``tables``: trace, hist, summary as columns or rows)."""
        key = trace_key(spec)
        self._add(key, "trace", encode_trace(spec, tables), seconds, spec.snapshots[-1], ())
        return key

    def add_precond(self, spec: PrecondConfig, values, seconds: float) -> str:
        """Store Adam's P of ``spec`` (flattened ``values``)."""
        key = precond_key(spec)
        self._add(key, "precond", encode_precond(spec, values), seconds, spec.step, ())
        return key

    def keep_only(self, keys: Iterable[str]) -> int:
        """Drop the entries not in ``keys`` (a lesson no longer asks for them); how many."""
        keep = set(keys)
        gone = [key for key in self.rows if key not in keep]
        for key in gone:
            del self.rows[key], self.lines[key]
        self.dropped += len(gone)
        self.changed = self.changed or bool(gone)
        return len(gone)

    def flush(self, preset: int = 9 | lzma.PRESET_EXTREME) -> Path:
        """Write the file atomically (all entries, header first), then drop the journal."""
        builds: list[Build] = []
        index = []
        for row in self.rows.values():
            if row["build"] not in builds:
                builds.append(row["build"])
            index.append(row | {"build": builds.index(row["build"])})
        header = {
            "format": FORMAT,
            "schema": schema(),
            "name": self.name,
            "builds": [dataclasses.asdict(b) for b in builds],
            "index": index,
        }
        text = "\n".join([json.dumps(header, separators=(",", ":")), *self.lines.values()]) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{self.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(lzma.compress(text.encode("utf-8"), preset=preset))
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shipped file from other users
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.journal.unlink(missing_ok=True)
        self.changed = False
        write_manifest(self.directory)
        return self.path


def write_manifest(directory: Path) -> Path:
    """``bank.json``: every bank file of ``directory`` with its entry count and size."""
    directory = Path(directory)
    listing = {}
    for path in sorted(directory.glob("*" + SUFFIX)):
        bank_file = BankFile(path)
        listing[bank_file.name] = {
            "entries": len(bank_file.entries),
            "bytes": path.stat().st_size,
        }
    manifest = {"format": f"{FORMAT} manifest", "schema": SCHEMA_NUMBER, "files": listing}
    path = directory / MANIFEST
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".bank.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path
