"""Eager CUDA tensors: their device arrays, and primitives run on them as single-op graphs.

A CUDA tensor's `_array` is a `DeviceArray` where a CPU tensor's is a NumPy array. Dispatch
sends every primitive with a CUDA operand here: movement primitives become views sharing the
buffer, as NumPy's do on the CPU; every other primitive runs the single-op graph that
`compile_primitive` compiled for its signature, on dense inputs. CPU 0-d operands (Python
scalars after promotion) are uploaded, as PyTorch lets CPU scalars mix with CUDA tensors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ember.frontend.cuda import runtime_device
from ember.frontend.device import CPU, device as Device
from ember.ir import dtypes
from ember.ir.types import TensorType
from ember.runtime.cuda.array import DeviceArray
from ember.runtime.cuda.eager import compile_primitive

if TYPE_CHECKING:
    from ember.frontend.tensor import Tensor

VIEWS = {
    "reshape": lambda a, shape: a.reshape(shape),
    "permute": lambda a, dims: a.permute(dims),
    "broadcast_to": lambda a, shape: a.broadcast_to(shape),
    "slice": lambda a, starts, stops, steps: a.slice(starts, stops, steps),
}


def device_of(array) -> Device:
    """The device an array lives on."""
    if isinstance(array, np.ndarray):
        return CPU
    return Device("cuda", array.device.index)


def _type(array: DeviceArray) -> TensorType:
    return TensorType(array.shape, dtypes.from_numpy(array.dtype))


def run_arrays(op: str, arrays: Sequence[DeviceArray], attrs: dict[str, Any],
               target) -> DeviceArray:
    """Primitive `op` on dense device arrays of one device: its compiled single-op graph."""
    runnable = compile_primitive(op, [_type(a) for a in arrays], attrs, target)
    (out,) = runnable(list(arrays))
    return out


def run(op: str, operands: "Sequence[Tensor]", attrs: dict[str, Any],
        result_type: TensorType, where: Device) -> tuple[DeviceArray, bool]:
    """Primitive `op` on tensors of CUDA device `where`: its result, and whether the result is
    a view of operand 0's buffer."""
    if op in VIEWS:
        view = VIEWS[op](operands[0]._array, **attrs)
        if view is not None:
            return view, True
    target = runtime_device(where)
    out = run_arrays(op, [_device_operand(t._array, target) for t in operands], attrs, target)
    if out.shape != result_type.shape or out.dtype != result_type.dtype.numpy:
        raise RuntimeError(f"ember.{op}: the CUDA kernel returned {_type(out)}, expected "
                           f"{result_type}")
    return out, False


def _device_operand(array, target) -> DeviceArray:
    if isinstance(array, np.ndarray):
        return DeviceArray.from_host(target, array)
    return dense(array)


def dense(array: DeviceArray) -> DeviceArray:
    """The array itself if contiguous, else a dense copy gathered on the device."""
    if array.is_contiguous:
        return array
    index = DeviceArray.from_host(array.device, array.element_offsets().reshape(-1))
    gathered = run_arrays("gather", [array.span_elements(), index], {"axis": 0}, array.device)
    return gathered.reshape(array.shape)


def copy(array: DeviceArray) -> DeviceArray:
    """A dense copy with a buffer of its own."""
    return array.copy() if array.is_contiguous else dense(array)


def move(array, where: Device):
    """`array` on device `where`: itself if already there, else a copy (host copies wait for
    the device)."""
    if device_of(array) == where:
        return array
    host = array if isinstance(array, np.ndarray) else array.to_host()
    if where.type == "cpu":
        return host
    return DeviceArray.from_host(runtime_device(where), host)


def store(target: DeviceArray, index, values) -> None:
    """`target[index] = values` (a NumPy index; values broadcast and cast to the target).

    Overwriting all of a contiguous target stays on the device; writes through strided views
    or at positions go through the host (see DeviceArray.write_from_host).
    """
    if index is Ellipsis and target.is_contiguous:
        source = _values_like(target, values)
        if source.ptr != target.ptr:
            target.copy_from(source)
        return
    host = values if isinstance(values, np.ndarray) else values.to_host()
    target.write_from_host(host.astype(target.dtype, copy=False), index)


def _values_like(target: DeviceArray, values) -> DeviceArray:
    """`values` as a dense array of target's shape, dtype and device, not overlapping it."""
    if isinstance(values, np.ndarray):
        host = np.broadcast_to(values.astype(target.dtype, copy=False), target.shape)
        return DeviceArray.from_host(target.device, host)
    if values.device is not target.device:
        values = DeviceArray.from_host(target.device, values.to_host())
    if values.shape != target.shape:
        values = values.broadcast_to(target.shape)
    if values.buffer is target.buffer and values.ptr != target.ptr:
        values = copy(values)  # a partly overlapping source would be overwritten as it is read
    values = dense(values)
    if values.dtype != target.dtype:
        values = run_arrays("cast", [values], {"dtype": dtypes.from_numpy(target.dtype).name},
                            target.device)
    return values
