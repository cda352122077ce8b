"""`reuse-row-values` and `hoist-reciprocals` on real fused graphs: the loops interpreter gives
the same values with and without them, the loops IR still verifies, and the rewrite happens
where it should (softmax computes each exponential once)."""

import numpy as np
import pytest

import ember.nn.functional as F
from ember.codegen.llvm_cpu import LOOPS_PIPELINE
from ember.runtime.loops_interpreter import run_loops
from loop_pipelines import lowered

RNG = np.random.default_rng(3)
BASE = "lower-to-loops,fuse-rows"


CASES = {
    "softmax": (lambda x: F.softmax(x, dim=-1), [(6, 10)]),
    "log_softmax": (lambda x: F.log_softmax(x, dim=-1), [(6, 10)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (10,), w, b), [(6, 10), (10,), (10,)]),
    "mean": (lambda x: x.mean(-1, keepdim=True) / x.std(), [(6, 10)]),
    "softmax_columns": (lambda x: F.softmax(x, dim=0), [(6, 10)]),
    "attention": (lambda q, k: F.softmax(q @ k.transpose(-2, -1) / 3.0, dim=-1) @ k,
                  [(2, 5, 4), (2, 5, 4)]),
}


@pytest.mark.parametrize("name", CASES)
def test_passes_keep_the_values(name):
    fn, shapes = CASES[name]
    arrays = [RNG.standard_normal(s).astype(np.float32) for s in shapes]
    before = run_loops(lowered(fn, arrays, BASE), arrays)
    after = run_loops(lowered(fn, arrays, LOOPS_PIPELINE), arrays)
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_softmax_computes_each_exponential_once():
    arrays = [RNG.standard_normal((6, 10)).astype(np.float32)]
    before = str(lowered(CASES["softmax"][0], arrays, BASE))
    after = str(lowered(CASES["softmax"][0], arrays, LOOPS_PIPELINE))
    assert before.count('"math.exp"') == 2 and after.count('"math.exp"') == 1
    assert '"arith.divf"' in after and after.count('"arith.mulf"') >= 1


BATCHED = {
    "softmax": (lambda x: F.softmax(x, dim=-1), [(2, 3, 5, 10)]),
    "softmax_batch_of_one": (lambda x: F.softmax(x, dim=-1), [(1, 6, 10)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (10,), w, b), [(4, 6, 10), (10,), (10,)]),
    "batch_norm_stats": (lambda x: (x - x.mean((0, 2), keepdim=True)) / x.std(), [(3, 4, 7)]),
}


@pytest.mark.parametrize("name", BATCHED)
def test_row_nests_inside_a_batch_loop_fuse_and_keep_the_values(name):
    # a reduction over the last axis of (batch, rows, columns) is a batch loop around one nest
    # over the rows per reduction: fuse-rows merges those too
    fn, shapes = BATCHED[name]
    arrays = [RNG.standard_normal(s).astype(np.float32) for s in shapes]
    unfused = run_loops(lowered(fn, arrays, "lower-to-loops"), arrays)
    for u, f in zip(unfused, run_loops(lowered(fn, arrays, BASE), arrays)):
        np.testing.assert_array_equal(f, u)  # merging loops reorders no arithmetic
    # the whole pipeline also multiplies by reciprocals: one rounding of difference
    for u, f in zip(unfused, run_loops(lowered(fn, arrays, LOOPS_PIPELINE), arrays)):
        np.testing.assert_allclose(f, u, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 3, 5, 10), (1, 6, 10)])
def test_batched_softmax_computes_each_exponential_once(shape):
    # a batch of one: lowering indexes the size-1 axis with the constant 0, which in a loop of
    # one iteration is its induction variable
    arrays = [RNG.standard_normal(shape).astype(np.float32)]
    after = str(lowered(BATCHED["softmax"][0], arrays, LOOPS_PIPELINE))
    assert after.count('"math.exp"') == 1
