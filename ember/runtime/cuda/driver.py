"""The CUDA driver interface every runtime piece above it uses, and the choice of its backend.

A driver is a thin object over one library's bindings of the CUDA driver API. Pointers,
module, function and stream handles cross the interface as plain Python values (pointers as
ints), so the allocator, the module cache and the launcher never see which library runs
underneath. pycuda is preferred; cuda-python's driver bindings are the fallback. Both are
imported only when a driver is first asked for, so `import ember` never loads them.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np


class CudaError(RuntimeError):
    """A CUDA driver call failed."""


class CudaUnavailableError(RuntimeError):
    """No CUDA driver could be loaded, or it found no device."""


class Driver(Protocol):
    """What Ember needs of the CUDA driver API.

    Work is ordered on the legacy default stream unless a stream handle is given; `memcpy_htod`
    and `memcpy_dtoh` return once the host memory may be reused (dtoh: once the data is there).
    """

    name: str

    def device_count(self) -> int:
        """Number of CUDA devices."""

    def device_name(self, index: int) -> str:
        """The device's marketing name."""

    def compute_capability(self, index: int) -> tuple[int, int]:
        """(major, minor) compute capability."""

    def total_memory(self, index: int) -> int:
        """Bytes of device memory."""

    def activate(self, index: int) -> None:
        """Make device `index`'s primary context current on this thread."""

    def mem_alloc(self, nbytes: int) -> int:
        """Allocate device memory in the current context; its address."""

    def mem_free(self, ptr: int) -> None:
        """Free memory returned by mem_alloc."""

    def memcpy_htod(self, dst: int, src: np.ndarray) -> None:
        """Copy a C-contiguous host array to device address `dst`."""

    def memcpy_dtoh(self, dst: np.ndarray, src: int) -> None:
        """Fill a C-contiguous host array from device address `src`."""

    def memcpy_dtod(self, dst: int, src: int, nbytes: int) -> None:
        """Copy between device addresses."""

    def load_module(self, ptx: str) -> Any:
        """Load PTX text into the current context; a module handle."""

    def get_function(self, module: Any, name: str) -> Any:
        """A kernel handle from a loaded module."""

    def launch(self, function: Any, grid: Sequence[int], block: Sequence[int],
               args: Sequence[np.generic], shared_mem: int = 0, stream: Any = None) -> None:
        """Launch a kernel on a (x, y, z) grid of (x, y, z) blocks; each argument is a NumPy
        scalar of the parameter's C type (device pointers as np.uint64)."""

    def create_stream(self) -> Any:
        """A new stream handle."""

    def stream_synchronize(self, stream: Any) -> None:
        """Wait for the work queued on `stream`."""

    def synchronize(self) -> None:
        """Wait for all work in the current context."""


def load_driver() -> Driver:
    """The first driver that loads and initialises: pycuda, else cuda-python.

    Raises CudaUnavailableError saying why each failed.
    """
    from ember.runtime.cuda import cuda_python_driver, pycuda_driver

    reasons = []
    for module in (pycuda_driver, cuda_python_driver):
        try:
            return module.create()
        except ImportError as e:
            reasons.append(f"{module.LIBRARY} is not installed ({e})")
        except Exception as e:  # a driver library that cannot initialise (no libcuda, no GPU)
            reasons.append(f"{module.LIBRARY} could not initialise CUDA ({e})")
    raise CudaUnavailableError("; ".join(reasons))
