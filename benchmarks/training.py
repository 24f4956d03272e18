"""Training-engine benchmark on the default task (prints a markdown table).

    python benchmarks/training.py [--steps 2000] [--repeats 3]

(a) full-batch Adam (eta 1e-3) for STEPS steps with raw and preconditioned sharpness measured
    every 50 steps: wall time of the first call (compilation included) and the median of
    later calls; the overhead against the same run measured only at its start and end.
(b) a 5-eta sweep as one vmapped computation, and as five runs in a row (the CPU default),
    against one single run (after compilation).
(c) the process's peak resident memory.
Targets (issue 3): (a) <= 15 s with compilation and <= 50% overhead; (b) <= 2.5x one run.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import jax

from aeos_lab.engine import data, train
from aeos_lab.engine.config import RunConfig


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def median_time(fn, repeats):
    return statistics.median(timed(fn)[1] for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    steps, repeats = args.steps, args.repeats

    tracked = RunConfig(eta=1e-3, steps=steps, track_every=50)
    bare = tracked.replace(track_every=steps)  # measured at step 0 and at the end only

    def go(config):
        return lambda: train.run(config, cache=False, progress=False)

    result, first_tracked = timed(go(tracked))
    _, first_bare = timed(go(bare))
    warm_tracked = median_time(go(tracked), repeats)
    warm_bare = median_time(go(bare), repeats)
    loose = tracked.replace(eig_tol=1e-2)
    loose_result, first_loose = timed(go(loose))
    warm_loose = median_time(go(loose), repeats)
    loose_hvps = (
        loose_result.records["sharpness_hvps"] + loose_result.records["precond_sharpness_hvps"]
    )
    ratio_gap = (loose_result.records["ratio"] - result.records["ratio"]).abs().iloc[1:].max()
    n_measure = len(result.records)
    hvps = result.records["sharpness_hvps"] + result.records["precond_sharpness_hvps"]

    etas = [3e-4, 5e-4, 1e-3, 2e-3, 3e-3]
    sweep_configs = train.sweep_over(tracked, eta=etas)

    def swept(vectorize):
        return lambda: train.sweep(sweep_configs, cache=False, progress=False, vectorize=vectorize)

    _, first_sweep = timed(swept(True))
    warm_sweep = median_time(swept(True), repeats)
    warm_loop = median_time(swept(False), repeats)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    task = data.DEFAULT_TASK
    print(f"Command: python benchmarks/training.py --steps {steps} --repeats {repeats}")
    print(
        f"Device: {jax.devices()[0].platform}; JAX {jax.__version__}; default task "
        f"{task['n_train']} digits, {task['label_noise']:.0%} label noise; FC 64-200x5-10; "
        f"{n_measure} measurements, median {hvps.median():.0f} HVPs each (raw + precond)"
    )
    print()
    print("| what | measured | target |")
    print("|---|---|---|")
    print(
        f"| (a) {steps} Adam steps, sharpness every 50: first call, compilation included "
        f"| {first_tracked:.1f} s | <= 15 s |"
    )
    print(f"| (a) same, compiled (median of {repeats}) | {warm_tracked:.1f} s | |")
    print(
        f"| (a) same run measured at start and end only: first call / compiled "
        f"| {first_bare:.1f} s / {warm_bare:.1f} s | |"
    )
    print(
        f"| (a) overhead of the measurements, compiled | "
        f"{warm_tracked / warm_bare - 1:.0%} | <= 50% |"
    )
    print(
        f"| (a) overhead of the measurements, first calls | "
        f"{first_tracked / first_bare - 1:.0%} | |"
    )
    print(
        f"| (a) same with eig_tol 1e-2 (median {loose_hvps.median():.0f} HVPs a measurement; "
        f"ratio within {ratio_gap:.3f} of the 1e-3 run): first call / compiled / overhead "
        f"| {first_loose:.1f} s / {warm_loose:.1f} s / {warm_loose / warm_bare - 1:.0%} | |"
    )
    print(
        f"| (b) 5-eta sweep as one vmapped run, compiled (first call {first_sweep:.1f} s) "
        f"| {warm_sweep:.1f} s = {warm_sweep / warm_tracked:.2f}x one run | <= 2.5x one run |"
    )
    print(
        f"| (b) the same 5 runs in a row (CPU default), compiled "
        f"| {warm_loop:.1f} s = {warm_loop / warm_tracked:.2f}x one run | |"
    )
    print(f"| (c) peak memory (resident set of this process) | {peak_mib:.0f} MiB | |")


if __name__ == "__main__":
    main()
