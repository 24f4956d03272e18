"""The training engine: jitted, vectorised training runs with sharpness tracking.

A run (:class:`~aeos_lab.config.RunConfig`) trains a model with one optimizer of
:mod:`aeos_lab.optimizers`. Between measurements the steps run inside one jitted ``lax.scan``;
each measurement is one more jitted call that records, on the full training set,

* the loss and the train and held-out accuracy;
* the sharpness lambda_1..k(H) and the preconditioned sharpness lambda_1..k(P^-1/2 H P^-1/2),
  each from an eigensolver warm-started at the previous measurement's eigenvectors;
* the gradient norm |g|, the norm of the gradient in the preconditioned coordinates
  x~ = P^1/2 x, i.e. |P^-1/2 g|, and the share of |P^-1/2 g|^2 that lies in the top-k
  eigenvectors of P^-1/2 H P^-1/2 (paper Fig 18; the paper's caption writes this vector as
  "P^1/2 g", but the eigenvectors live in the x~ coordinates, where the gradient is P^-1/2 g);
* a summary of the diagonal preconditioner P (min, median, mean, max).

On the host, each record also gets the learning rate eta_t of the latest update, the
optimizer's stability threshold at eta_t (:func:`aeos_lab.thresholds.optimizer_threshold`) and
the ratio precond_sharpness / threshold.

A sweep over eta, beta1 and beta2 with everything else equal is ONE computation: the single-run
step and measurement functions are vmapped over a leading "runs" axis, and, when JAX sees
several devices, that axis is sharded across them with ``jax.sharding``. On a single CPU
device sweeps run their configs one after another by default (see :func:`sweep`): measured
there, vmap was slower than a loop. Each run stops on its
own (step limit, loss threshold, divergence) by freezing its state while the others go on.

Divergence: a non-finite training loss, or one above ``divergence_loss``, marks the run as
diverged; it stops there and keeps every record made before.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import time
from collections.abc import Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from aeos_lab.core import optimizers
from aeos_lab.core.curvature import sharpness
from aeos_lab.core.thresholds import optimizer_threshold
from aeos_lab.core.validation import check_int_at_least
from aeos_lab.engine import bank, data, losses, models
from aeos_lab.engine import cache as run_cache
from aeos_lab.engine.config import RunConfig, linear_warmup
from aeos_lab.engine.progress import progress_bar
from aeos_lab.engine.results import RUN_CACHE, RunResult

RUNNING, DONE, DIVERGED = 0, 1, 2
STATUS_NAMES = {RUNNING: "step_limit", DONE: "loss_threshold", DIVERGED: "diverged"}


# --------------------------------------------------------------------------------------------
# The problem: data, model and loss (the static part of a run)


class Problem(NamedTuple):
    model: object
    params0: dict
    x_train: jax.Array
    y_train: jax.Array
    x_test: jax.Array
    y_test: jax.Array


@functools.lru_cache(maxsize=8)
def _problem(dataset, n_train, n_test, label_noise, data_seed, model, width, depth, seed, dtype):
    flatten = model == "fc"
    given = {"n_train": n_train, "n_test": n_test, "label_noise": label_noise}
    task = data.load_task(
        dataset,
        seed=data_seed,
        flatten=flatten,
        **{name: value for name, value in given.items() if value is not None},
    )
    shape_kwargs = {"width": width, "depth": depth} if model == "fc" else {}
    net = models.build_model(
        model,
        input_shape=task.x_train.shape[1:],
        num_outputs=task.y_train.shape[1],
        dtype=dtype,
        **shape_kwargs,
    )
    as_array = functools.partial(jnp.asarray, dtype=dtype)
    return Problem(
        net,
        net.init(seed),
        as_array(task.x_train),
        as_array(task.y_train),
        as_array(task.x_test),
        as_array(task.y_test),
    )


def build_problem(config: RunConfig) -> Problem:
    return _problem(
        config.dataset,
        config.n_train,
        config.n_test,
        config.label_noise,
        config.data_seed,
        config.model,
        config.width,
        config.depth,
        config.seed,
        config.dtype,
    )


@functools.lru_cache(maxsize=4)
def flat_loss(config: RunConfig):
    """(loss_fn, x0): ``config``'s full-batch training loss as a function of ONE flat
    parameter vector (``ravel_pytree`` order), and the flat initialisation. For dense work on
    small models: Hessians, hand-written optimizer loops."""
    problem = build_problem(config)
    x0, unravel = ravel_pytree(problem.params0)
    loss_of = losses.get_loss(config.loss)

    def loss_fn(x):
        return loss_of(problem.model.apply(unravel(x), problem.x_train), problem.y_train)

    return loss_fn, x0


# --------------------------------------------------------------------------------------------
# Optimizers from a config plus traced hyperparameters


class Hyper(NamedTuple):
    """The per-run hyperparameters that a sweep varies (scalars, or arrays in a sweep)."""

    eta: jax.Array
    beta1: jax.Array
    beta2: jax.Array
    freeze_eta: jax.Array


def _hyper(configs: list[RunConfig], dtype) -> Hyper:
    """The swept values of each config, the optimizer's own default where a field is unset
    (0 for a hyperparameter the optimizer does not take)."""

    def column(name, default):
        values = [c.hyperparameters.get(name, default) for c in configs]
        return jnp.asarray(values, dtype=dtype)

    return Hyper(
        jnp.asarray([c.eta for c in configs], dtype=dtype),
        column("beta1", 0.0),
        column("beta2", 0.0),
        jnp.asarray([c.freeze_eta or 1.0 for c in configs], dtype=dtype),
    )


def _schedule(config: RunConfig, peak):
    """The optimizer's learning rate: a schedule of the update count under warmup."""
    if config.warmup_steps <= 0:
        return peak
    return functools.partial(linear_warmup, peak, config.warmup_steps)


def _make_optimizer(config: RunConfig, name: str, eta, hyper: Hyper, precond=None, frozen=False):
    """Optimizer ``name`` with ``config``'s hyperparameters (beta1 and beta2 traced from
    ``hyper``); ``frozen``: its frozen counterpart (:func:`aeos_lab.core.optimizers.freeze`)."""
    accepted = inspect.signature(optimizers.OPTIMIZERS[name]).parameters
    kwargs = dict(config.extra)
    for field_name, value in config.hyperparameters.items():
        if field_name in accepted:
            kwargs[field_name] = getattr(hyper, field_name, value)
    if frozen:
        return optimizers.freeze(name, eta, precond, **kwargs)
    if precond is not None:
        kwargs["precond"] = precond
    return optimizers.make_optimizer(name, eta, **kwargs)


# --------------------------------------------------------------------------------------------
# One run's state and its two jitted kernels: advance n steps, measure


class Carry(NamedTuple):
    params: dict
    opt_state: object
    step: jax.Array
    status: jax.Array


class EigState(NamedTuple):
    raw: jax.Array
    precond: jax.Array


def _batch(config: RunConfig, problem_arrays, step):
    x, y = problem_arrays[0], problem_arrays[1]
    if config.batch_size is None or config.batch_size >= x.shape[0]:
        return x, y
    n, b = x.shape[0], config.batch_size
    per_epoch = n // b
    epoch, position = step // per_epoch, step % per_epoch
    key = jax.random.fold_in(jax.random.PRNGKey(config.seed), epoch)
    order = jax.random.permutation(key, n)
    idx = jax.lax.dynamic_slice(order, (position * b,), (b,))
    return x[idx], y[idx]


def _loss_fn(config: RunConfig, model):
    loss = losses.get_loss(config.loss)
    return lambda params, x, y: loss(model.apply(params, x), y)


def _tree_where(cond, new, old):
    return jax.tree.map(lambda a, b: jnp.where(cond, a, b), new, old)


def _advance_one(config, model, tx, arrays, carry: Carry, n_steps: int) -> Carry:
    loss_fn = _loss_fn(config, model)
    full_batch = config.batch_size is None or config.batch_size >= arrays[0].shape[0]

    def body(carry: Carry, _):
        xb, yb = _batch(config, arrays, carry.step)
        loss, grads = jax.value_and_grad(loss_fn)(carry.params, xb, yb)
        bad = ~jnp.isfinite(loss) | (loss > config.divergence_loss)
        reached = jnp.asarray(False)
        if full_batch and config.loss_threshold is not None:
            reached = loss < config.loss_threshold
        updates, new_state = tx.update(grads, carry.opt_state, carry.params)
        new_params = optax.apply_updates(carry.params, updates)
        running = carry.status == RUNNING
        status = jnp.where(
            running & bad, DIVERGED, jnp.where(running & reached, DONE, carry.status)
        )
        advance = running & ~bad & ~reached
        return Carry(
            _tree_where(advance, new_params, carry.params),
            _tree_where(advance, new_state, carry.opt_state),
            carry.step + advance.astype(carry.step.dtype),
            status.astype(carry.status.dtype),
        ), None

    return jax.lax.scan(body, carry, None, length=n_steps)[0]


def _measure_one(config, model, arrays, params, precond, step, status, eig: EigState):
    x_train, y_train, x_test, y_test = arrays
    loss_of = losses.get_loss(config.loss)

    def full_loss(params):
        return loss_of(model.apply(params, x_train), y_train)

    loss, grads = jax.value_and_grad(full_loss)(params)
    test_out = model.apply(params, x_test)
    train_acc = losses.accuracy(model.apply(params, x_train), y_train)
    raw_vals, raw_vecs, raw_info = sharpness(
        full_loss, params, k=config.k, v0=eig.raw, tol=config.eig_tol
    )
    pre_vals, pre_vecs, pre_info = sharpness(
        full_loss, params, k=config.k, precond=precond, v0=eig.precond, tol=config.eig_tol
    )
    g_flat, _ = ravel_pytree(grads)
    p_flat, _ = ravel_pytree(precond)
    g_tilde = g_flat / jnp.sqrt(p_flat)
    g_tilde_sq = jnp.sum(g_tilde**2)
    top_sq = jnp.sum((pre_vecs.reshape(config.k, -1) @ g_tilde) ** 2)
    record = {
        "step": step,
        "status": status,
        "loss": loss,
        "train_acc": train_acc,
        "test_loss": loss_of(test_out, y_test),
        "test_acc": losses.accuracy(test_out, y_test),
        "grad_norm": jnp.linalg.norm(g_flat),
        "precond_grad_norm": jnp.sqrt(g_tilde_sq),
        "precond_grad_top_share": top_sq / g_tilde_sq,
        "P_min": jnp.min(p_flat),
        "P_median": jnp.median(p_flat),
        "P_mean": jnp.mean(p_flat),
        "P_max": jnp.max(p_flat),
        "sharpness_hvps": raw_info.n_hvp,
        "precond_sharpness_hvps": pre_info.n_hvp,
        "eig_converged": raw_info.converged & pre_info.converged,
    }
    for i in range(config.k):
        suffix = "" if i == 0 else f"_{i + 1}"
        record["sharpness" + suffix] = raw_vals[i]
        record["precond_sharpness" + suffix] = pre_vals[i]
    return record, EigState(raw_vecs, pre_vecs)


# --------------------------------------------------------------------------------------------
# The vectorised driver


def _sharding():
    """A sharding of the leading "runs" axis over all devices, or None on one device."""
    devices = jax.devices()
    if len(devices) < 2:
        return None
    mesh = jax.sharding.Mesh(np.array(devices), ("runs",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("runs"))


class Static(NamedTuple):
    """The static part of a batch of runs, on which the compiled kernels are keyed: the config
    with its swept hyperparameters (eta, beta1, beta2, freeze_eta) replaced by placeholders,
    the model, and whether the runs axis is vmapped. Runs that differ only in swept values or
    in the measurement schedule therefore share one compilation (a slider move never
    recompiles)."""

    config: RunConfig
    model: object
    batched: bool


def _static(config: RunConfig, model, batched: bool) -> Static:
    swept = {name: 0.5 for name in ("beta1", "beta2") if name in config.hyperparameters}
    representative = config.replace(
        eta=1.0,
        **swept,
        freeze_eta=None if config.freeze_eta is None else 1.0,
        # read by the host loop only, not by the kernels
        steps=1,
        track_every=1,
        dense_window=None,
        freeze_precond_at=None,
    )
    return Static(representative, model, batched)


def _measure_static(static: Static) -> Static:
    """The part of a static that measurements depend on: the task, the loss, k and eig_tol,
    not the optimizer. The measurement kernel takes P rather than the optimizer state, so runs
    of every optimizer on one task share one compiled eigensolver (most of the compile time)."""
    return Static(static.config.task("k", "eig_tol"), static.model, static.batched)


def _map(static: Static, fn, *args):
    """fn vmapped over the runs axis; a single run skips vmap, whose batched matrix products
    and batched while-loops are several times slower on the CPU."""
    if static.batched:
        return jax.vmap(fn)(*args)
    out = fn(*jax.tree.map(lambda a: a[0], args))
    return jax.tree.map(lambda a: jnp.expand_dims(a, 0), out)


def _tx(config: RunConfig, hyper: Hyper, precond=None, frozen: bool = False):
    """The run's optimizer; ``frozen``: with P held fixed from now on (``freeze_precond_at``)."""
    schedule = _schedule(config, hyper.eta)
    if config.optimizer == "frozen_adam":
        return _make_optimizer(config, "frozen_adam", schedule, hyper, precond=precond)
    if frozen:
        return _make_optimizer(config, config.optimizer, schedule, hyper, precond, frozen=True)
    return _make_optimizer(config, config.optimizer, schedule, hyper)


def _fresh_carry(params, opt_state) -> Carry:
    return Carry(params, opt_state, jnp.asarray(0, jnp.int32), jnp.asarray(RUNNING, jnp.int32))


@functools.partial(jax.jit, static_argnames=("static",))
def _init_batch(static: Static, params0, hyper: Hyper, precond):
    def one(h, p):
        return _fresh_carry(params0, _tx(static.config, h, p).init(params0))

    return _map(static, one, hyper, precond)


@functools.partial(jax.jit, static_argnames=("static",))
def _reference_precond_batch(static: Static, arrays, params0, hyper: Hyper):
    """P of an Adam run at freeze_eta after freeze_at steps (frozen Adam's preconditioner)."""
    config = static.config
    ref = config.replace(
        optimizer="adam",
        freeze_at=None,
        freeze_eta=None,
        loss_threshold=None,
        warmup_steps=0,
        bias_correction=False,
    )

    def one(h: Hyper):
        h = h._replace(eta=h.freeze_eta)
        tx = _make_optimizer(ref, "adam", h.eta, h)
        carry = _fresh_carry(params0, tx.init(params0))
        carry = _advance_one(ref, static.model, tx, arrays, carry, config.freeze_at)
        return optimizers.preconditioner(carry.opt_state)

    return _map(static, one, hyper)


@functools.partial(jax.jit, static_argnames=("static", "n_steps", "frozen"))
def _advance_batch(static: Static, arrays, hyper: Hyper, precond, carry: Carry, n_steps, frozen):
    def one(h, p, c):
        tx = _tx(static.config, h, p, frozen)
        return _advance_one(static.config, static.model, tx, arrays, c, n_steps)

    return _map(static, one, hyper, precond, carry)


@functools.partial(jax.jit, static_argnames=("static",))
def _measure_batch(static: Static, arrays, params, precond, step, status, eig: EigState):
    """Measurements of a batch of runs; ``static`` is a :func:`_measure_static`."""

    def one(p, pre, s, st, e):
        return _measure_one(static.config, static.model, arrays, p, pre, s, st, e)

    return _map(static, one, params, precond, step, status, eig)


@functools.partial(jax.jit, static_argnames=("static", "measure_static", "gap", "count", "frozen"))
def _advance_and_measure_batch(
    static: Static,
    measure_static: Static,
    arrays,
    hyper,
    precond,
    carry,
    eig,
    measure_first,
    gap,
    count,
    frozen,
):
    """``count`` times: ``gap`` steps, then a measurement; one compiled scan, records stacked
    along a leading axis (the fused driver of small models, see :data:`FUSED_MAX_PARAMS`).
    With ``measure_first`` (a traced bool, so it compiles once) the first of the ``count``
    measurements is taken before any step: a run's step-0 record needs no kernel of its own."""

    def advance(carry):
        return _advance_batch(static, arrays, hyper, precond, carry, gap, frozen)

    def body(state, index):
        carry, eig = state
        carry = jax.lax.cond(measure_first & (index == 0), lambda c: c, advance, carry)
        p = optimizers.preconditioner(carry.opt_state)
        record, eig = _measure_batch(
            measure_static, arrays, carry.params, p, carry.step, carry.status, eig
        )
        return (carry, eig), record

    (carry, eig), records = jax.lax.scan(body, (carry, eig), jnp.arange(count))
    return carry, eig, records


FUSED_MAX_PARAMS = 1024
"""Models with at most this many parameters train in fused mode: each run of equal gaps between
measurements is ONE compiled scan that measures inside it, with no trip to the host per
measurement. For larger models the host loop (scan chunks between measurements) costs nothing
extra next to the work; for the 242-parameter micro network it halves a 3000-step run."""


class _Engine:
    """Runs a group of configs that differ only in (eta, beta1, beta2) as one vmapped batch."""

    def __init__(self, configs: list[RunConfig]):
        self.config = base = configs[0]
        self.configs = configs
        self.problem = build_problem(base)
        self.arrays = (
            self.problem.x_train,
            self.problem.y_train,
            self.problem.x_test,
            self.problem.y_test,
        )
        sharding = _sharding()
        n = len(configs)
        self.padded = n if sharding is None else -(-n // len(jax.devices())) * len(jax.devices())
        padded_configs = configs + [configs[-1]] * (self.padded - n)
        self.hyper = _hyper(padded_configs, self.problem.x_train.dtype)
        self.sharding = sharding
        if sharding is not None:
            self.hyper = jax.device_put(self.hyper, sharding)
        self.static = _static(base, self.problem.model, batched=self.padded > 1)
        self.measure_static = _measure_static(self.static)

    def _initial_eig(self):
        size = ravel_pytree(self.problem.params0)[0].shape[0]
        dtype = self.problem.x_train.dtype
        keys = jax.random.split(jax.random.PRNGKey(self.config.seed + 7919), 2)
        shape = (self.padded, self.config.k, size)
        return EigState(
            jax.random.normal(keys[0], shape, dtype), jax.random.normal(keys[1], shape, dtype)
        )

    def measurement_steps(self) -> list[int]:
        base = self.config
        points = set(range(0, base.steps + 1, base.track_every)) | {base.steps}
        if base.dense_window is not None:
            start, stop = base.dense_window
            points |= set(range(start, min(stop, base.steps) + 1))
        return sorted(points)

    # -- the host loop -------------------------------------------------------------------------
    def walk(self, points: list[int], bar=None):
        """Train the batch up to each step of ``points`` (sorted) in turn; yield ``(point,
        carry, precond, frozen)`` there, where ``precond`` is the P to measure with and
        ``frozen`` whether P has been frozen (``freeze_precond_at``). Stops early once every
        run has stopped (only after a yield, so the caller sees the final state)."""
        base = self.config
        precond = (
            _reference_precond_batch(self.static, self.arrays, self.problem.params0, self.hyper)
            if base.optimizer == "frozen_adam"
            else jax.tree.map(
                lambda a: jnp.zeros((self.padded,) + a.shape, a.dtype), self.problem.params0
            )
        )
        carry = _init_batch(self.static, self.problem.params0, self.hyper, precond)
        if self.sharding is not None:
            carry, precond = jax.device_put((carry, precond), self.sharding)
        done_at, frozen = 0, False
        for point in points:
            while done_at < point:
                stop = point
                if (
                    base.freeze_precond_at is not None
                    and not frozen
                    and done_at < base.freeze_precond_at < point
                ):
                    stop = base.freeze_precond_at
                carry = _advance_batch(
                    self.static, self.arrays, self.hyper, precond, carry, stop - done_at, frozen
                )
                if bar is not None:
                    bar.update(stop - done_at)
                done_at = stop
                if base.freeze_precond_at is not None and done_at == base.freeze_precond_at:
                    precond, frozen = optimizers.preconditioner(carry.opt_state), True
            yield point, carry, optimizers.preconditioner(carry.opt_state), frozen
            status = np.asarray(jax.device_get(carry.status))[: len(self.configs)]
            if np.all(status != RUNNING):
                return

    def fused(self) -> bool:
        """Whether this batch trains in fused mode (:data:`FUSED_MAX_PARAMS`)."""
        size = ravel_pytree(self.problem.params0)[0].shape[0]
        freeze = self.config.freeze_precond_at
        return size <= FUSED_MAX_PARAMS and (freeze is None or freeze in self.measurement_steps())

    def run(self, progress=None) -> list[dict]:
        eig = self._initial_eig()
        if self.sharding is not None:
            eig = jax.device_put(eig, self.sharding)
        bar = progress_bar(progress, total=self.config.steps, label=_label(self.configs))
        rows = self._run_fused(eig, bar) if self.fused() else self._run_host(eig, bar)
        bar.close()
        return _split_rows(rows, self.configs)

    def _run_fused(self, eig, bar) -> list[dict]:
        """Each run of equal gaps between measurement steps as one fused scan (split where P
        freezes); the first scan also takes the step-0 measurement."""
        points = self.measurement_steps()
        ((_, carry, precond, frozen),) = self.walk(points[:1])  # the state at step 0
        if len(points) == 1:
            first, eig = self._record(carry, precond, frozen, eig)
            return [first]
        rows: list[dict] = []
        segments: list[tuple[int, int]] = []
        for gap in np.diff(points).tolist():
            if segments and segments[-1][0] == gap:
                segments[-1] = (gap, segments[-1][1] + 1)
            else:
                segments.append((gap, 1))
        done = points[0]
        freeze = self.config.freeze_precond_at
        for gap, count in segments:
            pieces = [(gap, count)]
            if freeze is not None and not frozen and done < freeze < done + gap * count:
                first = (freeze - done) // gap
                pieces = [(gap, first), (gap, count - first)]
            for gap_, count_ in pieces:
                measure_first = not rows  # the step-0 record comes with the first scan
                carry, eig, records = _advance_and_measure_batch(
                    self.static,
                    self.measure_static,
                    self.arrays,
                    self.hyper,
                    precond,
                    carry,
                    eig,
                    jnp.asarray(measure_first),
                    gap_,
                    count_ + measure_first,
                    frozen,
                )
                host = jax.device_get(records)
                for i in range(count_ + measure_first):
                    row = {key: value[i] for key, value in host.items()}
                    row["frozen"] = np.full(self.padded, frozen)
                    rows.append(row)
                done += gap_ * count_
                if bar is not None:
                    bar.update(gap_ * count_)
                if freeze is not None and done == freeze:  # as the host loop: frozen from here
                    precond, frozen = optimizers.preconditioner(carry.opt_state), True
                    rows[-1]["frozen"] = np.full(self.padded, True)
            if np.all(np.asarray(host["status"][-1])[: len(self.configs)] != RUNNING):
                break
        return rows

    def _record(self, carry, precond, frozen, eig) -> tuple[dict, EigState]:
        """One measurement of the batch, as host values, and the eigensolver's warm start."""
        record, eig = _measure_batch(
            self.measure_static,
            self.arrays,
            carry.params,
            precond,
            carry.step,
            carry.status,
            eig,
        )
        host = jax.device_get(record)
        host["frozen"] = np.full(self.padded, frozen)
        return host, eig

    def _run_host(self, eig, bar) -> list[dict]:
        rows: list[dict] = []
        for _, carry, precond, frozen in self.walk(self.measurement_steps(), bar):
            row, eig = self._record(carry, precond, frozen, eig)
            rows.append(row)
        return rows


def _split_rows(rows: list[dict], configs: list[RunConfig]) -> list[dict]:
    """Per-run payloads from the vmapped records: keep each run's records up to where it
    stopped (a stopped run's state is frozen, so later records would repeat it)."""
    payloads = []
    for i, config in enumerate(configs):
        records, status = [], RUNNING
        for row in rows:
            rec = {key: _scalar(value[i]) for key, value in row.items()}
            if records and rec["step"] == records[-1]["step"] and status != RUNNING:
                break
            status = int(rec.pop("status"))
            records.append(rec)
            if status == DIVERGED:
                break
        for rec in records:
            lr = config.warmup_eta(max(rec["step"] - 1, 0))
            beta1 = config.hyperparameters.get("beta1", 0.0)
            thr = float(optimizer_threshold(config.optimizer, lr, beta1))
            rec.update(lr=lr, threshold=thr, ratio=rec["precond_sharpness"] / thr)
        payloads.append(
            {
                "config": config.to_dict(),
                "status": STATUS_NAMES[status],
                "diverged": status == DIVERGED,
                "steps_done": int(records[-1]["step"]) if records else 0,
                "device": str(jax.devices()[0].platform),
                "records": records,
            }
        )
    return payloads


def _scalar(value):
    value = np.asarray(value)
    if value.dtype == bool:
        return bool(value)
    if np.issubdtype(value.dtype, np.integer):
        return int(value)
    return float(value)


# --------------------------------------------------------------------------------------------
# The public API

_memory: dict[str, RunResult] = {}


def vectorize_by_default() -> bool:
    """Whether sweeps vmap their runs when not told: yes on accelerators and on several
    devices; no on a single CPU device. There one run's matrix products already keep both
    cores busy, so vmap cannot share work, and its batched products, elementwise passes over
    all runs' parameters and lock-step eigensolver loops made a 5-run sweep about 2x slower
    than five runs in a row (benchmarks/training.py)."""
    return jax.default_backend() != "cpu" or jax.device_count() > 1


def sweep(
    configs: list[RunConfig], *, cache: bool = True, progress=None, vectorize: bool | None = None
) -> list[RunResult]:
    """Run every config, reusing stored results (with ``cache``: this session's, the bank's,
    the run cache's, in that order; without it every config is computed now). Configs that
    differ only in (eta, beta1, beta2) run together as one vmapped computation, sharded across
    devices when JAX sees several, if ``vectorize`` is True (default:
    :func:`vectorize_by_default`); otherwise one after another, each sharing the same compiled
    kernels."""
    configs = list(configs)
    if vectorize is None:
        vectorize = vectorize_by_default()
    results: dict[str, RunResult] = {}
    todo: dict[tuple, list[RunConfig]] = {}
    for config in configs:
        key = config.key()
        if key in results:
            continue
        hit = _stored(config) if cache else None
        if hit is not None:
            results[key] = _memory[key] = hit
        else:
            group = todo.setdefault(config.sweep_key(), [])
            if all(c.key() != key for c in group):
                group.append(config)
    batches = [
        batch
        for group in todo.values()
        for batch in ([group] if vectorize else [[config] for config in group])
    ]
    for batch in batches:
        for payload in _Engine(batch).run(progress):
            result = RunResult.from_payload(payload)
            key = result.config.key()
            results[key] = result
            if cache:
                _memory[key] = result
                run_cache.save(key, payload)
    return [results[c.key()] for c in configs]


def _stored(config: RunConfig) -> RunResult | None:
    """This session's copy of ``config``'s run, else the bank's (:mod:`aeos_lab.engine.bank`,
    read BEFORE the user's run cache), else the run cache's; None when none holds it."""
    hit = _memory.get(config.key())
    if hit is None:
        found = bank.lookup_run(config)
        if found is not None:
            hit = dataclasses.replace(RunResult.from_payload(found[0]), source=found[1])
        elif (payload := run_cache.load(config.key())) is not None:
            hit = dataclasses.replace(RunResult.from_payload(payload), source=RUN_CACHE)
    return hit


def source_of(config: RunConfig) -> str | None:
    """Where the result of ``config`` that this session holds came from
    (:attr:`RunResult.source`), or None when it holds none yet."""
    hit = _memory.get(config.key())
    return None if hit is None else hit.source


def is_cached(config: RunConfig) -> bool:
    """Whether ``config`` has a finished run in memory, in the bank or in the disk cache (then
    it loads at once)."""
    key = config.key()
    return key in _memory or bank.has_run(config) or run_cache.load(key) is not None


def run(config: RunConfig, *, cache: bool = True, progress=None) -> RunResult:
    """Train one config (see :class:`RunConfig`), or return its cached result at once."""
    return sweep([config], cache=cache, progress=progress)[0]


def states(config: RunConfig, at) -> Iterator[tuple[int, dict, object]]:
    """The run of ``config`` paused at each step of ``at``: yields ``(step, params,
    opt_state)`` in increasing step order, trained by the same jitted kernels as :func:`run`
    but with no measurements and nothing cached. A run that stops early (loss threshold,
    divergence) yields its final state and ends.

    For what a run's records do not keep, e.g. the whole preconditioner P at chosen steps
    (:mod:`aeos_lab.engine.traces`)."""
    engine = _Engine([config])
    points = sorted({check_int_at_least(int(s), 0, "at") for s in at})
    for _, carry, _, _ in engine.walk(points):
        unbatched = jax.tree.map(lambda a: a[0], (carry.params, carry.opt_state, carry.step))
        params, opt_state, step = unbatched
        yield int(step), params, opt_state


def sweep_over(base: RunConfig, **axes) -> list[RunConfig]:
    """Configs for the outer product of ``axes`` (e.g. eta=[...], beta2=[...]) over ``base``."""
    configs = [base]
    for name, values in axes.items():
        configs = [c.replace(**{name: v}) for c in configs for v in values]
    return configs


def _label(configs: list[RunConfig]) -> str:
    base = configs[0]
    if len(configs) == 1:
        return f"{base.optimizer} eta={base.eta:g}"
    return f"{base.optimizer} x{len(configs)} runs"


def elapsed(fn, *args, **kwargs):
    """(result, seconds) of one call; used by the benchmarks."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start
