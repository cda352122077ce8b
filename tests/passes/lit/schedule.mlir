// RUN: ember-opt %s -p schedule | filecheck %s

// Two 4 KiB exps of %arg0, each summed to a scalar. In the written order both exps are live
// at once; the scheduler sums the first before computing the second, so one 4 KiB tensor
// is live at a time. Ops keep their operands and attributes; the terminator stays last.
// CHECK-LABEL: func.func @two_branches
// CHECK-NEXT:    %0 = "ember.exp"(%arg0)
// CHECK-NEXT:    %1 = "ember.sum"(%0) {axes = array<i64: 0>, keepdim = false}
// CHECK-NEXT:    %2 = "ember.exp"(%arg0)
// CHECK-NEXT:    %3 = "ember.sum"(%2) {axes = array<i64: 0>, keepdim = false}
// CHECK-NEXT:    %4 = "ember.add"(%1, %3)
// CHECK-NEXT:    func.return %4 : tensor<f32>
func.func @two_branches(%arg0: tensor<1024xf32>) -> tensor<f32> {
  %0 = "ember.exp"(%arg0) : (tensor<1024xf32>) -> tensor<1024xf32>
  %1 = "ember.exp"(%arg0) : (tensor<1024xf32>) -> tensor<1024xf32>
  %2 = "ember.sum"(%0) {axes = array<i64: 0>, keepdim = false} : (tensor<1024xf32>) -> tensor<f32>
  %3 = "ember.sum"(%1) {axes = array<i64: 0>, keepdim = false} : (tensor<1024xf32>) -> tensor<f32>
  %4 = "ember.add"(%2, %3) : (tensor<f32>, tensor<f32>) -> tensor<f32>
  func.return %4 : tensor<f32>
}

// A chain has a single order: it is left as written.
// CHECK-LABEL: func.func @chain
// CHECK-NEXT:    %0 = "ember.exp"(%arg0)
// CHECK-NEXT:    %1 = "ember.neg"(%0)
// CHECK-NEXT:    func.return %1
func.func @chain(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "ember.exp"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = "ember.neg"(%0) : (tensor<4xf32>) -> tensor<4xf32>
  func.return %1 : tensor<4xf32>
}

// Reordering brings no gain here (both big tensors are returned, so they are live to the end
// whatever the order): the written order is kept rather than churned.
// CHECK-LABEL: func.func @no_gain
// CHECK-NEXT:    %0 = "ember.exp"(%arg0)
// CHECK-NEXT:    %1 = "ember.sum"(%arg0)
// CHECK-NEXT:    %2 = "ember.neg"(%arg0)
// CHECK-NEXT:    func.return %0, %1, %2
func.func @no_gain(%arg0: tensor<256xf32>) -> (tensor<256xf32>, tensor<f32>, tensor<256xf32>) {
  %0 = "ember.exp"(%arg0) : (tensor<256xf32>) -> tensor<256xf32>
  %1 = "ember.sum"(%arg0) {axes = array<i64: 0>, keepdim = false} : (tensor<256xf32>) -> tensor<f32>
  %2 = "ember.neg"(%arg0) : (tensor<256xf32>) -> tensor<256xf32>
  func.return %0, %1, %2 : tensor<256xf32>, tensor<f32>, tensor<256xf32>
}
