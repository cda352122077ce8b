"""Primitives that create tensors: full (constants), iota, and counter-based random numbers."""

from __future__ import annotations

import numpy as np

from ember.ir import dtypes
from ember.ir.errors import DTypeError, ShapeError
from ember.ir.ops.common import check_axes, describe
from ember.ir.primitive import primitive
from ember.ir.types import TensorType


def _check_shape(op: str, shape) -> tuple[int, ...]:
    shape = tuple(shape)
    if any(not isinstance(d, (int, np.integer)) or d < 0 for d in shape):
        raise ShapeError(f"ember.{op}: invalid shape {shape}")
    return shape


def _full(*, shape, value, dtype):
    return np.full(shape, value, dtype=dtypes.from_name(dtype).numpy)


@primitive("full", [], ["shape", "value", "dtype"], kind="creation", numpy=_full,
           differentiable=False)
def full_rule(types: list[TensorType], *, shape, value, dtype) -> TensorType:
    """A tensor of `shape` with every element equal to `value`."""
    return TensorType(_check_shape("full", shape), dtypes.from_name(dtype))


def _iota(*, shape, axis, dtype):
    index = np.arange(shape[axis]).reshape([-1 if i == axis else 1 for i in range(len(shape))])
    return np.broadcast_to(index, shape).astype(dtypes.from_name(dtype).numpy)


@primitive("iota", [], ["shape", "axis", "dtype"], kind="creation", numpy=_iota,
           differentiable=False)
def iota_rule(types: list[TensorType], *, shape, axis, dtype) -> TensorType:
    """Each element's index along `axis`."""
    result = TensorType(_check_shape("iota", shape), dtypes.from_name(dtype))
    check_axes("iota", result, [axis])
    return result


_PHILOX_M = (np.uint64(0xD2511F53), np.uint64(0xCD9E8D57))
_PHILOX_W = (np.uint32(0x9E3779B9), np.uint32(0xBB67AE85))
_MASK32 = np.uint64(0xFFFFFFFF)


def philox4x32(counter: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """Philox-4x32-10 of 64-bit counters under a 64-bit key: four uint32 words per counter."""
    c0 = (counter & _MASK32).astype(np.uint32)
    c1 = (counter >> np.uint64(32)).astype(np.uint32)
    c2 = np.zeros_like(c0)
    c3 = np.zeros_like(c0)
    k0 = np.uint32(seed & 0xFFFFFFFF)
    k1 = np.uint32((seed >> 32) & 0xFFFFFFFF)
    for _ in range(10):
        p0 = _PHILOX_M[0] * c0.astype(np.uint64)
        p1 = _PHILOX_M[1] * c2.astype(np.uint64)
        hi0, lo0 = (p0 >> np.uint64(32)).astype(np.uint32), (p0 & _MASK32).astype(np.uint32)
        hi1, lo1 = (p1 >> np.uint64(32)).astype(np.uint32), (p1 & _MASK32).astype(np.uint32)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0, k1 = k0 + _PHILOX_W[0], k1 + _PHILOX_W[1]
    return c0, c1, c2, c3


# Mantissa bits per dtype, so that no rounding can ever produce 1.0.
_UNIFORM_BITS = {"float16": 11, "bfloat16": 8, "float32": 24}


def _random_uniform(seed, offset, *, shape, dtype):
    n = int(np.prod(shape, dtype=np.int64))
    counter = np.arange(n, dtype=np.uint64) + np.uint64(int(offset) & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        w0, w1, _, _ = philox4x32(counter, int(seed) & 0xFFFFFFFFFFFFFFFF)
    if dtype == "float64":
        bits = (w0.astype(np.uint64) >> np.uint64(5)) * np.uint64(1 << 26) + (w1 >> 6)
        values = bits.astype(np.float64) * 2.0 ** -53
    else:
        b = _UNIFORM_BITS[dtype]
        values = (w0 >> np.uint32(32 - b)).astype(np.float32) * np.float32(2.0 ** -b)
    return values.reshape(shape).astype(dtypes.from_name(dtype).numpy)


@primitive("random_uniform", ["seed", "offset"], ["shape", "dtype"], kind="random",
           numpy=_random_uniform, differentiable=False)
def random_uniform_rule(types: list[TensorType], *, shape, dtype) -> TensorType:
    """Uniform [0, 1) floats from Philox-4x32-10 bits of counters offset, offset+1, ... under seed.

    The same (seed, offset) gives the same numbers wherever the primitive runs; the caller
    advances its offset by the number of elements drawn.
    """
    for t in types:
        if t.rank != 0 or t.dtype is not dtypes.int64:
            raise DTypeError(f"ember.random_uniform: seed and offset must be int64 scalars "
                             f"({describe(types)})")
    result = TensorType(_check_shape("random_uniform", shape), dtypes.from_name(dtype))
    if not result.dtype.is_floating_point:
        raise DTypeError(f"ember.random_uniform: dtype must be floating, got {dtype}")
    return result


def _constant(*, value):
    return value


@primitive("constant", [], ["value"], kind="creation", numpy=_constant, differentiable=False)
def constant_rule(types: list[TensorType], *, value) -> TensorType:
    """A tensor with the given values (a NumPy array attribute, printed as `dense<...>`)."""
    if not isinstance(value, np.ndarray):
        raise DTypeError(f"ember.constant: value must be a NumPy array, got {type(value).__name__}")
    return TensorType(tuple(value.shape), dtypes.from_numpy(value.dtype))
