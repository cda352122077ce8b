"""The CUDA driver interface over pycuda (`pycuda.driver`), the preferred backend.

Written from pycuda's documented API; it is exercised only on a machine with a GPU.
"""

from __future__ import annotations

import atexit
import functools
import threading
from typing import Any, Sequence

import numpy as np

from ember.runtime.cuda.driver import CudaError

LIBRARY = "pycuda"


def create() -> "PyCudaDriver":
    """Import pycuda and initialise the driver (ImportError when pycuda is not installed)."""
    import pycuda.driver

    return PyCudaDriver(pycuda.driver)


def _translating(method):
    """Raise pycuda's errors as CudaError, naming the call."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except self._cuda.Error as e:
            raise CudaError(f"ember: CUDA call {method.__name__} failed: {e}") from e

    return call


class PyCudaDriver:
    """Device memory, modules and launches through pycuda, on each device's primary context."""

    name = LIBRARY

    def __init__(self, cuda) -> None:
        self._cuda = cuda
        cuda.init()
        self._contexts: dict[int, Any] = {}
        self._thread = threading.local()  # a context is current per thread
        # pycuda frees a DeviceAllocation when the object dies, so the live ones are kept here.
        self._allocations: dict[int, Any] = {}
        atexit.register(self._release_contexts)

    def device_count(self) -> int:
        return self._cuda.Device.count()

    def device_name(self, index: int) -> str:
        return self._cuda.Device(index).name()

    def compute_capability(self, index: int) -> tuple[int, int]:
        return tuple(self._cuda.Device(index).compute_capability())

    def total_memory(self, index: int) -> int:
        return int(self._cuda.Device(index).total_memory())

    @_translating
    def activate(self, index: int) -> None:
        current = getattr(self._thread, "index", None)
        if current == index:
            return
        context = self._contexts.get(index)
        if context is None:
            context = self._contexts[index] = self._cuda.Device(index).retain_primary_context()
        if current is not None:
            self._cuda.Context.pop()
        context.push()
        self._thread.index = index

    def _release_contexts(self) -> None:
        # pycuda reports an error at exit if contexts are still pushed.
        if getattr(self._thread, "index", None) is not None:
            self._cuda.Context.pop()
            self._thread.index = None

    @_translating
    def mem_alloc(self, nbytes: int) -> int:
        allocation = self._cuda.mem_alloc(nbytes)
        self._allocations[int(allocation)] = allocation
        return int(allocation)

    @_translating
    def mem_free(self, ptr: int) -> None:
        self._allocations.pop(ptr).free()

    @_translating
    def memcpy_htod(self, dst: int, src: np.ndarray) -> None:
        self._cuda.memcpy_htod(dst, src)

    @_translating
    def memcpy_dtoh(self, dst: np.ndarray, src: int) -> None:
        self._cuda.memcpy_dtoh(dst, src)

    @_translating
    def memcpy_dtod(self, dst: int, src: int, nbytes: int) -> None:
        self._cuda.memcpy_dtod(dst, src, nbytes)

    @_translating
    def load_module(self, ptx: str) -> Any:
        return self._cuda.module_from_buffer(ptx.encode() + b"\0")

    @_translating
    def get_function(self, module: Any, name: str) -> Any:
        return module.get_function(name)

    @_translating
    def launch(self, function: Any, grid: Sequence[int], block: Sequence[int],
               args: Sequence[np.generic], shared_mem: int = 0, stream: Any = None) -> None:
        # A prepared call packs the arguments by a format fixed once per function: far less
        # per-launch work than Function.__call__, which inspects every argument each time.
        if not hasattr(function, "arg_format"):
            function.prepare([np.asarray(a).dtype for a in args])
        function.prepared_async_call(tuple(grid), tuple(block), stream, *args,
                                     shared_size=shared_mem)

    @_translating
    def create_stream(self) -> Any:
        return self._cuda.Stream()

    @_translating
    def stream_synchronize(self, stream: Any) -> None:
        stream.synchronize()

    @_translating
    def synchronize(self) -> None:
        self._cuda.Context.synchronize()
