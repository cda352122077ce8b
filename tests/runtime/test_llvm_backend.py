"""`ember.jit(fn, backend="llvm")` computes what the reference interpreter computes."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F

RNG = np.random.default_rng(0)


def _tensor(*shape, low=-2.0, high=2.0):
    return ember.tensor(RNG.uniform(low, high, shape).astype(np.float32))


def _compare(fn, *args, rtol=1e-5, atol=1e-6):
    got = ember.jit(fn, backend="llvm")(*args)
    expected = ember.jit(fn)(*args)
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
