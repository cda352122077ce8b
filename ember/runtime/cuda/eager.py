"""Eager CUDA: one primitive compiled as a single-op graph, cached by signature.

`compile_primitive(op, input_types, attrs, device)` is the one entry point eager dispatch uses
for CUDA tensors: it builds `func @op(inputs) { ember.<op>; return }`, compiles it through the
CUDA pipeline (`executable.compile_module`, for the device's architecture) and keeps the result for
the next call with the same primitive, operand types, attributes and device.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from ember.ir.core import Builder, func_op, module_op
from ember.ir.primitive import PRIMITIVES
from ember.ir.types import TensorType
from ember.runtime.cuda import executable
from ember.runtime.cuda.array import DeviceArray
from ember.runtime.cuda.device import CudaDevice

Runnable = Callable[[Sequence[DeviceArray]], list[DeviceArray]]

_CACHE: dict[tuple, Runnable] = {}


def single_op_module(op: str, input_types: Sequence[TensorType], attrs: dict[str, Any]):
    """`builtin.module { func.func @<op>(inputs) { %r = ember.<op>(inputs); return %r } }`."""
    result_type = PRIMITIVES[op].infer(list(input_types), attrs)
    module = module_op()
    func = func_op(op, list(input_types))
    module.regions[0].blocks[0].append(func)
    block = func.regions[0].blocks[0]
    builder = Builder(block)
    result = builder.create(f"ember.{op}", block.arguments, [result_type], attrs).result
    builder.ret([result])
    return module


def signature(op: str, input_types: Sequence[TensorType], attrs: dict[str, Any],
              device: CudaDevice) -> tuple:
    """The cache key of a primitive application."""
    return op, tuple(input_types), tuple(sorted((k, _hashable(v)) for k, v in attrs.items())), \
        device.index


def _hashable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.dtype.str, value.shape, value.tobytes()
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


def compile_primitive(op: str, input_types: Sequence[TensorType], attrs: dict[str, Any],
                      device: CudaDevice) -> Runnable:
    """A runnable for primitive `op` on operands of `input_types`, compiled once per signature."""
    key = signature(op, input_types, attrs, device)
    runnable = _CACHE.get(key)
    if runnable is None:
        module = single_op_module(op, input_types, attrs)
        compiled = executable.compile_module(module, device.arch)
        runnable = _CACHE[key] = functools.partial(compiled.run, device)
    return runnable


def cache_size() -> int:
    """How many single-op graphs have been compiled."""
    return len(_CACHE)
