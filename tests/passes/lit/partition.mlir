// RUN: ember-opt %s -p partition | filecheck %s

// s = sum(exp(x * w)): the backward read exp(x * w), x and w. Saving x and w is enough; the
// backward recomputes x * w and its exp before anything else.
// CHECK-LABEL: func.func @f(%arg0: tensor<8x16xf32>, %arg1: tensor<8x16xf32>)
// CHECK-SAME:    -> (tensor<f32>, tensor<8x16xf32>, tensor<8x16xf32>)
// CHECK-SAME:    attributes {ember.backward = "f_backward", ember.residuals = 2 : i64}
// CHECK:         func.return %2, %arg0, %arg1 :
// CHECK-LABEL: func.func @f_backward(%arg0: tensor<f32>, %arg1: tensor<8x16xf32>,
// CHECK-SAME:    %arg2: tensor<8x16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>)
// CHECK-SAME:    attributes {ember.residual_args = 2 : i64}
// CHECK-NEXT:    %0 = "ember.mul"(%arg1, %arg2)
// CHECK-NEXT:    %1 = "ember.exp"(%0)
// CHECK-NEXT:    %2 = "ember.broadcast_to"(%arg0)
// CHECK-NEXT:    %3 = "ember.mul"(%2, %1)
// CHECK-NEXT:    %4 = "ember.mul"(%3, %arg2)
// CHECK-NEXT:    %5 = "ember.mul"(%3, %arg1)
// CHECK-NEXT:    func.return %4, %5

// y = exp(x @ w) and z = sigmoid(x @ w) with a small x and w: recomputing the matmul from x
// and w would save the fewest bytes, but a matmul is never recomputed. Its output is saved
// instead of y and z, and the backward recomputes exp and sigmoid from it.
// CHECK-LABEL: func.func @g(%arg0: tensor<32x2xf32>, %arg1: tensor<2x32xf32>)
// CHECK-SAME:    attributes {ember.backward = "g_backward", ember.residuals = 1 : i64}
// CHECK:         func.return %1, %0 : tensor<32x32xf32>, tensor<32x32xf32>
// CHECK-LABEL: func.func @g_backward(%arg0: tensor<32x32xf32>, %arg1: tensor<32x32xf32>)
// CHECK-NEXT:    %0 = "ember.exp"(%arg1)
// CHECK-NEXT:    %1 = "ember.sigmoid"(%arg1)
// CHECK-NEXT:    %2 = "ember.mul"(%arg0, %0)
// CHECK-NEXT:    %3 = "ember.mul"(%2, %1)
// CHECK-NEXT:    func.return %3

module {
  func.func @f(%arg0: tensor<8x16xf32>, %arg1: tensor<8x16xf32>) -> (tensor<f32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>) attributes {ember.backward = "f_backward", ember.residuals = 3 : i64} {
    %0 = "ember.mul"(%arg0, %arg1) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %1 = "ember.exp"(%0) : (tensor<8x16xf32>) -> tensor<8x16xf32>
    %2 = "ember.sum"(%1) {axes = array<i64: 0, 1>, keepdim = false} : (tensor<8x16xf32>) -> tensor<f32>
    func.return %2, %1, %arg0, %arg1 : tensor<f32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>
  }
  func.func @f_backward(%arg0: tensor<f32>, %arg1: tensor<8x16xf32>, %arg2: tensor<8x16xf32>, %arg3: tensor<8x16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) attributes {ember.residual_args = 3 : i64} {
    %0 = "ember.broadcast_to"(%arg0) {shape = array<i64: 8, 16>} : (tensor<f32>) -> tensor<8x16xf32>
    %1 = "ember.mul"(%0, %arg1) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %2 = "ember.mul"(%1, %arg3) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %3 = "ember.mul"(%1, %arg2) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    func.return %2, %3 : tensor<8x16xf32>, tensor<8x16xf32>
  }
  func.func @g(%arg0: tensor<32x2xf32>, %arg1: tensor<2x32xf32>) -> (tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) attributes {ember.backward = "g_backward", ember.residuals = 2 : i64} {
    %0 = "ember.matmul"(%arg0, %arg1) : (tensor<32x2xf32>, tensor<2x32xf32>) -> tensor<32x32xf32>
    %1 = "ember.exp"(%0) : (tensor<32x32xf32>) -> tensor<32x32xf32>
    %2 = "ember.sigmoid"(%0) : (tensor<32x32xf32>) -> tensor<32x32xf32>
    func.return %1, %1, %2 : tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>
  }
  func.func @g_backward(%arg0: tensor<32x32xf32>, %arg1: tensor<32x32xf32>, %arg2: tensor<32x32xf32>) -> tensor<32x32xf32> attributes {ember.residual_args = 2 : i64} {
    %0 = "ember.mul"(%arg0, %arg1) : (tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<32x32xf32>
    %1 = "ember.mul"(%0, %arg2) : (tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<32x32xf32>
    func.return %1 : tensor<32x32xf32>
  }
}
