// RUN: ember-opt %s --split-input-file -p fold | filecheck %s
// RUN: ember-opt %s --split-input-file -p "fold{max-elements=2}" | filecheck %s --check-prefix=SMALL

// Chains of ops on constants fold to one constant; the inputs go away.
// CHECK-LABEL: func.func @chain
// CHECK-NEXT:    %0 = "ember.constant"() {value = dense<[3.0, 4.0, 5.0]> : tensor<3xf32>} : () -> tensor<3xf32>
// CHECK-NEXT:    func.return %0
// SMALL-LABEL: func.func @chain
// SMALL:         "ember.add"
module {
  func.func @chain() -> tensor<3xf32> {
    %0 = "ember.iota"() {axis = 0 : i64, dtype = "float32", shape = array<i64: 3>} : () -> tensor<3xf32>
    %1 = "ember.full"() {dtype = "float32", shape = array<i64: 3>, value = 1.5 : f64} : () -> tensor<3xf32>
    %2 = "ember.mul"(%1, %1) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    %3 = "ember.sub"(%2, %0) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    %4 = "ember.constant"() {value = dense<[0.75, 2.75, 4.75]> : tensor<3xf32>} : () -> tensor<3xf32>
    %5 = "ember.add"(%3, %4) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    func.return %5 : tensor<3xf32>
  }
}

// -----

// Reductions and casts fold too; an op with a non-constant operand does not.
// CHECK-LABEL: func.func @partial
// CHECK-NEXT:    %0 = "ember.constant"() {value = dense<6> : tensor<i64>} : () -> tensor<i64>
// CHECK-NEXT:    %1 = "ember.add"(%arg0, %0) : (tensor<i64>, tensor<i64>) -> tensor<i64>
// CHECK-NEXT:    func.return %1
module {
  func.func @partial(%arg0: tensor<i64>) -> tensor<i64> {
    %0 = "ember.full"() {dtype = "float32", shape = array<i64: 2, 3>, value = 1.0 : f64} : () -> tensor<2x3xf32>
    %1 = "ember.cast"(%0) {dtype = "int32"} : (tensor<2x3xf32>) -> tensor<2x3xi32>
    %2 = "ember.sum"(%1) {axes = array<i64: 0, 1>, keepdim = false} : (tensor<2x3xi32>) -> tensor<i64>
    %3 = "ember.add"(%arg0, %2) : (tensor<i64>, tensor<i64>) -> tensor<i64>
    func.return %3 : tensor<i64>
  }
}

// -----

// Negative: results bigger than max-elements (default 1024) are not folded.
// CHECK-LABEL: func.func @too_big
// CHECK-NEXT:    "ember.full"
// CHECK-NEXT:    "ember.exp"
// CHECK-NEXT:    func.return
module {
  func.func @too_big() -> tensor<64x64xf32> {
    %0 = "ember.full"() {dtype = "float32", shape = array<i64: 64, 64>, value = 1.0 : f64} : () -> tensor<64x64xf32>
    %1 = "ember.exp"(%0) : (tensor<64x64xf32>) -> tensor<64x64xf32>
    func.return %1 : tensor<64x64xf32>
  }
}

// -----

// Negative: random numbers are never folded, even from constant seed and offset.
// CHECK-LABEL: func.func @random
// CHECK:         %2 = "ember.random_uniform"(%0, %1)
// SMALL-LABEL: func.func @random
// SMALL:         "ember.random_uniform"
module {
  func.func @random() -> tensor<2xf32> {
    %0 = "ember.full"() {dtype = "int64", shape = array<i64>, value = 42 : i64} : () -> tensor<i64>
    %1 = "ember.full"() {dtype = "int64", shape = array<i64>, value = 0 : i64} : () -> tensor<i64>
    %2 = "ember.random_uniform"(%0, %1) {dtype = "float32", shape = array<i64: 2>} : (tensor<i64>, tensor<i64>) -> tensor<2xf32>
    func.return %2 : tensor<2xf32>
  }
}

// -----

// Negative: an integer division by zero is left to fail at run time.
// CHECK-LABEL: func.func @remainder_by_zero
// CHECK:         "ember.remainder"
module {
  func.func @remainder_by_zero() -> tensor<2xi64> {
    %0 = "ember.full"() {dtype = "int64", shape = array<i64: 2>, value = 7 : i64} : () -> tensor<2xi64>
    %1 = "ember.full"() {dtype = "int64", shape = array<i64: 2>, value = 0 : i64} : () -> tensor<2xi64>
    %2 = "ember.remainder"(%0, %1) : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
    func.return %2 : tensor<2xi64>
  }
}
