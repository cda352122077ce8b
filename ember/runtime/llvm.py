"""The `"llvm"` backend: graphs compiled to native code for this CPU, one foreign call a run."""

from __future__ import annotations

import ctypes
import math
import sys
import threading
from typing import Callable, Sequence

import numpy as np

from ember.codegen.llvm_cpu import CpuKernel, compile_graph
from ember.ir.core import Operation, functions


SPARES = 2  # output arrays kept per output for recycling


class LlvmExecutable:
    """Runs a compiled kernel: inputs, then outputs, then a status buffer, by pointer.

    The pointer array and the status buffer are built once. Each output is written into an
    array that no one else references any more, recycled from earlier calls, or else a fresh
    one: large results then cost neither an allocation nor first-touch page faults per call,
    and an array a caller still holds is never overwritten. Calls from several threads take turns
    (the foreign call releases the GIL, and the pointer array is shared).
    """

    def __init__(self, kernel: CpuKernel, input_count: int) -> None:
        self.kernel = kernel
        self.inputs = kernel.arguments[:input_count]
        self.outputs = kernel.arguments[input_count:-1]
        self._call = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(kernel.address)
        self._pointers = (ctypes.c_void_p * len(kernel.arguments))()
        self._input_specs = [(t.dtype.numpy, math.prod(t.shape)) for t in self.inputs]
        self._output_specs = [(t.shape, t.dtype.numpy) for t in self.outputs]
        self._status = np.zeros(4, np.int64)
        self._pointers[-1] = self._status.ctypes.data
        self._spares: list[list[np.ndarray]] = [[] for _ in self.outputs]
        self._lock = threading.Lock()

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if len(inputs) != len(self.inputs):
            raise ValueError(f"expected {len(self.inputs)} inputs, got {len(inputs)}")
        with self._lock:
            arrays = self._bind_inputs(inputs)  # converted inputs live until the call returns
            outputs = self._bind_outputs(len(arrays))
            self._call(self._pointers)
            if self._status[0]:
                self._raise_status()
        return outputs

    def _bind_inputs(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The inputs as C-contiguous arrays of the kernel's dtypes, their pointers stored."""
        arrays = []
        for slot, (array, (dtype, size)) in enumerate(zip(inputs, self._input_specs)):
            if array.dtype != dtype or not array.flags.c_contiguous:
                array = np.ascontiguousarray(array, dtype=dtype)
            if array.size != size:
                raise ValueError(f"input of shape {array.shape} passed for {self.inputs[slot]}")
            arrays.append(array)
            self._pointers[slot] = array.ctypes.data
        return arrays

    def _bind_outputs(self, first_slot: int) -> list[np.ndarray]:
        outputs = []
        for index, (spec, spares) in enumerate(zip(self._output_specs, self._spares)):
            array = _unreferenced(spares)
            if array is None:
                array = np.empty(*spec)
            # The last SPARES arrays handed out: one the caller may still hold (a gradient
            # until the next step replaces it), one it has dropped by the call after.
            spares.append(array)
            del spares[:-SPARES]
            outputs.append(array)
            self._pointers[first_slot + index] = array.ctypes.data
        return outputs

    def _raise_status(self) -> None:
        _, op, index, size = (int(s) for s in self._status)
        self._status[:] = 0
        names = self.kernel.error_ops
        name = names[op] if op < len(names) else f"operation {op}"
        # Worded as the loops interpreter words it, so both backends' errors read alike.
        raise IndexError(f"ember.{name}: index {index} is out of bounds for an axis with "
                         f"size {size}")

    def stage_texts(self) -> dict[str, Callable[[], str]]:
        """This kernel's stages for `Lowered.as_text`, printed on demand: the loops IR, the
        optimised LLVM IR and the host assembly."""
        kernel = self.kernel
        return {"loops": lambda: str(kernel.loops), "llvm": lambda: kernel.optimized_ir,
                "asm": lambda: kernel.assembly}


def _unreferenced(arrays: list[np.ndarray]) -> np.ndarray | None:
    """An array of the list that nothing else references (views and Tensors of an array hold
    a reference to it), removed from the list; None if there is none."""
    for i in range(len(arrays)):
        if sys.getrefcount(arrays[i]) == 2:  # the list's reference and getrefcount's argument
            return arrays.pop(i)
    return None


def compile_module(module: Operation) -> LlvmExecutable:
    """Compile a graph module's function to native code."""
    func = functions(module)[0]
    return LlvmExecutable(compile_graph(module), len(func.regions[0].blocks[0].arguments))
