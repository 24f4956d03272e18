r"""What a run's records do not keep: Adam's whole preconditioner P along a run, and the
Prop. 1 check of frozen Adam against heavy ball in the coordinates z = P^1/2 x.

Both train with the engine's own kernels (:func:`aeos_lab.engine.train.states`) or, for the
float64 Prop. 1 check, with the optimizers of :mod:`aeos_lab.core.optimizers` on the task of
:meth:`RunConfig.task`. P traces are stored in the run cache under
:meth:`TraceConfig.key`, the same key scheme as runs (:func:`aeos_lab.engine.config.stable_key`);
:func:`precond_trace` reads the bank (:mod:`aeos_lab.engine.bank`) before that cache.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.flatten_util import ravel_pytree

from aeos_lab import __version__
from aeos_lab.core import optimizers
from aeos_lab.core.formatting import format_sci
from aeos_lab.core.precision import float64
from aeos_lab.core.validation import check_int_at_least
from aeos_lab.engine import bank, cache, losses, results, train
from aeos_lab.engine.config import RunConfig, optimizer_defaults, stable_key

__all__ = [
    "LOG10_P_BINS",
    "P_QUANTILES",
    "Prop1Check",
    "PrecondConfig",
    "PrecondTrace",
    "TraceConfig",
    "adam_precond",
    "is_cached",
    "isomorphism_check",
    "precond_trace",
    "precond_values",
]

P_QUANTILES = {"P_min": 0.0, "P_10%": 0.1, "P_median": 0.5, "P_90%": 0.9, "P_max": 1.0}
"""Quantiles of the entries of P recorded along an Adam run by :func:`precond_trace`."""

LOG10_P_BINS = np.arange(-8.0, 1.0001, 0.125)
"""Histogram bins of log10 P (P = sqrt(nu) + eps lies between eps = 1e-7 and ~1 here)."""


# ---------------------------------------------------------------------------------------------
# Adam's preconditioner along a run


def _adam(config: RunConfig) -> RunConfig:
    """Full-batch Adam without bias correction at ``config``'s eta, beta1, beta2 and eps."""
    return config.task().replace(
        optimizer="adam",
        eta=config.eta,
        beta1=config.beta1,
        beta2=config.beta2,
        eps=config.eps,
        bias_correction=False,
        steps=1,
        track_every=1,
    )


@dataclass(frozen=True)
class TraceConfig:
    """A P trace: the Adam run of ``run`` (:func:`_adam`), with P's quantiles every ``every``
    steps up to the last snapshot and its histogram at each of ``snapshots``."""

    run: RunConfig
    snapshots: tuple[int, ...]
    every: int

    def __post_init__(self):
        snapshots = sorted(
            {check_int_at_least(int(s), 0, "snapshot_steps") for s in self.snapshots}
        )
        if not snapshots:
            raise ValueError("snapshot_steps must name at least one step >= 0")
        object.__setattr__(self, "snapshots", tuple(snapshots))
        object.__setattr__(self, "every", check_int_at_least(self.every, 1, "every"))
        object.__setattr__(self, "run", _adam(self.run))

    def key(self) -> str:
        """The cache key: the same scheme as :meth:`RunConfig.key`."""
        return stable_key(
            {
                "version": __version__,
                "trace": "precond",
                "run": self.run.to_dict(),
                "snapshots": list(self.snapshots),
                "every": self.every,
            }
        )

    def points(self) -> list[int]:
        last = self.snapshots[-1]
        return sorted(set(range(0, last + 1, self.every)) | set(self.snapshots))


@dataclass(frozen=True)
class PrecondTrace:
    """Adam's P = sqrt(nu) + eps along a run.

    ``trace``: step, loss and the :data:`P_QUANTILES` at every recorded step. ``hist``: step,
    layer, log10_P (bin centre), count: a histogram of log10 P per layer at each snapshot.
    ``summary``: one row per snapshot: step, loss, P_median, spread_decades = log10(max / min)
    over the entries with P >= 10 eps, at_eps = share of entries with P < 10 eps (parameters
    that never had a gradient). ``source``: computed now, your run cache, or the bank's
    provenance line."""

    config: TraceConfig
    trace: pd.DataFrame
    hist: pd.DataFrame
    summary: pd.DataFrame
    source: str = results.COMPUTED
    """Where this copy came from, as :attr:`aeos_lab.engine.results.RunResult.source`."""

    def snapshot(self, step: int) -> dict:
        """The summary row of snapshot ``step`` as a dict (ValueError for other steps)."""
        if step not in set(self.summary["step"]):
            raise ValueError(
                f"step must be one of the snapshots {list(self.summary['step'])}, got {step}"
            )
        return self.summary.set_index("step").loc[step].to_dict() | {"step": step}


def _layer_labels(params: dict) -> list[tuple[str, int]]:
    """(label, size) per top-level layer, in order: "layer 1", ..., "layer L (output)"."""
    names = list(params)
    out = []
    for i, name in enumerate(names):
        size = sum(int(np.size(leaf)) for leaf in jax.tree.leaves(params[name]))
        label = f"layer {i + 1}" + (" (output)" if i == len(names) - 1 else "")
        out.append((label, size))
    return out


def _log10_histogram(precond: dict, bins: np.ndarray = LOG10_P_BINS) -> pd.DataFrame:
    """Counts of log10 P per layer (columns layer, log10_P = bin centre, count; empty bins
    dropped). Values outside the bins are counted in the first or last bin."""
    frames = []
    labels = _layer_labels(precond)
    for (label, _), name in zip(labels, precond, strict=True):
        values = np.concatenate(
            [np.ravel(np.asarray(leaf)) for leaf in jax.tree.leaves(precond[name])]
        )
        logs = np.clip(np.log10(values.astype(float)), bins[0], bins[-1] - 1e-9)
        counts, _ = np.histogram(logs, bins=bins)
        centres = (bins[:-1] + bins[1:]) / 2
        keep = counts > 0
        frames.append(
            pd.DataFrame({"layer": label, "log10_P": centres[keep], "count": counts[keep]})
        )
    return pd.concat(frames, ignore_index=True)


@functools.lru_cache(maxsize=4)
def _loss_kernel(task: RunConfig):
    problem = train.build_problem(task)
    loss_of = losses.get_loss(task.loss)

    @jax.jit
    def full_loss(params):
        return loss_of(problem.model.apply(params, problem.x_train), problem.y_train)

    return full_loss


def precond_trace(
    config: RunConfig,
    snapshot_steps: Sequence[int],
    *,
    every: int = 10,
    progress: Callable | None = None,
    use_cache: bool = True,
) -> PrecondTrace:
    """Adam (``config``'s eta, beta1, beta2, eps; full batch, no bias correction) from the
    initialisation, recording its preconditioner P_t = sqrt(nu_t) + eps.

    nu_0 = 0 and nu_{t+1} = beta2 nu_t + (1 - beta2) g_t^2, so P_0 = eps everywhere and P then
    follows the root-mean-square of recent gradients, entry by entry. Frozen Adam
    (``freeze_at`` = t) uses P_t for its whole run. ``progress(done, total, message)`` hears
    the steps done. With ``use_cache``, a trace in the bank (:mod:`aeos_lab.engine.bank`) is
    taken first, then one in the run cache (see :class:`TraceConfig`), where a computed trace
    is kept; without it the trace is computed now.
    """
    spec = TraceConfig(config, tuple(snapshot_steps), every)
    key = spec.key()
    stored, source = None, results.COMPUTED
    if use_cache:
        found = bank.lookup_trace(spec)
        if found is not None:
            stored, source = found
        elif (stored := cache.load(key)) is not None:
            source = results.RUN_CACHE
    if stored is None:
        stored = _compute_precond_trace(spec, progress)
        if use_cache:
            cache.save(key, stored)
    frames = (pd.DataFrame(stored[name]) for name in ("trace", "hist", "summary"))
    return PrecondTrace(spec, *frames, source=source)


def is_cached(spec: TraceConfig) -> bool:
    """Whether the P trace ``spec`` is in the bank or in the run cache (then it loads at once):
    a panel's "ready" test."""
    return bank.has_trace(spec) or cache.load(spec.key()) is not None


def _compute_precond_trace(spec: TraceConfig, progress) -> dict:
    eps = spec.run.hyperparameters["eps"]
    full_loss = _loss_kernel(spec.run.task())
    snapshots, last = set(spec.snapshots), spec.snapshots[-1]
    levels = np.asarray(list(P_QUANTILES.values()))
    trace, hists, rows = [], [], []
    for step, params, state in train.states(spec.run, spec.points()):
        precond = jax.device_get(optimizers.preconditioner(state))
        flat = np.concatenate([np.ravel(a) for a in jax.tree.leaves(precond)]).astype(float)
        loss = float(full_loss(params))
        trace.append(
            {"step": step, "loss": loss}
            | dict(zip(P_QUANTILES, map(float, np.quantile(flat, levels)), strict=True))
        )
        if step in snapshots:
            hist = _log10_histogram(precond)
            hist.insert(0, "step", step)
            hists.append(hist)
            live = flat[flat >= 10 * eps]
            rows.append(
                {
                    "step": step,
                    "loss": loss,
                    "P_median": float(np.median(flat)),
                    "spread_decades": float(np.log10(live.max() / live.min()))
                    if live.size
                    else 0.0,
                    "at_eps": float(np.mean(flat < 10 * eps)),
                }
            )
        if progress is not None:
            progress(step, last, f"Adam η={format_sci(spec.run.eta, 3)}: recording P")
    return {
        "trace": pd.DataFrame(trace).to_dict("list"),
        "hist": pd.concat(hists, ignore_index=True).to_dict("list"),
        "summary": pd.DataFrame(rows).to_dict("list"),
    }


@dataclass(frozen=True)
class PrecondConfig:
    """Adam's whole P after ``step`` full-batch steps of ``run`` (:func:`_adam`): the P frozen
    Adam keeps with ``freeze_at=step``. Its bank key: :func:`aeos_lab.engine.bank.precond_key`."""

    run: RunConfig
    step: int

    def __post_init__(self):
        object.__setattr__(self, "step", check_int_at_least(self.step, 0, "step"))
        object.__setattr__(self, "run", _adam(self.run))


def _adam_state(spec: PrecondConfig):
    """(params, optimizer state) of the Adam run of ``spec`` at its step."""
    *_, (_, params, state) = train.states(spec.run, [spec.step])
    return params, state


def precond_values(spec: PrecondConfig) -> np.ndarray:
    """Adam's P of ``spec``, computed now (no bank), flattened in the order of
    :func:`jax.flatten_util.ravel_pytree` over the network's parameters."""
    _, state = _adam_state(spec)
    flat, _ = ravel_pytree(optimizers.preconditioner(state))
    return np.asarray(jax.device_get(flat))


def adam_precond(config: RunConfig, step: int) -> dict:
    """Adam's P after ``step`` full-batch steps at ``config``'s eta, beta1, beta2 (a pytree):
    the preconditioner frozen Adam takes with ``freeze_at=step``. From the bank when it holds
    it (:func:`aeos_lab.engine.bank.lookup_precond`), else trained now."""
    spec = PrecondConfig(config, step)
    found = bank.lookup_precond(spec)
    if found is not None:
        template, unravel = ravel_pytree(train.build_problem(spec.run).params0)
        values = np.asarray(found[0]["P"], dtype=template.dtype)
        if values.shape == template.shape:  # else (another network) compute it
            return jax.device_get(unravel(jnp.asarray(values)))
    _, state = _adam_state(spec)
    return jax.device_get(optimizers.preconditioner(state))


# ---------------------------------------------------------------------------------------------
# Prop. 1 on the network


@dataclass(frozen=True)
class Prop1Check:
    """Prop. 1 measured on a network (see :func:`isomorphism_check`).

    ``steps``: per step, ``prop1_gap`` = |z_t - P^1/2 x_t| / |z_t - z_0|, ``plain_gap`` =
    |x_t(HB) - x_t(frozen)| / |x_t(frozen) - x_0| and the losses f(x_t), f~(z_t). The maxima
    are taken over steps >= 1; ``max_loss_gap`` is the largest |f(x_t) - f~(z_t)| / f(x_t)."""

    steps: pd.DataFrame
    max_prop1_gap: float
    max_plain_gap: float
    max_loss_gap: float
    eta: float
    beta1: float


@functools.lru_cache(maxsize=4)
def _isomorphism_kernel(task: RunConfig, steps: int):
    """Jitted (float64) runs of frozen Adam on f and EMA heavy ball on f~(z) = f(P^-1/2 z)."""
    problem = train.build_problem(task)
    loss_of = losses.get_loss(task.loss)

    def loss(params, x, y):
        return loss_of(problem.model.apply(params, x), y)

    def run(tx, objective, start, x, y):
        def body(carry, _):
            z, state = carry
            updates, state = tx.update(jax.grad(objective)(z, x, y), state, z)
            z = jax.tree.map(jnp.add, z, updates)
            return (z, state), z

        _, path = jax.lax.scan(body, (start, tx.init(start)), None, length=steps)
        return jax.tree.map(lambda s, p: jnp.concatenate([s[None], p]), start, path)

    @jax.jit
    def kernel(params0, precond, eta, beta1, x, y):
        sqrt_p = jax.tree.map(jnp.sqrt, precond)

        def reparam_loss(z, x, y):  # f~(z) = f(P^-1/2 z)
            return loss(jax.tree.map(jnp.divide, z, sqrt_p), x, y)

        frozen = run(optimizers.frozen_adam(eta, precond, beta1), loss, params0, x, y)
        z0 = jax.tree.map(jnp.multiply, sqrt_p, params0)
        tilde = run(optimizers.ema_hb(eta, beta1), reparam_loss, z0, x, y)
        plain = run(optimizers.ema_hb(eta, beta1), loss, params0, x, y)
        mapped = jax.tree.map(lambda s, p: s[None] * p, sqrt_p, frozen)  # P^1/2 x_t

        def norms(tree):  # per step Euclidean norm over all parameters
            return jnp.sqrt(
                sum(jnp.sum(a.reshape(a.shape[0], -1) ** 2, 1) for a in jax.tree.leaves(tree))
            )

        def diff(a, b):
            return jax.tree.map(jnp.subtract, a, b)

        first = jax.tree.map(lambda p: p[:1], frozen)
        first_tilde = jax.tree.map(lambda p: p[:1], tilde)
        losses_frozen = jax.vmap(lambda p: loss(p, x, y))(frozen)
        losses_tilde = jax.vmap(lambda z: reparam_loss(z, x, y))(tilde)
        return {
            "prop1_gap": norms(diff(mapped, tilde)),
            "tilde_travel": norms(diff(tilde, first_tilde)),
            "plain_gap": norms(diff(plain, frozen)),
            "frozen_travel": norms(diff(frozen, first)),
            "loss_frozen": losses_frozen,
            "loss_tilde": losses_tilde,
        }

    return problem, kernel


def isomorphism_check(config: RunConfig, precond: dict, *, steps: int = 30) -> Prop1Check:
    """Prop. 1 on the network, in float64.

    Runs ``steps`` updates of frozen Adam (PrecondEMAHB(eta, beta1, P)) on the training loss f
    from the initialisation x_0, EMA heavy ball on f~(z) = f(P^-1/2 z) from z_0 = P^1/2 x_0, and,
    for contrast, EMA heavy ball on f from x_0. Prop. 1 says z_t = P^1/2 x_t at every step.
    """
    check_int_at_least(steps, 1, "steps")
    beta1 = config.beta1 if config.beta1 is not None else optimizer_defaults("frozen_adam")["beta1"]
    with float64():
        problem, kernel = _isomorphism_kernel(config.task(), steps)
        as64 = functools.partial(jnp.asarray, dtype=jnp.float64)
        out = kernel(
            jax.tree.map(as64, problem.params0),
            jax.tree.map(as64, precond),
            as64(config.eta),
            as64(beta1),
            as64(problem.x_train),
            as64(problem.y_train),
        )
        out = {name: np.asarray(value, dtype=float) for name, value in out.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        frame = pd.DataFrame(
            {
                "step": np.arange(steps + 1),
                "prop1_gap": out["prop1_gap"] / out["tilde_travel"],
                "plain_gap": out["plain_gap"] / out["frozen_travel"],
                "loss_frozen": out["loss_frozen"],
                "loss_tilde": out["loss_tilde"],
            }
        )
    later = frame[frame["step"] >= 1]
    loss_gap = np.abs(later["loss_frozen"] - later["loss_tilde"]) / np.abs(later["loss_frozen"])
    return Prop1Check(
        frame,
        float(later["prop1_gap"].max()),
        float(later["plain_gap"].max()),
        float(loss_gap.max()),
        config.eta,
        beta1,
    )
