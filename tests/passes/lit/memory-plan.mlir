// RUN: ember-opt %s -p memory-plan | filecheck %s

// exp may not write over %arg0 (arguments are the caller's), so it gets buffer 0; neg is the
// last use of %0 and elementwise with the same type: it updates buffer 0 in place. Peak: the
// 16-byte argument plus the one 16-byte buffer.
// CHECK-LABEL: func.func @inplace_chain(%arg0: tensor<4xf32>) -> tensor<4xf32>
// CHECK-SAME:    attributes {ember.buffers = array<i64: 16>, ember.peak_bytes = 32 : i64}
// CHECK-NEXT:    %0 = "ember.exp"(%arg0) {ember.buffer = array<i64: 0>}
// CHECK-NEXT:    %1 = "ember.neg"(%0) {ember.buffer = array<i64: 0>}
// CHECK-NEXT:    func.return %1
func.func @inplace_chain(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "ember.exp"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = "ember.neg"(%0) : (tensor<4xf32>) -> tensor<4xf32>
  func.return %1 : tensor<4xf32>
}

// %0 is still read by the add, so neg must NOT overwrite it: neg gets a new buffer 1. The add
// is the last use of both %0 and %1 and takes the first one's buffer.
// CHECK-LABEL: func.func @still_used
// CHECK-SAME:    attributes {ember.buffers = array<i64: 16, 16>, ember.peak_bytes = 48 : i64}
// CHECK-NEXT:    %0 = "ember.exp"(%arg0) {ember.buffer = array<i64: 0>}
// CHECK-NEXT:    %1 = "ember.neg"(%0) {ember.buffer = array<i64: 1>}
// CHECK-NEXT:    %2 = "ember.add"(%0, %1) {ember.buffer = array<i64: 0>}
// CHECK-NEXT:    func.return %2
func.func @still_used(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "ember.exp"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = "ember.neg"(%0) : (tensor<4xf32>) -> tensor<4xf32>
  %2 = "ember.add"(%0, %1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %2 : tensor<4xf32>
}

// An elementwise op on an argument alone never writes it, even at its last use.
// CHECK-LABEL: func.func @argument_never_written
// CHECK-SAME:    attributes {ember.buffers = array<i64: 16>, ember.peak_bytes = 32 : i64}
// CHECK-NEXT:    %0 = "ember.neg"(%arg0) {ember.buffer = array<i64: 0>}
func.func @argument_never_written(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "ember.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// Reuse needs the exact byte size: the broadcast (64 bytes) reuses the dead exp's buffer 0,
// while the 16-byte comparison and the reshape get buffers of their own. A comparison changes
// the element type and a reshape is not elementwise, so neither is done in place.
// CHECK-LABEL: func.func @reuse
// CHECK-SAME:    attributes {ember.buffers = array<i64: 64, 4, 16, 64>, ember.peak_bytes = 208 : i64}
// CHECK-NEXT:    %0 = "ember.exp"(%arg0) {ember.buffer = array<i64: 0>}
// CHECK-NEXT:    %1 = "ember.sum"(%0) {axes = array<i64: 0>, ember.buffer = array<i64: 1>,
// CHECK-NEXT:    %2 = "ember.broadcast_to"(%1) {ember.buffer = array<i64: 0>,
// CHECK-NEXT:    %3 = "ember.gt"(%2, %1) {ember.buffer = array<i64: 2>}
// CHECK-NEXT:    %4 = "ember.reshape"(%2) {ember.buffer = array<i64: 3>,
// CHECK-NEXT:    func.return %4, %3
func.func @reuse(%arg0: tensor<16xf32>) -> (tensor<4x4xf32>, tensor<16xi1>) {
  %0 = "ember.exp"(%arg0) : (tensor<16xf32>) -> tensor<16xf32>
  %1 = "ember.sum"(%0) {axes = array<i64: 0>, keepdim = false} : (tensor<16xf32>) -> tensor<f32>
  %2 = "ember.broadcast_to"(%1) {shape = array<i64: 16>} : (tensor<f32>) -> tensor<16xf32>
  %3 = "ember.gt"(%2, %1) : (tensor<16xf32>, tensor<f32>) -> tensor<16xi1>
  %4 = "ember.reshape"(%2) {shape = array<i64: 4, 4>} : (tensor<16xf32>) -> tensor<4x4xf32>
  func.return %4, %3 : tensor<4x4xf32>, tensor<16xi1>
}
