"""An in-process fake of the CUDA driver interface, over host memory, for tests without a GPU.

Device memory is a set of host byte arrays at made-up addresses; copies resolve addresses to
them. PTX cannot run here, so kernels run from the IR they were made of: `register(kernel)` files
a `CudaKernel`'s GPU-mapped loops IR under its PTX text's hash, and a launch of an entry of that
PTX runs the `gpu.func` of the same name in the SIMT interpreter on the launch's grid, with its
pointer arguments resolved to this fake's memory. Every launch is recorded.
"""

from __future__ import annotations

import bisect
from typing import Any, Sequence

import numpy as np

from ember.ir.core import Operation
from ember.runtime import simt_interpreter
from ember.runtime.cuda.driver import CudaError
from ember.runtime.cuda.modules import ptx_key


class FakeDriver:
    """The Driver interface over host memory; `capacity` bytes of device memory per device."""

    name = "fake"

    def __init__(self, devices: int = 1, capacity: int = 1 << 30) -> None:
        self.devices = devices
        self.capacity = capacity
        self.current: int | None = None
        self.memory: dict[int, np.ndarray] = {}
        self._bases: list[int] = []
        self._next = 0x10000
        self.live_bytes = 0
        self.allocs = 0
        self.frees = 0
        self.module_loads: list[str] = []
        self.launches: list[tuple] = []
        self.programs: dict[str, Operation] = {}  # PTX hash -> GPU-mapped loops IR
        self.syncs = 0

    # --- devices and contexts -------------------------------------------------------------

    def device_count(self) -> int:
        return self.devices

    def device_name(self, index: int) -> str:
        return f"Fake GPU {index}"

    def compute_capability(self, index: int) -> tuple[int, int]:
        return (9, 0)

    def total_memory(self, index: int) -> int:
        return self.capacity

    def activate(self, index: int) -> None:
        if not 0 <= index < self.devices:
            raise CudaError(f"invalid device {index}")
        self.current = index

    # --- memory ---------------------------------------------------------------------------

    def mem_alloc(self, nbytes: int) -> int:
        if self.current is None:
            raise CudaError("no current context")
        if self.live_bytes + nbytes > self.capacity:
            raise CudaError("CUDA_ERROR_OUT_OF_MEMORY")
        ptr = self._next
        self._next += nbytes + 256  # a gap, so overruns land outside every allocation
        self.memory[ptr] = np.zeros(nbytes, np.uint8)
        bisect.insort(self._bases, ptr)
        self.live_bytes += nbytes
        self.allocs += 1
        return ptr

    def mem_free(self, ptr: int) -> None:
        block = self.memory.pop(ptr)
        self._bases.remove(ptr)
        self.live_bytes -= block.size
        self.frees += 1

    def view(self, ptr: int, nbytes: int) -> np.ndarray:
        """The device bytes [ptr, ptr + nbytes), which must lie in one allocation."""
        i = bisect.bisect_right(self._bases, ptr) - 1
        base = self._bases[i] if i >= 0 else None
        if base is None or ptr + nbytes > base + self.memory[base].size:
            raise CudaError(f"CUDA_ERROR_ILLEGAL_ADDRESS: {nbytes} bytes at {ptr:#x}")
        return self.memory[base][ptr - base:ptr - base + nbytes]

    def memcpy_htod(self, dst: int, src: np.ndarray) -> None:
        assert src.flags.c_contiguous
        self.view(dst, src.nbytes)[:] = src.reshape(-1).view(np.uint8)

    def memcpy_dtoh(self, dst: np.ndarray, src: int) -> None:
        assert dst.flags.c_contiguous
        dst.reshape(-1).view(np.uint8)[:] = self.view(src, dst.nbytes)

    def memcpy_dtod(self, dst: int, src: int, nbytes: int) -> None:
        self.view(dst, nbytes)[:] = self.view(src, nbytes).copy()

    # --- modules and launches -------------------------------------------------------------

    def register(self, kernel) -> None:
        """Make the PTX of `kernel` (a CudaKernel) runnable here, by its loops IR."""
        self.programs[ptx_key(kernel.ptx)] = kernel.loops

    def load_module(self, ptx: str) -> Any:
        self.module_loads.append(ptx)
        return ("module", ptx)

    def get_function(self, module: Any, name: str) -> Any:
        if f".entry {name}(" not in module[1]:
            raise CudaError(f"CUDA_ERROR_NOT_FOUND: no kernel {name}")
        return ("function", name, ptx_key(module[1]))

    def launch(self, function: Any, grid: Sequence[int], block: Sequence[int],
               args: Sequence[np.generic], shared_mem: int = 0, stream: Any = None) -> None:
        _, name, key = function
        self.launches.append((name, tuple(grid), tuple(block), tuple(args), shared_mem))
        if key not in self.programs:
            raise CudaError(f"fake driver: kernel {name} has no registered loops IR to run")
        if tuple(grid[1:]) != (1, 1) or tuple(block[1:]) != (1, 1):
            raise CudaError(f"fake driver: kernel {name} launched on a grid of more than x")
        func = _gpu_func(self.programs[key], name)
        types = func.attributes["function_type"].inputs
        buffers = [self.view(int(ptr), t.numel * t.dtype.itemsize).view(t.dtype.numpy)
                   .reshape(t.shape) for ptr, t in zip(args, types)]
        simt_interpreter.run_kernel(func, grid[0], block[0], buffers)

    def create_stream(self) -> Any:
        return ("stream",)

    def stream_synchronize(self, stream: Any) -> None:
        self.syncs += 1

    def synchronize(self) -> None:
        self.syncs += 1


def _gpu_func(loops: Operation, name: str) -> Operation:
    for op in loops.walk():
        if op.name == "gpu.func" and op.attributes["sym_name"] == name:
            return op
    raise CudaError(f"CUDA_ERROR_NOT_FOUND: no kernel {name}")


def install_fake_cuda(monkeypatch, devices: int = 1) -> FakeDriver:
    """Make ember's CUDA runtime use a fresh fake driver that runs every kernel compiled from
    now on (by registering it); monkeypatch undoes it after the test."""
    import ember.frontend.cuda as frontend_cuda
    import ember.runtime.cuda as runtime
    from ember.codegen.nvptx import target
    from ember.runtime.cuda import eager, executable

    driver = FakeDriver(devices)
    compile_graph = executable.compile_graph

    def compile_and_register(module, arch=None):
        kernel = compile_graph(module, arch)
        driver.register(kernel)
        return kernel

    monkeypatch.setattr(runtime, "_driver", driver)
    monkeypatch.setattr(runtime, "_failure", None)
    monkeypatch.setattr(runtime, "_devices", {})
    monkeypatch.setattr(target, "device_arch", target.device_arch)
    monkeypatch.setattr(eager, "_CACHE", {})
    monkeypatch.setattr(executable, "compile_graph", compile_and_register)
    monkeypatch.setattr(frontend_cuda, "_current", [0])
    return driver
