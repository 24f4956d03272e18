"""Benchmark: top eigenvalue of H and of P^-1/2 H P^-1/2 on a trained network (not a test).

Checkpoint: the first 1000 sklearn digits (columns standardised), one-hot targets, MSE loss
0.5 * mean(sum((f(x) - y)^2)), the FC-tanh network 64-200x5-10 (``models.fc_network``, seed 0),
after 500 full-batch Adam steps without bias correction (eta 1e-3, beta1 0.9, beta2 0.999,
eps 1e-7), float32. P is Adam's preconditioner after step 500.

For each operator (raw H, preconditioned) and start (cold: random, one per seed; warm: the
eigenvector our solver returned at step 490) the table gives the Hessian-vector products (HVPs)
and seconds each tool needs to reach 1e-3 relative accuracy against a float64 reference
(ARPACK at tol 1e-6 on the float64 evaluation of the same checkpoint), also in units of one
full-batch gradient. ``aeos_lab`` and ARPACK stop by their own rule at tol = 1e-3 (relative
residual); LOBPCG and power iteration are stopped at the first iteration whose eigenvalue is
within 1e-3 of the reference (an oracle, their best case; LOBPCG's per-iteration estimates come
from its private debug path, and it applies A to 1 + 4 * iterations vectors). Times are medians
after compilation; compile times are listed separately.

Optional PyTorch section (runs when ``torch`` imports; hessian-eigenthings, PyHessian and
threadpoolctl are each optional too): the same checkpoint copied into PyTorch (float32 params,
Linear weight = kernel.T, the same data, loss and P), timed cold, interleaved with the JAX
tools on the same starts where a tool takes a start vector:

* hessian-eigenthings ``lanczos(k=1, which="LA", tol=1e-3)`` over its ``HessianOperator``
  (preconditioned: a ``LambdaOperator`` computing s * H(s * v), s = P^-1/2). Its Lanczos runs a
  fixed ``max_iter`` and then applies its own residual test ``|beta_m s_m| < tol |theta|``; the
  benchmark uses the smallest ``max_iter`` that passes that test (found by an untimed
  ``lanczos_tridiagonal`` run, whose prefixes are exactly the shorter runs), i.e. its best case.
* scipy ``eigsh`` (tol 1e-3) over a double-backward HVP written as in the original Edge of
  Stability code, once with torch and OpenBLAS threads as they are and once with OpenBLAS held to
  one thread by threadpoolctl.
* PyHessian ``hessian(...).eigenvalues(top_n=1, maxIter, tol=1e-3)`` (power iteration, its own
  stop: relative change of the estimate below tol, which can come before 1e-3 accuracy). For the
  preconditioned operator it runs on the model reparametrised as theta = s * u (torch
  parametrize), whose Hessian in u is exactly P^-1/2 H P^-1/2.

torch's thread count is its default unless one thread is faster (``--torch-threads auto``, see
``choose_torch_threads``); the torch copy's loss, gradient norm and one HVP are printed next to
the JAX ones.

Install: pip install torch hessian-eigenthings pyhessian threadpoolctl

Run: python benchmarks/sharpness.py [--seeds 10] [--tool-seeds 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import os
import sys
import time
import warnings

import jax

jax.config.update("jax_enable_x64", True)  # for the float64 reference; the benchmark is float32

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse.linalg as sla  # noqa: E402
from jax.experimental.sparse import linalg as jsl  # noqa: E402
from jax.flatten_util import ravel_pytree  # noqa: E402

from aeos_lab.core import curvature, optimizers  # noqa: E402
from aeos_lab.engine import data, losses, models  # noqa: E402

TARGET = 1e-3
_lobpcg_unjitted = jsl._lobpcg_standard_callable.__wrapped__
EARLIER = {"raw": 25.206, "pre": 32240.0}  # float64 figures measured before this benchmark


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def build_checkpoint():
    task = data.digits_task(n_train=1000, n_test=797, label_noise=0.0, dtype=np.float32)
    x, y = jnp.asarray(task.x_train), jnp.asarray(task.y_train)
    model = models.fc_network(dtype=jnp.float32)

    def loss(params, x, y):
        return losses.mse(model.apply(params, x), y)

    opt = optimizers.adam(1e-3, beta1=0.9, beta2=0.999, eps=1e-7, bias_correction=False)

    @jax.jit
    def step(params, state, x, y):
        updates, state = opt.update(jax.grad(loss)(params, x, y), state, params)
        return jax.tree.map(jnp.add, params, updates), state

    params = model.init(0)
    state = opt.init(params)
    snapshots = {}
    for t in range(1, 501):
        params, state = step(params, state, x, y)
        if t in (490, 500):
            snapshots[t] = (params, optimizers.preconditioner(state))
    return loss, x, y, snapshots


def make_operator(loss):
    """(v, params, precond, x, y) -> P^-1/2 H P^-1/2 v on flat vectors (precond = ones: H v).

    Everything is an argument (nothing is closed over), so jit does not bake the data in as
    constants, and one compilation serves both operators.
    """

    def matvec(v, params, precond, x, y):
        _, unravel = ravel_pytree(params)
        scale = 1.0 / jnp.sqrt(ravel_pytree(precond)[0])
        out = curvature.hvp(lambda p: loss(p, x, y), params, unravel(scale * v))
        return scale * ravel_pytree(out)[0]

    return matvec


def arpack(matvec_np, n, dtype, v0, tol, k=1):
    """scipy eigsh (ARPACK), largest algebraic eigenvalues (descending) and products used."""
    count = [0]

    def apply(v):
        count[0] += 1
        return matvec_np(np.asarray(v, dtype).ravel())

    op = sla.LinearOperator((n, n), matvec=apply, dtype=dtype)
    values = sla.eigsh(op, k=k, which="LA", tol=tol, v0=np.asarray(v0, dtype))[0]
    return np.sort(values)[::-1], count[0]


class Tools:
    """The four solvers, jitted once; each run returns (HVPs, seconds, eigenvalue).

    ``ops`` = (params, precond, x, y) picks the operator: aeos_lab gets ``precond=None`` for H
    (its own raw path); the other tools get P = ones for H.
    """

    def __init__(self, loss, args):
        self.args = args
        matvec = make_operator(loss)
        self.ops = self.ref = self.preconditioned = None

        @functools.partial(jax.jit, static_argnames="preconditioned")
        def ours(v0, p, P, x, y, preconditioned):
            P = P if preconditioned else None
            return curvature.sharpness(lambda q: loss(q, x, y), p, precond=P, v0=v0, tol=TARGET)

        block_mv = jax.vmap(matvec, in_axes=(1, None, None, None, None), out_axes=1)

        @jax.jit
        def lobpcg_history(X, p, P, x, y):
            # debug=True records the eigenvalue estimate of every iteration
            out = _lobpcg_unjitted(
                lambda V: block_mv(V, p, P, x, y), X, args.lobpcg_iters, 0.0, debug=True
            )
            return out[3]["lambda history"][:, 0]

        @jax.jit
        def lobpcg_run(X, iters, p, P, x, y):
            return _lobpcg_unjitted(lambda V: block_mv(V, p, P, x, y), X, iters, 0.0)[0]

        @jax.jit
        def power(v0, cap, ref, p, P, x, y):
            def cond(state):
                i, _, value = state
                return (i < cap) & (jnp.abs(value - ref) > TARGET * jnp.abs(ref))

            def body(state):
                i, v, _ = state
                w = matvec(v, p, P, x, y)
                return i + 1, w / jnp.linalg.norm(w), jnp.vdot(v, w)

            v0 = v0 / jnp.linalg.norm(v0)
            return jax.lax.while_loop(cond, body, (0, v0, jnp.asarray(jnp.inf, v0.dtype)))

        self._ours, self._matvec = ours, jax.jit(matvec)
        self._lobpcg_history, self._lobpcg_run, self._power = lobpcg_history, lobpcg_run, power

    def use(self, params, precond, x, y, preconditioned, ref):
        self.n = ravel_pytree(params)[0].size
        self.preconditioned, self.ref = preconditioned, ref
        P = precond if preconditioned else jax.tree.map(jnp.ones_like, precond)
        self.ops = (params, P, x, y)
        self.ours_ops = (params, precond, x, y)

    def compile(self, v0, tools):
        """Compile the named tools; returns compile seconds (first call minus a second call)."""
        X = jnp.asarray(v0)[:, None]
        calls = {
            "aeos_lab": lambda: self.ours(v0),
            "scipy eigsh": lambda: self._matvec(jnp.asarray(v0), *self.ops),
            "jax lobpcg_standard": lambda: self._lobpcg_run(X, jnp.asarray(1), *self.ops),
            "power iteration": lambda: self.power(v0, cap=1),
        }
        out = {}
        for name in tools:
            first = time.perf_counter()
            jax.block_until_ready(calls[name]())
            first = time.perf_counter() - first
            again = time.perf_counter()
            jax.block_until_ready(calls[name]())
            out[name] = first - (time.perf_counter() - again)
        return out

    def ours(self, v0, ops=None):
        v0 = jnp.asarray(v0).reshape(-1, self.n)
        t = time.perf_counter()
        out = self._ours(v0, *(ops or self.ours_ops), preconditioned=self.preconditioned)
        vals, vecs, info = jax.block_until_ready(out)
        seconds = time.perf_counter() - t
        return int(info.n_hvp), seconds, float(vals[0]), bool(info.converged), vecs

    def eigsh(self, v0):
        def matvec_np(u):
            return np.asarray(self._matvec(jnp.asarray(u), *self.ops))

        t = time.perf_counter()
        values, count = arpack(matvec_np, self.n, np.float32, v0, TARGET)
        return count, time.perf_counter() - t, float(values[0])

    def lobpcg_iterations(self, v0):
        """Iterations LOBPCG needs to come within 1e-3 of the reference (None: not in the run)."""
        history = np.asarray(self._lobpcg_history(jnp.asarray(v0)[:, None], *self.ops))
        hits = np.flatnonzero(np.abs(history - self.ref) <= TARGET * abs(self.ref))
        return int(hits[0]) + 1 if hits.size else None

    def lobpcg(self, v0, iters):
        if iters is None:
            return None
        X = jnp.asarray(v0)[:, None]
        t = time.perf_counter()
        value = jax.block_until_ready(self._lobpcg_run(X, jnp.asarray(iters), *self.ops))
        # 1 product for the start block, then 4 per iteration (A on [X, P, R] and on X)
        return 1 + 4 * iters, time.perf_counter() - t, float(value[0])

    def power(self, v0, cap=None):
        cap = self.args.power_iters if cap is None else cap
        t = time.perf_counter()
        steps, _, value = jax.block_until_ready(
            self._power(jnp.asarray(v0), cap, self.ref, *self.ops)
        )
        return int(steps), time.perf_counter() - t, float(value)


TOOLS = ("aeos_lab", "scipy eigsh", "jax lobpcg_standard", "power iteration")
NOTES = {
    "aeos_lab": "own stop (tol 1e-3)",
    "scipy eigsh": "own stop (tol 1e-3)",
    "jax lobpcg_standard": "oracle stop (best case)",
    "power iteration": "oracle stop (best case)",
}


TORCH_TOOLS = (
    "hessian-eigenthings lanczos",
    "scipy eigsh, torch HVP",
    "scipy eigsh, torch HVP, OpenBLAS 1 thread",
    "PyHessian power iteration",
)
NOTES.update(
    {
        TORCH_TOOLS[0]: "own residual test (tol 1e-3) at the smallest max_iter passing it",
        TORCH_TOOLS[1]: "own stop (tol 1e-3)",
        TORCH_TOOLS[2]: "own stop (tol 1e-3)",
        TORCH_TOOLS[3]: "own stop (rel. change < 1e-3)",
    }
)
TORCH_HINT = "pip install torch hessian-eigenthings pyhessian threadpoolctl"


def load_torch_tools():
    """Import torch and the PyTorch tools; returns (modules by name, skipped-tool messages)."""
    modules, skipped = {}, []
    for name in ("torch", "hessian_eigenthings", "pyhessian", "threadpoolctl"):
        try:
            modules[name] = importlib.import_module(name)
        except ImportError as error:
            modules[name] = None
            skipped.append(f"{name} not importable ({error})")
    return modules, skipped


class TorchTools:
    """The PyTorch tools on a float32 copy of the JAX checkpoint; each run returns
    (HVPs, seconds, eigenvalue).

    Flat vectors use torch's parameter order (per layer: weight = kernel.T, then bias).
    """

    def __init__(self, modules, params, precond, x, y, args):
        torch = self.torch = modules["torch"]
        self.he, self.ph, self.tpc = (
            modules[k] for k in ("hessian_eigenthings", "pyhessian", "threadpoolctl")
        )
        self.args = args
        names = sorted(params, key=lambda k: int(k.rsplit("_", 1)[1]))

        def tensors(tree):
            out = []
            for k in names:
                out.append(torch.tensor(np.asarray(tree[k]["kernel"], np.float32).T.copy()))
                out.append(torch.tensor(np.asarray(tree[k]["bias"], np.float32)))
            return out

        self.tensors = tensors
        self.x = torch.tensor(np.asarray(x, np.float32))
        self.y = torch.tensor(np.asarray(y, np.float32))
        theta = tensors(params)
        self.scales = [1.0 / torch.sqrt(p) for p in tensors(precond)]  # s = P^-1/2
        self.scale_flat = torch.cat([s.reshape(-1) for s in self.scales])
        self.model = self._network(theta)
        self.params = list(self.model.parameters())
        self.n = sum(p.numel() for p in self.params)
        self.scaled_model = self._network(theta, self.scales)
        self.criterion = lambda out, target: (
            0.5 * torch.mean(torch.sum((out - target) ** 2, dim=-1))
        )
        if self.he is not None:
            self.he_raw = self.he.HessianOperator(
                self.model, [(self.x, self.y)], self.he.supervised_loss(self.criterion)
            )
            self.he_pre = self.he.LambdaOperator(
                lambda v: self.scale_flat * self.he_raw.matvec(self.scale_flat * v), self.n
            )
        if self.ph is not None:
            # shim: count PyHessian's HVPs (it reports only the eigenvalue)
            self.ph_count = [0]
            ph_module = sys.modules["pyhessian.hessian"]
            original = ph_module.hessian_vector_product

            def counted(*a, **k):
                self.ph_count[0] += 1
                return original(*a, **k)

            ph_module.hessian_vector_product = counted
        self.preconditioned = self.ref = None

    def _network(self, tensors, scales=None):
        """FC-tanh net with the given (weight, bias) tensors; with ``scales`` s, the trainable
        parameters are u = theta / s and the layers use s * u (Hessian in u: s H s)."""
        torch = self.torch

        class Scale(torch.nn.Module):
            def __init__(self, s):
                super().__init__()
                self.register_buffer("s", s)

            def forward(self, u):
                return self.s * u

            def right_inverse(self, w):
                return w / self.s

        modules = []
        for i in range(0, len(tensors), 2):
            fan_out, fan_in = tensors[i].shape
            layer = torch.nn.Linear(fan_in, fan_out)
            with torch.no_grad():
                layer.weight.copy_(tensors[i])
                layer.bias.copy_(tensors[i + 1])
            if scales is not None:
                for name, s in (("weight", scales[i]), ("bias", scales[i + 1])):
                    torch.nn.utils.parametrize.register_parametrization(layer, name, Scale(s))
            modules += [layer, torch.nn.Tanh()]
        return torch.nn.Sequential(*modules[:-1])

    def loss(self, model=None):
        return self.criterion((model or self.model)(self.x), self.y)

    def gradient(self):
        return self.torch.autograd.grad(self.loss(), self.params)

    def hvp(self, v, model=None):
        """Double-backward HVP as in the Edge of Stability code: grad of <grad L, v>."""
        torch = self.torch
        params = self.params if model is None else list(model.parameters())
        grads = torch.autograd.grad(self.loss(model), params, create_graph=True)
        dot = torch.nn.utils.parameters_to_vector(grads).mul(v).sum()
        return torch.nn.utils.parameters_to_vector(torch.autograd.grad(dot, params))

    def matvec(self, v):
        if not self.preconditioned:
            return self.hvp(v)
        return self.scale_flat * self.hvp(self.scale_flat * v)

    def flat(self, tree):
        """A JAX pytree (params layout) as a flat torch vector in torch's order."""
        return self.torch.cat([t.reshape(-1) for t in self.tensors(tree)])

    def use(self, preconditioned, ref):
        self.preconditioned, self.ref = preconditioned, ref

    def lanczos_steps(self, operator, seed):
        """Smallest max_iter at which ``lanczos(k=1, which="LA", tol=1e-3, seed)`` passes its
        own residual test, read off the prefixes of one lanczos_tridiagonal run from the same start
        (cap/2 steps; cap steps if that is not enough): Lanczos run for m steps is the prefix."""
        torch = self.torch
        gen = torch.Generator(device="cpu")
        gen.manual_seed(seed)
        v0 = torch.randn(operator.size, dtype=operator.dtype, generator=gen)
        for cap in (self.args.lanczos_cap // 2, self.args.lanczos_cap):  # rarely the second
            td = self.he.lanczos_tridiagonal(operator, v0, cap, reorthogonalize=True)
            for m in range(1, td.iterations + 1):
                tri = torch.diag(td.alphas[:m])
                if m > 1:
                    tri += torch.diag(td.betas[: m - 1], 1) + torch.diag(td.betas[: m - 1], -1)
                theta, vecs = torch.linalg.eigh(tri)
                beta = td.betas[m - 1].item() if m < td.iterations else td.last_beta
                if abs(vecs[-1, -1].item()) * beta < TARGET * abs(theta[-1].item()):
                    return m
        return None

    def lanczos(self, seed):
        operator = self.he_pre if self.preconditioned else self.he_raw
        steps = self.lanczos_steps(operator, seed)
        if steps is None:
            return None
        t = time.perf_counter()
        result = self.he.lanczos(
            operator, k=1, max_iter=steps, tol=TARGET, which="LA", seed=seed, reorthogonalize=True
        )
        seconds = time.perf_counter() - t
        if not bool(result.converged[0]):  # the prefix reading disagreed with the tool
            return None
        return steps, seconds, float(result.eigenvalues[0])

    def eigsh(self, v0, one_thread=False):
        torch = self.torch

        def matvec_np(u):
            return self.matvec(torch.from_numpy(np.ascontiguousarray(u))).numpy()

        if one_thread and self.tpc is None:
            return None
        limit = (
            self.tpc.threadpool_limits(limits=1, user_api="blas")
            if one_thread
            else contextlib.nullcontext()
        )
        with limit:
            t = time.perf_counter()
            values, count = arpack(matvec_np, self.n, np.float32, v0, TARGET)
            seconds = time.perf_counter() - t
        return count, seconds, float(values[0])

    def pyhessian(self, seed):
        model = self.scaled_model if self.preconditioned else self.model
        self.torch.manual_seed(seed)  # PyHessian draws its start from torch's global generator
        model.zero_grad(set_to_none=True)  # its constructor accumulates into .grad
        self.ph_count[0] = 0
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*create_graph=True.*")
            solver = self.ph.hessian(model, self.criterion, data=(self.x, self.y), cuda=False)
            values, _ = solver.eigenvalues(maxIter=self.args.pyhessian_iters, tol=TARGET, top_n=1)
        seconds = time.perf_counter() - t
        model.zero_grad(set_to_none=True)
        return self.ph_count[0], seconds, float(values[0])

    def run(self, tool, seed, v0):
        """One cold run of ``tool`` (None: the tool is not installed or missed its stop)."""
        if tool == TORCH_TOOLS[0]:
            return None if self.he is None else self.lanczos(seed)
        if tool == TORCH_TOOLS[1]:
            return self.eigsh(v0)
        if tool == TORCH_TOOLS[2]:
            return self.eigsh(v0, one_thread=True)
        if self.ph is None:
            return None
        return self.pyhessian(seed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="cold starts for aeos_lab")
    parser.add_argument("--tool-seeds", type=int, default=3, help="cold starts for the others")
    parser.add_argument("--repeats", type=int, default=3, help="warm-start timing repeats")
    parser.add_argument("--lobpcg-iters", type=int, default=25, help="LOBPCG history length")
    parser.add_argument("--power-iters", type=int, default=600, help="power iteration cap")
    parser.add_argument("--lanczos-cap", type=int, default=60, help="hessian-eigenthings cap")
    parser.add_argument("--pyhessian-iters", type=int, default=100, help="PyHessian maxIter")
    parser.add_argument(
        "--torch-threads", default="auto", help="torch threads: a number, or auto (see below)"
    )
    args = parser.parse_args(argv)
    clock = time.perf_counter()
    load_start = os.getloadavg()
    print(f"# load average (1, 5, 15 min) at start: {_load(load_start)}; {os.cpu_count()} CPUs")

    loss, x, y, snaps = build_checkpoint()
    params, precond = snaps[500]
    n = ravel_pytree(params)[0].size
    print(f"# checkpoint built in {time.perf_counter() - clock:.1f} s; {n} parameters")

    # ---- cost units: one full-batch gradient, one HVP of H (flat vector in and out)
    unravel = ravel_pytree(params)[1]
    grad_fn = jax.jit(jax.grad(loss))

    @jax.jit
    def raw_hvp(v, p, x, y):
        return ravel_pytree(curvature.hvp(lambda q: loss(q, x, y), p, unravel(v)))[0]

    probe = jnp.asarray(np.random.default_rng(0).standard_normal(n), jnp.float32)
    grad_fn(params, x, y)
    raw_hvp(probe, params, x, y)

    # ---- optional: the same checkpoint in PyTorch
    modules, skipped = load_torch_tools()
    torch_tools, torch_info = None, {"skipped": skipped}
    if modules["torch"] is not None:
        torch_tools = TorchTools(modules, params, precond, x, y, args)
        torch_info.update(torch_checks(torch_tools, loss, params, x, y, probe, unravel))
        torch_probe = torch_tools.flat(unravel(probe))
        torch_info["checks"].append(choose_torch_threads(torch_tools, torch_probe, args))
        for line in torch_info["checks"]:
            print("# " + line)
    else:
        print(f"# PyTorch tools skipped: torch is not installed (enable: {TORCH_HINT})")

    grad_runs, hvp_runs, torch_grad_runs, torch_hvp_runs = [], [], [], []
    for _ in range(20):  # interleaved, so machine load hits both alike
        grad_runs.append(median_time(lambda: grad_fn(params, x, y), 1))
        hvp_runs.append(median_time(lambda: raw_hvp(probe, params, x, y), 1))
        if torch_tools is not None:
            torch_grad_runs.append(median_time(torch_tools.gradient, 1))
            torch_hvp_runs.append(median_time(lambda: torch_tools.hvp(torch_probe), 1))
    # best of 20 estimates the cost without interference from other processes
    grad_s, hvp_s = min(grad_runs), min(hvp_runs)
    if torch_tools is not None:
        torch_info["grad_s"], torch_info["hvp_s"] = min(torch_grad_runs), min(torch_hvp_runs)

    # ---- float64 reference: ARPACK at tol 1e-6 on the float64 evaluation of the checkpoint
    to64 = lambda tree: jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tree)  # noqa: E731
    ops64 = (to64(params), to64(precond), to64(x), to64(y))
    ones64 = jax.tree.map(jnp.ones_like, ops64[1])
    mv64 = jax.jit(make_operator(loss))
    reference = {}
    for name, P in (("raw", ones64), ("pre", ops64[1])):
        start = np.random.default_rng(12345).standard_normal(n)
        ops = (ops64[0], P, *ops64[2:])
        reference[name] = arpack(
            lambda v, ops=ops: np.asarray(mv64(jnp.asarray(v), *ops)),
            n,
            np.float64,
            start,
            1e-6,
            k=2,
        )
    print(f"# float64 reference done at {time.perf_counter() - clock:.1f} s")

    seeds = list(range(args.seeds))
    starts = [np.random.default_rng(s).standard_normal(n).astype(np.float32) for s in seeds]
    rows = []
    tools = Tools(loss, args)
    torch_names = TORCH_TOOLS if torch_tools is not None else ()
    compile_s = {}
    for name, preconditioned in (("raw", False), ("pre", True)):
        ref = float(reference[name][0][0])
        tools.use(params, precond, x, y, preconditioned, ref)
        if torch_tools is not None:
            torch_tools.use(preconditioned, ref)
        # aeos_lab compiles its raw and preconditioned paths; the others serve both at once
        compile_s.update(tools.compile(starts[0], TOOLS if name == "raw" else TOOLS[:1]))
        # warm start: the eigenvector our solver returned 10 steps earlier (cold, seed 0)
        *_, vec490 = tools.ours(starts[0], ops=(*snaps[490], x, y))
        warm = np.asarray(vec490[0], np.float32)

        results = {(tool, start): [] for tool in TOOLS for start in ("cold", "warm")}
        results.update({(tool, "cold"): [] for tool in torch_names})
        converged, section_grad_s = [], []
        for i, v0 in enumerate(starts):  # tools interleaved, so load drifts hit all alike
            section_grad_s.append(median_time(lambda: grad_fn(params, x, y), 3))
            *out, ok, _ = tools.ours(v0)
            results["aeos_lab", "cold"].append(out)
            converged.append(ok)
            if i < args.tool_seeds:
                results["scipy eigsh", "cold"].append(tools.eigsh(v0))
                iters = tools.lobpcg_iterations(v0)
                results["jax lobpcg_standard", "cold"].append(tools.lobpcg(v0, iters))
                results["power iteration", "cold"].append(tools.power(v0))
                if torch_tools is not None:
                    torch_v0 = torch_tools.flat(unravel(jnp.asarray(v0))).numpy()
                    for tool in torch_names:
                        results[tool, "cold"].append(torch_tools.run(tool, i, torch_v0))
        warm_iters = tools.lobpcg_iterations(warm)
        grad_time = float(np.median(section_grad_s))
        for _ in range(args.repeats):
            results["aeos_lab", "warm"].append(tools.ours(warm)[:3])
            results["scipy eigsh", "warm"].append(tools.eigsh(warm))
            results["jax lobpcg_standard", "warm"].append(tools.lobpcg(warm, warm_iters))
            results["power iteration", "warm"].append(tools.power(warm))

        for (tool, start), runs in results.items():
            note = NOTES[tool]
            if tool == "aeos_lab" and start == "cold":
                errors = [abs(r[2] - ref) / abs(ref) for r in runs]
                note += f"; {sum(converged)}/{len(runs)} converged, max err {max(errors):.1e}"
            if any(r is None for r in runs):
                note = missing_note(tool, args, torch_info)
                rows.append((name, start, tool, None, None, None, note, None, None, False, []))
                continue
            hvps, secs = (np.median([r[j] for r in runs]) for j in range(2))
            errors = [abs(r[2] - ref) / abs(ref) for r in runs]
            misses = sum(e > TARGET for e in errors)
            if misses:
                note += f"; MISSES 1e-3 in {misses}/{len(runs)} runs (max err {max(errors):.1e})"
            shared = tool != "aeos_lab" and name == "pre"
            comp = compile_s.get(tool) if start == "cold" and not shared else None
            rows.append(
                (
                    name,
                    start,
                    tool,
                    hvps,
                    secs,
                    np.median(errors),
                    note,
                    comp,
                    grad_time,
                    not misses,
                    [r[1] for r in runs],
                )
            )
        print(f"# {name} done at {time.perf_counter() - clock:.1f} s")

    torch_info["load"] = (load_start, os.getloadavg())
    print_report(args, rows, reference, grad_s, hvp_s, n, clock, torch_info)


def _load(triple):
    return ", ".join(f"{value:.2f}" for value in triple)


def missing_note(tool, args, torch_info):
    if tool == "jax lobpcg_standard":
        return f"not within 1e-3 in {args.lobpcg_iters} iterations"
    if tool == TORCH_TOOLS[0]:
        if torch_info.get("he") is None:
            return "skipped: hessian-eigenthings not installed"
        return f"own residual test not passed within max_iter {args.lanczos_cap}"
    if tool == TORCH_TOOLS[2] and torch_info.get("threadpoolctl") is None:
        return "skipped: threadpoolctl not installed"
    if tool in TORCH_TOOLS[3:] and torch_info.get("pyhessian") is None:
        return "skipped: PyHessian not installed"
    return "no result"


def choose_torch_threads(torch_tools, v, args):
    """Set torch's intra-op threads; "auto" keeps the faster of its default and 1 thread
    (median of 3 interleaved HVPs each): on a loaded machine, OpenMP threads that wait for a
    descheduled partner can make torch many times slower, so this gives torch its best case."""
    torch = torch_tools.torch
    default = torch.get_num_threads()
    if args.torch_threads != "auto":
        torch.set_num_threads(int(args.torch_threads))
        return f"torch threads {args.torch_threads} (--torch-threads; default {default})"
    times = {threads: [] for threads in sorted({default, 1}, reverse=True)}
    for _ in range(3):
        for threads, runs in times.items():
            torch.set_num_threads(threads)
            runs.append(median_time(lambda: torch_tools.hvp(v), 1))
    best = min(times, key=lambda threads: np.median(times[threads]))
    torch.set_num_threads(best)
    medians = ", ".join(f"{np.median(r) * 1e3:.0f} ms at {t}" for t, r in times.items())
    return f"torch threads {best} (auto, the faster: median HVP {medians}; default {default})"


def _relative_difference(a, b):
    return float((a - b).norm() / b.norm())


def torch_checks(torch_tools, loss, params, x, y, probe, unravel):
    """Loss, gradient norm and one HVP of the torch copy against the JAX checkpoint."""
    tt, torch = torch_tools, torch_tools.torch
    jax_loss, jax_grad = jax.value_and_grad(loss)(params, x, y)
    jax_gnorm = float(jnp.linalg.norm(ravel_pytree(jax_grad)[0]))
    torch_loss = tt.loss().item()
    torch_gnorm = float(torch.linalg.vector_norm(torch.cat([g.ravel() for g in tt.gradient()])))
    v = tt.flat(unravel(probe))
    jax_hv = tt.flat(curvature.hvp(lambda q: loss(q, x, y), params, unravel(probe)))
    explicit = tt.scale_flat * tt.hvp(tt.scale_flat * v)
    reparam = tt.hvp(v, model=tt.scaled_model)
    versions = [f"torch {torch.__version__} ({torch.get_num_threads()} threads)"]
    for key, label in (
        ("he", "hessian_eigenthings"),
        ("ph", "pyhessian"),
        ("tpc", "threadpoolctl"),
    ):
        module = getattr(tt, key)
        if module is not None:
            versions.append(f"{label} {getattr(module, '__version__', '(no version)')}")
    checks = [
        "; ".join(versions),
        f"torch copy: loss {torch_loss:.7f} (JAX {float(jax_loss):.7f}), gradient norm "
        f"{torch_gnorm:.7f} (JAX {jax_gnorm:.7f})",
        f"torch H v vs JAX H v: relative difference {_relative_difference(tt.hvp(v), jax_hv):.1e}"
        "; preconditioned HVP of the reparametrised model (PyHessian's path) vs s * H(s * v): "
        f"{_relative_difference(reparam, explicit):.1e}",
    ]
    return {"checks": checks, "he": tt.he, "pyhessian": tt.ph, "threadpoolctl": tt.tpc}


def print_report(args, rows, reference, grad_s, hvp_s, n, clock, torch_info):
    hvp_in_grads = hvp_s / grad_s
    torch_ratio = torch_info["hvp_s"] / torch_info["grad_s"] if "grad_s" in torch_info else None
    (load_start, load_end) = torch_info["load"]
    print()
    print("Command: python " + " ".join(sys.argv))
    print(f"Device: {jax.devices()[0].device_kind}; JAX {jax.__version__}; {n} parameters")
    print(
        f"Load average (1, 5, 15 min) on {os.cpu_count()} CPUs: {_load(load_start)} at start, "
        f"{_load(load_end)} at the end (other jobs share the machine; tools run interleaved)."
    )
    if "checks" in torch_info:
        for line in torch_info["checks"]:
            print(f"PyTorch: {line}.")
    else:
        print(f"PyTorch tools skipped: torch is not installed (enable: {TORCH_HINT}).")
    for line in torch_info["skipped"]:
        if "checks" in torch_info:
            print(f"Skipped: {line} (enable: {TORCH_HINT}).")
    print()
    print("| quantity | float64 reference, this run (ARPACK, tol 1e-6) | earlier measurement |")
    print("|---|---|---|")
    for name, label in (("raw", "H"), ("pre", "P^-1/2 H P^-1/2")):
        (lam1, lam2), count = reference[name]
        print(
            f"| lambda_1, lambda_2 of {label} | {lam1:.6f}, {lam2:.6f} ({count} products) "
            f"| {EARLIER[name]} |"
        )
    print()
    print(
        f"One full-batch gradient: {grad_s * 1e3:.2f} ms; one HVP: {hvp_s * 1e3:.2f} ms "
        f"(best of 20, interleaved); **one HVP costs {hvp_in_grads:.2f} gradients**."
    )
    if torch_ratio is not None:
        print(
            f"PyTorch, same checkpoint: one full-batch gradient {torch_info['grad_s'] * 1e3:.2f} "
            f"ms; one double-backward HVP {torch_info['hvp_s'] * 1e3:.2f} ms (best of 20, "
            f"interleaved with the JAX ones); one HVP costs {torch_ratio:.2f} torch gradients."
        )
    print()
    print(
        "| operator | start | tool | HVPs | seconds | HVPs in gradients | seconds in gradients "
        "| rel. error | stop | compile s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    names = {"raw": "H", "pre": "P^-1/2 H P^-1/2"}
    for op, start, tool, hvps, seconds, error, note, compile_s, grad_time, *_ in rows:
        if hvps is None:
            print(f"| {names[op]} | {start} | {tool} | - | - | - | - | - | {note} | - |")
            continue
        comp = "-" if compile_s is None else f"{compile_s:.1f}"
        ratio = torch_ratio if tool in TORCH_TOOLS else hvp_in_grads
        print(
            f"| {names[op]} | {start} | {tool} | {hvps:g} | {seconds:.3f} "
            f"| {hvps * ratio:.1f} | {seconds / grad_time:.1f} | {error:.1e} | {note} "
            f"| {comp} |"
        )
    print()
    torch_note = (
        " The PyTorch rows are cold only: eigsh over torch gets the same start vectors as the JAX "
        "tools; hessian-eigenthings' lanczos and PyHessian draw their own random start (seed = "
        "start index) and take no start vector, so they have no warm row. PyHessian's count is "
        "its HVPs; its one gradient with create_graph is in its time."
        if "checks" in torch_info
        else ""
    )
    print(
        f"Cold: medians over {args.seeds} random starts for aeos_lab, the first "
        f"{args.tool_seeds} of them for the other tools; warm: start from aeos_lab's eigenvector "
        f"at step 490, medians over {args.repeats} repeats. Tools run interleaved. HVPs in "
        "gradients use the cost ratio above (for the PyTorch rows, PyTorch's own ratio); seconds "
        "in gradients divide by the median JAX gradient time measured between the cold runs of "
        f"the same operator (one clock unit for all rows).{torch_note} Total wall time "
        f"{time.perf_counter() - clock:.0f} s."
    )
    print()
    print_verdict(rows, names)


def print_verdict(rows, names):
    """aeos_lab's cold time against the fastest tool that reached 1e-3, two ways: the medians of
    the table, and the median over shared starts of (tool time / aeos_lab time), each pair
    measured back to back, which cancels slow drifts in the machine's load."""
    verdicts = []
    for op in ("raw", "pre"):
        cold = [r for r in rows if r[0] == op and r[1] == "cold" and r[3] is not None]
        ours = next(r for r in cold if r[2] == "aeos_lab")
        others = [r for r in cold if r[2] != "aeos_lab"]
        reached = [r for r in others if r[9]]
        fastest = min(reached, key=lambda r: r[4])
        # tools ran on the first len(r[10]) of aeos_lab's starts, each right after it
        paired = {
            r[2]: float(np.median([t / o for t, o in zip(r[10], ours[10], strict=False)]))
            for r in reached
        }
        closest = min(reached, key=lambda r: paired[r[2]])
        by_median, by_pairs = ours[4] <= fastest[4], paired[closest[2]] >= 1.0
        word = {(True, True): "yes", (False, False): "NO"}.get(
            (by_median, by_pairs), "tie within load noise"
        )
        verdicts.append(f"{names[op]} {word}")
        line = (
            f"{names[op]}: aeos_lab cold {ours[4]:.3f} s vs the fastest other tool that reached "
            f"1e-3, {fastest[2]} {fastest[4]:.3f} s ({fastest[4] / ours[4]:.2f}x aeos_lab's time; "
            f"{fastest[6]}); paired over the {len(closest[10])} shared starts, the closest is "
            f"{closest[2]} at {paired[closest[2]]:.2f}x aeos_lab's time"
        )
        short = [r for r in others if not r[9] and r[4] < ours[4]]
        if short:
            line += "; faster but short of 1e-3: " + ", ".join(
                f"{r[2]} {r[4]:.3f} s (err {r[5]:.1e})" for r in short
            )
        print(line + ".")
    count = len({r[2] for r in rows if r[3] is not None and r[2] != "aeos_lab"})
    print(
        f"**Verdict: aeos_lab's cold time is no slower than the fastest of all {count} other tools "
        f"measured in this run (medians and paired ratios agreeing): {'; '.join(verdicts)}.**"
    )


if __name__ == "__main__":
    main()
