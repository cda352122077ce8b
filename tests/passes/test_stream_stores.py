"""`stream-stores`: the store of a large result is marked non-temporal only where it is the
result's single access, streams along an innermost loop and computes no math per element; the
compiled kernels give the same numbers as NumPy either way."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.ir.mlir_tools import find_mlir_opt, mlir_opt_plain
from ember.passes.stream_stores import STREAM_MIN_BYTES

ROWS = STREAM_MIN_BYTES // (1024 * 4)  # rows of 1024 floats that make a large result
rng = np.random.default_rng(0)
X = rng.standard_normal((ROWS, 1024), dtype=np.float32)
W = rng.standard_normal(1024, dtype=np.float32)
B = rng.standard_normal(1024, dtype=np.float32)


def _loops(fn, *arrays) -> str:
    return ember.jit(fn).lower(*map(ember.from_numpy, arrays)).as_text("loops")


def _marked(fn, *arrays) -> int:
    return _loops(fn, *arrays).count("nontemporal = true")


def test_large_elementwise_result_streams():
    assert _marked(lambda x: x * 2.0, X) == 1
    out = ember.jit(lambda x: x * 2.0)(ember.from_numpy(X)).numpy()
    np.testing.assert_array_equal(out, X * 2.0)


def test_small_result_does_not_stream():
    assert _marked(lambda x: x * 2.0, X[:ROWS // 2]) == 0


def test_result_read_back_does_not_stream():
    # rows longer than a row buffer: softmax keeps its exponentials in the output row and
    # scales them there
    long_rows = X.reshape(ROWS // 16, 16 * 1024)
    assert _marked(lambda x: F.softmax(x, -1), long_rows) == 0


def test_softmax_with_a_row_buffer_streams():
    # pipeline-rows then copies the store into the loops of a chunk (tests/passes/
    # test_pipeline_rows.py): four of them in chunks of 64 rows
    assert _marked(lambda x: F.softmax(x, -1), X) == 4
    out = ember.jit(lambda x: F.softmax(x, -1))(ember.from_numpy(X)).numpy()
    e = np.exp(X.astype(np.float64) - X.max(-1, keepdims=True))
    np.testing.assert_allclose(out, e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)


def test_math_per_element_does_not_stream():
    assert _marked(lambda x: ember.tanh(x) * 2.0, X) == 0


def test_math_of_a_row_value_streams():
    # layer norm's rsqrt of the row variance is the same for the whole row
    def layer_norm(x, w, b):
        return F.layer_norm(x, (1024,), w, b)

    assert _marked(layer_norm, X, W, B) == 1
    out = ember.jit(layer_norm)(*map(ember.from_numpy, (X, W, B))).numpy()
    mean = X.mean(-1, keepdims=True)
    expected = (X - mean) / np.sqrt(X.var(-1, keepdims=True) + 1e-5) * W + B
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_transposed_result_streams_along_its_rows():
    # the loops run over the result's elements: its store is consecutive, its loads strided
    def transposed(x):
        return (x * 2.0).t().contiguous()

    assert _marked(transposed, X) == 1
    np.testing.assert_array_equal(ember.jit(transposed)(ember.from_numpy(X)).numpy(),
                                  (X * 2.0).T)


@pytest.mark.skipif(find_mlir_opt() is None, reason="mlir-opt is not installed")
def test_mlir_opt_accepts_marked_stores_and_row_buffers():
    text = _loops(lambda x: F.softmax(x, -1), X)
    assert "nontemporal = true" in text and "memref<1024xf32>" in text
    mlir_opt_plain(text)


@pytest.mark.parametrize("shape, dtype", [((2051, 1023), np.float32), ((1024, 1024), np.float64),
                                          ((1024, 1024), np.int64), ((2 << 20,), np.int32)])
def test_streamed_results_of_any_shape_and_dtype_are_exact(shape, dtype):
    # rows that are not a vector's multiple leave some stores unaligned (those stay plain);
    # other element types take other vector stores
    x = (np.arange(np.prod(shape)) % 101).astype(dtype).reshape(shape)

    def double(t):
        return t + t

    assert _marked(double, x) == 1
    np.testing.assert_array_equal(ember.jit(double)(ember.from_numpy(x)).numpy(), x + x)
