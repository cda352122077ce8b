"""One CUDA device as the rest of Ember sees it: its driver, allocator, module cache and copies.

Every call makes the device's context current first, so several devices can be used from one
thread. All work is ordered on the legacy default stream: a host copy returns after every kernel
queued before it has finished, which is what makes `.item()`, `.cpu()` and `.tolist()` the
synchronisation points PyTorch users expect.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ember.codegen.nvptx.target import arch_for_capability
from ember.runtime.cuda.allocator import CachingAllocator, DeviceBuffer
from ember.runtime.cuda.driver import Driver
from ember.runtime.cuda.modules import ModuleCache


class CudaDevice:
    """Device `index` of `driver`."""

    def __init__(self, driver: Driver, index: int) -> None:
        self.driver = driver
        self.index = index
        driver.activate(index)
        self.allocator = CachingAllocator(driver)
        self.modules = ModuleCache(driver)

    @property
    def name(self) -> str:
        """The device's name, e.g. 'NVIDIA H100 80GB HBM3'."""
        return self.driver.device_name(self.index)

    @property
    def capability(self) -> tuple[int, int]:
        """(major, minor) compute capability."""
        return self.driver.compute_capability(self.index)

    @property
    def arch(self) -> str:
        """The GPU architecture code is compiled for on this device, e.g. 'sm_90'."""
        return arch_for_capability(self.capability)

    def allocate(self, nbytes: int) -> DeviceBuffer:
        """A buffer of at least `nbytes` bytes from this device's caching allocator."""
        self.driver.activate(self.index)
        return self.allocator.allocate(nbytes)

    def copy_to_device(self, ptr: int, host: np.ndarray) -> None:
        """Write a host array's bytes (made C-contiguous) at device address `ptr`."""
        if host.nbytes:
            self.driver.activate(self.index)
            self.driver.memcpy_htod(ptr, np.ascontiguousarray(host))

    def copy_to_host(self, host: np.ndarray, ptr: int) -> None:
        """Fill a C-contiguous host array from device address `ptr`, after all queued work."""
        if host.nbytes:
            self.driver.activate(self.index)
            self.driver.memcpy_dtoh(host, ptr)

    def copy_on_device(self, dst: int, src: int, nbytes: int) -> None:
        """Copy `nbytes` between two addresses of this device."""
        if nbytes:
            self.driver.activate(self.index)
            self.driver.memcpy_dtod(dst, src, nbytes)

    def function(self, ptx: str, name: str) -> Any:
        """Kernel `name` of `ptx`, loaded once per device."""
        self.driver.activate(self.index)
        return self.modules.function(ptx, name)

    def launch(self, function: Any, grid: Sequence[int], block: Sequence[int],
               args: Sequence[np.generic], shared_mem: int = 0) -> None:
        """Queue a kernel on this device."""
        self.driver.activate(self.index)
        self.driver.launch(function, grid, block, args, shared_mem)

    def synchronize(self) -> None:
        """Wait for all work queued on this device."""
        self.driver.activate(self.index)
        self.driver.synchronize()

    def empty_cache(self) -> None:
        """Give the allocator's free blocks back to the driver."""
        self.driver.activate(self.index)
        self.allocator.empty_cache()
