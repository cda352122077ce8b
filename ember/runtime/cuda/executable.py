"""Running a graph compiled for CUDA: PTX text plus a launch plan.

The CUDA code generator turns a graph module into one PTX text and a `LaunchPlan`: the kernels
to launch in order, each with its grid, block, dynamic shared memory and arguments, the sizes of
the device temporaries they share, and where each result of the function is. `CudaExecutable`
runs such a plan with the caller's device arrays, as `LlvmExecutable` runs CPU code with host
arrays: dense inputs in, new dense outputs back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from ember.ir.core import Operation, functions
from ember.ir.types import TensorType
from ember.runtime.cuda.array import DeviceArray
from ember.runtime.cuda.device import CudaDevice


@dataclass(frozen=True)
class BufferRef:
    """A device buffer of a launch: the graph's input `index`, output `index` or temporary
    `index`. Outputs are allocated by the runtime with the function's result types."""

    kind: str  # "input" | "output" | "temp"
    index: int


KernelArg = Union[BufferRef, np.generic]
"""A kernel argument: a buffer, passed by address, or a NumPy scalar passed by value."""


@dataclass(frozen=True)
class KernelLaunch:
    """One kernel launch of a plan."""

    name: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    args: tuple[KernelArg, ...]
    shared_mem: int = 0


@dataclass(frozen=True)
class LaunchPlan:
    """How to run a compiled graph: `kernels` in order, device temporaries of `temporaries`
    bytes, and for each function result the buffer holding it (an output, or an input the
    function returns unchanged)."""

    kernels: tuple[KernelLaunch, ...]
    results: tuple[BufferRef, ...]
    temporaries: tuple[int, ...] = ()


class CudaExecutable:
    """A compiled graph on one device, called with dense input arrays; returns new arrays."""

    def __init__(self, device: CudaDevice, ptx: str, plan: LaunchPlan,
                 input_types: Sequence[TensorType], result_types: Sequence[TensorType]) -> None:
        self.device = device
        self.ptx = ptx
        self.plan = plan
        self.input_types = tuple(input_types)
        self.result_types = tuple(result_types)
        self._functions = [device.function(ptx, k.name) for k in plan.kernels]
        self._output_types = {ref.index: t for ref, t in zip(plan.results, result_types)
                              if ref.kind == "output"}

    def __call__(self, inputs: Sequence[DeviceArray]) -> list[DeviceArray]:
        self._check_inputs(inputs)
        outputs = {i: DeviceArray.empty(self.device, t.shape, t.dtype.numpy)
                   for i, t in self._output_types.items()}
        temps = [self.device.allocate(n) for n in self.plan.temporaries]
        addresses = {"input": [a.ptr for a in inputs], "temp": [b.ptr for b in temps],
                     "output": {i: a.ptr for i, a in outputs.items()}}
        for kernel, function in zip(self.plan.kernels, self._functions):
            args = [np.uint64(addresses[a.kind][a.index]) if isinstance(a, BufferRef) else a
                    for a in kernel.args]
            self.device.launch(function, kernel.grid, kernel.block, args, kernel.shared_mem)
        # The temporaries go back to the cache now: later work on the stream runs after these
        # kernels, so reusing their blocks is safe.
        return [outputs[ref.index] if ref.kind == "output" else inputs[ref.index].copy()
                for ref in self.plan.results]

    def _check_inputs(self, inputs: Sequence[DeviceArray]) -> None:
        if len(inputs) != len(self.input_types):
            raise ValueError(f"expected {len(self.input_types)} inputs, got {len(inputs)}")
        for array, t in zip(inputs, self.input_types):
            if (array.shape != t.shape or array.dtype != t.dtype.numpy
                    or not array.is_contiguous or array.device is not self.device):
                raise ValueError(f"input {array} passed for {t} on cuda:{self.device.index} "
                                 f"(inputs must be dense arrays of the compiled types)")


def compile_module(module: Operation, device: CudaDevice) -> CudaExecutable:
    """Compile a graph module's function for `device`.

    The translation to PTX is the CUDA code generator's:
    `ember.codegen.nvptx.compile_graph(module, capability) -> (ptx, LaunchPlan)`.
    """
    try:
        from ember.codegen.nvptx import compile_graph
    except ImportError as e:
        raise NotImplementedError(
            "ember: CUDA code generation (ember.codegen.nvptx.compile_graph) is not available "
            "in this build") from e
    ptx, plan = compile_graph(module, device.capability)
    func_type = functions(module)[0].attributes["function_type"]
    return CudaExecutable(device, ptx, plan, func_type.inputs, func_type.results)
