"""Running a graph compiled for CUDA (`ember.codegen.nvptx.compile_graph`) on a device.

The code generator gives PTX text and a `LaunchPlan`: the function's memref arguments (inputs,
outputs, then the status words), its device temporaries and its kernel launches in order.
`CudaExecutable` runs all of a plan in one call, as `LlvmExecutable` runs CPU code: dense
inputs in, new dense outputs back, and the IndexError every backend raises when a kernel
reported an index out of range.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

import numpy as np

from ember.codegen.nvptx.compile import CudaKernel, compile_graph
from ember.ir.core import Operation, functions
from ember.runtime.cuda.array import DeviceArray
from ember.runtime.cuda.device import CudaDevice
from ember.runtime.status import index_error


class _Loaded:
    """An executable's state on one device: its kernels' handles and its status words."""

    def __init__(self, kernel: CudaKernel, device: CudaDevice) -> None:
        self.functions = [device.function(kernel.ptx, launch.kernel)
                          for launch in kernel.plan.launches]
        self.status = DeviceArray.from_host(device, np.zeros(4, np.int64))


class CudaExecutable:
    """A compiled graph; called with its inputs (device arrays, or host arrays to upload),
    it runs every launch of its plan on their device and returns new output arrays."""

    def __init__(self, kernel: CudaKernel, input_count: int) -> None:
        self.kernel = kernel
        self.inputs = kernel.plan.arguments[:input_count]
        self.outputs = kernel.plan.arguments[input_count:-1]
        self._loaded: dict[int, _Loaded] = {}
        # The status words are one buffer per device: calls from several threads take turns.
        self._lock = threading.Lock()

    def __call__(self, inputs: Sequence[Any]) -> list[DeviceArray]:
        """Run on the device of the inputs that are device arrays."""
        devices = [a.device for a in inputs if isinstance(a, DeviceArray)]
        if not devices:
            raise ValueError(f"cuda backend: {self.kernel.plan.entry} was called without a "
                             f"CUDA input; pass the device with `run`")
        return self.run(devices[0], inputs)

    def run(self, device: CudaDevice, inputs: Sequence[Any]) -> list[DeviceArray]:
        """Run every launch of the plan on `device`; the outputs."""
        plan = self.kernel.plan
        arrays = self._bind_inputs(device, inputs)
        outputs = [DeviceArray.empty(device, t.shape, t.dtype.numpy) for t in self.outputs]
        # Temporaries go back to the cache when this returns: later work on the stream runs
        # after these kernels, so reusing their blocks is safe.
        temporaries = [device.allocate(n) for n in plan.temporary_bytes()]
        with self._lock:
            loaded = self._load(device)
            addresses = {"argument": [a.ptr for a in arrays + outputs] + [loaded.status.ptr],
                         "temporary": [b.ptr for b in temporaries]}
            for launch, function in zip(plan.launches, loaded.functions):
                device.launch(function, launch.grid, launch.block,
                              [np.uint64(addresses[b.kind][b.index]) for b in launch.buffers])
            if plan.error_ops:
                self._check_status(loaded.status)
        return outputs

    def _load(self, device: CudaDevice) -> _Loaded:
        loaded = self._loaded.get(device.index)
        if loaded is None:
            loaded = self._loaded[device.index] = _Loaded(self.kernel, device)
        return loaded

    def _bind_inputs(self, device: CudaDevice, inputs: Sequence[Any]) -> list[DeviceArray]:
        if len(inputs) != len(self.inputs):
            raise ValueError(f"expected {len(self.inputs)} inputs, got {len(inputs)}")
        arrays = []
        for array, t in zip(inputs, self.inputs):
            if isinstance(array, np.ndarray) and array.shape == t.shape:
                array = DeviceArray.from_host(device, array.astype(t.dtype.numpy, copy=False))
            if not (isinstance(array, DeviceArray) and array.shape == t.shape
                    and array.dtype == t.dtype.numpy and array.is_contiguous
                    and array.device is device):
                raise ValueError(f"input {array!r} passed for {t} on cuda:{device.index} "
                                 f"(inputs must be dense arrays of the compiled types)")
            arrays.append(array)
        return arrays

    def _check_status(self, status: DeviceArray) -> None:
        """Raise the error the kernels reported, if any (this waits for them)."""
        words = status.to_host()
        if words[0]:
            status.write_from_host(np.zeros(4, np.int64))
            raise index_error(words, self.kernel.plan.error_ops)

    def stage_texts(self) -> dict[str, Callable[[], str]]:
        """This graph's stages for `Lowered.as_text`, printed on demand: the GPU-mapped loops
        IR, the kernels' optimised LLVM IR and the PTX."""
        kernel = self.kernel
        return {"loops": lambda: str(kernel.loops), "llvm": lambda: kernel.optimized_ir,
                "ptx": lambda: kernel.ptx}


def compile_module(module: Operation, arch: str | None = None) -> CudaExecutable:
    """Compile a graph module's function for GPU architecture `arch` (default: the
    device's, see `ember.codegen.nvptx.target.default_arch`)."""
    func = functions(module)[0]
    return CudaExecutable(compile_graph(module, arch),
                          len(func.regions[0].blocks[0].arguments))
