"""`pipeline-rows`: a softmax whose output streams runs its rows in chunks, and the loop that
computes a row's exponentials also stores the previous row's output. The loops IR verifies
(plain mlir-opt too), chunks still split across threads, and results are bitwise those of the
kernel without the pass, whatever the rows per chunk (even, odd, too few to pipeline) and for
rows inside a batch loop."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.codegen import llvm_cpu
from ember.codegen.llvm import parallel, thread_pool
from ember.ir import parse
from ember.passes import stream_stores
from ember.passes.pipeline_rows import _chunk_rows
from ember.runtime.loops_interpreter import run_loops
from loop_pipelines import lowered

WITHOUT = llvm_cpu.LOOPS_PIPELINE.replace(",pipeline-rows", "")


def _softmax(x):
    return F.softmax(x, dim=-1)


@pytest.fixture
def streaming(monkeypatch):
    """Every result streams (so small softmaxes pipeline), and no kernel comes from the disk
    cache, whose keys do not see the patched threshold."""
    monkeypatch.setattr(stream_stores, "STREAM_MIN_BYTES", 0)
    monkeypatch.setenv("EMBER_CACHE", "0")


def _loops(x: np.ndarray, pipeline: str) -> str:
    return str(lowered(_softmax, [x], pipeline))


def _compiled(x: np.ndarray, pipeline: str, monkeypatch) -> np.ndarray:
    monkeypatch.setattr(llvm_cpu, "LOOPS_PIPELINE", pipeline)
    fn = ember.jit(_softmax, backend="llvm")
    fn(ember.from_numpy(x))  # traces (runs eagerly)
    return fn(ember.from_numpy(x)).numpy().copy()


def test_chunk_rows():
    assert _chunk_rows(4096) == 64
    assert _chunk_rows(42) == 21  # odd: no pair for the last row
    assert _chunk_rows(18) == 9
    assert _chunk_rows(13) is None  # a prime: one chunk of all rows, nothing to overlap
    assert _chunk_rows(8) is None  # two chunks of 4 rows: too few to overlap


@pytest.mark.parametrize("shape", [(4096, 256), (100, 256), (42, 256), (18, 256), (13, 256),
                                   (3, 42, 256), (2, 2, 18, 64), (1, 100, 256)])
def test_pipelined_softmax_is_bitwise_the_unpipelined_one(shape, streaming, monkeypatch):
    # (batch, rows, columns): the row loop inside the batch loop is pipelined
    x = np.random.default_rng(shape[-2]).standard_normal(shape, dtype=np.float32)
    rows = shape[-2]
    x[..., rows // 2, 3] = np.inf if rows % 2 else -np.inf  # rows of NaN, rows with a zero
    pipelined = _loops(x, llvm_cpu.LOOPS_PIPELINE)
    chunk = _chunk_rows(rows)
    # one non-temporal store where the pass does not apply; else two in the loop over pairs
    # of rows, one for a last odd row, one for the chunk's last output
    assert pipelined.count("nontemporal = true") == (1 if chunk is None else
                                                     3 + (chunk - 1) % 2)
    got = _compiled(x, llvm_cpu.LOOPS_PIPELINE, monkeypatch)
    expected = _compiled(x, WITHOUT, monkeypatch)
    np.testing.assert_array_equal(got, expected)
    interpreted = run_loops(parse(pipelined), [x])[0]
    np.testing.assert_allclose(interpreted, expected, rtol=1e-6, atol=1e-7)


def test_pipelined_rows_run_in_parallel(streaming):
    x = np.random.default_rng(1).standard_normal((256, 256), dtype=np.float32)
    lowered = ember.jit(_softmax, backend="llvm").lower(ember.from_numpy(x))
    loops = lowered.as_text("loops")
    assert loops.count("-> memref<256xf32>") == 2  # the two row buffers of a chunk
    if parallel.default_threads() > 1:
        assert thread_pool.ENTRY in lowered.as_text("llvm")


def test_softmax_without_a_streamed_output_is_not_pipelined():
    x = np.random.default_rng(2).standard_normal((64, 256), dtype=np.float32)
    assert _loops(x, llvm_cpu.LOOPS_PIPELINE) == _loops(x, WITHOUT)
