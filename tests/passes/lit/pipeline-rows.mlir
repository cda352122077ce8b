// RUN: ember-opt %s --split-input-file -p pipeline-rows | filecheck %s

// Softmax over 16 rows of 8, its output streamed: chunks of 8 rows, each with two row
// buffers; the first row only computes, then rows go in pairs whose exponential loops also
// store the previous row from the other buffer, and the chunk ends with its last output.
// CHECK-LABEL: func.func @softmax
// CHECK:         "scf.for"(%[[ZERO:.*]], %[[TWO:.*]], %[[ONE:.*]]) ({
// CHECK-NEXT:    ^bb0(%[[CHUNK:.*]]: index):
// CHECK-NEXT:      %[[EVEN:.*]] = "memref.alloc"() {{.*}} -> memref<8xf32>
// CHECK-NEXT:      %[[ODD:.*]] = "memref.alloc"() {{.*}} -> memref<8xf32>
// CHECK-NEXT:      %[[FIRST:.*]] = "arith.muli"(%[[CHUNK]], %{{.*}})
// CHECK:             "memref.store"(%{{.*}}, %[[EVEN]], %{{.*}}) :
// CHECK-NOT:       nontemporal
// CHECK:           ^bb0(%[[PAIR:.*]]: index):
// CHECK:                 "arith.maximumf"
// CHECK:               ^bb0(%[[J:.*]]: index, %{{.*}}: f32):
// CHECK-NEXT:            %[[V:.*]] = "memref.load"(%[[EVEN]], %[[J]])
// CHECK-NEXT:            %[[Q:.*]] = "arith.mulf"(%[[V]], %{{.*}})
// CHECK-NEXT:            "memref.store"(%[[Q]], %arg1, %{{.*}}, %[[J]]) {nontemporal = true}
// CHECK:                 %[[E:.*]] = "math.exp"
// CHECK-NEXT:            "memref.store"(%[[E]], %[[ODD]], %[[J]])
// CHECK:                 "arith.maximumf"
// CHECK:               ^bb0(%[[K:.*]]: index, %{{.*}}: f32):
// CHECK-NEXT:            "memref.load"(%[[ODD]], %[[K]])
// CHECK:                 "memref.store"(%{{.*}}, %arg1, %{{.*}}, %[[K]]) {nontemporal = true}
// CHECK:                 "math.exp"
// CHECK-NEXT:            "memref.store"(%{{.*}}, %[[EVEN]], %[[K]])
// The chunk's last row (odd) overlaps like the others, then its own output follows.
// CHECK:               "arith.maximumf"
// CHECK:             ^bb0(%[[L:.*]]: index, %{{.*}}: f32):
// CHECK-NEXT:          "memref.load"(%[[EVEN]], %[[L]])
// CHECK:               "memref.store"(%{{.*}}, %[[ODD]], %[[L]])
// CHECK:           ^bb0(%[[M:.*]]: index):
// CHECK-NEXT:        "memref.load"(%[[ODD]], %[[M]])
// CHECK:             "memref.store"(%{{.*}}, %arg1, %{{.*}}, %[[M]]) {nontemporal = true}
// CHECK:           "memref.dealloc"(%[[EVEN]])
// CHECK-NEXT:      "memref.dealloc"(%[[ODD]])
module {
  func.func @softmax(%arg0: memref<16x8xf32>, %arg1: memref<16x8xf32>, %arg2: memref<4xi64>) attributes {ember.inputs = 1 : i64} {
    %0 = "arith.constant"() {value = 0 : index} : () -> index
    %1 = "arith.constant"() {value = 16 : index} : () -> index
    %2 = "arith.constant"() {value = 1 : index} : () -> index
    %3 = "arith.constant"() {value = 0xFF800000 : f32} : () -> f32
    %4 = "arith.constant"() {value = 8 : index} : () -> index
    %5 = "arith.constant"() {value = 0.0 : f32} : () -> f32
    %6 = "memref.alloc"() {operandSegmentSizes = array<i32: 0, 0>} : () -> memref<16x1xf32>
    %7 = "memref.alloc"() {operandSegmentSizes = array<i32: 0, 0>} : () -> memref<16x1xf32>
    "scf.for"(%0, %1, %2) ({
    ^bb0(%arg3: index):
      "scf.for"(%0, %2, %2) ({
      ^bb0(%arg4: index):
        %8 = "scf.for"(%0, %4, %2, %3) ({
        ^bb0(%arg5: index, %arg6: f32):
          %9 = "memref.load"(%arg0, %arg3, %arg5) : (memref<16x8xf32>, index, index) -> f32
          %10 = "arith.maximumf"(%arg6, %9) : (f32, f32) -> f32
          "scf.yield"(%10) : (f32) -> ()
        }) : (index, index, index, f32) -> f32
        "memref.store"(%8, %6, %arg3, %arg4) : (f32, memref<16x1xf32>, index, index) -> ()
        "scf.yield"() : () -> ()
      }) : (index, index, index) -> ()
      %11 = "memref.alloc"() {operandSegmentSizes = array<i32: 0, 0>} : () -> memref<8xf32>
      "scf.for"(%0, %2, %2) ({
      ^bb0(%arg7: index):
        %12 = "scf.for"(%0, %4, %2, %5) ({
        ^bb0(%arg8: index, %arg9: f32):
          %13 = "memref.load"(%arg0, %arg3, %arg8) : (memref<16x8xf32>, index, index) -> f32
          %14 = "memref.load"(%6, %arg3, %0) : (memref<16x1xf32>, index, index) -> f32
          %15 = "arith.subf"(%13, %14) : (f32, f32) -> f32
          %16 = "math.exp"(%15) : (f32) -> f32
          "memref.store"(%16, %11, %arg8) : (f32, memref<8xf32>, index) -> ()
          %17 = "arith.addf"(%arg9, %16) : (f32, f32) -> f32
          "scf.yield"(%17) : (f32) -> ()
        }) : (index, index, index, f32) -> f32
        "memref.store"(%12, %7, %arg3, %arg7) : (f32, memref<16x1xf32>, index, index) -> ()
        "scf.yield"() : () -> ()
      }) : (index, index, index) -> ()
      %18 = "memref.load"(%7, %arg3, %0) : (memref<16x1xf32>, index, index) -> f32
      %19 = "arith.constant"() {value = 1.0 : f32} : () -> f32
      %20 = "arith.divf"(%19, %18) : (f32, f32) -> f32
      "scf.for"(%0, %4, %2) ({
      ^bb0(%arg10: index):
        %21 = "memref.load"(%11, %arg10) : (memref<8xf32>, index) -> f32
        %22 = "arith.mulf"(%21, %20) : (f32, f32) -> f32
        "memref.store"(%22, %arg1, %arg3, %arg10) {nontemporal = true} : (f32, memref<16x8xf32>, index, index) -> ()
        "scf.yield"() : () -> ()
      }) : (index, index, index) -> ()
      "memref.dealloc"(%11) : (memref<8xf32>) -> ()
      "scf.yield"() : () -> ()
    }) : (index, index, index) -> ()
    "memref.dealloc"(%6) : (memref<16x1xf32>) -> ()
    "memref.dealloc"(%7) : (memref<16x1xf32>) -> ()
    func.return
  }
}

// -----

// The output loop reads the row max, which the next row's first loop writes: left alone.
// CHECK-LABEL: func.func @reads_the_max
// CHECK-NOT:     "arith.muli"
// CHECK:         "memref.alloc"() {{.*}} -> memref<8xf32>
// CHECK-NOT:     "memref.alloc"() {{.*}} -> memref<8xf32>
// CHECK:         func.return
module {
  func.func @reads_the_max(%arg0: memref<16x8xf32>, %arg1: memref<16x8xf32>, %arg2: memref<4xi64>) attributes {ember.inputs = 1 : i64} {
    %0 = "arith.constant"() {value = 0 : index} : () -> index
    %1 = "arith.constant"() {value = 16 : index} : () -> index
    %2 = "arith.constant"() {value = 1 : index} : () -> index
    %3 = "arith.constant"() {value = 0xFF800000 : f32} : () -> f32
    %4 = "arith.constant"() {value = 8 : index} : () -> index
    %5 = "arith.constant"() {value = 0.0 : f32} : () -> f32
    %6 = "memref.alloc"() {operandSegmentSizes = array<i32: 0, 0>} : () -> memref<16x1xf32>
    %7 = "memref.alloc"() {operandSegmentSizes = array<i32: 0, 0>} : () -> memref<16x1xf32>
    "scf.for"(%0, %1, %2) ({
    ^bb0(%arg3: index):
      "scf.for"(%0, %2, %2) ({
      ^bb0(%arg4: index):
        %8 = "scf.for"(%0, %4, %2, %3) ({
        ^bb0(%arg5: index, %arg6: f32):
          %9 = "memref.load"(%arg0, %arg3, %arg5) : (memref<16x8xf32>, index, index) -> f32
          %10 = "arith.maximumf"(%arg6, %9) : (f32, f32) -> f32
          "scf.yield"(%10) : (f32) -> ()
        }) : (index, index, index, f32) -> f32
        "memref.store"(%8, %6, %arg3, %arg4) : (f32, memref<16x1xf32>, index, index) -> ()
        "scf.yield"() : () -> ()
      }) : (index, index, index) -> ()
      %11 = "memref.alloc"() {operandSegmentSizes = array<i32: 0, 0>} : () -> memref<8xf32>
      "scf.for"(%0, %2, %2) ({
      ^bb0(%arg7: index):
        %12 = "scf.for"(%0, %4, %2, %5) ({
        ^bb0(%arg8: index, %arg9: f32):
          %13 = "memref.load"(%arg0, %arg3, %arg8) : (memref<16x8xf32>, index, index) -> f32
          %14 = "memref.load"(%6, %arg3, %0) : (memref<16x1xf32>, index, index) -> f32
          %15 = "arith.subf"(%13, %14) : (f32, f32) -> f32
          %16 = "math.exp"(%15) : (f32) -> f32
          "memref.store"(%16, %11, %arg8) : (f32, memref<8xf32>, index) -> ()
          %17 = "arith.addf"(%arg9, %16) : (f32, f32) -> f32
          "scf.yield"(%17) : (f32) -> ()
        }) : (index, index, index, f32) -> f32
        "memref.store"(%12, %7, %arg3, %arg7) : (f32, memref<16x1xf32>, index, index) -> ()
        "scf.yield"() : () -> ()
      }) : (index, index, index) -> ()
      %18 = "memref.load"(%7, %arg3, %0) : (memref<16x1xf32>, index, index) -> f32
      %19 = "arith.constant"() {value = 1.0 : f32} : () -> f32
      %20 = "arith.divf"(%19, %18) : (f32, f32) -> f32
      "scf.for"(%0, %4, %2) ({
      ^bb0(%arg10: index):
        %21 = "memref.load"(%11, %arg10) : (memref<8xf32>, index) -> f32
        %m = "memref.load"(%6, %arg3, %0) : (memref<16x1xf32>, index, index) -> f32
        %22 = "arith.mulf"(%21, %m) : (f32, f32) -> f32
        "memref.store"(%22, %arg1, %arg3, %arg10) {nontemporal = true} : (f32, memref<16x8xf32>, index, index) -> ()
        "scf.yield"() : () -> ()
      }) : (index, index, index) -> ()
      "memref.dealloc"(%11) : (memref<8xf32>) -> ()
      "scf.yield"() : () -> ()
    }) : (index, index, index) -> ()
    "memref.dealloc"(%6) : (memref<16x1xf32>) -> ()
    "memref.dealloc"(%7) : (memref<16x1xf32>) -> ()
    func.return
  }
}
