"""An in-process fake of the CUDA driver interface, over host memory, for tests without a GPU.

Device memory is a set of host byte arrays at made-up addresses; copies resolve addresses to
them. PTX cannot run here: a test registers Python stand-ins for kernels by name in `kernels`,
each called with the driver and the launch's arguments, and every launch is recorded.
"""

from __future__ import annotations

import bisect
from typing import Any, Callable, Sequence

import numpy as np

from ember.runtime.cuda.driver import CudaError


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
        self.kernels: dict[str, Callable] = {}
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

    def load_module(self, ptx: str) -> Any:
        self.module_loads.append(ptx)
        return ("module", ptx)

    def get_function(self, module: Any, name: str) -> Any:
        if f".entry {name}" not in module[1]:
            raise CudaError(f"CUDA_ERROR_NOT_FOUND: no kernel {name}")
        return ("function", name)

    def launch(self, function: Any, grid: Sequence[int], block: Sequence[int],
               args: Sequence[np.generic], shared_mem: int = 0, stream: Any = None) -> None:
        name = function[1]
        self.launches.append((name, tuple(grid), tuple(block), tuple(args), shared_mem))
        kernel = self.kernels.get(name)
        if kernel is not None:
            kernel(self, *args)

    def create_stream(self) -> Any:
        return ("stream",)

    def stream_synchronize(self, stream: Any) -> None:
        self.syncs += 1

    def synchronize(self) -> None:
        self.syncs += 1


class NumpyExecutable:
    """Stands in for a compiled single-op graph: runs the op's NumPy semantics on the fake
    device's memory (download inputs, evaluate, upload the result)."""

    def __init__(self, module, device) -> None:
        from ember.ir import verify
        from ember.ir.core import functions

        verify(module)
        func = functions(module)[0]
        (self.op, _) = func.regions[0].blocks[0].operations  # the primitive, then func.return
        self.device = device

    def __call__(self, inputs):
        from ember.ir.primitive import PRIMITIVES
        from ember.runtime.cuda.array import DeviceArray

        assert all(a.is_contiguous and a.device is self.device for a in inputs)
        prim = PRIMITIVES[self.op.name.removeprefix("ember.")]
        result_type = self.op.results[0].type
        out = prim.evaluate([a.to_host() for a in inputs], dict(self.op.attributes), result_type)
        return [DeviceArray.from_host(self.device, out)]


def install_fake_cuda(monkeypatch, devices: int = 1) -> FakeDriver:
    """Make ember's CUDA runtime use a fresh fake driver, compiling single-op graphs to
    NumpyExecutable; monkeypatch undoes it after the test."""
    import ember.frontend.cuda as frontend_cuda
    import ember.runtime.cuda as runtime
    from ember.runtime.cuda import eager, executable

    driver = FakeDriver(devices)
    monkeypatch.setattr(runtime, "_driver", driver)
    monkeypatch.setattr(runtime, "_failure", None)
    monkeypatch.setattr(runtime, "_devices", {})
    monkeypatch.setattr(eager, "_CACHE", {})
    monkeypatch.setattr(executable, "compile_module", NumpyExecutable)
    monkeypatch.setattr(frontend_cuda, "_current", [0])
    return driver
