"""Run configuration: one frozen, hashable record of everything that determines a training run.

Data flows one way through the package: a :class:`RunConfig` goes into :mod:`aeos_lab.train`,
which returns records in a tidy table, which :mod:`aeos_lab.charts` draws. Two configs that are
equal describe the same computation, so :meth:`RunConfig.key` (a hash of every field and of the
library version) is what the run cache is keyed by.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import math
from dataclasses import dataclass

import jax.numpy as jnp

from aeos_lab import __version__
from aeos_lab.core.validation import (
    canonical_name,
    check_beta,
    check_int_at_least,
    check_nonnegative,
    check_positive,
)

DATASETS = ("digits", "gauss", "cifar10", "cifar100")
TASK_FIELDS = (
    "dataset",
    "n_train",
    "n_test",
    "label_noise",
    "data_seed",
    "model",
    "width",
    "depth",
    "loss",
    "seed",
    "dtype",
)
"""The fields that describe a task, not an optimizer or a schedule (:meth:`RunConfig.task`)."""
MODELS = ("fc", "cnn")
LOSSES = ("mse", "ce")
HYPERPARAMETER_FIELDS = ("beta1", "beta2", "eps", "bias_correction")
"""RunConfig fields passed to the optimizers that take them; None means the optimizer's own
default (:func:`optimizer_defaults`)."""


def optimizer_defaults(optimizer: str) -> dict:
    """The :data:`HYPERPARAMETER_FIELDS` that ``optimizer`` uses, with its own documented
    defaults (the keyword defaults of its factory in :mod:`aeos_lab.core.optimizers`), e.g.
    ``{"beta2": 0.99, "eps": 1e-7}`` for RMSprop. Frozen Adam uses its momentum's beta1 and the
    beta2 and eps of the Adam run that supplies its P (Adam's defaults)."""
    from aeos_lab.core.optimizers import OPTIMIZERS

    return dict(_defaults(canonical_name(optimizer, OPTIMIZERS, "optimizer")))


@functools.cache
def _defaults(name: str) -> tuple:
    from aeos_lab.core.optimizers import OPTIMIZERS

    def taken(name):
        params = inspect.signature(OPTIMIZERS[name]).parameters
        return {f: params[f].default for f in HYPERPARAMETER_FIELDS if f in params}

    out = taken(name)
    if name == "frozen_adam":
        adam = taken("adam")
        out.update(beta2=adam["beta2"], eps=adam["eps"])
    return tuple(out.items())


@dataclass(frozen=True, eq=False)
class RunConfig:
    """Everything that determines one training run.

    Optimizer: ``optimizer`` names a factory of :mod:`aeos_lab.core.optimizers`; ``eta`` is the
    peak learning rate; ``beta1``, ``beta2``, ``eps`` and ``bias_correction`` go to the
    optimizers that take them. Left at None they mean the optimizer's own default
    (:func:`optimizer_defaults`: RMSprop's beta2 is 0.99, Adam's 0.999); the values a run uses
    are :attr:`hyperparameters`. A field the optimizer ignores (beta2 for Adagrad) changes
    neither the run, nor its cache key, nor its output. ``extra`` holds any other keyword, e.g.
    ``(("exponent", 0.25),)`` for Padam.

    Two configs are equal when they describe the same computation (equal :meth:`to_dict`):
    ``RunConfig(optimizer="rmsprop") == RunConfig(optimizer="rmsprop", beta2=0.99)``.

    Frozen Adam the paper's way (Cohen et al. 2022, sec. 4): with ``optimizer="frozen_adam"``,
    ``freeze_at`` and ``freeze_eta``, an Adam run at ``freeze_eta`` from the same initialisation
    supplies P = P_{freeze_at}; the run then restarts from the initialisation with P frozen.
    ``freeze_precond_at`` instead stops updating P in the middle of this run (paper Fig 16), for
    any adaptive optimizer: from that step on the optimizer applies its own momentum rule (and
    weight decay) with P held fixed, its frozen counterpart
    (:func:`aeos_lab.core.optimizers.freeze`).

    Schedule: linear warmup eta_t = eta * min(1, (t + 1) / warmup_steps). The run stops after
    ``steps`` steps, when the train loss first drops below ``loss_threshold``, or when it
    diverges (a non-finite loss or one above ``divergence_loss``).

    Measurements: every ``track_every`` steps, and at every step inside ``dense_window``
    (start, stop). Each measures the top-``k`` eigenvalues of H and of P^-1/2 H P^-1/2 to
    relative accuracy ``eig_tol``.
    """

    optimizer: str = "adam"
    eta: float = 1e-3
    beta1: float | None = None
    beta2: float | None = None
    eps: float | None = None
    bias_correction: bool | None = None
    extra: tuple[tuple[str, float], ...] = ()

    dataset: str = "digits"
    n_train: int | None = None
    n_test: int | None = None
    label_noise: float | None = None
    data_seed: int = 0

    model: str = "fc"
    width: int = 200
    depth: int = 5
    loss: str = "mse"

    batch_size: int | None = None
    warmup_steps: int = 0
    steps: int = 2000
    loss_threshold: float | None = None
    divergence_loss: float = 1e4

    freeze_at: int | None = None
    freeze_eta: float | None = None
    freeze_precond_at: int | None = None

    track_every: int = 50
    dense_window: tuple[int, int] | None = None
    k: int = 1
    eig_tol: float = 1e-3
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        from aeos_lab.core.optimizers import OPTIMIZERS

        object.__setattr__(
            self, "optimizer", canonical_name(self.optimizer, OPTIMIZERS, "optimizer")
        )
        object.__setattr__(self, "dataset", canonical_name(self.dataset, DATASETS, "dataset"))
        object.__setattr__(self, "model", canonical_name(self.model, MODELS, "model"))
        object.__setattr__(self, "loss", canonical_name(self.loss, LOSSES, "loss"))
        check_positive(self.eta, "eta")
        for name in ("beta1", "beta2"):
            if getattr(self, name) is not None:
                check_beta(getattr(self, name), name)
        if self.eps is not None:
            check_nonnegative(self.eps, "eps")
        object.__setattr__(self, "extra", tuple(sorted((str(k), v) for k, v in self.extra)))
        if self.label_noise is not None and not (0.0 <= self.label_noise <= 1.0):
            raise ValueError(f"label_noise must lie in [0, 1], got {self.label_noise!r}")
        for name in ("n_train", "n_test", "batch_size"):
            if getattr(self, name) is not None:
                check_int_at_least(getattr(self, name), 1, name)
        check_int_at_least(self.width, 1, "width")
        check_int_at_least(self.depth, 1, "depth")
        check_int_at_least(self.steps, 1, "steps")
        check_int_at_least(self.warmup_steps, 0, "warmup_steps")
        check_int_at_least(self.track_every, 1, "track_every")
        check_int_at_least(self.k, 1, "k")
        check_positive(self.eig_tol, "eig_tol")
        check_positive(self.divergence_loss, "divergence_loss")
        if self.loss_threshold is not None:
            check_positive(self.loss_threshold, "loss_threshold")
        if self.dense_window is not None:
            start, stop = self.dense_window
            if not (0 <= start < stop):
                raise ValueError(
                    f"dense_window must be (start, stop) with 0 <= start < stop, "
                    f"got {self.dense_window!r}"
                )
            object.__setattr__(self, "dense_window", (int(start), int(stop)))
        if self.optimizer == "frozen_adam":
            if self.freeze_at is None:
                raise ValueError(
                    "freeze_at (the Adam step whose P is frozen) is required for "
                    "frozen_adam; it must be an integer >= 1"
                )
            check_int_at_least(self.freeze_at, 1, "freeze_at")
            if self.freeze_eta is None:
                object.__setattr__(self, "freeze_eta", self.eta)
            check_positive(self.freeze_eta, "freeze_eta")
        elif self.freeze_at is not None or self.freeze_eta is not None:
            raise ValueError(
                "freeze_at and freeze_eta apply only to optimizer='frozen_adam'; "
                "use freeze_precond_at to freeze P in the middle of a run"
            )
        if self.freeze_precond_at is not None:
            from aeos_lab.core.optimizers import ADAPTIVE

            if self.optimizer not in ADAPTIVE:
                raise ValueError(
                    f"freeze_precond_at freezes the preconditioner of an adaptive optimizer "
                    f"({', '.join(ADAPTIVE)}); {self.optimizer} has none of its own to freeze"
                )
            check_int_at_least(self.freeze_precond_at, 1, "freeze_precond_at")
            if self.freeze_precond_at >= self.steps:
                raise ValueError(
                    f"freeze_precond_at must lie in [1, steps) = [1, {self.steps}), "
                    f"got {self.freeze_precond_at}"
                )
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")

        identity = json.dumps(self.to_dict(), sort_keys=True, default=_json_default)
        object.__setattr__(self, "_identity", identity)

    # -- derived ---------------------------------------------------------------------------
    @property
    def hyperparameters(self) -> dict:
        """The hyperparameters of :data:`HYPERPARAMETER_FIELDS` this run's optimizer uses, with
        the values it uses: the field where set, else the optimizer's own default."""
        return {
            name: default if getattr(self, name) is None else getattr(self, name)
            for name, default in _defaults(self.optimizer)
        }

    def __eq__(self, other) -> bool:
        if not isinstance(other, RunConfig):
            return NotImplemented
        return self._identity == other._identity

    def __hash__(self) -> int:
        return hash(self._identity)

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Every field, with the hyperparameters as the optimizer uses them
        (:attr:`hyperparameters`) and those it ignores left out: what the run computes."""
        out = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in HYPERPARAMETER_FIELDS
        }
        out.update(self.hyperparameters)
        out["extra"] = [list(item) for item in self.extra]
        if self.dense_window is not None:
            out["dense_window"] = list(self.dense_window)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        data = dict(data)
        data["extra"] = tuple(tuple(item) for item in data.get("extra", ()))
        if data.get("dense_window") is not None:
            data["dense_window"] = tuple(data["dense_window"])
        return cls(**data)

    def key(self) -> str:
        """A stable hash of every field and of the library version (the cache key)."""
        return stable_key({"version": __version__, "config": self.to_dict()})

    def task(self, *keep: str) -> RunConfig:
        """The task of this run alone: data, model, loss, initialisation seed and dtype, with
        every other field at its default except those named in ``keep`` (e.g. "k", "eig_tol").

        Computations that depend only on the task (the measurement kernel, Adam's P trace,
        the Prop. 1 check) are compiled and cached under this config, so runs of every
        optimizer on one task share them."""
        fields = {name: getattr(self, name) for name in (*TASK_FIELDS, *keep)}
        return RunConfig(**fields)

    def sweep_key(self) -> tuple:
        """Configs with equal sweep keys differ only in (eta, beta1, beta2), so they can run as
        one vmapped computation."""
        d = self.to_dict()
        for name in ("eta", "beta1", "beta2", "freeze_eta"):
            d.pop(name, None)
        return tuple(sorted((k, json.dumps(v, default=_json_default)) for k, v in d.items()))

    def warmup_eta(self, step) -> float:
        """The learning rate used by update number ``step`` (0-based)."""
        return float(linear_warmup(self.eta, self.warmup_steps, step))


def linear_warmup(peak, warmup_steps: int, count):
    """eta_t = peak * min(1, (t + 1) / warmup_steps) for update t = ``count`` (0-based); the
    constant ``peak`` when ``warmup_steps`` is 0. Works on numbers and on jax tracers."""
    if warmup_steps <= 0:
        return peak
    return peak * jnp.minimum(1.0, (count + 1.0) / warmup_steps)


def stable_key(payload: dict) -> str:
    """A short, stable hash of a JSON-serialisable ``payload``: the one key scheme of the run
    cache (runs, traces). Non-finite floats are written as strings."""
    text = json.dumps(payload, sort_keys=True, default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _json_default(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    raise TypeError(f"not JSON serialisable: {value!r}")
