"""CUDA code generation: GPU-mapped loops IR (`map-to-gpu`) -> LLVM IR for nvptx64 -> PTX.

`translate` turns the kernels of a `gpu.module` into an llvmlite module (the CPU translator's
rules, plus thread ids, barriers, shuffles and shared memory); `target` holds the NVPTX target
machine, the architectures and the -O3 pipeline; `plan` reads the host function into a launch
plan; `compile` is the driver from a graph module to PTX and plan; `ptxas` checks PTX with
NVIDIA's assembler where it is installed.
"""
