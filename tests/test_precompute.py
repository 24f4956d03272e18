"""aeos_lab.precompute and ``aeos-lab bank``: building (resumable, deduplicated, vmapped),
verifying and describing a bank.

A fake registry of two "lessons" with tiny micro-task runs and a P trace stands in for the
lessons' ``bank_runs`` / ``bank_traces``, in a temporary bank folder."""

import json
import lzma
import shutil

import pytest

from aeos_lab import precompute
from aeos_lab.cli import main
from aeos_lab.engine import bank, traces, train
from aeos_lab.engine.config import RunConfig

TINY = RunConfig(dataset="gauss", width=12, depth=2, steps=20, track_every=10, eta=1e-2)
SHARED, OWN = TINY, TINY.replace(eta=2e-2)
TRACE = traces.TraceConfig(TINY, (0, 10), 5)
FAKE = {
    "a": lambda: precompute.Contents((SHARED, OWN), (TRACE,)),
    "b": lambda: precompute.Contents((SHARED, TINY.replace(eta=3e-2))),
}


@pytest.fixture
def folder(tmp_path, monkeypatch, isolated_run_cache):
    path = tmp_path / "bank"
    monkeypatch.setenv(bank.DIR_ENV, str(path))
    bank.reset()
    yield path
    bank.reset()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A bank of FAKE, built once; tests copy it before changing it."""
    path = tmp_path_factory.mktemp("built") / "bank"
    lines = []
    report = precompute.build(directory=path, contents=FAKE, out=lines.append)
    return path, report, lines


def copy_of(built, folder):
    shutil.copytree(built[0], folder)
    bank.reset()
    return folder


def test_build_trains_each_entry_once_with_progress(built):
    path, report, lines = built
    assert (report.trained, report.copied, report.missing) == (4, 0, 0)  # SHARED trained once
    progress = [line for line in lines if line.startswith("[")]
    assert len(progress) == 4 and progress[-1].startswith("[4/4]")
    assert all(" s; about " in line and "left" in line for line in progress)
    counts = {f.name: len(f.entries) for f in bank.files(path)}
    assert counts == {"a": 3, "b": 2}  # SHARED in both files: each file stands alone
    manifest = json.loads((path / "bank.json").read_text())
    assert {name: f["entries"] for name, f in manifest["files"].items()} == counts
    header = json.loads(lzma.open(path / "a.json.xz", "rt").readline())
    assert header["builds"][0]["version"] and header["schema"] == bank.schema()


def test_a_second_build_trains_nothing(built, folder):
    copy_of(built, folder)
    report = precompute.build(directory=folder, contents=FAKE, out=lambda line: None)
    assert (report.trained, report.copied, report.dropped, report.missing) == (0, 0, 0, 0)


def test_build_resumes_after_a_limit_and_copies_between_files(folder):
    lines = []
    first = precompute.build(["b"], directory=folder, contents=FAKE, limit=1, out=lines.append)
    assert (first.trained, first.missing) == (1, 1)
    second = precompute.build(directory=folder, contents=FAKE, out=lines.append)
    # "a" takes SHARED from "b"'s file without training it; OWN, the trace and b's rest train
    assert (second.trained, second.copied, second.missing) == (3, 1, 0)
    third = precompute.build(directory=folder, contents=FAKE, out=lines.append)
    assert third.trained == 0


def test_build_drops_entries_a_lesson_no_longer_wants(built, folder):
    copy_of(built, folder)
    fewer = {"a": lambda: precompute.Contents((SHARED,)), "b": FAKE["b"]}
    report = precompute.build(["a"], directory=folder, contents=fewer, out=lambda line: None)
    assert (report.trained, report.dropped) == (0, 2)
    assert [e.key for e in bank.entries(folder) if e.file == "a"] == [bank.run_key(SHARED)]


def test_build_with_vmapped_sweeps(folder):
    sweep = {"v": lambda: precompute.Contents(tuple(TINY.replace(eta=e) for e in (1e-2, 2e-2)))}
    report = precompute.build(directory=folder, contents=sweep, vectorize=True, out=print)
    assert report.trained == 2
    for eta in (1e-2, 2e-2):
        (stored,) = train.sweep([TINY.replace(eta=eta)], progress=False)
        assert stored.source.startswith("precomputed (aeos-lab")
        fresh = train.run(TINY.replace(eta=eta), cache=False, progress=False)
        assert stored.records["sharpness"].iloc[-1] == pytest.approx(
            fresh.records["sharpness"].iloc[-1], rel=1e-4
        )


def test_a_dry_run_lists_what_is_missing(folder):
    lines = []
    report = precompute.build(directory=folder, contents=FAKE, dry_run=True, out=lines.append)
    assert report.trained == 0 and report.missing == 4
    assert sum("missing:" in line for line in lines) == 4
    assert not folder.exists() or not any(folder.glob("*.json.xz"))


def test_unknown_lessons_are_refused(folder):
    with pytest.raises(ValueError, match="lessons must be among a, b"):
        precompute.build(["c"], directory=folder, contents=FAKE)


def test_verify_agrees_on_a_fresh_bank(built, capsys):
    checks = precompute.verify(10, seed=3, directory=built[0])
    assert {c.entry for c in checks} and all(c.ok for c in checks)
    assert len({c.entry for c in checks}) == 5  # all entries: 2 + 2 runs and the trace
    assert any(c.quantity.startswith("P_median @ 10") for c in checks)
    out = capsys.readouterr().out
    assert "5 of 5 entries agree" in out and "recomputed" in out


def tamper(path, name, factor):
    """Multiply the stored sharpness of every run of file ``name`` by ``factor``."""
    file = path / f"{name}.json.xz"
    lines = lzma.decompress(file.read_bytes()).decode().splitlines()
    for i, line in enumerate(lines[1:], start=1):
        entry = json.loads(line)
        if entry["kind"] == "run":
            records = entry["payload"]["records"]
            records["sharpness"] = [v * factor for v in records["sharpness"]]
            lines[i] = json.dumps(entry, separators=(",", ":"))
    file.write_bytes(lzma.compress(("\n".join(lines) + "\n").encode()))
    bank.reset()


def test_verify_fails_on_a_tampered_entry(built, folder, capsys):
    copy_of(built, folder)
    tamper(folder, "b", 1.5)
    checks = precompute.verify(10, directory=folder)
    bad = [c for c in checks if not c.ok]
    assert bad and {c.quantity for c in bad} == {"final_sharpness"}
    assert {c.entry.split(":")[0] for c in bad} == {"b"}
    assert main(["bank", "verify", "--sample", "10", "--dir", str(folder)]) == 1
    assert " NO" in capsys.readouterr().out


def test_cli_verify_and_info(built, capsys):
    assert main(["bank", "verify", "--sample", "2", "--seed", "1", "--dir", str(built[0])]) == 0
    assert main(["bank", "info", "--dir", str(built[0])]) == 0
    out = capsys.readouterr().out
    assert "a.json.xz: 2 runs, 1 traces" in out and "b.json.xz: 2 runs, 0 traces" in out
    assert "precomputed (aeos-lab" in out and "total: 5 entries in 2 files" in out


def test_info_reports_an_unusable_file(built, folder, capsys):
    copy_of(built, folder)
    (folder / "b.json.xz").write_bytes(b"garbage")
    with pytest.warns(bank.BankWarning):
        total = precompute.info(folder)
    assert total["entries"] == 3
    assert "b.json.xz: UNUSABLE" in capsys.readouterr().out


def test_the_registry_names_the_four_network_lessons():
    assert list(precompute.registry()) == ["nb02", "nb03", "nb04", "nb05"]
    assert set(precompute.LESSONS.values()) == {
        "nb02_frozen_adam",
        "nb03_adam_aeos",
        "nb04_minibatch_warmup",
        "nb05_sharp_solutions",
    }


def test_the_bank_serves_the_full_variant_on_the_cpu_task():
    P = precompute.lesson_params("nb04_minibatch_warmup")
    assert P.variant == "full" and not P.scale.paper
    assert P.base == RunConfig()  # notebook 04 trains on the default task
    lab = precompute.lesson_params("nb02_frozen_adam")
    assert lab.variant == "full" and lab.base.label_noise == 1.0  # the lab task
    paper = precompute.lesson_params("nb02_frozen_adam", paper=True)
    assert paper.scale.paper and paper.base.dataset == "cifar10"


def test_verify_draws_only_among_quick_entries_when_asked(built, capsys):
    entries = bank.entries(built[0])
    cutoff = sorted(e.seconds for e in entries)[1]
    quick = [e for e in entries if e.seconds <= cutoff]
    assert 2 <= len(quick) < len(entries)
    precompute.verify(10, directory=built[0], max_seconds=cutoff)
    assert f"verifying {len(quick)} of {len(quick)} entries" in capsys.readouterr().out
    with pytest.raises(ValueError, match="max_seconds must be > 0"):
        precompute.verify(1, directory=built[0], max_seconds=0)


def test_the_shipped_bank_covers_every_lesson_and_agrees_with_the_engine(capsys):
    """The package's bank holds every run and trace the panels of 02-05 list for the full
    variant, and a sample of its quick entries recomputes within the tolerances."""
    bank.reset()
    report = precompute.build(dry_run=True, out=lambda line: None)
    assert report.missing == 0, "run `aeos-lab bank build`: the bank lacks runs a panel shows"
    checks = precompute.verify(3, seed=12, max_seconds=6.0)
    assert len({c.entry for c in checks}) == 3 and all(c.ok for c in checks)
    assert "3 of 3 entries agree" in capsys.readouterr().out
