"""The vector-function ABI helpers (ember.codegen.llvm.vector_abi): f32 exp's scaling by its
float exponent becomes vscalefps in vectorized loops, scalar remainders included; a prefetch in
a vectorized loop becomes one prefetch instruction per vector; no call to a helper is left in
the optimised code."""

import re

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.codegen import math_approx
from ember.codegen.llvm import vector_abi
from ember.codegen.llvm_cpu import compile_loops
from ember.ir import dtypes
from ember.runtime.llvm import LlvmExecutable
from tests.codegen.loops_samples import elementwise

avx512_only = pytest.mark.skipif(not math_approx._host_has_avx512(),
                                 reason="scalef is used on AVX-512 hosts only")
HELPER_CALL = re.compile(r"call [^\n]*@\"?ember\.vabi\.")


# -O3 leaves calls of the 16-lane variant (4096), the 16- and 8-lane ones (1000), the 8-lane
# one (5, 3), the scalar function and the 4-lane variant (7), and the scalar function alone (3)
@avx512_only
@pytest.mark.parametrize("shape", [(4096,), (1000,), (5, 3), (7,), (3,)])
def test_exp_calls_no_helper_and_matches_numpy(shape):
    kernel = compile_loops(elementwise("exp", "math.exp", shape, dtypes.float32))
    assert vector_abi.SCALEF in kernel.llvm_ir
    assert not HELPER_CALL.search(kernel.optimized_ir)
    x = np.random.default_rng(0).uniform(-110, 95, shape).astype(np.float32)
    specials = [-np.inf, np.inf, np.nan, 0.0][:x.size]
    x.flat[:len(specials)] = specials
    got = LlvmExecutable(kernel, 1)([x])[0]
    with np.errstate(over="ignore"):
        expected = np.exp(x.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=2.0 ** -149)


@avx512_only
def test_vectorized_exp_scales_by_the_float_exponent():
    """The loop's vectors scale with vscalefps straight from the rounded float n: no integer
    conversion of n is left."""
    asm = compile_loops(elementwise("exp", "math.exp", (4096,), dtypes.float32)).assembly
    assert re.search(r"vscalefps\s+%zmm", asm)
    assert "vcvtdq2ps" not in asm and "vcvttps2dq" not in asm


def test_prefetch_in_a_vectorized_loop_is_one_instruction_per_vector():
    """Layer norm over 1 MB of rows of 1024 prefetches the row two on in its last pass: the
    compiled loop has one prefetch per vector it stores, and no helper call is left."""
    rng = np.random.default_rng(0)
    x, w, b = (ember.from_numpy(rng.standard_normal(s, dtype=np.float32))
               for s in ((256, 1024), (1024,), (1024,)))
    lowered = ember.jit(lambda x, w, b: F.layer_norm(x, (1024,), w, b)).lower(x, w, b)
    assert not HELPER_CALL.search(lowered.as_text("llvm"))
    asm = lowered.as_text("asm")
    labels = re.findall(r"^(\.LBB\d+_\d+):", asm, re.M)
    loops = [re.search(rf"^{label}:\n(.*?)\n\s+j\w+\s+{label}\n", asm, re.M | re.S)
             for label in labels]
    prefetching = [body for body in (m.group(1) for m in loops if m)  # innermost: no label in
                   if "prefetcht0" in body and not re.search(r"^\.LBB", body, re.M)]
    assert len(prefetching) == 1
    stores = re.findall(r"vmov\w*\s+%[xyz]mm\d+, [^%\n]*\(", prefetching[0])
    assert re.search(r"vmov\w*\s+%[yz]mm", prefetching[0])  # vectorized
    assert prefetching[0].count("prefetcht0") == len(stores)
