"""DeviceArray: a strided view of a device buffer, with NumPy's metadata names.

Layouts follow NumPy's: byte strides and a byte offset into the buffer, so the movement
primitives (reshape of a contiguous array, permute, broadcast_to, slice) are views that share
the buffer, as they are on the CPU. Strides are never negative (no view primitive makes them
so). Kernels take dense row-major arrays; making a strided array dense on the device is the
caller's business: it gathers `span_elements()` at `element_offsets()`.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ember.runtime.cuda.allocator import DeviceBuffer
from ember.runtime.cuda.device import CudaDevice


def row_major_strides(shape: Sequence[int], itemsize: int) -> tuple[int, ...]:
    """Byte strides of a dense row-major array."""
    strides, step = [], itemsize
    for d in reversed(shape):
        strides.append(step)
        step *= max(d, 1)
    return tuple(reversed(strides))


def _view_strides(shape: tuple[int, ...], strides: tuple[int, ...],
                  new_shape: tuple[int, ...]) -> list[int] | None:
    """Strides showing a (non-empty, strided) layout in `new_shape` without a copy, or None.

    PyTorch's rule (computeStride): the old axes fall into chunks that are contiguous among
    themselves; each chunk must be covered by whole new axes, which get strides within it.
    """
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    base = strides[-1]
    chunk_numel = view_numel = 1
    for d in reversed(range(len(shape))):
        chunk_numel *= shape[d]
        if d == 0 or (shape[d - 1] != 1 and strides[d - 1] != chunk_numel * base):
            while view_d >= 0 and (view_numel < chunk_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * base
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != chunk_numel:
                return None
            if d > 0:
                base = strides[d - 1]
                chunk_numel = view_numel = 1
    return new_strides if view_d == -1 else None


class DeviceArray:
    """An array in device memory: buffer, shape, dtype, byte strides and byte offset."""

    __slots__ = ("device", "buffer", "shape", "dtype", "strides", "offset")

    def __init__(self, device: CudaDevice, buffer: DeviceBuffer, shape: Sequence[int],
                 dtype: np.dtype, strides: Sequence[int] | None = None, offset: int = 0) -> None:
        self.device = device
        self.buffer = buffer
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.strides = (row_major_strides(self.shape, self.dtype.itemsize) if strides is None
                        else tuple(int(s) for s in strides))
        self.offset = offset

    @classmethod
    def empty(cls, device: CudaDevice, shape: Sequence[int], dtype) -> "DeviceArray":
        """An uninitialised dense array."""
        dtype = np.dtype(dtype)
        return cls(device, device.allocate(math.prod(shape) * dtype.itemsize), shape, dtype)

    @classmethod
    def from_host(cls, device: CudaDevice, host: np.ndarray) -> "DeviceArray":
        """A dense device copy of a host array (of any layout)."""
        out = cls.empty(device, host.shape, host.dtype)
        device.copy_to_device(out.ptr, host)
        return out

    # --- NumPy's metadata -----------------------------------------------------------------

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.itemsize

    @property
    def ptr(self) -> int:
        """Device address of the first element."""
        return self.buffer.ptr + self.offset

    @property
    def is_contiguous(self) -> bool:
        """Whether the elements are dense and row-major (size-1 axes may have any stride)."""
        expected = row_major_strides(self.shape, self.itemsize)
        return self.size == 0 or all(d == 1 or s == e
                                     for d, s, e in zip(self.shape, self.strides, expected))

    def _span(self) -> int:
        """Bytes from the first element to the end of the last."""
        if self.size == 0:
            return 0
        return sum((d - 1) * s for d, s in zip(self.shape, self.strides)) + self.itemsize

    # --- host copies ----------------------------------------------------------------------

    def to_host(self) -> np.ndarray:
        """The values as a new row-major host array; waits for the kernels writing them."""
        raw = np.empty(self._span() // self.itemsize, self.dtype)
        self.device.copy_to_host(raw, self.ptr)
        if self.is_contiguous:
            return raw.reshape(self.shape)
        return np.lib.stride_tricks.as_strided(raw, self.shape, self.strides).copy()

    def write_from_host(self, values: np.ndarray, index=...) -> None:
        """Set `self[index]` (a NumPy index into this array's shape) to host `values`.

        Writing all of a contiguous array is one upload; anything else goes through the host:
        the array's span is read, updated and written back, so elements between the view's own
        keep their values.
        """
        if index is Ellipsis and self.is_contiguous:
            values = np.broadcast_to(np.asarray(values, dtype=self.dtype), self.shape)
            self.device.copy_to_device(self.ptr, values)
            return
        if any(s == 0 and d > 1 for d, s in zip(self.shape, self.strides)):
            raise ValueError("the array is broadcast: several elements share one location")
        raw = np.empty(self._span() // self.itemsize, self.dtype)
        self.device.copy_to_host(raw, self.ptr)
        np.lib.stride_tricks.as_strided(raw, self.shape, self.strides)[index] = values
        self.device.copy_to_device(self.ptr, raw)

    def copy(self) -> "DeviceArray":
        """A dense copy on the same device; the array must be contiguous (kernels, not this
        runtime, gather strided elements)."""
        if not self.is_contiguous:
            raise ValueError("DeviceArray.copy: the array is not contiguous")
        out = DeviceArray.empty(self.device, self.shape, self.dtype)
        self.device.copy_on_device(out.ptr, self.ptr, self.nbytes)
        return out

    def copy_from(self, source: "DeviceArray") -> None:
        """Overwrite this contiguous array with a contiguous array of the same shape and dtype."""
        if not (self.is_contiguous and source.is_contiguous and self.shape == source.shape
                and self.dtype == source.dtype):
            raise ValueError("DeviceArray.copy_from: both arrays must be contiguous and alike")
        self.device.copy_on_device(self.ptr, source.ptr, self.nbytes)

    # --- views ----------------------------------------------------------------------------

    def _view(self, shape: Sequence[int], strides: Sequence[int],
              offset: int | None = None) -> "DeviceArray":
        return DeviceArray(self.device, self.buffer, shape, self.dtype, strides,
                           self.offset if offset is None else offset)

    def reshape(self, shape: Sequence[int]) -> "DeviceArray | None":
        """The same elements in a new shape sharing the buffer, or None where the layout
        cannot express it without a copy."""
        if self.is_contiguous:
            return self._view(shape, row_major_strides(shape, self.itemsize))
        strides = _view_strides(self.shape, self.strides, tuple(shape))
        return None if strides is None else self._view(shape, strides)

    def permute(self, dims: Sequence[int]) -> "DeviceArray":
        """Axes reordered: axis i of the result is axis dims[i]."""
        return self._view([self.shape[d] for d in dims], [self.strides[d] for d in dims])

    def broadcast_to(self, shape: Sequence[int]) -> "DeviceArray":
        """Size-1 and missing leading axes repeated (stride 0) to `shape`."""
        lead = len(shape) - self.ndim
        strides = [0] * lead + [0 if d == 1 and n != 1 else s for d, s, n in
                                zip(self.shape, self.strides, shape[lead:])]
        return self._view(shape, strides)

    def slice(self, starts: Sequence[int], stops: Sequence[int],
              steps: Sequence[int]) -> "DeviceArray":
        """x[start:stop:step] along every axis (0 <= start <= stop, step >= 1)."""
        shape = [max(0, -(-(b - a) // c)) for a, b, c in zip(starts, stops, steps)]
        offset = self.offset + sum(a * s for a, s in zip(starts, self.strides))
        return self._view(shape, [s * c for s, c in zip(self.strides, steps)], offset)

    def element_offsets(self) -> np.ndarray:
        """For each element (row-major), its distance in elements from the first one: an index
        into `span_elements()`."""
        positions = np.zeros(self.shape, dtype=np.int64)
        for axis, (d, s) in enumerate(zip(self.shape, self.strides)):
            step = np.arange(d, dtype=np.int64) * (s // self.itemsize)
            positions += step.reshape([-1 if i == axis else 1 for i in range(self.ndim)])
        return positions

    def span_elements(self) -> "DeviceArray":
        """The buffer from the first element to the last as a dense 1-d array of this dtype."""
        return DeviceArray(self.device, self.buffer, (self._span() // self.itemsize,),
                           self.dtype, offset=self.offset)

    def __repr__(self) -> str:
        return (f"DeviceArray(cuda:{self.device.index}, shape={self.shape}, dtype={self.dtype}, "
                f"strides={self.strides}, offset={self.offset})")
