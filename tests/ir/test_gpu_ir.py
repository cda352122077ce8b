"""GPU-mapped loop IR text (the `gpu` dialect as `map-to-gpu` prints it): unit attributes,
nested symbol references, dialect attributes and memory spaces round-trip, and the loops
verifier checks the gpu ops, rejecting broken ones with a message naming the op."""

import pytest

from ember.ir import parse
from ember.ir.attributes import (UNIT, DialectAttr, SymbolRef, parse_attribute, parse_type,
                                 print_attribute)
from ember.ir.loops_verifier import is_loop_level, verify_loops
from ember.ir.mlir_tools import find_mlir_opt, mlir_opt_plain
from ember.ir.syntax import Cursor
from ember.ir.types import MemRefType
from ember.ir.verifier import VerifyError

MAPPED = """module attributes {gpu.container_module = unit} {
  "gpu.module"() ({
    "gpu.func"() ({
    ^bb0(%arg0: memref<64xf32>, %arg1: memref<f32>, %arg2: memref<32xf32, 3>):
      %0 = "arith.constant"() {value = 32 : i32} : () -> i32
      %1 = "arith.constant"() {value = 1 : i32} : () -> i32
      %2 = "arith.constant"() {value = 0 : index} : () -> index
      %3 = "gpu.thread_id"() {dimension = #gpu<dim x>} : () -> index
      %4 = "memref.load"(%arg0, %3) : (memref<64xf32>, index) -> f32
      %5:2 = "gpu.shuffle"(%4, %1, %0) {mode = #gpu<shuffle_mode xor>} : (f32, i32, i32) -> (f32, i1)
      "memref.store"(%5#0, %arg2, %2) : (f32, memref<32xf32, 3>, index) -> ()
      "gpu.barrier"() : () -> ()
      %6 = "memref.load"(%arg2, %2) : (memref<32xf32, 3>, index) -> f32
      "memref.store"(%6, %arg1) : (f32, memref<f32>) -> ()
      "gpu.return"() : () -> ()
    }) {function_type = (memref<64xf32>, memref<f32>) -> (), gpu.kernel = unit, known_block_size = array<i32: 64, 1, 1>, sym_name = "k_0", workgroup_attributions = 1 : i64} : () -> ()
  }) {sym_name = "kernels"} : () -> ()
  func.func @k(%arg0: memref<64xf32>, %arg1: memref<f32>, %arg2: memref<4xi64>) {
    %0 = "arith.constant"() {value = 1 : index} : () -> index
    %1 = "arith.constant"() {value = 64 : index} : () -> index
    %2 = "gpu.alloc"() {operandSegmentSizes = array<i32: 0, 0, 0>} : () -> memref<f32>
    "gpu.launch_func"(%0, %0, %0, %1, %0, %0, %arg0, %2) {kernel = @kernels::@k_0, operandSegmentSizes = array<i32: 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 0>} : (index, index, index, index, index, index, memref<64xf32>, memref<f32>) -> ()
    "gpu.dealloc"(%2) : (memref<f32>) -> ()
    func.return
  }
}"""


def test_mapped_module_round_trips_and_verifies():
    module = parse(MAPPED)
    assert str(module) == MAPPED
    assert is_loop_level(module)
    verify_loops(module)
    if find_mlir_opt() is not None:
        mlir_opt_plain(MAPPED)


@pytest.mark.parametrize("value, text", [
    (UNIT, "unit"), (SymbolRef(("kernels", "k0")), "@kernels::@k0"),
    (SymbolRef(("a b",)), '@"a b"'), (DialectAttr("#gpu<dim x>"), "#gpu<dim x>"),
    (DialectAttr("#a<b<c>, d>"), "#a<b<c>, d>"),
])
def test_gpu_attributes_round_trip(value, text):
    assert print_attribute(value) == text
    back = parse_attribute(text)
    assert back == value and type(back) is type(value)


def test_memory_space_is_part_of_the_memref_type():
    shared = parse_type(Cursor("memref<32xf32, 3>"))
    assert shared == MemRefType((32,), shared.dtype, 3) != MemRefType((32,), shared.dtype)
    assert str(shared) == "memref<32xf32, 3>"
    with pytest.raises(Exception, match="memory space"):
        parse_type(Cursor("tensor<32xf32, 3>"))


@pytest.mark.parametrize("old, new, message", [
    ("memref<32xf32, 3>", "memref<32xf32>", "gpu.func.*memory space 3"),
    ("gpu.kernel = unit, ", "", "gpu.func.*kernel"),
    ('(f32, i32, i32) -> (f32, i1)', '(f32, i32, i32) -> (f32, i32)', "gpu.shuffle"),
    ('"gpu.barrier"() : () -> ()', '"gpu.barrier"(%2) : (index) -> ()', "gpu.barrier"),
    ("kernel = @kernels::@k_0", 'kernel = "k_0"', "gpu.launch_func.*kernel symbol"),
])
def test_verifier_rejects_broken_gpu_ops(old, new, message):
    assert old in MAPPED
    module = parse(MAPPED.replace(old, new))
    with pytest.raises(VerifyError, match=message):
        verify_loops(module)
