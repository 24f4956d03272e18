"""The bank of precomputed runs: size, lookup latency and agreement with the engine.

    .venv/bin/python benchmarks/bank.py [--dir DIR] [--sample K] [--seed S] [--lookups M]
    .venv/bin/python benchmarks/bank.py --synthetic N    # no bank yet: time a synthetic one

Prints a markdown table: per bank file its entries and size on disk; the time of the first
lookup in a fresh process state (reading the manifest and headers, decompressing the file that
holds the run, parsing one entry: what a notebook's first on-grid panel pays), the median and
maximum latency of later lookups (``train.sweep`` of one banked config with the in-memory copy
dropped: lookup, parse, check and DataFrame), and ``aeos-lab bank verify`` on K random entries
(how many agree, the largest deviation as a multiple of its tolerance).

``--synthetic N`` writes N copies of one micro-task run (1500 steps, 16 records, the size of a
lesson's run) under different etas to a temporary folder and times that instead; verify is
skipped there (the copies' records are not their configs' runs).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from aeos_lab import precompute
from aeos_lab.engine import bank, train
from aeos_lab.engine.config import RunConfig
from aeos_lab.engine.tasks import MICRO_TASK


def jitter(value, rng):
    return value * (1 + 1e-3 * rng.standard_normal()) if isinstance(value, float) else value


def synthetic(folder: Path, n: int) -> None:
    """N entries, each a copy of one micro run under its own eta with every float of its
    records multiplied by 1 + 1e-3 N(0, 1) (so that they compress like distinct runs), in
    files of 500."""
    base = RunConfig(**MICRO_TASK, steps=1500, track_every=100, eig_tol=1e-2)
    payload = train.run(base, cache=False, progress=False).to_payload()
    rng = np.random.default_rng(0)
    for start in range(0, n, 500):
        writer = bank.Writer(folder, f"synthetic{start // 500:02d}")
        for i in range(start, min(n, start + 500)):
            config = base.replace(eta=1e-3 * (1 + i / n))
            records = [{k: jitter(v, rng) for k, v in row.items()} for row in payload["records"]]
            writer.add_run(config, payload | {"config": config.to_dict(), "records": records}, 0.5)
        writer.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=None, help="bank folder (default: the package's)")
    parser.add_argument("--sample", type=int, default=10, help="entries to verify")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lookups", type=int, default=50, help="lookups to time")
    parser.add_argument("--synthetic", type=int, default=0, help="time N synthetic entries")
    args = parser.parse_args()
    folder = Path(args.dir) if args.dir else bank.bank_dir()
    if args.synthetic:
        folder = Path(tempfile.mkdtemp()) / "bank"
        synthetic(folder, args.synthetic)
    bank.reset()
    rows = [(f.path.name, len(f.entries), f.path.stat().st_size) for f in bank.files(folder)]
    runs = [e for e in bank.entries(folder) if e.kind == "run"]
    if not runs:
        raise SystemExit(f"no runs in the bank at {folder} (try --synthetic 1000)")
    chosen = random.Random(args.seed).sample(runs, min(args.lookups, len(runs)))
    configs = [RunConfig.from_dict(bank.payload_of(e, folder)["config"]) for e in chosen]

    os.environ[bank.DIR_ENV] = str(folder)
    bank.reset()
    train._memory.clear()
    start = time.perf_counter()
    (first,) = train.sweep(configs[:1], progress=False)
    first_s = time.perf_counter() - start
    assert first.source.startswith("precomputed"), first.source
    latencies = []
    for config in configs:
        train._memory.clear()
        start = time.perf_counter()
        train.sweep([config], progress=False)
        latencies.append(time.perf_counter() - start)

    print(f"bank: {folder}\n")
    print("| file | entries | size on disk |")
    print("|---|---:|---:|")
    for name, count, size in rows:
        print(f"| {name} | {count} | {size / 1e6:.3f} MB |")
    total = sum(size for *_, size in rows)
    entries = sum(count for _, count, _ in rows)
    print(f"| **total** | **{entries}** | **{total / 1e6:.3f} MB** |")
    print(f"\nsize per run entry: {total / max(entries, 1) / 1e3:.2f} kB (mean)")
    print("\n| measure | value |")
    print("|---|---:|")
    print(f"| first lookup (manifest, headers, decompress, parse) | {first_s * 1e3:.1f} ms |")
    print(f"| median lookup, {len(latencies)} runs | {statistics.median(latencies) * 1e3:.2f} ms |")
    print(f"| maximum lookup | {max(latencies) * 1e3:.2f} ms |")
    if args.synthetic:
        print("\n(verify skipped: synthetic entries)")
        return
    print()
    checks = precompute.verify(args.sample, seed=args.seed, directory=folder)
    verified = {c.entry for c in checks}
    bad = {c.entry for c in checks if not c.ok}
    worst = max((c.deviation / c.tolerance for c in checks if c.tolerance > 0), default=0.0)
    print("\n| verify | value |")
    print("|---|---:|")
    print(f"| entries recomputed | {len(verified)} |")
    print(f"| entries that agree | {len(verified - bad)} |")
    print(f"| largest deviation / tolerance | {worst:.2f} |")


if __name__ == "__main__":
    main()
