// RUN: ember-opt %s --split-input-file -p canonicalize | filecheck %s

// x * 1, 1 * x, x + 0, x - 0, x / 1 with a splat of the same shape fold to x.
// CHECK-LABEL: func.func @identities
// CHECK-NEXT:    func.return %arg0 : tensor<2x3xf32>
module {
  func.func @identities(%arg0: tensor<2x3xf32>) -> tensor<2x3xf32> {
    %0 = "ember.full"() {dtype = "float32", shape = array<i64: 2, 3>, value = 1.0 : f64} : () -> tensor<2x3xf32>
    %1 = "ember.full"() {dtype = "float32", shape = array<i64: 3>, value = 0.0 : f64} : () -> tensor<3xf32>
    %2 = "ember.mul"(%arg0, %0) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %3 = "ember.mul"(%0, %2) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %4 = "ember.add"(%3, %1) : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %5 = "ember.add"(%1, %4) : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %6 = "ember.sub"(%5, %1) : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %7 = "ember.div"(%6, %0) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return %7 : tensor<2x3xf32>
  }
}

// -----

// Negative: x * 1 where the 1 broadcasts x to a bigger shape must stay.
// CHECK-LABEL: func.func @broadcasting_one
// CHECK-NEXT:    %0 = "ember.full"()
// CHECK-NEXT:    %1 = "ember.mul"(%arg0, %0) : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    func.return %1
module {
  func.func @broadcasting_one(%arg0: tensor<3xf32>) -> tensor<2x3xf32> {
    %0 = "ember.full"() {dtype = "float32", shape = array<i64: 2, 3>, value = 1.0 : f64} : () -> tensor<2x3xf32>
    %1 = "ember.mul"(%arg0, %0) : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return %1 : tensor<2x3xf32>
  }
}

// -----

// Negative: x * 1 that promotes x's dtype must stay; 0 - x is not an identity.
// CHECK-LABEL: func.func @promoting_one
// CHECK:         "ember.mul"
// CHECK:         "ember.sub"
module {
  func.func @promoting_one(%arg0: tensor<4xi64>) -> (tensor<4xf32>, tensor<4xi64>) {
    %0 = "ember.full"() {dtype = "float32", shape = array<i64: 4>, value = 1.0 : f64} : () -> tensor<4xf32>
    %1 = "ember.mul"(%arg0, %0) : (tensor<4xi64>, tensor<4xf32>) -> tensor<4xf32>
    %2 = "ember.full"() {dtype = "int64", shape = array<i64: 4>, value = 0 : i64} : () -> tensor<4xi64>
    %3 = "ember.sub"(%2, %arg0) : (tensor<4xi64>, tensor<4xi64>) -> tensor<4xi64>
    func.return %1, %3 : tensor<4xf32>, tensor<4xi64>
  }
}

// -----

// x - x is zero for integers.
// CHECK-LABEL: func.func @int_sub_self
// CHECK-NEXT:    %0 = "ember.full"() {dtype = "int64", shape = array<i64: 4>, value = 0 : i64} : () -> tensor<4xi64>
// CHECK-NEXT:    func.return %0
module {
  func.func @int_sub_self(%arg0: tensor<4xi64>) -> tensor<4xi64> {
    %0 = "ember.sub"(%arg0, %arg0) : (tensor<4xi64>, tensor<4xi64>) -> tensor<4xi64>
    func.return %0 : tensor<4xi64>
  }
}

// -----

// Negative: x - x is NaN for x = inf or NaN, so floats keep the sub.
// CHECK-LABEL: func.func @float_sub_self
// CHECK-NEXT:    %0 = "ember.sub"(%arg0, %arg0)
module {
  func.func @float_sub_self(%arg0: tensor<4xf32>) -> tensor<4xf32> {
    %0 = "ember.sub"(%arg0, %arg0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    func.return %0 : tensor<4xf32>
  }
}

// -----

// CHECK-LABEL: func.func @neg_neg
// CHECK-NEXT:    func.return %arg0
module {
  func.func @neg_neg(%arg0: tensor<4xf32>) -> tensor<4xf32> {
    %0 = "ember.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
    %1 = "ember.neg"(%0) : (tensor<4xf32>) -> tensor<4xf32>
    func.return %1 : tensor<4xf32>
  }
}

// -----

// Reshape chains become one reshape; a reshape back to the input shape disappears.
// CHECK-LABEL: func.func @reshapes
// CHECK-NEXT:    %0 = "ember.reshape"(%arg0) {shape = array<i64: 3, 2>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
// CHECK-NEXT:    func.return %0, %arg0
module {
  func.func @reshapes(%arg0: tensor<2x3xf32>) -> (tensor<3x2xf32>, tensor<2x3xf32>) {
    %0 = "ember.reshape"(%arg0) {shape = array<i64: 6>} : (tensor<2x3xf32>) -> tensor<6xf32>
    %1 = "ember.reshape"(%0) {shape = array<i64: 3, 2>} : (tensor<6xf32>) -> tensor<3x2xf32>
    %2 = "ember.reshape"(%1) {shape = array<i64: 2, 3>} : (tensor<3x2xf32>) -> tensor<2x3xf32>
    func.return %1, %2 : tensor<3x2xf32>, tensor<2x3xf32>
  }
}

// -----

// permute(permute(x, p), q) composes; composing to the identity gives x.
// CHECK-LABEL: func.func @permutes
// CHECK-NEXT:    %0 = "ember.permute"(%arg0) {dims = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
// CHECK-NEXT:    func.return %0, %arg0
module {
  func.func @permutes(%arg0: tensor<2x3x4xf32>) -> (tensor<4x2x3xf32>, tensor<2x3x4xf32>) {
    %0 = "ember.permute"(%arg0) {dims = array<i64: 1, 0, 2>} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
    %1 = "ember.permute"(%0) {dims = array<i64: 2, 1, 0>} : (tensor<3x2x4xf32>) -> tensor<4x2x3xf32>
    %2 = "ember.permute"(%0) {dims = array<i64: 1, 0, 2>} : (tensor<3x2x4xf32>) -> tensor<2x3x4xf32>
    func.return %1, %2 : tensor<4x2x3xf32>, tensor<2x3x4xf32>
  }
}

// -----

// broadcast_to chains merge; no-op broadcast_to, slice, pad, flip and cast vanish.
// CHECK-LABEL: func.func @movement
// CHECK-NEXT:    %0 = "ember.broadcast_to"(%arg0) {shape = array<i64: 5, 2, 3>} : (tensor<3xf32>) -> tensor<5x2x3xf32>
// CHECK-NEXT:    func.return %0, %arg1
module {
  func.func @movement(%arg0: tensor<3xf32>, %arg1: tensor<1x4xf32>) -> (tensor<5x2x3xf32>, tensor<1x4xf32>) {
    %0 = "ember.broadcast_to"(%arg0) {shape = array<i64: 2, 3>} : (tensor<3xf32>) -> tensor<2x3xf32>
    %1 = "ember.broadcast_to"(%0) {shape = array<i64: 5, 2, 3>} : (tensor<2x3xf32>) -> tensor<5x2x3xf32>
    %2 = "ember.broadcast_to"(%arg1) {shape = array<i64: 1, 4>} : (tensor<1x4xf32>) -> tensor<1x4xf32>
    %3 = "ember.slice"(%2) {starts = array<i64: 0, 0>, steps = array<i64: 1, 1>, stops = array<i64: 1, 4>} : (tensor<1x4xf32>) -> tensor<1x4xf32>
    %4 = "ember.pad"(%3) {pads = array<i64: 0, 0, 0, 0>, value = 0.0 : f64} : (tensor<1x4xf32>) -> tensor<1x4xf32>
    %5 = "ember.flip"(%4) {axes = array<i64: 0>} : (tensor<1x4xf32>) -> tensor<1x4xf32>
    %6 = "ember.cast"(%5) {dtype = "float32"} : (tensor<1x4xf32>) -> tensor<1x4xf32>
    func.return %1, %6 : tensor<5x2x3xf32>, tensor<1x4xf32>
  }
}

// -----

// Negative: flipping an axis of size 4 and a real slice do something.
// CHECK-LABEL: func.func @real_movement
// CHECK:         "ember.slice"
// CHECK:         "ember.flip"
module {
  func.func @real_movement(%arg0: tensor<1x4xf32>) -> tensor<1x2xf32> {
    %0 = "ember.slice"(%arg0) {starts = array<i64: 0, 1>, steps = array<i64: 1, 1>, stops = array<i64: 1, 3>} : (tensor<1x4xf32>) -> tensor<1x2xf32>
    %1 = "ember.flip"(%0) {axes = array<i64: 1>} : (tensor<1x2xf32>) -> tensor<1x2xf32>
    func.return %1 : tensor<1x2xf32>
  }
}

// -----

// A widening cast followed by a cast is one cast; a narrowing one must stay (it rounds).
// CHECK-LABEL: func.func @casts
// CHECK-NEXT:    %0 = "ember.cast"(%arg0) {dtype = "float16"} : (tensor<4xf32>) -> tensor<4xf16>
// CHECK-NEXT:    %1 = "ember.cast"(%arg0) {dtype = "float16"} : (tensor<4xf32>) -> tensor<4xf16>
// CHECK-NEXT:    %2 = "ember.cast"(%1) {dtype = "float32"} : (tensor<4xf16>) -> tensor<4xf32>
// CHECK-NEXT:    func.return %0, %2
module {
  func.func @casts(%arg0: tensor<4xf32>) -> (tensor<4xf16>, tensor<4xf32>) {
    %0 = "ember.cast"(%arg0) {dtype = "float64"} : (tensor<4xf32>) -> tensor<4xf64>
    %1 = "ember.cast"(%0) {dtype = "float16"} : (tensor<4xf64>) -> tensor<4xf16>
    %2 = "ember.cast"(%arg0) {dtype = "float16"} : (tensor<4xf32>) -> tensor<4xf16>
    %3 = "ember.cast"(%2) {dtype = "float32"} : (tensor<4xf16>) -> tensor<4xf32>
    func.return %1, %3 : tensor<4xf16>, tensor<4xf32>
  }
}

// -----

// The transpose of a product becomes the product of the transposes, swapped: the operands'
// transposes are read in place by the CPU kernel, and x's two permutes cancel.
// CHECK-LABEL: func.func @weight_gradient
// CHECK-NEXT:    %[[GT:.*]] = "ember.permute"(%arg1) {dims = array<i64: 1, 0>}
// CHECK-NEXT:    %[[P:.*]] = "ember.matmul"(%[[GT]], %arg0) : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
// CHECK-NEXT:    func.return %[[P]]
module {
  func.func @weight_gradient(%arg0: tensor<4x5xf32>, %arg1: tensor<4x3xf32>) -> tensor<3x5xf32> {
    %0 = "ember.permute"(%arg0) {dims = array<i64: 1, 0>} : (tensor<4x5xf32>) -> tensor<5x4xf32>
    %1 = "ember.matmul"(%0, %arg1) : (tensor<5x4xf32>, tensor<4x3xf32>) -> tensor<5x3xf32>
    %2 = "ember.permute"(%1) {dims = array<i64: 1, 0>} : (tensor<5x3xf32>) -> tensor<3x5xf32>
    func.return %2 : tensor<3x5xf32>
  }
}

// -----

// A product used elsewhere too stays: rewriting would compute it twice.
// CHECK-LABEL: func.func @shared_product
// CHECK:         %[[P:.*]] = "ember.matmul"(%arg0, %arg1)
// CHECK-NEXT:    "ember.permute"(%[[P]])
module {
  func.func @shared_product(%arg0: tensor<4x5xf32>, %arg1: tensor<5x3xf32>) -> (tensor<3x4xf32>, tensor<4x3xf32>) {
    %0 = "ember.matmul"(%arg0, %arg1) : (tensor<4x5xf32>, tensor<5x3xf32>) -> tensor<4x3xf32>
    %1 = "ember.permute"(%0) {dims = array<i64: 1, 0>} : (tensor<4x3xf32>) -> tensor<3x4xf32>
    func.return %1, %0 : tensor<3x4xf32>, tensor<4x3xf32>
  }
}

// -----

// The gradient of max(dim): scattering into zeros at the argmax becomes a select against the
// position along the axis (every index is in range, so no check is lost).
// CHECK-LABEL: func.func @max_gradient
// CHECK-DAG:     %[[I:.*]] = "ember.argmax"(%arg0)
// CHECK-DAG:     %[[P:.*]] = "ember.iota"() {axis = 1 : i64, dtype = "int64", shape = array<i64: 3, 4>}
// CHECK:         %[[C:.*]] = "ember.eq"(%[[P]], %[[I]])
// CHECK:         %[[S:.*]] = "ember.where"(%[[C]], %arg1, %{{.*}})
// CHECK-NOT:     "ember.scatter_add"
// CHECK:         func.return %[[S]]
module {
  func.func @max_gradient(%arg0: tensor<3x4xf32>, %arg1: tensor<3x1xf32>) -> tensor<3x4xf32> {
    %0 = "ember.argmax"(%arg0) {axis = 1 : i64, keepdim = true} : (tensor<3x4xf32>) -> tensor<3x1xi64>
    %1 = "ember.full"() {dtype = "float32", shape = array<i64: 3, 4>, value = 0 : i64} : () -> tensor<3x4xf32>
    %2 = "ember.scatter_add"(%1, %0, %arg1) {axis = 1 : i64} : (tensor<3x4xf32>, tensor<3x1xi64>, tensor<3x1xf32>) -> tensor<3x4xf32>
    func.return %2 : tensor<3x4xf32>
  }
}

// -----

// Indices of another tensor may be out of range: the scatter, and its check, stay.
// CHECK-LABEL: func.func @foreign_indices
// CHECK:         "ember.scatter_add"
module {
  func.func @foreign_indices(%arg0: tensor<3x9xf32>, %arg1: tensor<3x1xf32>) -> tensor<3x4xf32> {
    %0 = "ember.argmax"(%arg0) {axis = 1 : i64, keepdim = true} : (tensor<3x9xf32>) -> tensor<3x1xi64>
    %1 = "ember.full"() {dtype = "float32", shape = array<i64: 3, 4>, value = 0 : i64} : () -> tensor<3x4xf32>
    %2 = "ember.scatter_add"(%1, %0, %arg1) {axis = 1 : i64} : (tensor<3x4xf32>, tensor<3x1xi64>, tensor<3x1xf32>) -> tensor<3x4xf32>
    func.return %2 : tensor<3x4xf32>
  }
}
