// RUN: ember-opt %s -p prefetch-rows | filecheck %s

// A row's sum, then the row times its sum: the second pass fetches the row two rows on,
// limited to the last row; the first pass (which reads the row from memory) gets nothing.
// CHECK-LABEL: func.func @scale_by_sum
// CHECK:       ^bb0(%[[I:.*]]: index):
// CHECK:         "arith.addf"
// CHECK-NOT:     memref.prefetch
// CHECK:         %[[TWO:.*]] = "arith.constant"() {value = 2 : index}
// CHECK-NEXT:    %[[NEXT:.*]] = "arith.addi"(%[[I]], %[[TWO]])
// CHECK-NEXT:    %[[LAST:.*]] = "arith.constant"() {value = 511 : index}
// CHECK-NEXT:    %[[ROW:.*]] = "arith.minsi"(%[[NEXT]], %[[LAST]])
// CHECK-NEXT:    "scf.for"
// CHECK-NEXT:    ^bb0(%[[K:.*]]: index):
// CHECK-NEXT:      "memref.prefetch"(%arg0, %[[ROW]], %[[K]]) {isDataCache = true, isWrite = false, localityHint = 3 : i32}
// CHECK-NEXT:      "memref.load"(%arg0, %[[I]], %[[K]])
module {
  func.func @scale_by_sum(%arg0: memref<512x1024xf32>, %arg1: memref<512x1024xf32>, %arg2: memref<4xi64>) attributes {ember.inputs = 1 : i64} {
    %0 = "arith.constant"() {value = 0 : index} : () -> index
    %1 = "arith.constant"() {value = 1 : index} : () -> index
    %2 = "arith.constant"() {value = 512 : index} : () -> index
    %3 = "arith.constant"() {value = 1024 : index} : () -> index
    %4 = "arith.constant"() {value = 0.0 : f32} : () -> f32
    "scf.for"(%0, %2, %1) ({
    ^bb0(%arg3: index):
      %5 = "scf.for"(%0, %3, %1, %4) ({
      ^bb0(%arg4: index, %arg5: f32):
        %6 = "memref.load"(%arg0, %arg3, %arg4) : (memref<512x1024xf32>, index, index) -> f32
        %7 = "arith.addf"(%arg5, %6) : (f32, f32) -> f32
        "scf.yield"(%7) : (f32) -> ()
      }) : (index, index, index, f32) -> f32
      "scf.for"(%0, %3, %1) ({
      ^bb0(%arg6: index):
        %8 = "memref.load"(%arg0, %arg3, %arg6) : (memref<512x1024xf32>, index, index) -> f32
        %9 = "arith.mulf"(%8, %5) : (f32, f32) -> f32
        "memref.store"(%9, %arg1, %arg3, %arg6) : (f32, memref<512x1024xf32>, index, index) -> ()
        "scf.yield"() : () -> ()
      }) : (index, index, index) -> ()
      "scf.yield"() : () -> ()
    }) : (index, index, index) -> ()
    func.return
  }
}

