"""Code generation: loops IR (func/scf/arith/math/memref) to machine code.

`ember.codegen.llvm_cpu` is the CPU driver (graph module -> loops IR -> LLVM IR -> JIT-compiled
code); `ember.codegen.llvm` holds its translation and target pieces, and
`ember.codegen.math_approx` the vectorizable transcendental functions they emit.
`ember.codegen.nvptx` compiles GPU-mapped loops IR (`map-to-gpu`) to PTX and a launch plan.
"""
