"""Models (FC and CNN of the paper's appendix G.1) and losses, against numpy / lax references."""

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from aeos_lab.engine import losses, tasks
from aeos_lab.engine.models import build_model, cnn_network, fc_network


def numpy_fc_params(sizes, seed):
    rng = np.random.default_rng(seed)
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        weights.append(rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in))
    return weights


def numpy_fc_forward(weights, x):
    for w in weights[:-1]:
        x = np.tanh(x @ w)
    return x @ weights[-1]


@pytest.fixture(scope="module")
def small_fc():
    return fc_network(input_dim=6, num_outputs=3, width=5, depth=2, dtype=jnp.float64)


def test_fc_init_matches_numpy_recipe_exactly():
    sizes = [64, 200, 200, 200, 200, 200, 10]
    expected = numpy_fc_params(sizes, seed=3)
    params64 = fc_network(dtype=jnp.float64).init(3)
    params32 = fc_network().init(3)
    assert sorted(params64) == [f"layers_{i}" for i in range(6)]
    for i, w in enumerate(expected):
        layer64, layer32 = params64[f"layers_{i}"], params32[f"layers_{i}"]
        np.testing.assert_array_equal(np.asarray(layer64["kernel"]), w)
        np.testing.assert_array_equal(np.asarray(layer32["kernel"]), w.astype(np.float32))
        assert layer32["kernel"].dtype == jnp.float32
        np.testing.assert_array_equal(np.asarray(layer64["bias"]), np.zeros(sizes[i + 1]))
    assert not np.array_equal(fc_network().init(4)["layers_0"]["kernel"], expected[0])


def test_fc_with_more_than_ten_layers_keeps_forward_order():
    # "layers_10" sorts before "layers_2" as a string; init and apply must still go in depth order
    model = fc_network(input_dim=3, num_outputs=2, width=4, depth=11, dtype=jnp.float64)
    sizes = [3] + [4] * 11 + [2]
    weights = numpy_fc_params(sizes, 7)
    params = model.init(7)
    for i, w in enumerate(weights):
        np.testing.assert_array_equal(params[f"layers_{i}"]["kernel"], w)
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(model.apply(params, x), numpy_fc_forward(weights, x), rtol=1e-12)


def test_fc_param_count_closed_form():
    model = fc_network()
    expected = (64 * 200 + 200) + 4 * (200 * 200 + 200) + (200 * 10 + 10)
    assert model.num_params == expected == 175810
    assert sum(leaf.size for leaf in jax.tree.leaves(model.init(0))) == expected
    cifar = build_model("fc", (3072,), 10)
    assert cifar.num_params == expected + (3072 - 64) * 200


def test_fc_apply_matches_numpy_forward(small_fc):
    x = np.random.default_rng(0).standard_normal((7, 6))
    params = small_fc.init(11)
    # nonzero biases so that a dropped bias term would show
    params = jax.tree.map(lambda a: a + 0.1 if a.ndim == 1 else a, params)
    weights = numpy_fc_params([6, 5, 5, 3], 11)
    expected = x
    for i, w in enumerate(weights):
        expected = expected @ w + 0.1
        if i < len(weights) - 1:
            expected = np.tanh(expected)
    np.testing.assert_allclose(np.asarray(small_fc.apply(params, x)), expected, rtol=1e-12)


def test_apply_is_pure_under_jit_grad_jvp_vmap(small_fc):
    x = jnp.asarray(np.random.default_rng(1).standard_normal((4, 6)))
    y = jnp.asarray(np.random.default_rng(2).standard_normal((4, 3)))
    params = small_fc.init(0)
    weights = numpy_fc_params([6, 5, 5, 3], 0)

    def loss(p):
        return losses.mse(small_fc.apply(p, x), y)

    np.testing.assert_allclose(
        jax.jit(small_fc.apply)(params, x), numpy_fc_forward(weights, np.asarray(x)), rtol=1e-12
    )
    grads = jax.jit(jax.grad(loss))(params)
    direction = jax.tree.map(
        lambda a: jnp.asarray(np.random.default_rng(a.size).normal(size=a.shape)), params
    )
    h = 1e-6
    plus = jax.tree.map(lambda p, d: p + h * d, params, direction)
    minus = jax.tree.map(lambda p, d: p - h * d, params, direction)
    finite_difference = (loss(plus) - loss(minus)) / (2 * h)
    directional = sum(
        jnp.vdot(g, d)
        for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction), strict=True)
    )
    np.testing.assert_allclose(directional, finite_difference, rtol=1e-6)
    _, tangent = jax.jvp(loss, (params,), (direction,))
    np.testing.assert_allclose(tangent, directional, rtol=1e-10)
    per_example = jax.vmap(small_fc.apply, in_axes=(None, 0))(params, x)
    np.testing.assert_allclose(per_example, numpy_fc_forward(weights, np.asarray(x)), rtol=1e-12)


def test_float32_stays_float32():
    model = fc_network(input_dim=6, num_outputs=3, width=5, depth=1)
    params = model.init(0)
    out = model.apply(params, jnp.ones((2, 6), jnp.float32))
    assert out.dtype == jnp.float32
    grads = jax.grad(lambda p: losses.mse(model.apply(p, jnp.ones((2, 6), jnp.float32)), 0.0))(
        params
    )
    assert all(g.dtype == jnp.float32 for g in jax.tree.leaves(grads))


@pytest.mark.parametrize(
    ("name", "input_shape", "flat_features"),
    [
        ("fc", (64,), None),
        ("fc", (3072,), None),
        ("cnn", (8, 8, 1), 128),
        ("cnn", (32, 32, 3), 1152),
    ],
)
def test_output_shapes(name, input_shape, flat_features):
    model = build_model(name, input_shape, num_outputs=7)
    params = model.init(0)
    x = jnp.zeros((2, *input_shape), jnp.float32)
    assert model.apply(params, x).shape == (2, 7)
    if flat_features is not None:
        # hand-derived: 32 -conv5 VALID-> 28 -pool-> 14 -conv3 VALID-> 12 -pool-> 6 -> 6 -> 3
        # and for 8x8 with all-'SAME' convs: 8 -> 4 -> 2 -> 1
        assert params["dense_0"]["kernel"].shape == (flat_features, 512)
        assert params["conv_0"]["kernel"].shape == (5, 5, input_shape[-1], 64)
        assert params["conv_1"]["kernel"].shape == (3, 3, 64, 96)
        assert params["conv_2"]["kernel"].shape == (3, 3, 96, 128)
        assert params["dense_1"]["kernel"].shape == (512, 256)
        assert params["dense_2"]["kernel"].shape == (256, 7)


def reference_cnn(params, x, conv_padding):
    """The architecture written directly with lax ops."""
    for i, padding in enumerate(conv_padding):
        layer = params[f"conv_{i}"]
        x = jax.lax.conv_general_dilated(
            x, layer["kernel"], (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        x = jnp.maximum(x + layer["bias"], 0.0)
        x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, 2, 2, 1), "SAME")
    x = x.reshape(x.shape[0], -1)
    for i in range(2):
        x = jnp.maximum(x @ params[f"dense_{i}"]["kernel"] + params[f"dense_{i}"]["bias"], 0.0)
    return x @ params["dense_2"]["kernel"] + params["dense_2"]["bias"]


@pytest.mark.parametrize(
    ("input_shape", "padding"),
    [((8, 8, 1), ("SAME", "SAME", "SAME")), ((32, 32, 3), ("VALID", "VALID", "SAME"))],
)
def test_cnn_matches_lax_reference(input_shape, padding):
    model = cnn_network(input_shape, 10, dtype=jnp.float64)
    assert model.module.conv_padding == padding
    params = jax.tree.map(lambda a: a + 0.01 if a.ndim == 1 else a, model.init(5))
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, *input_shape)))
    np.testing.assert_allclose(
        model.apply(params, x), reference_cnn(params, x, padding), rtol=1e-10, atol=1e-12
    )


def test_cnn_weights_have_variance_one_over_fan_in():
    params = cnn_network((32, 32, 3), 10).init(0)
    fan_ins = {
        "conv_0": 5 * 5 * 3,
        "conv_1": 3 * 3 * 64,
        "conv_2": 3 * 3 * 96,
        "dense_0": 1152,
        "dense_1": 512,
        "dense_2": 256,
    }
    for name, fan_in in fan_ins.items():
        kernel = np.asarray(params[name]["kernel"], dtype=np.float64)
        # relative standard error of a sample variance of a normal is sqrt(2 / size)
        tolerance = 5 * np.sqrt(2 / kernel.size)
        assert abs(kernel.var() * fan_in - 1) < tolerance, name
        assert abs(kernel.mean()) < 5 / np.sqrt(fan_in * kernel.size), name
        np.testing.assert_array_equal(params[name]["bias"], 0)
    # the recipe: one numpy Generator, convs first, W = N(0, 1) / sqrt(fan_in)
    rng = np.random.default_rng(0)
    conv_0 = rng.standard_normal((5, 5, 3, 64)) / np.sqrt(75)
    conv_1 = rng.standard_normal((3, 3, 64, 96)) / np.sqrt(576)
    np.testing.assert_array_equal(params["conv_0"]["kernel"], conv_0.astype(np.float32))
    np.testing.assert_array_equal(params["conv_1"]["kernel"], conv_1.astype(np.float32))
    other = cnn_network((32, 32, 3), 10).init(1)
    assert not np.allclose(other["conv_0"]["kernel"], params["conv_0"]["kernel"])
    again = cnn_network((32, 32, 3), 10).init(0)
    np.testing.assert_array_equal(again["conv_0"]["kernel"], params["conv_0"]["kernel"])


def test_bad_input():
    with pytest.raises(ValueError, match="unknown model 'rnn'"):
        build_model("rnn", (64,), 10)
    with pytest.raises(ValueError, match=r"input_shape must be flat \(input_dim,\)"):
        build_model("fc", (8, 8, 1), 10)
    with pytest.raises(ValueError, match=r"input_shape must be an image shape \(height, width"):
        build_model("cnn", (64,), 10)
    with pytest.raises(ValueError, match="too small for conv_padding"):
        build_model("cnn", (8, 8, 1), 10, conv_padding=("VALID", "VALID", "SAME"))
    with pytest.raises(ValueError, match="conv_padding must be"):
        build_model("cnn", (32, 32, 3), 10, conv_padding="FULL")
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        fc_network(width=0)
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        fc_network(dtype=jnp.int32)
    model = fc_network(input_dim=6, num_outputs=3, width=5, depth=1)
    params = model.init(0)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 6\)"):
        model.apply(params, jnp.ones((2, 5), jnp.float32))
    with pytest.raises(ValueError, match="params must be a nested dict"):
        model.apply({"layers_0": params["layers_0"]}, jnp.ones((2, 6), jnp.float32))
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        model.init(-1)


# ----------------------------------------------------------------------------- losses


def test_mse_is_half_mean_of_summed_squares():
    rng = np.random.default_rng(0)
    outputs, targets = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    expected = 0.5 * np.mean(np.sum((outputs - targets) ** 2, axis=1))
    np.testing.assert_allclose(losses.mse(outputs, targets), expected, rtol=1e-12)
    np.testing.assert_allclose(losses.mse([[1.0, 2.0]], [[0.0, 0.0]]), 2.5)
    assert losses.mse(jnp.ones((2, 3), jnp.float32), np.zeros((2, 3))).dtype == jnp.float32


def test_cross_entropy_and_accuracy_against_numpy():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((6, 4))
    labels = np.array([0, 1, 2, 3, 0, 1])
    one_hot = np.eye(4)[labels]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected = -np.mean(log_softmax[np.arange(6), labels])
    np.testing.assert_allclose(losses.cross_entropy(logits, one_hot), expected, rtol=1e-12)
    np.testing.assert_allclose(
        losses.cross_entropy(logits, one_hot),
        np.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels)),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        losses.accuracy(logits, one_hot), np.mean(logits.argmax(axis=1) == labels)
    )


def test_get_loss():
    assert losses.get_loss("mse") is losses.mse
    assert losses.get_loss("CE") is losses.cross_entropy
    assert losses.get_loss("cross-entropy") is losses.cross_entropy
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        losses.get_loss("hinge")


def test_the_parameter_counts_the_notebooks_quote_are_the_models():
    micro = build_model("fc", (4,), num_outputs=2, width=12, depth=2)
    lab = build_model("fc", (64,), num_outputs=10, width=tasks.LAB_TASK["width"], depth=5)
    assert micro.num_params == (4 * 12 + 12) + (12 * 12 + 12) + (12 * 2 + 2)  # weights + biases
    text = "".join(p.read_text() for p in Path(__file__).parents[2].glob("notebooks/*.ipynb"))
    quoted_micro = set(re.findall(r"4-12-12-2 \((\d+) parameters", text))
    quoted_lab = set(re.findall(r"\((\d\d,\d{3}) parameters\)", text))
    assert quoted_micro == {str(micro.num_params)}
    assert quoted_lab <= {f"{lab.num_params:,}"}
