"""Translation of hand-built loops IR to LLVM: results equal NumPy, the IR verifies, the exp
loop vectorizes, and out-of-range indices come back through the status buffer."""

import re

import llvmlite.binding as llvm
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.codegen.llvm_cpu import compile_loops, lower_to_loops, translate
from ember.ir import dtypes
from ember.ir.core import Builder
from ember.ir.types import INDEX, MemRefType, ScalarType
from ember.runtime.llvm import LlvmExecutable
from tests.codegen.loops_samples import close, const, elementwise, loop, module_with, nest

F32 = ScalarType("f32")
I1 = ScalarType("i1")
I64 = ScalarType("i64")


def _run(module, inputs):
    return LlvmExecutable(compile_loops(module), len(inputs))(inputs)


def _verifies(module) -> None:
    _, text = translate(module)
    llvm.parse_assembly(text).verify()


def test_elementwise_add():
    module = elementwise("add", "arith.addf", (3, 5), arity=2)
    _verifies(module)
    a, b = np.random.rand(2, 3, 5).astype(np.float32)
    (out,) = _run(module, [a, b])
    np.testing.assert_array_equal(out, a + b)


def test_exp_loop_vectorizes():
    module = elementwise("exp", "math.exp", (4096,))
    _verifies(module)
    kernel = compile_loops(module)
    x = np.linspace(-20, 20, 4096, dtype=np.float32)
    (out,) = LlvmExecutable(kernel, 1)([x])
    np.testing.assert_allclose(out, np.exp(x.astype(np.float64)), rtol=1e-6)
    # packed single-precision arithmetic on SIMD registers, and no call to libm's expf
    assert re.search(r"\bv(mul|fmadd\w*|add)ps\s+%[xyz]mm", kernel.assembly), kernel.assembly
    assert "expf" not in kernel.assembly


def test_row_sum_with_iter_args():
    x_type, out_type = MemRefType((7, 33), dtypes.float32), MemRefType((7,), dtypes.float32)
    module, func, b = module_with("rowsum", [x_type, out_type])
    x, out, _ = func.regions[0].blocks[0].arguments
    _, rows, (i,) = loop(b, 7)
    zero = const(rows, 0.0, F32)
    inner_op, cols, (j, acc) = loop(rows, 33, [zero])
    element = cols.create("memref.load", [x, i, j], [F32]).result
    cols.create("scf.yield", [cols.create("arith.addf", [acc, element], [F32]).result])
    rows.create("memref.store", [inner_op.result, out, i])
    rows.create("scf.yield")
    b.create("func.return")
    _verifies(module)
    data = np.random.rand(7, 33).astype(np.float32)
    (got,) = _run(module, [data])
    np.testing.assert_allclose(got, data.sum(axis=1), rtol=1e-5)


def test_matmul_triple_loop():
    m, k, n = 13, 17, 11
    types = [MemRefType((m, k), dtypes.float32), MemRefType((k, n), dtypes.float32),
             MemRefType((m, n), dtypes.float32)]
    module, func, b = module_with("matmul", types)
    a, bm, c, _ = func.regions[0].blocks[0].arguments
    outer, rows, (i,) = loop(b, m)
    outer.attributes["ember.kernel"] = "matmul"
    _, cols, (j,) = loop(rows, n)
    red, body, (kk, acc) = loop(cols, k, [const(cols, 0.0, F32)])
    lhs = body.create("memref.load", [a, i, kk], [F32]).result
    rhs = body.create("memref.load", [bm, kk, j], [F32]).result
    product = body.create("arith.mulf", [lhs, rhs], [F32]).result
    body.create("scf.yield", [body.create("arith.addf", [acc, product], [F32]).result])
    cols.create("memref.store", [red.result, c, i, j])
    close([cols, rows])
    b.create("func.return")
    _verifies(module)
    x, y = np.random.rand(m, k).astype(np.float32), np.random.rand(k, n).astype(np.float32)
    (got,) = _run(module, [x, y])
    np.testing.assert_allclose(got, x @ y, rtol=1e-5)


def _gather_module(size: int, count: int):
    """out[i] = table[idx[i]], with an scf.if bounds check that writes the status buffer."""
    types = [MemRefType((size,), dtypes.float32), MemRefType((count,), dtypes.int64),
             MemRefType((count,), dtypes.float32)]
    module, func, b = module_with("gather", types)
    func.attributes["ember.error_ops"] = "ember.gather"
    table, idx, out, status = func.regions[0].blocks[0].arguments
    body, (i,), levels = nest(b, (count,))
    raw = body.create("memref.load", [idx, i], [I64]).result
    index = body.create("arith.index_cast", [raw], [INDEX]).result
    negative = body.create("arith.cmpi", [index, const(body, 0)], [I1], {"predicate": 2}).result
    too_big = body.create("arith.cmpi", [index, const(body, size)], [I1],
                          {"predicate": 5}).result
    bad = body.create("arith.ori", [negative, too_big], [I1]).result
    check = body.create("scf.if", [bad], [], regions=2)
    then_b, else_b = (_block_builder(region) for region in check.regions)
    for slot, value in enumerate([const(then_b, 1, I64), const(then_b, 0, I64), raw,
                                  const(then_b, size, I64)]):
        then_b.create("memref.store", [value, status, const(then_b, slot)])
    then_b.create("scf.yield")
    loaded = else_b.create("memref.load", [table, index], [F32]).result
    else_b.create("memref.store", [loaded, out, i])
    else_b.create("scf.yield")
    close(levels)
    b.create("func.return")
    return module


def _block_builder(region):
    return Builder(region.add_block())


def test_gather_bounds_check_status():
    module = _gather_module(10, 6)
    _verifies(module)
    run = LlvmExecutable(compile_loops(module), 2)
    table = np.arange(10, dtype=np.float32) * 2
    idx = np.array([0, 9, 3, 3, 1, 5])
    np.testing.assert_array_equal(run([table, idx])[0], table[idx])
    with pytest.raises(IndexError, match=r"ember.gather: index 12 .* size 10"):
        run([table, np.array([0, 1, 12, 2, 3, 4])])


def test_scf_if_results_and_integer_ops():
    """out[i] = x[i] // d[i] if x[i] > 0 else -x[i]; divsi by zero gives 0 instead of a trap."""
    t = MemRefType((8,), dtypes.int32)
    i32 = t.element
    module, func, b = module_with("intops", [t, t, t])
    x, d, out, _ = func.regions[0].blocks[0].arguments
    body, (i,), levels = nest(b, (8,))
    xv = body.create("memref.load", [x, i], [i32]).result
    dv = body.create("memref.load", [d, i], [i32]).result
    zero = const(body, 0, i32)
    positive = body.create("arith.cmpi", [xv, zero], [I1], {"predicate": 4}).result
    choice = body.create("scf.if", [positive], [i32], regions=2)
    then_b, else_b = (_block_builder(region) for region in choice.regions)
    then_b.create("scf.yield", [then_b.create("arith.divsi", [xv, dv], [i32]).result])
    else_b.create("scf.yield", [else_b.create("arith.subi", [zero, xv], [i32]).result])
    body.create("memref.store", [choice.result, out, i])
    close(levels)
    b.create("func.return")
    _verifies(module)
    xs = np.array([7, -3, 9, 0, 100, -8, 5, 2**31 - 1], np.int32)
    ds = np.array([2, 1, 0, 3, -7, 2, -1, 1], np.int32)
    (got,) = _run(module, [xs, ds])
    with np.errstate(divide="ignore"):
        expected = np.where(xs > 0, np.fix(xs / np.where(ds == 0, 1, ds)) * (ds != 0), -xs)
    np.testing.assert_array_equal(got, expected.astype(np.int32))


@pytest.mark.parametrize("size", [16, 1 << 16])  # on the stack, and malloc'ed
def test_intermediate_buffers(size):
    t = MemRefType((size,), dtypes.float32)
    module, func, b = module_with("twostep", [t, t])
    x, out, _ = func.regions[0].blocks[0].arguments
    tmp = b.create("memref.alloc", [], [t]).result
    body, (i,), levels = nest(b, (size,))
    value = body.create("memref.load", [x, i], [F32]).result
    doubled = body.create("arith.mulf", [value, const(body, 2.0, F32)], [F32]).result
    body.create("memref.store", [doubled, tmp, i])
    close(levels)
    body, (i,), levels = nest(b, (size,))
    value = body.create("memref.load", [tmp, i], [F32]).result
    body.create("memref.store", [body.create("math.sqrt", [value], [F32]).result, out, i])
    close(levels)
    b.create("memref.dealloc", [tmp])
    b.create("func.return")
    _verifies(module)
    data = np.random.rand(size).astype(np.float32)
    np.testing.assert_allclose(_run(module, [data])[0], np.sqrt(2 * data), rtol=1e-6)


def test_bool_buffers_and_comparisons():
    """i1 memrefs are bytes (NumPy bools); cmpf's unordered predicates see NaN."""
    f, bool_t = MemRefType((6,), dtypes.float32), MemRefType((6,), dtypes.bool_)
    module, func, b = module_with("cmp", [f, f, bool_t, bool_t])
    x, y, mask, out, _ = func.regions[0].blocks[0].arguments
    body, (i,), levels = nest(b, (6,))
    xv = body.create("memref.load", [x, i], [F32]).result
    yv = body.create("memref.load", [y, i], [F32]).result
    m = body.create("memref.load", [mask, i], [I1]).result
    ult = body.create("arith.cmpf", [xv, yv], [I1], {"predicate": 11}).result
    body.create("memref.store", [body.create("arith.xori", [ult, m], [I1]).result, out, i])
    close(levels)
    b.create("func.return")
    xs = np.array([1, 2, np.nan, 4, 5, 0], np.float32)
    ys = np.array([2, 1, 0, np.nan, 5, 1], np.float32)
    masks = np.array([0, 1, 0, 1, 0, 1], bool)
    (got,) = _run(module, [xs, ys, masks])
    with np.errstate(invalid="ignore"):
        expected = ~(xs >= ys) ^ masks
    np.testing.assert_array_equal(got, expected)


def test_unknown_operation_is_reported():
    module = elementwise("bad", "math.cbrt", (4,))
    with pytest.raises(NotImplementedError, match="math.cbrt"):
        compile_loops(module)


# --- coalescing a loop with the loop nested in it ---------------------------------------------

def _loop_bounds(fn, *arrays) -> set[int]:
    """The constant upper bounds of the loops in the (unoptimised) LLVM IR of fn's graph."""
    import ember
    from ember.ir import parse

    loops = parse(ember.jit(fn).lower(*(ember.tensor(a) for a in arrays)).as_text("loops"))
    _, text = translate(loops)
    return {int(n) for n in re.findall(r"icmp slt i64 %\"?[\w.]+\"?, (\d+)", text)}


COALESCING = {
    # (function, shape, the bound of the one loop over the last two axes, or None)
    "sum over batch, height, width": (lambda x: x.sum((0, 2, 3)), (4, 3, 5, 7), 35),
    "elementwise": (lambda x: x * 2.0 + 1.0, (2, 3, 5, 7), 35),
    "transposed read": (lambda x: x.transpose(2, 3) + 1.0, (2, 3, 5, 5), None),
    "sliced rows": (lambda x: x[:, :, :, :4] * 2.0, (2, 3, 5, 7), None),
}


@pytest.mark.parametrize("name", list(COALESCING))
def test_loops_over_adjacent_full_axes_run_as_one(name):
    """A loop and the loop nested in it run as one loop over the product of their counts
    when their induction variables only index adjacent axes, the inner one in full (sums over
    height and width, elementwise ops on small images): the results do not change."""
    import ember

    fn, shape, bound = COALESCING[name]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    bounds = _loop_bounds(fn, x)
    assert (bound in bounds) if bound else not {20, 25, 35} & bounds, bounds
    got = ember.jit(fn)(ember.tensor(x)).numpy()
    np.testing.assert_allclose(got, fn(ember.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)


def test_row_buffers_start_away_from_their_input_rows():
    """A stack row buffer gets a page of slack and starts a quarter of a page past the input
    loaded beside it, modulo a page (rows of 4 KiB share their low 12 address bits, which x86
    cores compare to order loads after stores); results do not depend on where inputs start."""
    def softmax(v):
        return F.softmax(v, -1)

    x = ember.from_numpy(np.zeros((64, 1024), np.float32))
    loops = lower_to_loops(ember.jit(softmax, backend="llvm").lower(x).graphs["fused"][0])
    _, text = translate(loops)
    assert "alloca [2048 x float], align 64" in text  # the 1024-float row, and a page
    assert re.search(r"add i64 %\S+, 1024\n", text) and re.search(r"and i64 %\S+, 4032", text)
    rng = np.random.default_rng(0)
    base = rng.standard_normal(64 * 1024 + 1024).astype(np.float32)
    fn = ember.jit(softmax, backend="llvm")
    results = [fn(ember.from_numpy(base[o:o + 64 * 1024].reshape(64, 1024))).numpy()
               for o in (0, 16, 500, 1008)]
    for o, got in zip((0, 16, 500, 1008), results):
        rows = base[o:o + 64 * 1024].reshape(64, 1024).astype(np.float64)
        e = np.exp(rows - rows.max(-1, keepdims=True))
        np.testing.assert_allclose(got, e / e.sum(-1, keepdims=True), rtol=2e-6, atol=1e-9)
