"""Movement primitives: they only re-index (or pad with a constant), never compute."""

from __future__ import annotations

import numpy as np

from ember.ir.errors import DTypeError, ShapeError
from ember.ir.ops.common import check_axes, describe
from ember.ir.primitive import primitive
from ember.ir.types import TensorType


def _reshape(x, *, shape):
    return x.reshape(shape)


@primitive("reshape", ["x"], ["shape"], kind="movement", numpy=_reshape)
def reshape_rule(types: list[TensorType], *, shape) -> TensorType:
    """Same elements in row-major order, new static shape."""
    (x,) = types
    target = TensorType(tuple(shape), x.dtype)
    if any(d < 0 for d in shape) or target.numel != x.numel:
        raise ShapeError(f"ember.reshape: cannot reshape {describe(types)} to {tuple(shape)}")
    return target


def _permute(x, *, dims):
    return np.transpose(x, dims)


@primitive("permute", ["x"], ["dims"], kind="movement", numpy=_permute)
def permute_rule(types: list[TensorType], *, dims) -> TensorType:
    """Axes reordered: result axis i is operand axis dims[i]."""
    (x,) = types
    if sorted(dims) != list(range(x.rank)):
        raise ShapeError(f"ember.permute: {list(dims)} is not a permutation of the axes of "
                         f"{describe(types)}")
    return TensorType(tuple(x.shape[d] for d in dims), x.dtype)


def _broadcast_to(x, *, shape):
    return np.broadcast_to(x, shape)


@primitive("broadcast_to", ["x"], ["shape"], kind="movement", numpy=_broadcast_to)
def broadcast_to_rule(types: list[TensorType], *, shape) -> TensorType:
    """Size-1 and missing leading axes repeated to `shape`."""
    (x,) = types
    shape = tuple(shape)
    ok = len(shape) >= x.rank and all(
        d == s or d == 1 for d, s in zip(x.shape, shape[len(shape) - x.rank:]))
    if not ok or any(s < 0 for s in shape):
        raise ShapeError(f"ember.broadcast_to: cannot broadcast {describe(types)} to {shape}")
    return TensorType(shape, x.dtype)


def _slice(x, *, starts, stops, steps):
    return x[tuple(slice(a, b, c) for a, b, c in zip(starts, stops, steps))]


@primitive("slice", ["x"], ["starts", "stops", "steps"], kind="movement", numpy=_slice)
def slice_rule(types: list[TensorType], *, starts, stops, steps) -> TensorType:
    """x[starts:stops:steps] per axis; 0 <= start <= stop <= size and step >= 1."""
    (x,) = types
    if not len(starts) == len(stops) == len(steps) == x.rank:
        raise ShapeError(f"ember.slice: starts/stops/steps must have one entry per axis of "
                         f"{describe(types)}")
    shape = []
    for size, a, b, c in zip(x.shape, starts, stops, steps):
        if not (0 <= a <= b <= size and c >= 1):
            raise ShapeError(f"ember.slice: invalid range {a}:{b}:{c} for an axis of size "
                             f"{size} ({describe(types)})")
        shape.append(-(-(b - a) // c))
    return TensorType(tuple(shape), x.dtype)


def _pad(x, *, pads, value):
    widths = [(pads[2 * i], pads[2 * i + 1]) for i in range(x.ndim)]
    return np.pad(x, widths, constant_values=np.array(value).astype(x.dtype))


@primitive("pad", ["x"], ["pads", "value"], kind="movement", numpy=_pad)
def pad_rule(types: list[TensorType], *, pads, value) -> TensorType:
    """Constant padding: pads = [lo0, hi0, lo1, hi1, ...], all >= 0."""
    (x,) = types
    if len(pads) != 2 * x.rank or any(p < 0 for p in pads):
        raise ShapeError(f"ember.pad: pads {list(pads)} must be two non-negative entries per "
                         f"axis of {describe(types)}")
    shape = tuple(d + pads[2 * i] + pads[2 * i + 1] for i, d in enumerate(x.shape))
    return TensorType(shape, x.dtype)


def _concat(*xs, axis):
    return np.concatenate(xs, axis=axis)


@primitive("concat", ["xs"], ["axis"], kind="movement", numpy=_concat, variadic=True)
def concat_rule(types: list[TensorType], *, axis) -> TensorType:
    """Operands joined along `axis`; other axes and dtypes must match."""
    first = types[0]
    check_axes("concat", first, [axis])
    for t in types[1:]:
        if t.dtype is not first.dtype:
            raise DTypeError(f"ember.concat: operand dtypes differ ({describe(types)})")
        if t.rank != first.rank or any(
                a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != axis):
            raise ShapeError(f"ember.concat: sizes must match except along axis {axis} "
                             f"({describe(types)})")
    shape = list(first.shape)
    shape[axis] = sum(t.shape[axis] for t in types)
    return TensorType(tuple(shape), first.dtype)


def _flip(x, *, axes):
    return np.flip(x, axis=tuple(axes)) if axes else x


@primitive("flip", ["x"], ["axes"], kind="movement", numpy=_flip)
def flip_rule(types: list[TensorType], *, axes) -> TensorType:
    """Order of elements reversed along each of `axes`."""
    (x,) = types
    check_axes("flip", x, axes)
    return x
