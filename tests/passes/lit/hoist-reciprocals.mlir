// RUN: ember-opt %s --split-input-file -p lower-to-loops,fuse-rows,hoist-reciprocals | filecheck %s

// Dividing a row by its sum: the sum is loaded and inverted once per row, before the loop over
// the row, which multiplies.
// CHECK-LABEL: func.func @normalize
// CHECK:           %[[S:.*]] = "memref.load"(%[[BUF:.*]], %{{.*}}, %0)
// CHECK-NEXT:      %[[ONE:.*]] = "arith.constant"() {value = 1.0 : f32}
// CHECK-NEXT:      %[[R:.*]] = "arith.divf"(%[[ONE]], %[[S]])
// CHECK-NEXT:      "scf.for"
// CHECK:             %[[X:.*]] = "memref.load"(%arg0
// CHECK-NEXT:        "arith.mulf"(%[[X]], %[[R]])
// CHECK-NOT:         "arith.divf"
// CHECK:         func.return
module {
  func.func @normalize(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
    %0 = "ember.fusion"(%arg0) ({
    ^bb0(%arg1: tensor<4x8xf32>):
      %1 = "ember.sum"(%arg1) {axes = array<i64: 1>, keepdim = true} : (tensor<4x8xf32>) -> tensor<4x1xf32>
      %2 = "ember.div"(%arg1, %1) : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
      "ember.yield"(%2) : (tensor<4x8xf32>) -> ()
    }) {kernel = "fused_sum_div_0"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    func.return %0 : tensor<4x8xf32>
  }
}

// -----

// A divisor that changes with the element stays a division.
// CHECK-LABEL: func.func @elementwise
// CHECK:         "arith.divf"(%{{.*}}, %{{.*}}) : (f32, f32) -> f32
// CHECK-NOT:     "arith.mulf"
module {
  func.func @elementwise(%arg0: tensor<4x8xf32>, %arg1: tensor<4x8xf32>) -> tensor<4x8xf32> {
    %0 = "ember.fusion"(%arg0, %arg1) ({
    ^bb0(%arg2: tensor<4x8xf32>, %arg3: tensor<4x8xf32>):
      %1 = "ember.div"(%arg2, %arg3) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
      "ember.yield"(%1) : (tensor<4x8xf32>) -> ()
    }) {kernel = "fused_div_0"} : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
    func.return %0 : tensor<4x8xf32>
  }
}
