"""`ember.jit(fn, backend="llvm")` computes what the reference interpreter computes."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F

RNG = np.random.default_rng(0)


def _tensor(*shape, low=-2.0, high=2.0):
    return ember.tensor(RNG.uniform(low, high, shape).astype(np.float32))


def _run_compiled(fn, backend, *args):
    """`fn` jitted on `backend`, called twice: the second call runs the compiled code (the
    first traces, and eager code computes its result)."""
    compiled = ember.jit(fn, backend=backend)
    compiled(*args)
    return compiled(*args)


def _compare(fn, *args, rtol=1e-5, atol=1e-6):
    got = _run_compiled(fn, "llvm", *args)
    expected = _run_compiled(fn, "interpreter", *args)
    got, expected = (got, expected) if isinstance(got, tuple) else ((got,), (expected,))
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=rtol, atol=atol)


ELEMENTWISE = {
    "arith": lambda x, y: (x * y + 1.5) / (y.abs() + 1.0) - x,
    "transcendental": lambda x, y: x.exp() + (y.abs() + 0.1).log() + x.tanh() * y.sin(),
    "activations": lambda x, y: F.gelu(x) + F.sigmoid(y) + F.relu(x - y),
    "compare_select": lambda x, y: ember.where(x > y, x, y * 2.0),
    "pow": lambda x, y: (x.abs() + 0.5) ** y,
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise(name):
    _compare(ELEMENTWISE[name], _tensor(8, 33), _tensor(8, 33))


def test_broadcast_and_int():
    x = ember.tensor(RNG.integers(-50, 50, (6, 7)).astype(np.int64))
    _compare(lambda a, b: a * 3 - b // 4 + (a > 0).long(), x, x[0])


@pytest.mark.parametrize("reduction", [
    lambda x: x.sum(1),
    lambda x: x.mean(0),
    lambda x: x.amax(1) - x.amin(0).sum(),
    lambda x: x.argmax(1),
    lambda x: F.softmax(x, dim=-1),
    lambda x: F.layer_norm(x, (x.shape[-1],)),
])
def test_reductions(reduction):
    _compare(reduction, _tensor(9, 130))


def test_matmul_and_mlp():
    x, w1, w2 = _tensor(16, 32), _tensor(32, 64), _tensor(64, 10)
    _compare(lambda a, b: a @ b, x, w1, rtol=1e-4)
    _compare(lambda a, b, c: F.relu(a @ b) @ c, x, w1, w2, rtol=1e-4, atol=1e-4)


def test_out_of_range_index_raises():
    table = _tensor(10, 4)
    fn = ember.jit(lambda t, i: t[i], backend="llvm")
    idx = ember.tensor(np.array([0, 3, 9]))
    np.testing.assert_array_equal(fn(table, idx).numpy(), table.numpy()[[0, 3, 9]])
    with pytest.raises(IndexError):
        fn(table, ember.tensor(np.array([0, 12, 1])))


def _finite(x):
    """x with NaN made 0 and infinities clamped (float -> int of those is undefined)."""
    return ember.where(x == x, x, 0).clamp(-1e4, 1e4)


BFLOAT16 = {
    "arith": lambda x: (x * 3 + 1).exp() / x.abs(),
    "reductions": lambda x: (x.sum(1), x.amax(0), x.argmin(1), F.softmax(x, dim=-1)),
    "matmul": lambda x: x @ x.T,
    "conversions": lambda x: (x > 0, x.double(), x.half(), x.double().bfloat16(),
                              (x > 0).bfloat16(), _finite(x).long(), _finite(x).long().bfloat16()),
    "select_pad": lambda x: (ember.where(x > 0, x, x * 3), F.pad(x, (1, 2), value=2.3)),
}


@pytest.mark.parametrize("name", sorted(BFLOAT16))
def test_bfloat16(name):
    """bf16 is stored as its bits and computed in f32: every result, NaN and infinity
    included, equals the interpreter's bit for bit."""
    values = RNG.standard_normal((5, 40)).astype(np.float32) * 100
    values[0, :3] = [np.nan, -np.inf, np.inf]
    x = ember.tensor(values).bfloat16()
    got = _run_compiled(BFLOAT16[name], "llvm", x)
    expected = _run_compiled(BFLOAT16[name], "interpreter", x)
    for g, e in zip(*((r,) if isinstance(r, ember.Tensor) else r for r in (got, expected))):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_array_equal(g.numpy().astype(np.float64), e.numpy().astype(np.float64))


def test_graph_named_like_a_c_library_function():
    """A jitted function named `tanh` does not collide with the C library's `tanh`, which the
    float64 code calls."""
    x = ember.tensor(RNG.standard_normal(7))
    np.testing.assert_allclose(_run_compiled(ember.tanh, "llvm", x).numpy(), np.tanh(x.numpy()),
                               rtol=1e-15)
