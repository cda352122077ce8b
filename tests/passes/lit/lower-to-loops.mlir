// RUN: ember-opt %s --split-input-file -p lower-to-loops | filecheck %s

// A fused elementwise kernel is one loop nest: the broadcast operand is read at the inner index,
// nothing is stored but the result, which goes straight into the result memref.
// CHECK-LABEL: func.func @scale(%arg0: memref<2x3xf32>, %arg1: memref<3xf32>, %arg2: memref<2x3xf32>, %arg3: memref<4xi64>) attributes {ember.inputs = 2 : i64} {
// CHECK:         "scf.for"(%0, %1, %2) ({
// CHECK-NEXT:    ^bb0(%arg4: index):
// CHECK-NEXT:      "scf.for"(%0, %3, %2) ({
// CHECK-NEXT:      ^bb0(%arg5: index):
// CHECK-NEXT:        %4 = "memref.load"(%arg0, %arg4, %arg5)
// CHECK-NEXT:        %5 = "math.exp"(%4) : (f32) -> f32
// CHECK-NEXT:        %6 = "memref.load"(%arg1, %arg5) : (memref<3xf32>, index) -> f32
// CHECK-NEXT:        %7 = "arith.mulf"(%5, %6) : (f32, f32) -> f32
// CHECK-NEXT:        "memref.store"(%7, %arg2, %arg4, %arg5)
// CHECK-NEXT:        "scf.yield"() : () -> ()
// CHECK:         func.return
module {
  func.func @scale(%arg0: tensor<2x3xf32>, %arg1: tensor<3xf32>) -> tensor<2x3xf32> {
    %0 = "ember.fusion"(%arg0, %arg1) ({
    ^bb0(%arg2: tensor<2x3xf32>, %arg3: tensor<3xf32>):
      %1 = "ember.exp"(%arg2) : (tensor<2x3xf32>) -> tensor<2x3xf32>
      %2 = "ember.mul"(%1, %arg3) : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
      "ember.yield"(%2) : (tensor<2x3xf32>) -> ()
    }) {kernel = "fused_exp_mul_0"} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    func.return %0 : tensor<2x3xf32>
  }
}

// -----

// A reduction is a loop with an accumulator (iter_args), into a buffer of its own that the
// consumer's loop nest reads; the buffer is freed at the end.
// CHECK-LABEL: func.func @center
// CHECK:         %[[INIT:.*]] = "arith.constant"() {value = 0.0 : f32} : () -> f32
// CHECK:         %[[BUF:.*]] = "memref.alloc"() {operandSegmentSizes = array<i32: 0, 0>} : () -> memref<4xf32>
// CHECK:         "scf.for"
// CHECK:           %[[SUM:.*]] = "scf.for"(%{{.*}}, %{{.*}}, %{{.*}}, %[[INIT]]) ({
// CHECK-NEXT:      ^bb0(%{{.*}}: index, %[[ACC:.*]]: f32):
// CHECK:             "arith.addf"(%[[ACC]],
// CHECK:           }) : (index, index, index, f32) -> f32
// CHECK-NEXT:      "memref.store"(%[[SUM]], %[[BUF]],
// CHECK:         "memref.load"(%[[BUF]],
// CHECK:         "arith.subf"
// CHECK:         "memref.dealloc"(%[[BUF]]) : (memref<4xf32>) -> ()
// CHECK-NEXT:    func.return
module {
  func.func @center(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
    %0 = "ember.fusion"(%arg0) ({
    ^bb0(%arg1: tensor<4x8xf32>):
      %1 = "ember.sum"(%arg1) {axes = array<i64: 1>, keepdim = false} : (tensor<4x8xf32>) -> tensor<4xf32>
      %2 = "ember.reshape"(%1) {shape = array<i64: 4, 1>} : (tensor<4xf32>) -> tensor<4x1xf32>
      %3 = "ember.sub"(%arg1, %2) : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
      "ember.yield"(%3) : (tensor<4x8xf32>) -> ()
    }) {kernel = "fused_sum_sub_0"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    func.return %0 : tensor<4x8xf32>
  }
}

// -----

// matmul is an (i, j, k) nest marked for codegen; the k loop accumulates.
// CHECK-LABEL: func.func @mm(%arg0: memref<2x3xf32>, %arg1: memref<3x4xf32>, %arg2: memref<2x4xf32>, %arg3: memref<4xi64>)
// CHECK:         "scf.for"
// CHECK:             = "scf.for"({{.*}}) ({
// CHECK-NEXT:        ^bb0(%[[K:.*]]: index, %[[ACC:.*]]: f32):
// CHECK-NEXT:          "memref.load"(%arg0, %{{.*}}, %[[K]])
// CHECK-NEXT:          "memref.load"(%arg1, %[[K]], %{{.*}})
// CHECK-NEXT:          "arith.mulf"
// CHECK-NEXT:          "arith.addf"(%[[ACC]],
// CHECK:         }) {ember.kernel = "matmul"} : (index, index, index) -> ()
module {
  func.func @mm(%arg0: tensor<2x3xf32>, %arg1: tensor<3x4xf32>) -> tensor<2x4xf32> {
    %0 = "ember.matmul"(%arg0, %arg1) : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
    func.return %0 : tensor<2x4xf32>
  }
}

// -----

// gather checks each index: the first out-of-range one is written to the status buffer with
// the op's position in ember.error_ops, and a safe index is used instead.
// CHECK-LABEL: func.func @pick
// CHECK-SAME:    attributes {ember.error_ops = "gather", ember.inputs = 2 : i64}
// CHECK:         %[[BAD:.*]] = "arith.ori"
// CHECK:         %[[STATUS:.*]] = "memref.load"(%arg3, %{{.*}}) : (memref<4xi64>, index) -> i64
// CHECK:         "scf.if"
// CHECK:           "memref.store"(%{{.*}}, %arg3, %{{.*}}) : (i64, memref<4xi64>, index) -> ()
// CHECK:         "arith.select"(%[[BAD]],
// CHECK:         "arith.index_cast"
module {
  func.func @pick(%arg0: tensor<5xf32>, %arg1: tensor<3xi64>) -> tensor<3xf32> {
    %0 = "ember.gather"(%arg0, %arg1) {axis = 0 : i64} : (tensor<5xf32>, tensor<3xi64>) -> tensor<3xf32>
    func.return %0 : tensor<3xf32>
  }
}

// -----

// Movement ops outside fusions are views: the permute becomes index order in the reader.
// CHECK-LABEL: func.func @transpose_exp
// CHECK-NOT:     memref.alloc
// CHECK:         ^bb0(%[[I:.*]]: index):
// CHECK:         ^bb0(%[[J:.*]]: index):
// CHECK-NEXT:      "memref.load"(%arg0, %[[J]], %[[I]]) : (memref<3x2xf32>, index, index) -> f32
// CHECK-NEXT:      "math.exp"
module {
  func.func @transpose_exp(%arg0: tensor<3x2xf32>) -> tensor<2x3xf32> {
    %0 = "ember.permute"(%arg0) {dims = array<i64: 1, 0>} : (tensor<3x2xf32>) -> tensor<2x3xf32>
    %1 = "ember.exp"(%0) : (tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return %1 : tensor<2x3xf32>
  }
}
