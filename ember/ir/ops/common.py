"""Helpers shared by the shape rules: operand descriptions for error messages, broadcasting."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ember.ir import dtypes
from ember.ir.errors import DTypeError, ShapeError
from ember.ir.types import TensorType


def describe(types: Sequence[TensorType]) -> str:
    """'shapes (2, 3) and (3,), dtypes float32 and int64' for an error message."""
    shapes = " and ".join(str(tuple(t.shape)) for t in types)
    names = " and ".join(t.dtype.name for t in types)
    noun = "s" if len(types) > 1 else ""
    return f"shape{noun} {shapes}, dtype{noun} {names}"


def broadcast_shapes(op: str, types: Sequence[TensorType]) -> tuple[int, ...]:
    """NumPy/PyTorch broadcasting of the operand shapes, or a ShapeError naming `op`."""
    first = types[0].shape
    if all(t.shape == first for t in types):
        return first
    rank = max(t.rank for t in types)
    out = []
    for axis in range(rank):
        sizes = {t.shape[axis - rank + t.rank] for t in types if axis - rank + t.rank >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            raise ShapeError(f"ember.{op}: operands do not broadcast ({describe(types)})")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def promote(types: Sequence[TensorType]) -> dtypes.DType:
    """The promoted dtype of all operands."""
    result = types[0].dtype
    for t in types[1:]:
        result = dtypes.promote_types(result, t.dtype)
    return result


def to_float(dtype: dtypes.DType) -> dtypes.DType:
    """Integer and bool dtypes become the default float dtype, as PyTorch's float ops do."""
    return dtype if dtype.is_floating_point else dtypes.float32


def require_float(op: str, types: Sequence[TensorType]) -> None:
    """Raise DTypeError unless every operand has a floating-point dtype."""
    if not all(t.dtype.is_floating_point for t in types):
        raise DTypeError(f"ember.{op}: expected floating-point operands ({describe(types)})")


def check_axes(op: str, t: TensorType, axes: Sequence[int], *, unique: bool = True) -> None:
    """Raise ShapeError unless every axis is a valid, non-negative axis of `t` (and unique)."""
    for axis in axes:
        if not isinstance(axis, (int, np.integer)) or not 0 <= axis < t.rank:
            raise ShapeError(f"ember.{op}: axis {axis} out of range for rank {t.rank} "
                             f"({describe([t])})")
    if unique and len(set(axes)) != len(axes):
        raise ShapeError(f"ember.{op}: repeated axis in {list(axes)} ({describe([t])})")


def upcast(array: np.ndarray) -> np.ndarray:
    """Low-precision floats are computed in float32, as PyTorch's CPU kernels do."""
    if array.dtype in (dtypes.float16.numpy, dtypes.bfloat16.numpy):
        return array.astype(np.float32)
    return array
