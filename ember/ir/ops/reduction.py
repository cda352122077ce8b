"""Reduction primitives over a set of axes, with keepdim."""

from __future__ import annotations

import numpy as np

from ember.ir import dtypes
from ember.ir.errors import DTypeError, ShapeError
from ember.ir.ops.common import check_axes, describe, upcast
from ember.ir.primitive import primitive
from ember.ir.types import TensorType


def _reduced_shape(t: TensorType, axes, keepdim: bool) -> tuple[int, ...]:
    if keepdim:
        return tuple(1 if i in axes else d for i, d in enumerate(t.shape))
    return tuple(d for i, d in enumerate(t.shape) if i not in axes)


def _reduction_rule(name: str, accumulate_ints: bool, needs_nonempty: bool):
    def rule(types: list[TensorType], *, axes, keepdim) -> TensorType:
        (x,) = types
        check_axes(name, x, axes)
        if needs_nonempty and any(x.shape[a] == 0 for a in axes):
            raise ShapeError(f"ember.{name}: cannot reduce over a zero-size axis of "
                             f"{describe(types)} (axes {list(axes)})")
        dtype = x.dtype
        if accumulate_ints and not dtype.is_floating_point:
            dtype = dtypes.int64
        return TensorType(_reduced_shape(x, axes, keepdim), dtype)

    rule.__doc__ = f"{name} over `axes`; reduced axes are kept as size 1 when `keepdim`."
    return rule


def _reduction_numpy(fn, accumulate_ints: bool):
    def run(x: np.ndarray, *, axes, keepdim) -> np.ndarray:
        if accumulate_ints and x.dtype.kind in "biu":
            x = x.astype(np.int64)
        return fn(upcast(x), axis=tuple(axes), keepdims=keepdim)

    return run


for _name, _fn, _ints, _nonempty in [("sum", np.sum, True, False), ("prod", np.prod, True, False),
                                     ("max", np.max, False, True), ("min", np.min, False, True)]:
    primitive(_name, ["x"], ["axes", "keepdim"], kind="reduction",
              numpy=_reduction_numpy(_fn, _ints))(_reduction_rule(_name, _ints, _nonempty))


def _arg_rule(name: str):
    def rule(types: list[TensorType], *, axis, keepdim) -> TensorType:
        (x,) = types
        check_axes(name, x, [axis])
        if x.shape[axis] == 0:
            raise ShapeError(f"ember.{name}: cannot reduce over a zero-size axis of "
                             f"{describe(types)} (axis {axis})")
        if x.dtype is dtypes.bool_:
            raise DTypeError(f"ember.{name}: not supported for bool tensors ({describe(types)})")
        return TensorType(_reduced_shape(x, [axis], keepdim), dtypes.int64)

    rule.__doc__ = f"Index of the first {name[3:]} along `axis` (int64)."
    return rule


def _arg_numpy(fn):
    def run(x: np.ndarray, *, axis, keepdim) -> np.ndarray:
        return fn(upcast(x), axis=axis, keepdims=keepdim)

    return run


primitive("argmax", ["x"], ["axis", "keepdim"], kind="reduction", numpy=_arg_numpy(np.argmax),
          differentiable=False)(_arg_rule("argmax"))
primitive("argmin", ["x"], ["axis", "keepdim"], kind="reduction", numpy=_arg_numpy(np.argmin),
          differentiable=False)(_arg_rule("argmin"))
