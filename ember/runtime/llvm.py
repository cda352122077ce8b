"""The `"llvm"` backend: graphs compiled to native code for this CPU, one foreign call a run."""

from __future__ import annotations

import ctypes
from typing import Sequence

import numpy as np

from ember.codegen.llvm_cpu import CpuKernel, compile_graph
from ember.ir.core import Operation, functions


class LlvmExecutable:
    """Runs a compiled kernel: inputs, then fresh outputs, then a status buffer, by pointer."""

    def __init__(self, kernel: CpuKernel, input_count: int) -> None:
        self.kernel = kernel
        self.inputs = kernel.arguments[:input_count]
        self.outputs = kernel.arguments[input_count:-1]
        self._call = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(kernel.address)
        self._buffers = ctypes.c_void_p * len(kernel.arguments)

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if len(inputs) != len(self.inputs):
            raise ValueError(f"expected {len(self.inputs)} inputs, got {len(inputs)}")
        arrays = []
        for array, t in zip(inputs, self.inputs):
            array = np.ascontiguousarray(array, dtype=t.dtype.numpy)
            if array.size != np.prod(t.shape, dtype=np.int64):
                raise ValueError(f"input of shape {array.shape} passed for {t}")
            arrays.append(array)
        outputs = [np.empty(t.shape, t.dtype.numpy) for t in self.outputs]
        status = np.zeros(4, np.int64)
        self._call(self._buffers(*[a.ctypes.data for a in arrays + outputs + [status]]))
        if status[0]:
            _, op, index, size = (int(s) for s in status)
            names = self.kernel.error_ops
            name = names[op] if op < len(names) else f"operation {op}"
            raise IndexError(f"{name}: index {index} is out of bounds for an axis of size {size}")
        return outputs


def compile_module(module: Operation) -> LlvmExecutable:
    """Compile a graph module's function to native code."""
    func = functions(module)[0]
    return LlvmExecutable(compile_graph(module), len(func.regions[0].blocks[0].arguments))
