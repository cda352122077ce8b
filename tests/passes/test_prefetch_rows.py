"""`prefetch-rows`: a row kernel over a large input fetches the row two rows on during the
current row's last pass, at an index limited to the input's last row; kernels that read each
row once, and small inputs, are left alone. Prefetches change no result: compiled kernels are
bitwise the ones without the pass, and the loops interpreter (which checks each prefetch's
address as a load's) agrees."""

import re

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.codegen import llvm_cpu
from ember.ir import parse
from ember.ir.loops_verifier import verify_loops
from ember.ir.verifier import VerifyError
from ember.passes import prefetch_rows
from ember.runtime.loops_interpreter import run_loops
from loop_pipelines import lowered

WITHOUT = llvm_cpu.LOOPS_PIPELINE.replace(",prefetch-rows", "")
PREFETCH = re.compile(r'"memref.prefetch"\(%arg0, %(\w+), %(\w+)\)')


def _layer_norm(x, w, b):
    return F.layer_norm(x, (x.shape[-1],), w, b)


def _softmax(x):
    return F.softmax(x, dim=-1)


def _inputs(shape, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape, dtype=np.float32),
            rng.standard_normal(shape[-1:], dtype=np.float32),
            rng.standard_normal(shape[-1:], dtype=np.float32)]


@pytest.fixture
def small_inputs_prefetch(monkeypatch):
    """Inputs of any size take prefetches, and no kernel comes from the disk cache (whose keys
    do not see the patched threshold)."""
    monkeypatch.setattr(prefetch_rows, "PREFETCH_MIN_BYTES", 0)
    monkeypatch.setenv("EMBER_CACHE", "0")


def _compiled(fn, arrays, pipeline, monkeypatch) -> np.ndarray:
    monkeypatch.setattr(llvm_cpu, "LOOPS_PIPELINE", pipeline)
    jitted = ember.jit(fn, backend="llvm")
    return jitted(*map(ember.from_numpy, arrays)).numpy().copy()


def _definition(text: str, name: str) -> str:
    return re.search(rf"%{name} = (.*)", text).group(1)


def _pass_body(text: str, column: str) -> str:
    """The body of the innermost loop whose induction variable is `column`."""
    body = text[text.index(f"^bb0(%{column}: index"):]
    return body[:body.index("scf.yield")]


def test_layer_norm_prefetches_two_rows_on_in_its_last_pass(small_inputs_prefetch):
    arrays = _inputs((64, 256))
    text = str(lowered(_layer_norm, arrays, llvm_cpu.LOOPS_PIPELINE))  # verified, mlir-opt too
    (row, column), = PREFETCH.findall(text)
    # min(i + 2, 63), at the column of the pass that normalises and stores the row
    limited = _definition(text, row)
    assert limited.startswith('"arith.minsi"')
    next_row, last = re.match(r'"arith.minsi"\(%(\w+), %(\w+)\)', limited).groups()
    assert re.match(r'"arith.addi"\(%arg\d+, %\w+\)', _definition(text, next_row))
    assert _definition(text, last).startswith('"arith.constant"() {value = 63 : index}')
    assert '"memref.store"(%' in _pass_body(text, column)  # the output row's
    # its first pass (the sum) and the middle one (the variance) have none
    assert text.count("memref.prefetch") == 1


@pytest.mark.parametrize("shape", [(64, 256), (7, 128), (3, 5, 64), (1, 256)])
def test_prefetched_layer_norm_is_bitwise_the_plain_one(shape, small_inputs_prefetch,
                                                        monkeypatch):
    arrays = _inputs(shape, seed=shape[0])
    got = _compiled(_layer_norm, arrays, llvm_cpu.LOOPS_PIPELINE, monkeypatch)
    expected = _compiled(_layer_norm, arrays, WITHOUT, monkeypatch)
    np.testing.assert_array_equal(got, expected)
    # the interpreter indexes each prefetch's address: past the last row it would raise
    interpreted = run_loops(parse(str(lowered(_layer_norm, arrays, llvm_cpu.LOOPS_PIPELINE))),
                            arrays)[0]
    np.testing.assert_allclose(interpreted, expected, rtol=1e-5, atol=1e-5)


def test_pipelined_softmax_prefetches_in_each_exponential_pass(small_inputs_prefetch,
                                                               monkeypatch):
    from ember.passes import stream_stores

    monkeypatch.setattr(stream_stores, "STREAM_MIN_BYTES", 0)  # pipelined at this size
    x = np.random.default_rng(3).standard_normal((128, 256), dtype=np.float32)
    text = str(lowered(_softmax, [x], llvm_cpu.LOOPS_PIPELINE))
    # the two rows of each iteration over pairs, each in the loop computing its exponentials
    # (one iteration on: two rows), and the chunk's first row (the loop over chunks has
    # a loop of many iterations inside, so it is not a row loop)
    prefetches = PREFETCH.findall(text)
    assert len(prefetches) == 2
    for row, column in prefetches:
        assert _definition(text, row).startswith('"arith.minsi"')
        assert "math.exp" in _pass_body(text, column)
    got = _compiled(_softmax, [x], llvm_cpu.LOOPS_PIPELINE, monkeypatch)
    np.testing.assert_array_equal(got, _compiled(_softmax, [x], WITHOUT, monkeypatch))


def test_single_pass_kernels_and_small_inputs_take_no_prefetch(monkeypatch):
    monkeypatch.setenv("EMBER_CACHE", "0")
    rows = prefetch_rows.PREFETCH_MIN_BYTES // (4 * 256)
    big = np.ones((rows, 256), np.float32)
    assert "memref.prefetch" not in str(lowered(lambda x: x * 2.0, [big],
                                                llvm_cpu.LOOPS_PIPELINE))
    assert "memref.prefetch" in str(lowered(_layer_norm, _inputs((rows, 256)),
                                            llvm_cpu.LOOPS_PIPELINE))
    assert "memref.prefetch" not in str(lowered(_layer_norm, _inputs((rows // 2, 256)),
                                                llvm_cpu.LOOPS_PIPELINE))


def test_loops_verifier_rejects_a_malformed_prefetch():
    text = """module {
  func.func @f(%arg0: memref<4x8xf32>, %arg1: memref<4xi64>) attributes {ember.inputs = 1 : i64} {
    %0 = "arith.constant"() {value = 0 : index} : () -> index
    "memref.prefetch"(%arg0, %0, %0) {isDataCache = true, isWrite = false, localityHint = HINT} : (memref<4x8xf32>, index, index) -> ()
    func.return
  }
}"""
    verify_loops(parse(text.replace("HINT", "3 : i32")))
    with pytest.raises(VerifyError, match="memref.prefetch"):
        verify_loops(parse(text.replace("HINT", "4 : i32")))
