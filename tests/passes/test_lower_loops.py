"""`lower-to-loops`: every primitive and fused real graphs, run by the loops interpreter, give
the graph interpreter's values; the loop IR verifies (Ember's loops verifier and plain
mlir-opt), and prints, parses and prints back identically."""

import sys
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
import ember.optim as optim
from ember.ir import PRIMITIVES, dtypes, parse
from ember.ir.core import functions, module_op
from ember.runtime.loops_interpreter import run_loops

sys.path.insert(0, str(Path(__file__).parents[1] / "models"))
from model_zoo import batch, build, train_step  # noqa: E402
from primitive_graphs import check_against_graph, primitive_graph, run_checked  # noqa: E402

RNG = np.random.default_rng(0)
F32, I64 = np.float32, np.int64


def _rand(*shape, low=-2.0, high=2.0, dtype=F32):
    return RNG.uniform(low, high, shape).astype(dtype)


def _ints(*shape, low=-5, high=6):
    return RNG.integers(low, high, shape).astype(I64)


def _lower(module):
    """The module lowered (verified after the pass), checked to round-trip and to pass
    plain mlir-opt."""
    return run_checked(module, "lower-to-loops")


def _check(module, arrays, rtol=1e-5, atol=1e-6):
    """Lower, run on the loops interpreter, compare with the graph interpreter; the loops IR."""
    return check_against_graph(module, "lower-to-loops", arrays, rtol, atol)


POSITIVE = {"log", "log1p", "sqrt", "rsqrt"}
UNARY = [n for n, p in PRIMITIVES.items() if p.kind == "unary" and n != "cast"]
BINARY = [n for n, p in PRIMITIVES.items() if p.kind == "binary"]


@pytest.mark.parametrize("name", UNARY)
def test_unary_float32(name):
    x = _rand(2, 3, low=0.1) if name in POSITIVE else _rand(2, 3)
    x[0, 0] = 0.5  # a tie for round
    _check(primitive_graph(name, [x]), [x])


@pytest.mark.parametrize("name", ["neg", "abs", "sign", "exp", "floor", "logical_not", "sigmoid"])
def test_unary_int64(name):
    x = _ints(2, 3)
    _check(primitive_graph(name, [x]), [x])


@pytest.mark.parametrize("name", ["exp", "tanh", "neg"])
@pytest.mark.parametrize("dtype", [np.float16, dtypes.bfloat16.numpy])
def test_unary_low_precision(name, dtype):
    x = _rand(5, dtype=dtype)
    _check(primitive_graph(name, [x]), [x], rtol=1e-2)


@pytest.mark.parametrize("name", BINARY)
def test_binary_float32_broadcast(name):
    x, y = _rand(2, 3, low=0.5) if name == "pow" else _rand(2, 3), _rand(3)
    y[1] = x[0, 1]  # an equal pair for the comparisons
    _check(primitive_graph(name, [x, y]), [x, y])


@pytest.mark.parametrize("name", [n for n in BINARY if n not in ("pow", "atan2")])
def test_binary_int64(name):
    x, y = _ints(2, 3), _ints(2, 1, low=1)
    _check(primitive_graph(name, [x, y]), [x, y])


@pytest.mark.parametrize("name", ["add", "mul", "maximum", "lt", "logical_or"])
def test_binary_bool_and_mixed(name):
    a, b = RNG.random((2, 3)) > 0.5, RNG.random((3,)) > 0.5
    _check(primitive_graph(name, [a, b]), [a, b])
    x, y = _ints(2, 3), _rand(3)
    _check(primitive_graph(name, [x, y]), [x, y])


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_integer_pow(dtype):
    """Wrapping powers, negative exponents (0 unless the base is 1 or -1) and INT_MIN."""
    low = np.iinfo(dtype).min
    x = np.array([3, -2, 7, 1, -1, 0, 5, -1, 2, 0, 3], dtype)
    y = np.array([4, 5, 40, -3, -3, -1, 0, low, 3, 0, low], dtype)
    _check(primitive_graph("pow", [x, y]), [x, y])


@pytest.mark.parametrize("exponent", [2.0, 3.0, 2.5])
def test_float_pow_by_a_small_integer_constant_is_products(exponent):
    """x**2 and x**3 (GELU's) lower to multiplications, as PyTorch computes them; other
    exponents keep math.powf. Special values (inf, nan, -0.0) agree with NumPy's pow."""
    x = np.concatenate([_rand(20), np.array([np.inf, -np.inf, np.nan, -0.0, 0.0], F32)])
    module = _fused(lambda t: t ** exponent, ember.tensor(x))
    lowered = _check(module, [x], rtol=1e-6)
    assert ("math.powf" in str(lowered)) == (exponent == 2.5)


def test_where():
    c, x, y = RNG.random((2, 3)) > 0.5, _rand(2, 3), _ints(3)
    _check(primitive_graph("where", [c, x, y]), [c, x, y])


@pytest.mark.parametrize("source, target", [
    (F32, "int64"), (I64, "float32"), (F32, "bool"), (np.bool_, "float32"),
    (F32, "float16"), (I64, "int32"), (np.float16, "bfloat16"), (F32, "float64"),
])
def test_cast(source, target):
    x = (_rand(2, 3) * 3).astype(source) if source is not np.bool_ else RNG.random(4) > 0.5
    _check(primitive_graph("cast", [x], dtype=target), [x])


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min"])
@pytest.mark.parametrize("axes, keepdim", [((1,), True), ((0, 2), False), ((0, 1, 2), False)])
def test_reductions(name, axes, keepdim):
    x = _rand(2, 3, 4, low=0.5, high=1.5)
    _check(primitive_graph(name, [x], axes=axes, keepdim=keepdim), [x])
    i = _ints(2, 3, 4)
    _check(primitive_graph(name, [i], axes=axes, keepdim=keepdim), [i])


def test_sum_of_bool_and_float16():
    b = RNG.random((3, 4)) > 0.5
    _check(primitive_graph("sum", [b], axes=(1,), keepdim=False), [b])
    h = _rand(3, 4, dtype=np.float16)
    _check(primitive_graph("sum", [h], axes=(0, 1), keepdim=False), [h], rtol=1e-3)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_reductions_with_ties_and_nan(name):
    x = np.array([[1, 3, 3, 0], [2, np.nan, 5, np.nan], [-1, -1, -1, -1]], F32)
    _check(primitive_graph(name, [x], axis=1, keepdim=False), [x])
    _check(primitive_graph(name, [x], axis=0, keepdim=True), [x])
    i = _ints(3, 4)
    _check(primitive_graph(name, [i], axis=1, keepdim=True), [i])


@pytest.mark.parametrize("name, attrs", [
    ("reshape", {"shape": (3, 2, 2)}), ("reshape", {"shape": (12,)}),
    ("permute", {"dims": (2, 0, 1)}), ("broadcast_to", {"shape": (2, 2, 3, 2)}),
    ("slice", {"starts": (0, 1, 0), "stops": (2, 3, 2), "steps": (1, 2, 1)}),
    ("pad", {"pads": (1, 0, 0, 2, 1, 1), "value": -1.5}), ("flip", {"axes": (0, 2)}),
])
def test_movement(name, attrs):
    x = _rand(2, 3, 2)
    _check(primitive_graph(name, [x], **attrs), [x])


def test_movement_int64_and_concat():
    x = _ints(2, 3)
    _check(primitive_graph("pad", [x], pads=(0, 1, 2, 0), value=7.0), [x])
    a, b, c = _rand(2, 1), _rand(2, 0), _rand(2, 3)
    _check(primitive_graph("concat", [a, b, c], axis=1), [a, b, c])


@pytest.mark.parametrize("x_shape, y_shape", [((3, 4), (4, 2)), ((2, 1, 3, 4), (3, 4, 2))])
def test_matmul(x_shape, y_shape):
    x, y = _rand(*x_shape), _rand(*y_shape)
    _check(primitive_graph("matmul", [x, y]), [x, y])


def test_matmul_int64_and_kernel_marker():
    x, y = _ints(2, 3), _ints(3, 2)
    module = primitive_graph("matmul", [x, y])
    assert 'ember.kernel = "matmul"' in str(_check(module, [x, y]))


@pytest.mark.parametrize("stride, padding, dilation, groups", [
    ((1, 1), (0, 0), (1, 1), 1), ((2, 1), (1, 2), (1, 2), 2),
])
def test_conv2d(stride, padding, dilation, groups):
    x, w = _rand(2, 4, 5, 5), _rand(4, 4 // groups, 3, 2)
    attrs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    _check(primitive_graph("conv2d", [x, w], **attrs), [x, w], rtol=1e-4, atol=1e-5)


def test_gather_and_scatter_add():
    x, index = _rand(4, 3), RNG.integers(0, 4, (2, 3)).astype(I64)
    _check(primitive_graph("gather", [x, index], axis=0), [x, index])
    src = _rand(3, 3)
    _check(primitive_graph("scatter_add", [x, index, src], axis=0), [x, index, src])
    arrays = [_ints(3, 4), RNG.integers(0, 4, (3, 2)).astype(I64), _ints(3, 2)]
    _check(primitive_graph("scatter_add", arrays, axis=1), arrays)


@pytest.mark.parametrize("name", ["gather", "scatter_add"])
def test_out_of_range_index_raises_index_error_naming_the_op(name):
    x, index = _rand(4, 3), np.array([[0, 5, 1]], I64)
    arrays = [x, index] + ([_rand(1, 3)] if name == "scatter_add" else [])
    module = _lower(primitive_graph(name, arrays, axis=0))
    assert functions(module)[0].attributes["ember.error_ops"] == name
    with pytest.raises(IndexError, match=rf"ember\.{name}: index 5 .* size 4"):
        run_loops(module, arrays)


@pytest.mark.parametrize("name, attrs", [
    ("full", {"shape": (2, 3), "value": 2.5, "dtype": "float32"}),
    ("full", {"shape": (), "value": 3.0, "dtype": "int64"}),
    ("iota", {"shape": (2, 3), "axis": 1, "dtype": "float32"}),
    ("constant", {"value": np.arange(6, dtype=I64).reshape(2, 3)}),
    ("constant", {"value": np.full((2,), 0.25, F32)}),
])
def test_creation(name, attrs):
    _check(primitive_graph(name, [], **attrs), [])


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_random_uniform_matches_philox_bits(dtype):
    seed, offset = np.array(1234567890123, I64), np.array(5, I64)
    module = primitive_graph("random_uniform", [seed, offset], shape=(2, 3), dtype=dtype)
    _check(module, [seed, offset], rtol=0, atol=0)


# --- fused graphs traced from real functions and models --------------------------------------

def _fused(fn, *args):
    """The fused graph (the jit pipeline's output) of fn(*args), parsed back."""
    return parse(ember.jit(fn).lower(*args).as_text("fused"))


class _SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.fc = nn.Linear(2 * 3 * 3, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        return self.fc(ember.flatten(x, 1))


def _mlp_step():
    model = build("mlp")
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    step = ember.jit(lambda x, y: train_step(model, optimizer, x, y))
    x, y = batch("mlp", 0)
    step(x, y)  # the second specialisation holds the optimizer state
    return parse(step.lower(x, y).as_text("fused"))


def _cnn_forward():
    ember.manual_seed(3)
    model = _SmallCNN()
    with ember.no_grad():
        return _fused(model, ember.randn(2, 1, 6, 6))


FUSED = {
    "softmax": lambda: _fused(lambda x: F.softmax(x, dim=-1), ember.randn(4, 10)),
    "layer_norm": lambda: _fused(lambda x, w, b: F.layer_norm(x, (10,), w, b),
                                 ember.randn(4, 10), ember.randn(10), ember.randn(10)),
    "cross_entropy": lambda: _fused(F.cross_entropy, ember.randn(4, 3),
                                    ember.randint(0, 3, (4,))),
    "dropout": lambda: _fused(lambda x: F.dropout(x, 0.25, True), ember.randn(4, 6)),
    "mlp_step": _mlp_step,
    "cnn_forward": _cnn_forward,
}


def _inputs(func):
    arrays = []
    for arg in func.regions[0].blocks[0].arguments:
        dtype = arg.type.dtype.numpy
        if np.issubdtype(dtype, np.integer):
            arrays.append(RNG.integers(0, 3, arg.type.shape).astype(dtype))
        else:
            arrays.append(RNG.standard_normal(arg.type.shape).astype(dtype))
    return arrays


@pytest.mark.parametrize("name", list(FUSED))
def test_fused_graph_lowers_to_the_same_values(name):
    module = FUSED[name]()
    assert any(op.name == "ember.fusion" for op in module.walk())
    for func in functions(module):
        single = module_op()
        single.regions[0].blocks[0].append(func)
        _check(single, _inputs(func), rtol=1e-4, atol=1e-5)


def test_unfused_graph_lowers_too():
    module = parse(ember.jit(lambda x: F.softmax(x, dim=-1)).lower(ember.randn(3, 5))
                   .as_text("graph"))
    _check(module, _inputs(functions(module)[0]))
