"""The CUDA driver interface over cuda-python's driver bindings, the fallback backend.

`cuda.bindings.driver` (cuda-python 12.6 and later) or `cuda.cuda` (earlier). Every binding
returns a tuple whose first element is a CUresult; pointers, streams and host addresses are
passed as ints, which the bindings accept for every pointer-typed parameter. Written from the
bindings' documented API; it is exercised only on a machine with a GPU.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

from ember.runtime.cuda.driver import CudaError

LIBRARY = "cuda-python"


def create() -> "CudaPythonDriver":
    """Import the bindings and initialise the driver (ImportError when not installed)."""
    try:
        from cuda.bindings import driver
    except ImportError:
        from cuda import cuda as driver
    return CudaPythonDriver(driver)


class CudaPythonDriver:
    """Device memory, modules and launches through the driver API, on primary contexts."""

    name = LIBRARY

    def __init__(self, cu) -> None:
        self._cu = cu
        self._check("cuInit", cu.cuInit(0))
        self._contexts: dict[int, Any] = {}
        self._thread = threading.local()  # a context is current per thread

    def _check(self, call: str, result: tuple):
        """The values after the CUresult of a binding's result; CudaError if it failed."""
        error, *values = result
        if error != self._cu.CUresult.CUDA_SUCCESS:
            _, text = self._cu.cuGetErrorString(error)
            detail = text.decode() if isinstance(text, bytes) else str(text)
            raise CudaError(f"ember: CUDA call {call} failed: {error.name}: {detail}")
        return values[0] if len(values) == 1 else tuple(values)

    def _device(self, index: int):
        return self._check("cuDeviceGet", self._cu.cuDeviceGet(index))

    def device_count(self) -> int:
        return int(self._check("cuDeviceGetCount", self._cu.cuDeviceGetCount()))

    def device_name(self, index: int) -> str:
        name = self._check("cuDeviceGetName", self._cu.cuDeviceGetName(256, self._device(index)))
        return name.split(b"\0", 1)[0].decode()

    def compute_capability(self, index: int) -> tuple[int, int]:
        attribute = self._cu.CUdevice_attribute
        device = self._device(index)
        return tuple(
            int(self._check("cuDeviceGetAttribute", self._cu.cuDeviceGetAttribute(a, device)))
            for a in (attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                      attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR))

    def total_memory(self, index: int) -> int:
        return int(self._check("cuDeviceTotalMem", self._cu.cuDeviceTotalMem(self._device(index))))

    def activate(self, index: int) -> None:
        if getattr(self._thread, "index", None) == index:
            return
        context = self._contexts.get(index)
        if context is None:
            context = self._contexts[index] = self._check(
                "cuDevicePrimaryCtxRetain", self._cu.cuDevicePrimaryCtxRetain(self._device(index)))
        self._check("cuCtxSetCurrent", self._cu.cuCtxSetCurrent(context))
        self._thread.index = index

    def mem_alloc(self, nbytes: int) -> int:
        return int(self._check("cuMemAlloc", self._cu.cuMemAlloc(nbytes)))

    def mem_free(self, ptr: int) -> None:
        self._check("cuMemFree", self._cu.cuMemFree(ptr))

    def memcpy_htod(self, dst: int, src: np.ndarray) -> None:
        self._check("cuMemcpyHtoD", self._cu.cuMemcpyHtoD(dst, src.ctypes.data, src.nbytes))

    def memcpy_dtoh(self, dst: np.ndarray, src: int) -> None:
        self._check("cuMemcpyDtoH", self._cu.cuMemcpyDtoH(dst.ctypes.data, src, dst.nbytes))

    def memcpy_dtod(self, dst: int, src: int, nbytes: int) -> None:
        self._check("cuMemcpyDtoD", self._cu.cuMemcpyDtoD(dst, src, nbytes))

    def load_module(self, ptx: str) -> Any:
        image = np.frombuffer(ptx.encode() + b"\0", dtype=np.uint8)  # NUL-terminated PTX
        return self._check("cuModuleLoadData", self._cu.cuModuleLoadData(image.ctypes.data))

    def get_function(self, module: Any, name: str) -> Any:
        return self._check("cuModuleGetFunction",
                           self._cu.cuModuleGetFunction(module, name.encode()))

    def launch(self, function: Any, grid: Sequence[int], block: Sequence[int],
               args: Sequence[np.generic], shared_mem: int = 0, stream: Any = None) -> None:
        # kernelParams is an array of pointers, one to each argument's value.
        values = [np.array([a]) for a in args]
        pointers = np.array([v.ctypes.data for v in values], dtype=np.uint64)
        self._check("cuLaunchKernel", self._cu.cuLaunchKernel(
            function, *grid, *block, shared_mem, stream, pointers.ctypes.data if args else None,
            0))

    def create_stream(self) -> Any:
        return self._check("cuStreamCreate", self._cu.cuStreamCreate(0))

    def stream_synchronize(self, stream: Any) -> None:
        self._check("cuStreamSynchronize", self._cu.cuStreamSynchronize(stream))

    def synchronize(self) -> None:
        self._check("cuCtxSynchronize", self._cu.cuCtxSynchronize())
