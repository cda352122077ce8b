"""Index-taking primitives: gather and scatter_add along one axis, with bounds checks."""

from __future__ import annotations

import numpy as np

from ember.ir import dtypes
from ember.ir.errors import DTypeError, ShapeError
from ember.ir.ops.common import check_axes, describe
from ember.ir.primitive import primitive
from ember.ir.types import TensorType


def _check_bounds(op: str, index: np.ndarray, size: int, axis: int) -> None:
    if index.size and (index.min() < 0 or index.max() >= size):
        bad = index[(index < 0) | (index >= size)].flat[0]
        raise IndexError(f"ember.{op}: index {bad} is out of bounds for axis {axis} with size {size}")


def _full_index(index: np.ndarray, axis: int) -> tuple:
    grid = list(np.indices(index.shape, sparse=True))
    grid[axis] = index
    return tuple(grid)


def _gather(x, index, *, axis):
    _check_bounds("gather", index, x.shape[axis], axis)
    return x[_full_index(index, axis)]


def _index_rule(op: str, x: TensorType, index: TensorType, axis: int, types) -> None:
    check_axes(op, x, [axis])
    if index.dtype not in (dtypes.int64, dtypes.int32):
        raise DTypeError(f"ember.{op}: index must be int64 or int32 ({describe(types)})")
    if index.rank != x.rank or any(i > s for d, (i, s) in enumerate(zip(index.shape, x.shape))
                                   if d != axis):
        raise ShapeError(f"ember.{op}: index must have the rank of the input and no larger "
                         f"sizes except along axis {axis} ({describe(types)})")


@primitive("gather", ["x", "index"], ["axis"], kind="index", numpy=_gather)
def gather_rule(types: list[TensorType], *, axis) -> TensorType:
    """out[i][j] = x[index[i][j]][j] for axis 0 (torch.gather); out has the index's shape."""
    x, index = types
    _index_rule("gather", x, index, axis, types)
    return TensorType(index.shape, x.dtype)


def _scatter_add(x, index, src, *, axis):
    _check_bounds("scatter_add", index, x.shape[axis], axis)
    out = x.copy()
    src = src[tuple(slice(0, s) for s in index.shape)]
    np.add.at(out, _full_index(index, axis), src)
    return out


@primitive("scatter_add", ["x", "index", "src"], ["axis"], kind="index", numpy=_scatter_add)
def scatter_add_rule(types: list[TensorType], *, axis) -> TensorType:
    """x with src added at index along `axis` (torch.scatter_add); out has x's type."""
    x, index, src = types
    _index_rule("scatter_add", x, index, axis, types)
    if src.dtype is not x.dtype:
        raise DTypeError(f"ember.scatter_add: src dtype must match input ({describe(types)})")
    if src.rank != index.rank or any(i > s for i, s in zip(index.shape, src.shape)):
        raise ShapeError(f"ember.scatter_add: index sizes must not exceed src sizes "
                         f"({describe(types)})")
    return x
