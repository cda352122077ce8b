"""The vector-function ABI helpers (ember.codegen.llvm.vector_abi): f32 exp's scaling by its
float exponent becomes vscalefps in vectorized loops, scalar remainders included, and no call to
a helper is left in the optimised code."""

import re

import numpy as np
import pytest

from ember.codegen import math_approx
from ember.codegen.llvm import vector_abi
from ember.codegen.llvm_cpu import compile_loops
from ember.ir import dtypes
from ember.runtime.llvm import LlvmExecutable
from tests.codegen.loops_samples import elementwise

pytestmark = pytest.mark.skipif(not math_approx._host_has_avx512(),
                                reason="the helpers are used on AVX-512 hosts only")
HELPER_CALL = re.compile(r"call [^\n]*@\"?ember\.scalef")


# -O3 leaves calls of the 16-lane variant (4096), the 16- and 8-lane ones (1000), the 8-lane
# one (5, 3), the scalar function and the 4-lane variant (7), and the scalar function alone (3)
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


def test_vectorized_exp_scales_by_the_float_exponent():
    """The loop's vectors scale with vscalefps straight from the rounded float n: no integer
    conversion of n is left."""
    asm = compile_loops(elementwise("exp", "math.exp", (4096,), dtypes.float32)).assembly
    assert re.search(r"vscalefps\s+%zmm", asm)
    assert "vcvtdq2ps" not in asm and "vcvttps2dq" not in asm
