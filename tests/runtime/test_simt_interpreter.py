"""The SIMT interpreter of GPU-mapped loops IR: thread ids, xor shuffles within warps,
per-block workgroup memory, masked branches, and errors for what it cannot run."""

import numpy as np
import pytest

from ember.ir import parse
from ember.runtime.loops_interpreter import run_loops

# Two blocks of 64 threads: out[b * 64 + t] = x[partner] + shared value of the block, where
# partner = t ^ 3 within the block (a shuffle), and thread 0 of each block writes its block
# id to workgroup memory before a barrier. Threads with odd ids add 100 (a divergent branch).
KERNEL = """module attributes {gpu.container_module = unit} {
  "gpu.module"() ({
    "gpu.func"() ({
    ^bb0(%arg0: memref<128xf32>, %arg1: memref<128xf32>, %arg2: memref<32xf32, 3>):
      %0 = "arith.constant"() {value = 32 : i32} : () -> i32
      %1 = "arith.constant"() {value = 3 : i32} : () -> i32
      %2 = "arith.constant"() {value = 0 : index} : () -> index
      %3 = "arith.constant"() {value = 64 : index} : () -> index
      %4 = "arith.constant"() {value = 2 : index} : () -> index
      %5 = "arith.constant"() {value = 100.0 : f32} : () -> f32
      %6 = "gpu.thread_id"() {dimension = #gpu<dim x>} : () -> index
      %7 = "gpu.block_id"() {dimension = #gpu<dim x>} : () -> index
      %8 = "arith.muli"(%7, %3) : (index, index) -> index
      %9 = "arith.addi"(%8, %6) : (index, index) -> index
      %10 = "memref.load"(%arg0, %9) : (memref<128xf32>, index) -> f32
      %11:2 = "gpu.shuffle"(%10, %1, %0) {mode = #gpu<shuffle_mode xor>} : (f32, i32, i32) -> (f32, i1)
      %12 = "arith.cmpi"(%6, %2) {predicate = 0 : i64} : (index, index) -> i1
      "scf.if"(%12) ({
        %13 = "arith.index_cast"(%7) : (index) -> i64
        %14 = "arith.sitofp"(%13) : (i64) -> f32
        "memref.store"(%14, %arg2, %2) : (f32, memref<32xf32, 3>, index) -> ()
        "scf.yield"() : () -> ()
      }, {
        "scf.yield"() : () -> ()
      }) : (i1) -> ()
      "gpu.barrier"() : () -> ()
      %15 = "memref.load"(%arg2, %2) : (memref<32xf32, 3>, index) -> f32
      %16 = "arith.addf"(%11#0, %15) : (f32, f32) -> f32
      %17 = "arith.remsi"(%6, %4) : (index, index) -> index
      %18 = "arith.cmpi"(%17, %2) {predicate = 1 : i64} : (index, index) -> i1
      %19 = "scf.if"(%18) ({
        %20 = "arith.addf"(%16, %5) : (f32, f32) -> f32
        "scf.yield"(%20) : (f32) -> ()
      }, {
        "scf.yield"(%16) : (f32) -> ()
      }) : (i1) -> f32
      "memref.store"(%19, %arg1, %9) : (f32, memref<128xf32>, index) -> ()
      "gpu.return"() : () -> ()
    }) {function_type = (memref<128xf32>, memref<128xf32>) -> (), gpu.kernel = unit, sym_name = "k_0", workgroup_attributions = 1 : i64} : () -> ()
  }) {sym_name = "kernels"} : () -> ()
  func.func @k(%arg0: memref<128xf32>, %arg1: memref<128xf32>, %arg2: memref<4xi64>) {
    %0 = "arith.constant"() {value = 1 : index} : () -> index
    %1 = "arith.constant"() {value = 2 : index} : () -> index
    %2 = "arith.constant"() {value = 64 : index} : () -> index
    "gpu.launch_func"(%1, %0, %0, %2, %0, %0, %arg0, %arg1) {kernel = @kernels::@k_0, operandSegmentSizes = array<i32: 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 0>} : (index, index, index, index, index, index, memref<128xf32>, memref<128xf32>) -> ()
    func.return
  }
}"""


def test_threads_shuffles_workgroup_memory_and_branches():
    x = np.arange(128, dtype=np.float32)
    (out,) = run_loops(parse(KERNEL), [x])
    lane = np.arange(128)
    block, thread = lane // 64, lane % 64
    expected = x[block * 64 + (thread ^ 3)] + block + 100 * (thread % 2)
    np.testing.assert_array_equal(out, expected.astype(np.float32))


def test_barrier_in_divergent_code_is_reported():
    divergent = KERNEL.replace('''      "gpu.barrier"() : () -> ()
''', "").replace('''        "memref.store"(%14, %arg2, %2) : (f32, memref<32xf32, 3>, index) -> ()
''', '''        "memref.store"(%14, %arg2, %2) : (f32, memref<32xf32, 3>, index) -> ()
        "gpu.barrier"() : () -> ()
''')
    with pytest.raises(NotImplementedError, match="gpu.barrier in divergent code"):
        run_loops(parse(divergent), [np.zeros(128, np.float32)])
