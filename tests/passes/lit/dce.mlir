// RUN: ember-opt %s --split-input-file -p dce | filecheck %s

// A dead chain goes entirely; live ops stay in order.
// CHECK-LABEL: func.func @dead_chain
// CHECK-NEXT:    %0 = "ember.exp"(%arg0)
// CHECK-NEXT:    func.return %0
module {
  func.func @dead_chain(%arg0: tensor<4xf32>) -> tensor<4xf32> {
    %0 = "ember.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
    %1 = "ember.exp"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
    %2 = "ember.mul"(%0, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %3 = "ember.sum"(%2) {axes = array<i64: 0>, keepdim = false} : (tensor<4xf32>) -> tensor<f32>
    func.return %1 : tensor<4xf32>
  }
}

// -----

// Negative: everything reaching the return stays, even through many uses.
// CHECK-LABEL: func.func @all_live
// CHECK-NEXT:    "ember.neg"
// CHECK-NEXT:    "ember.add"
// CHECK-NEXT:    func.return
module {
  func.func @all_live(%arg0: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
    %0 = "ember.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
    %1 = "ember.add"(%0, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    func.return %0, %1 : tensor<4xf32>, tensor<4xf32>
  }
}

// -----

// Unused constants and random numbers are dead too.
// CHECK-LABEL: func.func @dead_constants
// CHECK-NEXT:    func.return
module {
  func.func @dead_constants(%arg0: tensor<i64>) {
    %0 = "ember.full"() {dtype = "float32", shape = array<i64: 2>, value = 1.0 : f64} : () -> tensor<2xf32>
    %1 = "ember.random_uniform"(%arg0, %arg0) {dtype = "float32", shape = array<i64: 3>} : (tensor<i64>, tensor<i64>) -> tensor<3xf32>
    func.return
  }
}
