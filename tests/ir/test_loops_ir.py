"""Loop-level IR text: index/scalar/memref types and typed attributes round-trip, and the loops
verifier rejects broken IR with a message naming the op."""

import pytest

from ember.ir import parse
from ember.ir.attributes import I32Array, ScalarAttr, parse_attribute, print_attribute
from ember.ir.loops_verifier import is_loop_level, verify_loops
from ember.ir.mlir_tools import find_mlir_opt, mlir_opt_plain
from ember.ir.types import INDEX, ScalarType
from ember.ir.verifier import VerifyError

KERNEL = """module {
  func.func @k(%arg0: memref<4xf32>, %arg1: memref<f32>, %arg2: memref<4xi64>) {
    %0 = "arith.constant"() {value = 0 : index} : () -> index
    %1 = "arith.constant"() {value = 4 : index} : () -> index
    %2 = "arith.constant"() {value = 1 : index} : () -> index
    %3 = "arith.constant"() {value = 0.0 : f32} : () -> f32
    %4 = "memref.alloc"() {operandSegmentSizes = array<i32: 0, 0>} : () -> memref<4xf32>
    %5 = "scf.for"(%0, %1, %2, %3) ({
    ^bb0(%arg3: index, %arg4: f32):
      %6 = "memref.load"(%arg0, %arg3) : (memref<4xf32>, index) -> f32
      %7 = "arith.addf"(%arg4, %6) : (f32, f32) -> f32
      "scf.yield"(%7) : (f32) -> ()
    }) : (index, index, index, f32) -> f32
    "memref.store"(%5, %arg1) : (f32, memref<f32>) -> ()
    "memref.dealloc"(%4) : (memref<4xf32>) -> ()
    func.return
  }
}"""


def test_kernel_round_trips_and_verifies():
    module = parse(KERNEL)
    assert str(module) == KERNEL
    assert is_loop_level(module)
    verify_loops(module)
    if find_mlir_opt() is not None:
        mlir_opt_plain(KERNEL)


@pytest.mark.parametrize("value, text", [
    (ScalarAttr(4, INDEX), "4 : index"), (ScalarAttr(0.5, ScalarType("f32")), "0.5 : f32"),
    (ScalarAttr(-7, ScalarType("i32")), "-7 : i32"), (I32Array((0, 1)), "array<i32: 0, 1>"),
    (ScalarAttr(float("-inf"), ScalarType("f32")), "0xFF800000 : f32"),
])
def test_typed_attributes_round_trip(value, text):
    assert print_attribute(value) == text
    back = parse_attribute(text)
    assert type(back) is type(value) and print_attribute(back) == text


@pytest.mark.parametrize("old, new, message", [
    ('"scf.yield"(%7) : (f32) -> ()', '"scf.yield"() : () -> ()', "scf.for.*scf.yield"),
    ('(%arg0, %arg3) : (memref<4xf32>, index)', '(%arg0) : (memref<4xf32>)',
     "memref.load.*one index per dimension"),
    ('"arith.addf"(%arg4, %6) : (f32, f32) -> f32', '"arith.addi"(%arg4, %6) : (f32, f32) -> f32',
     "arith.addi.*int"),
    ('"memref.dealloc"(%4)', '"memref.free"(%4)', "memref.free.*unknown operation"),
])
def test_verifier_rejects_broken_kernels(old, new, message):
    module = parse(KERNEL.replace(old, new))
    with pytest.raises(VerifyError, match=message):
        verify_loops(module)


def test_verifier_rejects_a_value_used_outside_its_loop_body():
    module = parse(KERNEL)
    ops = list(module.walk())
    load = next(op for op in ops if op.name == "memref.load")
    store = next(op for op in ops if op.name == "memref.store")
    store.operands[0] = load.result  # defined in the loop body, used after the loop
    with pytest.raises(VerifyError, match="memref.store.*not in scope"):
        verify_loops(module)
