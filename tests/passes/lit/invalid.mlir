// RUN: not ember-opt %s --split-input-file -p canonicalize 2>&1 | filecheck %s

// A parse error points at the offending token, counting lines across the whole file.
// CHECK: invalid.mlir:[[# @LINE + 3]]:22: error: use of undefined value '%1'
module {
  func.func @undefined(%arg0: tensor<2xf32>) -> tensor<2xf32> {
    %0 = "ember.neg"(%1) : (tensor<2xf32>) -> tensor<2xf32>
    func.return %0 : tensor<2xf32>
  }
}

// -----

// A verifier error points at the op whose type is wrong.
// CHECK: invalid.mlir:[[# @LINE + 3]]:5: error: ember.exp in @bad_type: result type tensor<3xf32> does not match
module {
  func.func @bad_type(%arg0: tensor<2xf32>) -> tensor<3xf32> {
    %0 = "ember.exp"(%arg0) : (tensor<2xf32>) -> tensor<3xf32>
    func.return %0 : tensor<3xf32>
  }
}

// -----

// The chunk after an error still runs and prints.
// CHECK: func.func @fine
// CHECK-NEXT: func.return %arg0
module {
  func.func @fine(%arg0: tensor<2xf32>) -> tensor<2xf32> {
    func.return %arg0 : tensor<2xf32>
  }
}

// -----

// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: expected an operation, found 'garbage'
garbage
