"""Compile and run time of the eigensolver against the block size k, on a small network.

    .venv/bin/python benchmarks/solver_k.py [--ks 1,3,10,40,n] [--repeats 5]

The network: a tanh MLP 6-8-4-2 (n = 102 parameters) on 64 random Gaussian inputs with random
targets, MSE. For each k the script times the first call of ``curvature.sharpness`` (trace +
compile + run) and the median of ``--repeats`` later calls (run only), and counts XLA
compilations. Prints a markdown table: k, first call s, XLA compiles, run ms, HVPs. Before the
solver's block loop was rolled (issue 14) the first call took 7 s at k = 3, 28 s at k = 26 and
did not finish at k = n.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from aeos_lab.core import curvature

SIZES = (6, 8, 4, 2)


def network():
    key = jax.random.key(0)
    params = []
    for i, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        w = jax.random.normal(jax.random.fold_in(key, i), (fan_in, fan_out)) / np.sqrt(fan_in)
        params.append({"w": w, "b": jnp.zeros(fan_out)})
    x = jax.random.normal(jax.random.fold_in(key, 100), (64, SIZES[0]))
    y = jax.random.normal(jax.random.fold_in(key, 101), (64, SIZES[-1]))

    def loss(params):
        h = x
        for layer in params[:-1]:
            h = jnp.tanh(h @ layer["w"] + layer["b"])
        out = h @ params[-1]["w"] + params[-1]["b"]
        return 0.5 * jnp.mean(jnp.sum((out - y) ** 2, axis=1))

    return loss, params


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", default="1,3,10,40,n")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    loss, params = network()
    n = sum(int(np.size(leaf)) for leaf in jax.tree.leaves(params))
    ks = [n if k == "n" else int(k) for k in args.ks.split(",")]
    compiles = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, _secs, **kw: (
            compiles.append(event)
            if event == "/jax/core/compile/backend_compile_duration"
            else None
        )
    )
    print(
        f"network: tanh MLP {'-'.join(map(str, SIZES))}, n = {n} parameters, "
        f"JAX {jax.__version__} on {jax.devices()[0].platform}"
    )
    print("\n| k | first call s (compile + run) | XLA compiles | run ms (median) | HVPs |")
    print("|---|---|---|---|---|")
    for k in ks:
        before = len(compiles)
        start = time.perf_counter()
        vals, _, info = curvature.sharpness(loss, params, k=k, tol=1e-3)
        jax.block_until_ready(vals)
        first = time.perf_counter() - start
        count = len(compiles) - before
        runs = []
        for r in range(args.repeats):
            start = time.perf_counter()
            vals, _, info = curvature.sharpness(
                loss, params, k=k, tol=1e-3, key=jax.random.key(r + 1)
            )
            jax.block_until_ready(vals)
            runs.append(time.perf_counter() - start)
        print(
            f"| {k} | {first:.2f} | {count} | "
            f"{1e3 * statistics.median(runs):.1f} | {int(info.n_hvp)} |"
        )


if __name__ == "__main__":
    main()
