"""The CPU backend's fast paths: the blocked SGEMM kernel (against NumPy over edge shapes,
batches, broadcasting and an epilogue; packed FMAs in its assembly), threaded code equal to
single-threaded code, and vectorized softmax, layer norm and GELU."""

import re

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.codegen.llvm import parallel, target, thread_pool
from ember.codegen.llvm.kernels import matmul
from ember.codegen.llvm.translate import translate_module
from ember.codegen.llvm_cpu import CpuKernel, load_object, lower_to_loops
from ember.runtime.llvm import LlvmExecutable

RNG = np.random.default_rng(0)


def _random(*shapes):
    return [RNG.standard_normal(s, dtype=np.float32) for s in shapes]


def _jit(fn, arrays):
    """`fn` compiled by the llvm backend and run on `arrays`, as NumPy (the second call: the
    first one traces, and eager code computes its result)."""
    compiled = ember.jit(fn, backend="llvm")
    compiled(*[ember.from_numpy(a) for a in arrays])
    return compiled(*[ember.from_numpy(a) for a in arrays]).numpy()


def _compiled(fn, arrays, threads: int) -> LlvmExecutable:
    """`fn`'s fused graph compiled with `threads` threads (bypassing the disk cache)."""
    lowered = ember.jit(fn, backend="llvm").lower(*[ember.from_numpy(a) for a in arrays])
    loops = lower_to_loops(lowered.graphs["fused"][0])
    translation = translate_module(loops, threads)
    machine = target.host_target_machine()
    translation.module.triple = machine.triple
    translation.module.data_layout = str(machine.target_data)
    module = target.parse(str(translation.module))
    target.optimize(module)
    engine = load_object(target.emit_object(module))
    kernel = CpuKernel(translation.entry, translation.arguments, translation.error_ops,
                       translation.scratch_bytes, translation.results_in_arguments, engine,
                       lambda: loops, module)
    return LlvmExecutable(kernel, len(arrays))


def _matmul_error(out, a, b):
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64))
    return np.abs(out - expected).max() / max(1.0, np.abs(expected).max())


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (2, 3, 5), (7, 13, 37), (31, 97, 17),
                                   (6, 256, 32), (101, 257, 67), (97, 1031, 61),
                                   (130, 5, 1027), (1, 600, 1), (300, 1, 299)])
def test_matmul_shapes(m, k, n, monkeypatch):
    monkeypatch.setattr(matmul, "MIN_KERNEL_WORK", 1)  # the kernel even for tiny products
    a, b = _random((m, k), (k, n))
    assert _matmul_error(_jit(ember.matmul, [a, b]), a, b) < 1e-5


def test_matmul_1024_cubed():
    a, b = _random((1024, 1024), (1024, 1024))
    assert _matmul_error(_jit(ember.matmul, [a, b]), a, b) < 1e-5


@pytest.mark.parametrize("shape_a,shape_b", [((4, 9, 11), (4, 11, 13)), ((3, 7, 5), (5, 8)),
                                             ((7, 5), (2, 5, 19)),
                                             ((2, 1, 17, 9), (3, 9, 33))])
def test_matmul_batched_and_broadcast(shape_a, shape_b, monkeypatch):
    monkeypatch.setattr(matmul, "MIN_KERNEL_WORK", 1)
    a, b = _random(shape_a, shape_b)
    assert _matmul_error(_jit(ember.matmul, [a, b]), a, b) < 1e-5


TRANSPOSED = {  # a product and its operands' shapes for (m, k, n)
    "a@bT": (lambda a, b: a @ b.T, lambda m, k, n: [(m, k), (n, k)]),
    "aT@b": (lambda a, b: a.T @ b, lambda m, k, n: [(k, m), (k, n)]),
    "aT@bT": (lambda a, b: a.T @ b.T, lambda m, k, n: [(k, m), (n, k)]),
    "(a@bT)T": (lambda a, b: (a @ b.T).T, lambda m, k, n: [(m, k), (n, k)]),
}


@pytest.mark.parametrize("name", TRANSPOSED)
@pytest.mark.parametrize("m,k,n", [(7, 13, 37), (64, 100, 128), (130, 33, 45)])
@pytest.mark.parametrize("threads", [1, 2])
def test_matmul_reads_transposed_operands(name, m, k, n, threads, monkeypatch):
    """Operands that are transposed buffers are packed from their transpose, not copied; rows
    or columns split over threads (columns when there are more of them)."""
    monkeypatch.setattr(matmul, "MIN_KERNEL_WORK", 1)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_WORK", 1)
    fn, shapes = TRANSPOSED[name]
    arrays = _random(*shapes(m, k, n))
    assert _copies(fn, arrays) == ""
    expected = fn(*(ember.from_numpy(x.astype(np.float64)) for x in arrays)).numpy()
    np.testing.assert_allclose(_compiled(fn, arrays, threads)(arrays)[0], expected,
                               rtol=2e-5, atol=2e-5)


def _copies(fn, arrays) -> str:
    """The loops IR's buffers other than the function arguments (transpose copies would be)."""
    text = ember.jit(fn, backend="llvm").lower(*map(ember.from_numpy, arrays)).as_text("loops")
    return "\n".join(line for line in text.splitlines() if "memref.alloc" in line)


def test_matmul_of_views_and_epilogue():
    a, b, bias = _random((45, 70), (63, 70), (63,))
    out = _jit(lambda x, y, c: (ember.matmul(x, y.T) + c).relu(), [a, b, bias])
    expected = np.maximum(a.astype(np.float64) @ b.T.astype(np.float64) + bias, 0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_matmul_float64_uses_the_loops():
    a, b = (x.astype(np.float64) for x in _random((9, 4), (4, 6)))
    np.testing.assert_allclose(_jit(ember.matmul, [a, b]), a @ b, rtol=1e-12)


def test_matmul_kernel_assembly_has_packed_fma():
    a, b = _random((64, 64), (64, 64))
    asm = _compiled(ember.matmul, [a, b], threads=1).kernel.assembly
    assert re.search(r"\bvfmadd\w*ps\s+[^\n]*%[yz]mm", asm), "no packed FMA in the kernel"


def _softmax(x):
    return F.softmax(x, dim=-1)


def _layer_norm(x, w, b):
    return F.layer_norm(x, (x.shape[-1],), w, b)


@pytest.mark.parametrize("fn,shapes", [
    (ember.matmul, [(515, 300), (300, 130)]),
    (ember.matmul, [(4, 200, 100), (100, 120)]),
    (_softmax, [(1024, 1024)]),
    (_layer_norm, [(1024, 1024), (1024,), (1024,)]),
    (lambda x: F.gelu(x, approximate="tanh"), [(1 << 21,)]),
    # a transposed output: its loop over x's rows writes columns of the result
    (lambda x: (x.exp() + 1.0).T, [(1024, 1024)]),
    # a keep-dim reduction over the leading axis: the channel loop inside goes parallel
    (lambda x: x.sum((0, 2, 3), keepdim=True), [(64, 64, 24, 24)]),
])
def test_threads_give_the_single_thread_result(fn, shapes):
    arrays = _random(*shapes)
    one = _compiled(fn, arrays, threads=1)(arrays)
    two = _compiled(fn, arrays, threads=2)
    assert thread_pool.ENTRY in two.kernel.optimized_ir
    for x, y in zip(one, two(arrays)):
        np.testing.assert_array_equal(x, y)


def test_softmax_and_layer_norm():
    x, w, b = _random((300, 1000), (1000,), (1000,))
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(-1, keepdims=True))
    np.testing.assert_allclose(_jit(_softmax, [x]), e / e.sum(-1, keepdims=True),
                               rtol=1e-5, atol=1e-7)
    mean, var = x64.mean(-1, keepdims=True), x64.var(-1, keepdims=True)
    np.testing.assert_allclose(_jit(_layer_norm, [x, w, b]),
                               (x64 - mean) / np.sqrt(var + 1e-5) * w + b, rtol=1e-4, atol=1e-5)


def test_gelu_tanh():
    (x,) = _random((100_003,))
    x64 = x.astype(np.float64)
    expected = 0.5 * x64 * (1 + np.tanh(np.sqrt(2 / np.pi) * (x64 + 0.044715 * x64**3)))
    np.testing.assert_allclose(_jit(lambda t: F.gelu(t, approximate="tanh"), [x]), expected,
                               rtol=1e-5, atol=1e-6)


def test_row_reductions_vectorize():
    (x,) = _random((64, 1024))
    asm = _compiled(_softmax, [x], threads=1).kernel.assembly
    # the row max and the row sum run on packed registers
    assert re.search(r"\bvmaxps\s+[^\n]*%[yz]mm", asm) or re.search(r"\bvmax\w*ps", asm)
    assert re.search(r"\bvaddps\s+[^\n]*%[yz]mm", asm)
