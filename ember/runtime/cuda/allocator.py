"""A caching allocator of device memory, in the manner of torch.cuda's.

Requests are rounded up to a size class (four classes per power of two, at least 512 bytes),
and a freed block goes back to its class's bin instead of to the driver, so a training loop
that allocates the same shapes every step stops calling cuMemAlloc after its first step.
Reusing a block at once is safe because all of a device's work is ordered on one stream: a
kernel queued later cannot run before the kernels that still read the block's old contents.
"""

from __future__ import annotations

from dataclasses import dataclass

from ember.runtime.cuda.driver import CudaError, Driver

MIN_BLOCK = 512
CLASS_BITS = 2  # 2**2 = four size classes per power of two


class OutOfMemoryError(RuntimeError):
    """The device has no memory left for a request, even after the cache was emptied."""


def size_class(nbytes: int) -> int:
    """The block size serving a request of `nbytes`: at most a quarter more than asked."""
    if nbytes <= MIN_BLOCK:
        return MIN_BLOCK
    octave = (nbytes - 1).bit_length() - 1  # 2**octave < nbytes <= 2**(octave + 1)
    step = 1 << (octave - CLASS_BITS)
    return -(-nbytes // step) * step


@dataclass
class MemoryStats:
    """What the allocator holds, in bytes of whole blocks (as torch.cuda reports it)."""

    allocated: int = 0
    reserved: int = 0
    peak_allocated: int = 0
    device_allocations: int = 0
    device_frees: int = 0
    cache_hits: int = 0


class CachingAllocator:
    """Device memory in size-class blocks, cached for reuse after they are freed."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.stats = MemoryStats()
        self._free: dict[int, list[int]] = {}

    def allocate(self, nbytes: int) -> "DeviceBuffer":
        """A buffer of at least `nbytes`, from the cache when a block of its class is free."""
        block = size_class(nbytes)
        bin_ = self._free.get(block)
        if bin_:
            ptr = bin_.pop()
            self.stats.cache_hits += 1
        else:
            ptr = self._allocate_block(block)
        self.stats.allocated += block
        self.stats.peak_allocated = max(self.stats.peak_allocated, self.stats.allocated)
        return DeviceBuffer(self, ptr, nbytes, block)

    def _allocate_block(self, block: int) -> int:
        try:
            ptr = self.driver.mem_alloc(block)
        except CudaError:
            # Cached blocks of other classes may be what stands in the way: give them back.
            self.empty_cache()
            try:
                ptr = self.driver.mem_alloc(block)
            except CudaError as e:
                raise OutOfMemoryError(
                    f"ember: CUDA out of memory allocating {block} bytes "
                    f"({self.stats.allocated} bytes allocated by ember, {e})") from e
        self.stats.reserved += block
        self.stats.device_allocations += 1
        return ptr

    def release(self, buffer: "DeviceBuffer") -> None:
        """Return a buffer's block to the cache (called when the buffer dies)."""
        self._free.setdefault(buffer.block, []).append(buffer.ptr)
        self.stats.allocated -= buffer.block

    def empty_cache(self) -> None:
        """Give every cached (free) block back to the driver."""
        for block, ptrs in self._free.items():
            for ptr in ptrs:
                self.driver.mem_free(ptr)
                self.stats.reserved -= block
                self.stats.device_frees += 1
        self._free.clear()

    def cached_bytes(self) -> int:
        """Bytes held in free blocks."""
        return sum(block * len(ptrs) for block, ptrs in self._free.items())


class DeviceBuffer:
    """`nbytes` of device memory at `ptr`, owned while this object lives."""

    __slots__ = ("allocator", "ptr", "nbytes", "block")

    def __init__(self, allocator: CachingAllocator, ptr: int, nbytes: int, block: int) -> None:
        self.allocator = allocator
        self.ptr = ptr
        self.nbytes = nbytes
        self.block = block

    def __del__(self) -> None:
        self.allocator.release(self)

    def __repr__(self) -> str:
        return f"DeviceBuffer(ptr={self.ptr:#x}, nbytes={self.nbytes})"
