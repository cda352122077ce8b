// RUN: ember-opt %s --split-input-file -p lower-to-loops,fuse-rows | filecheck %s

// A row reduction and its consumer become one loop over the rows: the sum of row i is stored
// and read back in iteration i, while the row is still in cache.
// CHECK-LABEL: func.func @center
// CHECK:         %[[BUF:.*]] = "memref.alloc"() {{.*}} -> memref<4x1xf32>
// CHECK-NEXT:    "scf.for"(%0, %1, %2) ({
// CHECK-NEXT:    ^bb0(%[[ROW:.*]]: index):
// CHECK:             "arith.addf"
// CHECK:           "memref.store"(%{{.*}}, %[[BUF]], %[[ROW]], %{{.*}})
// CHECK:           "memref.load"(%[[BUF]], %[[ROW]], %0)
// CHECK:           "arith.subf"
// CHECK:           "memref.store"(%{{.*}}, %arg1, %[[ROW]], %{{.*}})
// CHECK-NOT:     "scf.for"
// CHECK:         "memref.dealloc"(%[[BUF]])
// CHECK-NEXT:    func.return
module {
  func.func @center(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
    %0 = "ember.fusion"(%arg0) ({
    ^bb0(%arg1: tensor<4x8xf32>):
      %1 = "ember.sum"(%arg1) {axes = array<i64: 1>, keepdim = true} : (tensor<4x8xf32>) -> tensor<4x1xf32>
      %2 = "ember.sub"(%arg1, %1) : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
      "ember.yield"(%2) : (tensor<4x8xf32>) -> ()
    }) {kernel = "fused_sum_sub_0"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    func.return %0 : tensor<4x8xf32>
  }
}

// -----

// Column sums are read by every row of the consumer: the loops (same bounds) stay apart.
// CHECK-LABEL: func.func @columns
// CHECK:         "memref.store"(%{{.*}}, %[[BUF:.*]], %{{.*}}) : (f32, memref<4xf32>, index) -> ()
// CHECK-NEXT:    "scf.yield"() : () -> ()
// CHECK-NEXT:  }) : (index, index, index) -> ()
// CHECK-NEXT:  "scf.for"(%0, %1, %2) ({
module {
  func.func @columns(%arg0: tensor<4x4xf32>) -> tensor<4x4xf32> {
    %0 = "ember.fusion"(%arg0) ({
    ^bb0(%arg1: tensor<4x4xf32>):
      %1 = "ember.sum"(%arg1) {axes = array<i64: 0>, keepdim = false} : (tensor<4x4xf32>) -> tensor<4xf32>
      %2 = "ember.sub"(%arg1, %1) : (tensor<4x4xf32>, tensor<4xf32>) -> tensor<4x4xf32>
      "ember.yield"(%2) : (tensor<4x4xf32>) -> ()
    }) {kernel = "fused_sum_sub_0"} : (tensor<4x4xf32>) -> tensor<4x4xf32>
    func.return %0 : tensor<4x4xf32>
  }
}

// -----

// Softmax over the last axis of (batch, rows, columns): the batch loop's body holds one nest
// over the rows per reduction, and those merge too, into one loop over the rows of a batch.
// CHECK-LABEL: func.func @batched_softmax
// CHECK:         "scf.for"
// CHECK-NEXT:    ^bb0(%[[B:.*]]: index):
// CHECK-NEXT:      "scf.for"
// CHECK-NEXT:      ^bb0(%[[R:.*]]: index):
// CHECK:             "arith.maximumf"
// CHECK:             "memref.store"(%{{.*}}, %[[MAX:.*]], %[[B]], %[[R]], %{{.*}})
// CHECK:             "memref.load"(%[[MAX]], %[[B]], %[[R]], %{{.*}})
// CHECK:             "math.exp"
// CHECK:             "arith.divf"
// CHECK-NEXT:        "memref.store"(%{{.*}}, %arg1, %[[B]], %[[R]], %{{.*}})
// CHECK-NEXT:        "scf.yield"
// CHECK-NEXT:      })
// CHECK-NEXT:      "scf.yield"
// CHECK-NEXT:    })
// CHECK-NEXT:    "scf.yield"
// CHECK-NEXT:  })
// CHECK-NEXT:  "memref.dealloc"
module {
  func.func @batched_softmax(%arg0: tensor<2x3x8xf32>) -> tensor<2x3x8xf32> {
    %0 = "ember.fusion"(%arg0) ({
    ^bb0(%arg1: tensor<2x3x8xf32>):
      %1 = "ember.max"(%arg1) {axes = array<i64: 2>, keepdim = true} : (tensor<2x3x8xf32>) -> tensor<2x3x1xf32>
      %2 = "ember.sub"(%arg1, %1) : (tensor<2x3x8xf32>, tensor<2x3x1xf32>) -> tensor<2x3x8xf32>
      %3 = "ember.exp"(%2) : (tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
      %4 = "ember.sum"(%3) {axes = array<i64: 2>, keepdim = true} : (tensor<2x3x8xf32>) -> tensor<2x3x1xf32>
      %5 = "ember.div"(%3, %4) : (tensor<2x3x8xf32>, tensor<2x3x1xf32>) -> tensor<2x3x8xf32>
      "ember.yield"(%5) : (tensor<2x3x8xf32>) -> ()
    }) {kernel = "fused_softmax_0"} : (tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
    func.return %0 : tensor<2x3x8xf32>
  }
}
