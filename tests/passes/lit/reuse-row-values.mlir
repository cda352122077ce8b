// RUN: ember-opt %s --split-input-file -p lower-to-loops,fuse-rows,reuse-row-values | filecheck %s

// Softmax: the sum loop stores exp(x - max) into a buffer of one row, and the last loop loads
// it instead of computing exp again; the output is then stored once.
// CHECK-LABEL: func.func @softmax
// CHECK:           %[[ROW:.*]] = "memref.alloc"() {{.*}} -> memref<8xf32>
// CHECK:             %[[E:.*]] = "math.exp"
// CHECK-NEXT:        "memref.store"(%[[E]], %[[ROW]], %[[COL:.*]]) :
// CHECK-NEXT:        "arith.addf"(%{{.*}}, %[[E]])
// CHECK:           ^bb0(%[[J:.*]]: index):
// CHECK-NEXT:        %[[V:.*]] = "memref.load"(%[[ROW]], %[[J]])
// CHECK:             %[[Q:.*]] = "arith.divf"(%[[V]], %{{.*}})
// CHECK-NEXT:        "memref.store"(%[[Q]], %arg1, %{{.*}}, %[[J]])
// CHECK-NOT:     "math.exp"
// CHECK:           "memref.dealloc"(%[[ROW]])
// CHECK:         func.return
module {
  func.func @softmax(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
    %0 = "ember.fusion"(%arg0) ({
    ^bb0(%arg1: tensor<4x8xf32>):
      %1 = "ember.max"(%arg1) {axes = array<i64: 1>, keepdim = true} : (tensor<4x8xf32>) -> tensor<4x1xf32>
      %2 = "ember.sub"(%arg1, %1) : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
      %3 = "ember.exp"(%2) : (tensor<4x8xf32>) -> tensor<4x8xf32>
      %4 = "ember.sum"(%3) {axes = array<i64: 1>, keepdim = true} : (tensor<4x8xf32>) -> tensor<4x1xf32>
      %5 = "ember.div"(%3, %4) : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
      "ember.yield"(%5) : (tensor<4x8xf32>) -> ()
    }) {kernel = "fused_softmax_0"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    func.return %0 : tensor<4x8xf32>
  }
}

// -----

// Only cheap arithmetic is shared (x - mean): recomputing it beats a store and a load.
// CHECK-LABEL: func.func @center
// CHECK-NOT:     "memref.load"(%arg1
// CHECK:         func.return
module {
  func.func @center(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
    %0 = "ember.fusion"(%arg0) ({
    ^bb0(%arg1: tensor<4x8xf32>):
      %1 = "ember.sum"(%arg1) {axes = array<i64: 1>, keepdim = true} : (tensor<4x8xf32>) -> tensor<4x1xf32>
      %2 = "ember.sub"(%arg1, %1) : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
      %3 = "ember.mul"(%2, %2) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
      %4 = "ember.sum"(%3) {axes = array<i64: 1>, keepdim = true} : (tensor<4x8xf32>) -> tensor<4x1xf32>
      %5 = "ember.div"(%2, %4) : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
      "ember.yield"(%5) : (tensor<4x8xf32>) -> ()
    }) {kernel = "fused_center_0"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    func.return %0 : tensor<4x8xf32>
  }
}

// -----

// The output is transposed relative to the loop that would fill it (its store indices are not
// the later loop's own): nothing is reused, exp is computed in both loops.
// CHECK-LABEL: func.func @columns
// CHECK:         "math.exp"
// CHECK:         "math.exp"
module {
  func.func @columns(%arg0: tensor<4x4xf32>) -> tensor<4x4xf32> {
    %0 = "ember.fusion"(%arg0) ({
    ^bb0(%arg1: tensor<4x4xf32>):
      %1 = "ember.exp"(%arg1) : (tensor<4x4xf32>) -> tensor<4x4xf32>
      %2 = "ember.sum"(%1) {axes = array<i64: 0>, keepdim = true} : (tensor<4x4xf32>) -> tensor<1x4xf32>
      %3 = "ember.div"(%1, %2) : (tensor<4x4xf32>, tensor<1x4xf32>) -> tensor<4x4xf32>
      "ember.yield"(%3) : (tensor<4x4xf32>) -> ()
    }) {kernel = "fused_columns_0"} : (tensor<4x4xf32>) -> tensor<4x4xf32>
    func.return %0 : tensor<4x4xf32>
  }
}

// -----

// A row longer than 16 KB is kept in the output row itself.
// CHECK-LABEL: func.func @long_rows
// CHECK-NOT:     memref<8192xf32>
// CHECK:             %[[E:.*]] = "math.exp"
// CHECK-NEXT:        "memref.store"(%[[E]], %arg1, %[[ROW:.*]], %[[COL:.*]]) :
// CHECK:           ^bb0(%[[J:.*]]: index):
// CHECK-NEXT:        %[[V:.*]] = "memref.load"(%arg1, %[[ROW]], %[[J]])
// CHECK-NOT:     "math.exp"
// CHECK:         func.return
module {
  func.func @long_rows(%arg0: tensor<2x8192xf32>) -> tensor<2x8192xf32> {
    %0 = "ember.fusion"(%arg0) ({
    ^bb0(%arg1: tensor<2x8192xf32>):
      %1 = "ember.max"(%arg1) {axes = array<i64: 1>, keepdim = true} : (tensor<2x8192xf32>) -> tensor<2x1xf32>
      %2 = "ember.sub"(%arg1, %1) : (tensor<2x8192xf32>, tensor<2x1xf32>) -> tensor<2x8192xf32>
      %3 = "ember.exp"(%2) : (tensor<2x8192xf32>) -> tensor<2x8192xf32>
      %4 = "ember.sum"(%3) {axes = array<i64: 1>, keepdim = true} : (tensor<2x8192xf32>) -> tensor<2x1xf32>
      %5 = "ember.div"(%3, %4) : (tensor<2x8192xf32>, tensor<2x1xf32>) -> tensor<2x8192xf32>
      "ember.yield"(%5) : (tensor<2x8192xf32>) -> ()
    }) {kernel = "fused_long_rows_0"} : (tensor<2x8192xf32>) -> tensor<2x8192xf32>
    func.return %0 : tensor<2x8192xf32>
  }
}
