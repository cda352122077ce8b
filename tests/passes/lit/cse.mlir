// RUN: ember-opt %s --split-input-file -p cse | filecheck %s

// Same name, operands and attributes: one op stays, its users are rewired.
// CHECK-LABEL: func.func @duplicates
// CHECK-NEXT:    %0 = "ember.exp"(%arg0)
// CHECK-NEXT:    %1 = "ember.sum"(%0) {axes = array<i64: 0>, keepdim = false}
// CHECK-NEXT:    %2 = "ember.mul"(%1, %1)
// CHECK-NEXT:    func.return %2
module {
  func.func @duplicates(%arg0: tensor<2x3xf32>) -> tensor<3xf32> {
    %0 = "ember.exp"(%arg0) : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %1 = "ember.exp"(%arg0) : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %2 = "ember.sum"(%0) {axes = array<i64: 0>, keepdim = false} : (tensor<2x3xf32>) -> tensor<3xf32>
    %3 = "ember.sum"(%1) {axes = array<i64: 0>, keepdim = false} : (tensor<2x3xf32>) -> tensor<3xf32>
    %4 = "ember.mul"(%2, %3) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    func.return %4 : tensor<3xf32>
  }
}

// -----

// Negative: different attributes (axes, a float's sign, an array's dtype) keep ops apart.
// CHECK-LABEL: func.func @different_attributes
// CHECK-COUNT-2: "ember.sum"
// CHECK-COUNT-2: "ember.full"
// CHECK-COUNT-2: "ember.constant"
module {
  func.func @different_attributes(%arg0: tensor<2x2xf32>) -> (tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xi32>, tensor<2xi64>) {
    %0 = "ember.sum"(%arg0) {axes = array<i64: 0>, keepdim = false} : (tensor<2x2xf32>) -> tensor<2xf32>
    %1 = "ember.sum"(%arg0) {axes = array<i64: 1>, keepdim = false} : (tensor<2x2xf32>) -> tensor<2xf32>
    %2 = "ember.full"() {dtype = "float32", shape = array<i64: 2>, value = 0.0 : f64} : () -> tensor<2xf32>
    %3 = "ember.full"() {dtype = "float32", shape = array<i64: 2>, value = -0.0 : f64} : () -> tensor<2xf32>
    %4 = "ember.constant"() {value = dense<[1, 2]> : tensor<2xi32>} : () -> tensor<2xi32>
    %5 = "ember.constant"() {value = dense<[1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
    func.return %0, %1, %2, %3, %4, %5 : tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xi32>, tensor<2xi64>
  }
}

// -----

// Equal constant arrays merge; random_uniform is pure given seed and offset, so it merges.
// CHECK-LABEL: func.func @constants_and_random
// CHECK-NEXT:    %0 = "ember.constant"()
// CHECK-NEXT:    %1 = "ember.random_uniform"(%arg0, %arg1)
// CHECK-NEXT:    func.return %0, %0, %1, %1
module {
  func.func @constants_and_random(%arg0: tensor<i64>, %arg1: tensor<i64>) -> (tensor<2xf32>, tensor<2xf32>, tensor<3xf32>, tensor<3xf32>) {
    %0 = "ember.constant"() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %1 = "ember.constant"() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %2 = "ember.random_uniform"(%arg0, %arg1) {dtype = "float32", shape = array<i64: 3>} : (tensor<i64>, tensor<i64>) -> tensor<3xf32>
    %3 = "ember.random_uniform"(%arg0, %arg1) {dtype = "float32", shape = array<i64: 3>} : (tensor<i64>, tensor<i64>) -> tensor<3xf32>
    func.return %0, %1, %2, %3 : tensor<2xf32>, tensor<2xf32>, tensor<3xf32>, tensor<3xf32>
  }
}

// -----

// Negative: identical ops in different functions stay (functions are isolated).
// CHECK-LABEL: func.func @f
// CHECK-NEXT:    "ember.neg"
// CHECK-LABEL: func.func @g
// CHECK-NEXT:    "ember.neg"
module {
  func.func @f(%arg0: tensor<2xf32>) -> tensor<2xf32> {
    %0 = "ember.neg"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>
    func.return %0 : tensor<2xf32>
  }
  func.func @g(%arg0: tensor<2xf32>) -> tensor<2xf32> {
    %0 = "ember.neg"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>
    func.return %0 : tensor<2xf32>
  }
}
