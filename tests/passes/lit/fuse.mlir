// RUN: ember-opt %s --split-input-file -p fuse | filecheck %s

// Softmax: both reductions and their elementwise producers and consumers make one kernel; the
// constant is cloned into it.
// CHECK-LABEL: func.func @softmax
// CHECK-NEXT:    %0 = "ember.fusion"(%arg0) ({
// CHECK-NEXT:    ^bb0(%arg1: tensor<4x8xf32>):
// CHECK-NEXT:      "ember.max"(%arg1)
// CHECK-NEXT:      "ember.sub"
// CHECK-NEXT:      "ember.exp"
// CHECK-NEXT:      "ember.sum"
// CHECK-NEXT:      "ember.full"
// CHECK-NEXT:      "ember.div"
// CHECK-NEXT:      %7 = "ember.mul"
// CHECK-NEXT:      "ember.yield"(%7) : (tensor<4x8xf32>) -> ()
// CHECK-NEXT:    }) {kernel = "fused_max_mul_0"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
// CHECK-NEXT:    func.return %0
module {
  func.func @softmax(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
    %0 = "ember.max"(%arg0) {axes = array<i64: 1>, keepdim = true} : (tensor<4x8xf32>) -> tensor<4x1xf32>
    %1 = "ember.sub"(%arg0, %0) : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
    %2 = "ember.exp"(%1) : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %3 = "ember.sum"(%2) {axes = array<i64: 1>, keepdim = true} : (tensor<4x8xf32>) -> tensor<4x1xf32>
    %4 = "ember.full"() {dtype = "float32", shape = array<i64>, value = 1.0 : f64} : () -> tensor<f32>
    %5 = "ember.div"(%4, %3) : (tensor<f32>, tensor<4x1xf32>) -> tensor<4x1xf32>
    %6 = "ember.mul"(%2, %5) : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
    func.return %6 : tensor<4x8xf32>
  }
}

// -----

// A matmul takes its bias add and activation as epilogue; the second matmul starts a new
// kernel, which takes the residual add.
// CHECK-LABEL: func.func @two_matmuls
// CHECK:         %0 = "ember.fusion"(%arg0, %arg1, %arg2)
// CHECK:           "ember.matmul"
// CHECK:           "ember.tanh"
// CHECK-NOT:       "ember.matmul"
// CHECK:         {kernel = "fused_matmul_tanh_0"}
// CHECK-NEXT:    %4 = "ember.fusion"(%0, %arg1, %arg0)
// CHECK:           "ember.matmul"
// CHECK:           "ember.add"
// CHECK-NOT:       "ember.matmul"
// CHECK:         {kernel = "fused_matmul_add_1"}
// CHECK-NEXT:    func.return %4
module {
  func.func @two_matmuls(%arg0: tensor<4x8xf32>, %arg1: tensor<8x8xf32>, %arg2: tensor<8xf32>) -> tensor<4x8xf32> {
    %0 = "ember.matmul"(%arg0, %arg1) : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
    %1 = "ember.add"(%0, %arg2) : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
    %2 = "ember.tanh"(%1) : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %3 = "ember.matmul"(%2, %arg1) : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
    %4 = "ember.add"(%3, %arg0) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
    func.return %4 : tensor<4x8xf32>
  }
}

// -----

// The reduction %4 reads the matmul's kernel, which reads %1: fusing %4 (or %3) into the
// kernel of %1 would make that kernel both feed and wait for the matmul, so they stay apart.
// CHECK-LABEL: func.func @no_cycle
// CHECK:         %0 = "ember.fusion"(%arg0)
// CHECK-NEXT:    ^bb0
// CHECK-NEXT:      "ember.sum"
// CHECK-NEXT:      "ember.sub"
// CHECK-NEXT:      "ember.yield"
// CHECK:         %3 = "ember.fusion"(%0, %arg1)
// CHECK-NOT:       "ember.sum"
// CHECK:         {kernel = "fused_matmul_add_1"}
// CHECK-NEXT:    %6 = "ember.sum"(%3)
// CHECK-NEXT:    func.return %6
module {
  func.func @no_cycle(%arg0: tensor<4x4xf32>, %arg1: tensor<4x4xf32>) -> tensor<4xf32> {
    %0 = "ember.sum"(%arg0) {axes = array<i64: 1>, keepdim = true} : (tensor<4x4xf32>) -> tensor<4x1xf32>
    %1 = "ember.sub"(%arg0, %0) : (tensor<4x4xf32>, tensor<4x1xf32>) -> tensor<4x4xf32>
    %2 = "ember.matmul"(%1, %arg1) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %3 = "ember.add"(%1, %2) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %4 = "ember.sum"(%3) {axes = array<i64: 1>, keepdim = false} : (tensor<4x4xf32>) -> tensor<4xf32>
    func.return %4 : tensor<4xf32>
  }
}

// -----

// Sibling fusion: two independent chains over the same 4x8 space share one kernel; a single
// op over another space stays a plain op.
// CHECK-LABEL: func.func @siblings
// CHECK:         %0:2 = "ember.fusion"(%arg0, %arg1)
// CHECK-NOT:       "ember.sqrt"
// CHECK:           "ember.yield"(%2, %4)
// CHECK:         {kernel = "fused_exp_abs_0"}
// CHECK-NEXT:    %5 = "ember.sqrt"(%arg2)
// CHECK-NEXT:    func.return %0#0, %0#1, %5
module {
  func.func @siblings(%arg0: tensor<4x8xf32>, %arg1: tensor<4x8xf32>, %arg2: tensor<3xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<3xf32>) {
    %0 = "ember.exp"(%arg0) : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %1 = "ember.neg"(%0) : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %2 = "ember.tanh"(%arg1) : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %3 = "ember.abs"(%2) : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %4 = "ember.sqrt"(%arg2) : (tensor<3xf32>) -> tensor<3xf32>
    func.return %1, %3, %4 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<3xf32>
  }
}
