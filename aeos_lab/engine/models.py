"""The paper's two networks (appendix G.1) as Flax NNX modules with a pure functional view.

Each network is a small ``flax.nnx.Module``. :class:`Model` wraps one in the interface the rest
of the library uses::

    model = fc_network()                  # or build_model("cnn", (32, 32, 3), 10)
    params = model.init(seed=0)           # plain nested dict of arrays
    outputs = model.apply(params, x)      # pure: works under jax.jit, grad, jvp, vmap

``params`` looks like ``{"layers_0": {"kernel": (fan_in, fan_out), "bias": (fan_out,)}, ...}``,
so optax, Hessian-vector products and preconditioners treat it as an ordinary pytree.

Initialisation (both networks, exact, so that references can be recomputed with numpy): one
``rng = numpy.random.default_rng(seed)``; for each layer in forward order, output layer included,
``W = rng.standard_normal(kernel_shape) / sqrt(fan_in)`` and ``b = 0``, where the kernel shape is
``(fan_in, fan_out)`` for dense layers and ``(kh, kw, c_in, c_out)`` with
``fan_in = kh * kw * c_in`` for convs. So weights are N(0, 1/fan_in), as in appendix G.1.
(init2winit's version of the CNN draws a truncated normal rescaled to the same variance.)

* FC network: ``depth`` hidden layers of ``width`` units with tanh, then a linear output layer:
  ``h_0 = x``, ``h_{l+1} = tanh(h_l W_l + b_l)``, ``f(x) = h_depth W_depth + b_depth``.
* CNN (the "3c3d" network): three times Conv => ReLU => 3x3 max-pool with stride 2, then
  flatten, Dense 512 => ReLU => Dense 256 => ReLU => Dense out. Convs have stride 1 and
  64 filters 5x5 'VALID', 96 filters 3x3 'VALID', 128 filters 3x3 'SAME'.

  Pooling padding is 'SAME' (output side ceil(n / 2)), as in init2winit's ``max_pooling_cnn``
  3c3d configuration. CIFAR images then go 32 -> 28 -> 14 -> 12 -> 6 -> 6 -> 3, so the first
  Dense layer sees 3 * 3 * 128 = 1152 features. An 8x8 digit is too small for the two 'VALID'
  convs (8 -> 4 -> pool 2 < kernel 3), so with ``conv_padding="auto"`` (the default) images
  smaller than the paper's layout allows use 'SAME' for all three convs (8 -> 8 -> 4 -> 4 -> 2
  -> 2 -> 1, 128 features). ``model.module.conv_padding`` records which padding was used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from aeos_lab.core.validation import canonical_name, check_int_at_least

__all__ = [
    "CNN",
    "FCNetwork",
    "MODELS",
    "Model",
    "build_model",
    "cnn_network",
    "fc_network",
    "init_numpy",
]

PAPER_CONV_PADDING = ("VALID", "VALID", "SAME")
CNN_FILTERS = (64, 96, 128)
CNN_KERNELS = (5, 3, 3)
CNN_DENSE = (512, 256)
POOL_WINDOW, POOL_STRIDE = 3, 2

# used when a module is built directly with nnx.Rngs; Model.init uses the numpy recipe instead
_normal_fan_in = jax.nn.initializers.variance_scaling(1.0, "fan_in", "normal")
_zeros = jax.nn.initializers.zeros


def _check_dtype(dtype) -> jnp.dtype:
    dtype = jnp.dtype(dtype)
    if dtype not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        raise ValueError(
            "dtype float64 needs 64-bit JAX: call jax.config.update('jax_enable_x64', True) first"
        )
    return dtype


def _dense(fan_in: int, fan_out: int, param_dtype, rngs) -> nnx.Linear:
    """A dense layer with W ~ N(0, 1/fan_in) and b = 0 (paper G.1)."""
    return nnx.Linear(
        fan_in,
        fan_out,
        kernel_init=_normal_fan_in,
        bias_init=_zeros,
        param_dtype=param_dtype,
        rngs=rngs,
    )


class FCNetwork(nnx.Module):
    """Fully connected tanh network ``input_dim -> width x depth -> num_outputs``.

    The layers are attributes ``layers_0 ... layers_{depth}`` (the last one is linear).
    """

    def __init__(
        self,
        input_dim: int = 64,
        num_outputs: int = 10,
        width: int = 200,
        depth: int = 5,
        *,
        param_dtype=jnp.float32,
        rngs: nnx.Rngs,
    ):
        sizes = [input_dim] + [width] * depth + [num_outputs]
        self.num_layers = len(sizes) - 1
        self.layer_names = tuple(f"layers_{i}" for i in range(self.num_layers))
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            setattr(self, f"layers_{i}", _dense(fan_in, fan_out, param_dtype, rngs))

    def __call__(self, x):
        for i in range(self.num_layers):
            x = getattr(self, f"layers_{i}")(x)
            if i < self.num_layers - 1:
                x = jnp.tanh(x)
        return x


def _conv_out(side: int, kernel: int, padding: str) -> int:
    return side if padding == "SAME" else side - kernel + 1


def _pool_out(side: int) -> int:
    return -(-side // POOL_STRIDE)  # 'SAME' pooling: ceil(side / stride)


def cnn_feature_side(side: int, conv_padding: Sequence[str]) -> int:
    """Spatial side after the three conv + pool stages, or 0 if an image this small does not fit.

    A 'VALID' conv needs an input side >= its kernel size.
    """
    for kernel, padding in zip(CNN_KERNELS, conv_padding, strict=True):
        if padding == "VALID" and side < kernel:
            return 0
        side = _pool_out(_conv_out(side, kernel, padding))
    return side


def _resolve_conv_padding(height: int, width: int, conv_padding) -> tuple[str, str, str]:
    if conv_padding == "auto":
        fits = min(
            cnn_feature_side(height, PAPER_CONV_PADDING),
            cnn_feature_side(width, PAPER_CONV_PADDING),
        )
        return PAPER_CONV_PADDING if fits > 0 else ("SAME", "SAME", "SAME")
    if isinstance(conv_padding, str):
        conv_padding = (conv_padding,) * 3
    conv_padding = tuple(str(p).upper() for p in conv_padding)
    if len(conv_padding) != 3 or any(p not in ("VALID", "SAME") for p in conv_padding):
        raise ValueError(
            "conv_padding must be 'auto', 'VALID', 'SAME' or three of 'VALID'/'SAME', "
            f"got {conv_padding!r}"
        )
    if min(cnn_feature_side(height, conv_padding), cnn_feature_side(width, conv_padding)) < 1:
        raise ValueError(
            f"input_shape {(height, width)} is too small for conv_padding {conv_padding}; "
            "use conv_padding='SAME'"
        )
    return conv_padding


class CNN(nnx.Module):
    """The paper's CNN for images of shape ``(height, width, channels)`` (NHWC batches).

    ``conv_padding``: "auto" (the paper's ('VALID', 'VALID', 'SAME') when the image is large
    enough, else 'SAME' everywhere), or an explicit padding / triple of paddings.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (32, 32, 3),
        num_outputs: int = 10,
        *,
        conv_padding="auto",
        param_dtype=jnp.float32,
        rngs: nnx.Rngs,
    ):
        height, width, channels = (int(s) for s in input_shape)
        self.conv_padding = _resolve_conv_padding(height, width, conv_padding)
        self.layer_names = tuple(f"conv_{i}" for i in range(3)) + tuple(
            f"dense_{i}" for i in range(3)
        )
        in_channels = channels
        for i, (filters, kernel, padding) in enumerate(
            zip(CNN_FILTERS, CNN_KERNELS, self.conv_padding, strict=True)
        ):
            conv = nnx.Conv(
                in_channels,
                filters,
                kernel_size=(kernel, kernel),
                padding=padding,
                kernel_init=_normal_fan_in,
                bias_init=_zeros,
                param_dtype=param_dtype,
                rngs=rngs,
            )
            setattr(self, f"conv_{i}", conv)
            in_channels = filters
        side_h = cnn_feature_side(height, self.conv_padding)
        side_w = cnn_feature_side(width, self.conv_padding)
        sizes = [side_h * side_w * in_channels, *CNN_DENSE, num_outputs]
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            setattr(self, f"dense_{i}", _dense(fan_in, fan_out, param_dtype, rngs))

    def __call__(self, x):
        for i in range(len(CNN_FILTERS)):
            x = jax.nn.relu(getattr(self, f"conv_{i}")(x))
            x = nnx.max_pool(
                x,
                window_shape=(POOL_WINDOW, POOL_WINDOW),
                strides=(POOL_STRIDE, POOL_STRIDE),
                padding="SAME",
            )
        x = x.reshape(x.shape[:-3] + (-1,))
        for i in range(len(CNN_DENSE)):
            x = jax.nn.relu(getattr(self, f"dense_{i}")(x))
        return getattr(self, f"dense_{len(CNN_DENSE)}")(x)


def _pure_dict(state) -> dict:
    """Nested plain dict of arrays from an NNX state (keys are the module attribute names)."""
    out: dict = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        keys = [str(p.key) for p in path if isinstance(p, jax.tree_util.DictKey)]
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = leaf
    return out


class Model:
    """Pure functional view ``init(seed) -> params``, ``apply(params, x) -> outputs`` of a module.

    Attributes: ``module`` (a template instance, for inspection), ``input_shape`` (one example,
    without the batch axis), ``num_outputs``, ``dtype`` (of the parameters).
    """

    def __init__(
        self,
        make_module: Callable[[nnx.Rngs], nnx.Module],
        input_shape: Sequence[int],
        num_outputs: int,
        dtype,
        name: str,
    ):
        self.name = name
        self.input_shape = tuple(int(s) for s in input_shape)
        self.num_outputs = int(num_outputs)
        self.dtype = jnp.dtype(dtype)
        # abstract template: shapes and structure only, no arrays are drawn
        self.module = nnx.eval_shape(lambda: make_module(nnx.Rngs(0)))
        self._graphdef, state = nnx.split(self.module)
        self._state_def = jax.tree.structure(state)
        template = _pure_dict(state)
        self._params_def = jax.tree.structure(template)
        self.param_shapes = jax.tree.map(jnp.shape, template)
        self.layer_names = tuple(self.module.layer_names)

    @property
    def num_params(self) -> int:
        """Total number of scalar parameters."""
        return int(sum(math.prod(s) for s in jax.tree.leaves(self.param_shapes, is_leaf=_is_shape)))

    def init(self, seed: int = 0) -> dict:
        """Fresh parameters (nested dict of ``self.dtype`` arrays) by the module's numpy recipe."""
        seed = check_int_at_least(seed, 0, "seed")
        kernel_shapes = [self.param_shapes[name]["kernel"] for name in self.layer_names]
        params = {}
        for name, (kernel, bias) in zip(
            self.layer_names, init_numpy(kernel_shapes, seed), strict=True
        ):
            params[name] = {
                "kernel": jnp.asarray(kernel, dtype=self.dtype),
                "bias": jnp.asarray(bias, dtype=self.dtype),
            }
        return params

    def apply(self, params: dict, x):
        """Network outputs for a batch ``x`` of shape ``(..., *input_shape)``; pure in params."""
        if jax.tree.structure(params) != self._params_def:
            raise ValueError(
                f"params must be a nested dict with the structure of model.init(); "
                f"got {jax.tree.structure(params)}"
            )
        shape = jnp.shape(x)
        n = len(self.input_shape)
        if len(shape) < n or tuple(shape[len(shape) - n :]) != self.input_shape:
            raise ValueError(
                f"x must have shape (batch, {', '.join(map(str, self.input_shape))}) for the "
                f"{self.name} model, got {tuple(shape)}"
            )
        state = jax.tree.unflatten(self._state_def, jax.tree.leaves(params))
        return nnx.merge(self._graphdef, state)(x)

    def __call__(self, params: dict, x):
        return self.apply(params, x)

    def __repr__(self) -> str:
        return (
            f"Model({self.name!r}, input_shape={self.input_shape}, "
            f"num_outputs={self.num_outputs}, num_params={self.num_params}, dtype={self.dtype})"
        )


def _is_shape(x) -> bool:
    return isinstance(x, tuple) and all(isinstance(i, int) for i in x)


def init_numpy(kernel_shapes: Sequence[tuple[int, ...]], seed: int) -> list:
    """``[(W, b), ...]`` for kernels in forward order from one ``numpy.random.default_rng(seed)``:
    ``W = rng.standard_normal(shape) / sqrt(prod(shape[:-1]))``, ``b = zeros(shape[-1])``."""
    rng = np.random.default_rng(seed)
    out = []
    for shape in kernel_shapes:
        fan_in = math.prod(shape[:-1])
        out.append((rng.standard_normal(shape) / np.sqrt(fan_in), np.zeros(shape[-1])))
    return out


def fc_network(
    input_dim: int = 64,
    num_outputs: int = 10,
    width: int = 200,
    depth: int = 5,
    dtype=jnp.float32,
) -> Model:
    """The paper's fully connected tanh network (defaults 64 -> 200 x 5 -> 10) as a :class:`Model`.

    ``init(seed)``: one ``rng = numpy.random.default_rng(seed)``; layer by layer,
    ``W = rng.standard_normal((fan_in, fan_out)) / sqrt(fan_in)``, ``b = 0`` (:func:`init_numpy`).
    """
    input_dim = check_int_at_least(input_dim, 1, "input_dim")
    num_outputs = check_int_at_least(num_outputs, 1, "num_outputs")
    width = check_int_at_least(width, 1, "width")
    depth = check_int_at_least(depth, 0, "depth")
    dtype = _check_dtype(dtype)

    def make_module(rngs):
        return FCNetwork(input_dim, num_outputs, width, depth, param_dtype=dtype, rngs=rngs)

    return Model(make_module, (input_dim,), num_outputs, dtype, name="fc")


def cnn_network(
    input_shape: Sequence[int] = (32, 32, 3),
    num_outputs: int = 10,
    conv_padding="auto",
    dtype=jnp.float32,
) -> Model:
    """The paper's CNN as a :class:`Model` for images ``(height, width, channels)``.

    ``init(seed)`` draws N(0, 1/fan_in) weights by :func:`init_numpy` (convs first); zero biases.
    """
    input_shape = _check_image_shape(input_shape)
    num_outputs = check_int_at_least(num_outputs, 1, "num_outputs")
    dtype = _check_dtype(dtype)

    def make_module(rngs):
        return CNN(
            input_shape, num_outputs, conv_padding=conv_padding, param_dtype=dtype, rngs=rngs
        )

    return Model(make_module, input_shape, num_outputs, dtype, name="cnn")


def _check_image_shape(input_shape) -> tuple[int, int, int]:
    shape = tuple(np.atleast_1d(input_shape).tolist())
    if len(shape) != 3 or any(int(s) != s or s < 1 for s in shape):
        raise ValueError(
            "input_shape must be an image shape (height, width, channels) for the cnn model, "
            f"e.g. (8, 8, 1) or (32, 32, 3); got {tuple(input_shape)!r}"
        )
    return tuple(int(s) for s in shape)


def _build_fc(input_shape, num_outputs, **kw) -> Model:
    shape = tuple(np.atleast_1d(input_shape).tolist())
    if len(shape) != 1:
        raise ValueError(
            "input_shape must be flat (input_dim,) for the fc model, e.g. (64,) or (3072,); "
            f"got {tuple(shape)!r} (flatten the images, e.g. digits_task(flatten=True))"
        )
    return fc_network(input_dim=shape[0], num_outputs=num_outputs, **kw)


MODELS: dict[str, Callable[..., Model]] = {"fc": _build_fc, "cnn": cnn_network}


def build_model(name: str, input_shape, num_outputs: int = 10, **kwargs) -> Model:
    """Model by name: "fc" (``input_shape=(d,)``; kwargs width, depth, dtype) or "cnn"
    (``input_shape=(h, w, c)``; kwargs conv_padding, dtype)."""
    key = canonical_name(name, MODELS, what="model")
    return MODELS[key](input_shape, num_outputs, **kwargs)
