"""aeos_lab.engine.bank: the store of precomputed runs, and its place in train.sweep,
train.is_cached, traces.precond_trace and runs.estimate_seconds.

Tiny runs on the micro task (242 parameters, 20 steps) in a temporary bank folder. A bank hit
is told apart from a computed run by a marker written into the stored records."""

import json
import lzma
import warnings

import jax
import numpy as np
import pytest

from aeos_lab import __version__
from aeos_lab.engine import bank, results, runs, traces, train
from aeos_lab.engine.config import RunConfig

TINY = RunConfig(dataset="gauss", width=12, depth=2, steps=20, track_every=10, eta=1e-2)
BUILD = bank.Build("0.1.0", "2026-01-02", jax.default_backend())
LINE = f"precomputed (aeos-lab 0.1.0, built 2026-01-02 on {jax.default_backend()})"
MARKER = 123.0  # a loss no tiny run reaches: a result carrying it came from the bank


@pytest.fixture
def bank_dir(tmp_path, monkeypatch, isolated_run_cache):
    """An empty bank folder that lookups read, with a fresh run cache and memory."""
    folder = tmp_path / "bank"
    monkeypatch.setenv(bank.DIR_ENV, str(folder))
    monkeypatch.delenv(bank.BANK_ENV, raising=False)
    bank.reset()
    yield folder
    bank.reset()


@pytest.fixture(scope="module")
def computed():
    """The tiny run and its P trace, computed once (cache and bank off)."""
    run = train.run(TINY, cache=False, progress=False)
    trace = traces.precond_trace(TINY, [0, 10], every=5, use_cache=False)
    return run, trace


def write_bank(folder, *entries, name="t1", seconds=2.0, marker=True):
    """A bank file holding runs (RunResult) and traces (PrecondTrace), built as BUILD."""
    writer = bank.Writer(folder, name, build=BUILD)
    for entry in entries:
        if isinstance(entry, results.RunResult):
            payload = entry.to_payload()
            if marker:
                for row in payload["records"]:
                    row["loss"] = MARKER
            writer.add_run(entry.config, payload, seconds)
        else:
            tables = {n: getattr(entry, n).to_dict("list") for n in ("trace", "hist", "summary")}
            writer.add_trace(entry.config, tables, seconds)
    writer.flush()
    bank.reset()
    return folder / f"{name}.json.xz"


def rewrite(path, change):
    """Apply ``change`` to the decompressed lines of a bank file and compress them again."""
    lines = lzma.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(lzma.compress(("\n".join(change(lines)) + "\n").encode()))
    bank.reset()


def bank_warnings(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, bank.BankWarning)]


def test_an_entry_round_trips_float32_exactly(bank_dir, computed):
    run, _ = computed
    write_bank(bank_dir, run, marker=False)
    payload, line = bank.lookup_run(TINY)
    assert line == LINE
    stored = results.RunResult.from_payload(payload)
    assert stored.config == TINY and stored.status == run.status
    assert list(stored.records.columns) == list(run.records.columns)
    assert (stored.records.dtypes == run.records.dtypes).all()
    for column in run.records.columns:
        want = run.records[column].to_numpy()
        got = stored.records[column].to_numpy()
        if want.dtype.kind == "f":  # float32 values are kept exactly, derived float64 to 1e-7
            np.testing.assert_allclose(got, want, rtol=1.2e-7, atol=0)
        else:
            np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        stored.records["sharpness"].to_numpy(np.float32),
        run.records["sharpness"].to_numpy(np.float32),
    )


def test_lookup_is_by_content_not_by_library_version(bank_dir, computed, monkeypatch):
    write_bank(bank_dir, computed[0])
    explicit = TINY.replace(beta1=0.9, beta2=0.999)  # Adam's defaults, spelled out
    assert bank.run_key(explicit) == bank.run_key(TINY)
    assert bank.lookup_run(explicit) is not None
    assert bank.lookup_run(TINY.replace(eta=2e-2)) is None
    assert bank.lookup_run(TINY.replace(track_every=5)) is None
    cache_key = TINY.key()
    monkeypatch.setattr("aeos_lab.engine.config.__version__", __version__ + ".dev1")
    assert TINY.key() != cache_key  # the run cache is per version
    assert bank.lookup_run(TINY) is not None  # the bank is not


def test_a_bank_hit_skips_training_and_says_where_it_came_from(bank_dir, computed):
    write_bank(bank_dir, computed[0])
    other = TINY.replace(eta=2e-2)
    assert runs.trained([TINY]) and not runs.trained([TINY, other])
    assert runs.pending([TINY, other]) == [other]
    (result,) = train.sweep([TINY], progress=False)
    assert (result.records["loss"] == MARKER).all()  # the stored records, not a new run
    assert result.source == LINE
    assert train.source_of(TINY) == LINE
    assert runs.provenance([TINY]) == LINE
    assert train.run(TINY).source == LINE
    assert not list(isolated_cache_files(bank_dir))  # nothing written to the run cache


def isolated_cache_files(bank_dir):
    return (bank_dir.parent / "cache").glob("*.json")


def test_the_bank_is_read_before_the_run_cache(bank_dir, computed):
    train.run(TINY)  # now in the user's run cache
    train._memory.clear()
    assert train.run(TINY).source == results.RUN_CACHE
    write_bank(bank_dir, computed[0])
    train._memory.clear()
    assert train.run(TINY).source == LINE


def test_a_trace_from_the_bank(bank_dir, computed):
    _, trace = computed
    write_bank(bank_dir, trace)
    assert traces.is_cached(trace.config)
    again = traces.precond_trace(TINY, [0, 10], every=5)
    assert again.source == LINE
    for name in ("trace", "hist", "summary"):
        stored, fresh = getattr(again, name), getattr(trace, name)
        assert list(stored.columns) == list(fresh.columns)
        np.testing.assert_allclose(
            stored.select_dtypes("number"), fresh.select_dtypes("number"), rtol=1.2e-7
        )
    assert not traces.is_cached(traces.TraceConfig(TINY, (0, 10), 2))
    assert traces.precond_trace(TINY, [0, 10], every=5, use_cache=False).source == results.COMPUTED


def test_an_entry_of_another_schema_is_reported_once_and_ignored(bank_dir, computed):
    path = write_bank(bank_dir, computed[0])

    def old_schema(lines):
        header = json.loads(lines[0])
        header["schema"]["number"] = bank.SCHEMA_NUMBER - 1
        return [json.dumps(header), *lines[1:]]

    rewrite(path, old_schema)
    with pytest.warns(bank.BankWarning) as record:
        assert not runs.trained([TINY])
        assert bank.lookup_run(TINY) is None
        result = train.run(TINY, progress=False)
    messages = bank_warnings(record)
    assert len(messages) == 1 and "schema" in messages[0] and "ignored" in messages[0]
    assert result.source == results.COMPUTED and (result.records["loss"] != MARKER).all()


def test_a_file_with_other_config_fields_is_ignored(bank_dir, computed):
    path = write_bank(bank_dir, computed[0])

    def other_fields(lines):
        header = json.loads(lines[0])
        header["schema"]["run_config"].append("momentum_schedule")
        return [json.dumps(header), *lines[1:]]

    rewrite(path, other_fields)
    with pytest.warns(bank.BankWarning, match="another config schema"):
        assert train.run(TINY, progress=False).source == results.COMPUTED


def truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def bad_json(path):
    path.write_bytes(lzma.compress(b'{"format": "aeos-lab bank", "schema": \n'))


def wrong_header(path):
    path.write_bytes(lzma.compress(b'{"format": "something else"}\n'))


def not_xz(path):
    path.write_bytes(b"this is not xz at all")


def missing(path):
    path.unlink()  # still listed in bank.json


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (truncated, "cannot be decompressed"),
        (bad_json, "bad header"),
        (wrong_header, "bad header"),
        (not_xz, "cannot be decompressed"),
        (missing, "is missing"),
    ],
)
def test_a_missing_or_corrupt_file_falls_back_to_computing(bank_dir, computed, damage, message):
    path = write_bank(bank_dir, computed[0])
    damage(path)
    bank.reset()
    with pytest.warns(bank.BankWarning, match=message):
        ready = runs.trained([TINY])
        result = train.run(TINY, progress=False)
    assert not ready
    assert result.source == results.COMPUTED and (result.records["loss"] != MARKER).all()


def other_config(line):  # the line no longer hashes to its key
    return line.replace('"eta":0.01', '"eta":0.02', 1)


def short_column(line):  # one column loses a value: the table would not load
    entry = json.loads(line)
    entry["payload"]["records"]["loss"].pop()
    return json.dumps(entry, separators=(",", ":"))


def no_status(line):
    entry = json.loads(line)
    del entry["payload"]["status"]
    return json.dumps(entry, separators=(",", ":"))


@pytest.mark.parametrize("damage", [other_config, short_column, no_status, lambda line: line[:-9]])
def test_a_corrupt_entry_is_reported_and_computed(bank_dir, computed, damage):
    path = write_bank(bank_dir, computed[0])
    rewrite(path, lambda lines: [lines[0], damage(lines[1])])
    with pytest.warns(bank.BankWarning, match="unusable"):
        result = train.run(TINY, progress=False)
    assert result.source == results.COMPUTED


def test_an_empty_bank_warns_once_and_computes(bank_dir):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert bank.lookup_run(TINY) is None
        assert not bank.has_run(TINY)
    messages = bank_warnings(record)
    assert len(messages) == 1 and "no precomputed runs" in messages[0]


def test_lookups_switched_off(bank_dir, computed, monkeypatch):
    write_bank(bank_dir, computed[0])
    monkeypatch.setenv(bank.BANK_ENV, "0")
    assert not bank.enabled() and bank.lookup_run(TINY) is None
    assert not runs.trained([TINY])
    assert train.run(TINY, progress=False).source == results.COMPUTED
    monkeypatch.setenv(bank.BANK_ENV, "1")
    train._memory.clear()
    assert runs.trained([TINY])


def test_estimate_seconds_from_the_banks_seconds_per_step(bank_dir, computed):
    write_bank(bank_dir, computed[0], seconds=2.0)  # 20 steps in 2 s: 0.1 s per step
    assert runs.estimate_seconds([TINY]) == 0.0  # in the bank: nothing to train
    longer = TINY.replace(eta=3e-2, steps=50)
    assert runs.estimate_seconds([TINY, longer]) == pytest.approx(5.0)
    frozen = TINY.replace(optimizer="frozen_adam", freeze_at=30)  # 20 steps + 30 for its P
    assert runs.estimate_seconds([frozen]) == pytest.approx(5.0)
    assert runs.estimate_seconds([TINY.replace(width=8)]) is None  # another task
    assert bank.seconds_per_unit(TINY, platform="another") is None  # built on another device


def test_estimate_seconds_prefers_this_sessions_timing(bank_dir, computed, monkeypatch):
    write_bank(bank_dir, computed[0], seconds=2000.0)
    monkeypatch.setattr(runs, "_session_rates", {})
    new = TINY.replace(eta=5e-3)
    assert runs.estimate_seconds([new]) == pytest.approx(2000.0)
    runs.run_configs([new])
    fresh = runs.estimate_seconds([TINY.replace(eta=7e-3)])
    assert fresh is not None and fresh < 200.0  # measured here, far below the bank's 2000 s


def test_a_journal_survives_an_interrupted_write(tmp_path, computed):
    writer = bank.Writer(tmp_path, "t1", build=BUILD)
    writer.add_run(TINY, computed[0].to_payload(), 1.0)
    # interrupted before flush: the journal holds the entry, the file does not exist yet
    assert not (tmp_path / "t1.json.xz").exists()
    resumed = bank.Writer(tmp_path, "t1", build=BUILD)
    assert bank.run_key(TINY) in resumed and resumed.changed
    resumed.flush()
    assert not (tmp_path / ".t1.journal").exists()
    assert [e.key for e in bank.entries(tmp_path)] == [bank.run_key(TINY)]
    manifest = json.loads((tmp_path / "bank.json").read_text())
    assert manifest["files"]["t1"]["entries"] == 1


def test_a_journal_of_another_schema_is_discarded(tmp_path, computed):
    bank.Writer(tmp_path, "t1", build=BUILD).add_run(TINY, computed[0].to_payload(), 1.0)
    journal = tmp_path / ".t1.journal"
    head, *rest = journal.read_text().splitlines()
    old = head.replace(f'"number":{bank.SCHEMA_NUMBER}', '"number":-1')
    journal.write_text("\n".join([old, *rest]) + "\n")
    resumed = bank.Writer(tmp_path, "t1", build=BUILD)
    assert resumed.keys() == [] and not journal.exists()
    assert any("another schema" in note for note in resumed.notes)


def test_adams_whole_p_from_the_bank(bank_dir):
    """traces.adam_precond reads Adam's P at a step from the bank (here doubled, so a hit is
    told apart from a computation); a P of another length is ignored and computed."""
    spec = traces.PrecondConfig(TINY, 10)
    computed_p = traces.adam_precond(TINY, 10)
    values = traces.precond_values(spec)
    flat = np.concatenate([np.ravel(leaf) for leaf in jax.tree.leaves(computed_p)])
    assert sorted(values.tolist()) == sorted(flat.tolist())  # the same P, flattened
    writer = bank.Writer(bank_dir, "t1", build=BUILD)
    writer.add_precond(spec, 2 * values, 1.0)
    writer.flush()
    bank.reset()
    assert bank.has_precond(spec) and not bank.has_precond(traces.PrecondConfig(TINY, 11))
    from_bank = traces.adam_precond(TINY, 10)
    for stored, fresh in zip(jax.tree.leaves(from_bank), jax.tree.leaves(computed_p), strict=True):
        np.testing.assert_array_equal(stored, 2 * fresh)
    short = bank.Writer(bank_dir, "t1", build=BUILD)
    short.add_precond(spec, values[:5], 1.0)  # not this network's P: computed instead
    short.flush()
    bank.reset()
    for stored, fresh in zip(
        jax.tree.leaves(traces.adam_precond(TINY, 10)), jax.tree.leaves(computed_p), strict=True
    ):
        np.testing.assert_array_equal(stored, fresh)


def test_verify_compares_the_quantiles_of_a_stored_p(bank_dir, capsys):
    from aeos_lab import precompute

    spec = traces.PrecondConfig(TINY, 10)
    writer = bank.Writer(bank_dir, "t1", build=BUILD)
    writer.add_precond(spec, traces.precond_values(spec), 1.0)
    writer.flush()
    checks = precompute.verify(1, directory=bank_dir)
    assert {c.quantity for c in checks} == {"P_10%", "P_median", "P_90%"}
    assert all(c.ok for c in checks)
    writer = bank.Writer(bank_dir, "t1", build=BUILD)
    writer.add_precond(spec, 1.5 * traces.precond_values(spec), 1.0)
    writer.flush()
    assert not any(c.ok for c in precompute.verify(1, directory=bank_dir))
    assert "P of adam" in capsys.readouterr().out
