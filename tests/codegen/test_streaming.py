"""Non-temporal stores: `streaming.apply` adds `!nontemporal` to exactly the marked vector
stores whose alignment is a whole vector, and a compiled streaming kernel uses them (x86)."""

import llvmlite.binding as llvm
import numpy as np
import pytest
from llvmlite import ir

import ember
from ember.codegen.llvm import streaming, target

VECTOR = ir.VectorType(ir.FloatType(), 16)


def _module(stores: list[tuple[bool, int]]) -> llvm.ModuleRef:
    """A function storing a vector to its pointer argument once per (marked, align) pair."""
    module = ir.Module(name="m")
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ir.PointerType()]), name="f")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    for i, (marked, align) in enumerate(stores):
        at = b.gep(fn.args[0], [ir.Constant(ir.IntType(64), 16 * i)], source_etype=ir.FloatType())
        store = b.store(ir.Constant(VECTOR, [float(i)] * 16), at, align=align)
        if marked:
            streaming.mark(store)
    b.ret_void()
    return target.parse(str(module))


def _nontemporal_stores(module: llvm.ModuleRef) -> list[str]:
    return [line for line in str(module).splitlines() if "!nontemporal" in line]


def test_marked_aligned_vector_store_becomes_nontemporal():
    lines = _nontemporal_stores(streaming.apply(_module([(True, 64), (False, 64), (True, 4)])))
    assert len(lines) == 1 and "zeroinitializer" in lines[0] and "align 64" in lines[0]


def test_module_without_marks_is_returned_as_is():
    module = _module([(False, 64)])
    assert streaming.apply(module) is module


@pytest.mark.skipif("x86" not in llvm.get_process_triple(), reason="x86 instructions")
def test_streaming_kernel_stores_nontemporal_and_fences():
    x = np.random.default_rng(0).standard_normal((2048, 1024), dtype=np.float32)
    fn = ember.jit(lambda t: t * 3.0)
    out = fn(ember.from_numpy(x)).numpy()
    np.testing.assert_array_equal(out, x * 3.0)
    asm = fn.lower(ember.from_numpy(x)).as_text("asm")
    assert "vmovntps" in asm or "movntps" in asm
    assert "sfence" in asm  # the parallel parts' stores are ordered before the caller reads


def test_results_start_on_a_cache_line():
    # the kernels' result arguments are declared `align 64`: the runtime must keep to it,
    # for fresh and for recycled result arrays alike
    fn = ember.jit(lambda t: (t * 2.0, t.sum(0)))
    x = ember.from_numpy(np.ones((33, 7), np.float32)[1:])  # an input that is not aligned
    fn(x)  # the first call traces: eager code computes its results
    for _ in range(4):
        for result in fn(x):
            assert result.numpy().ctypes.data % 64 == 0
