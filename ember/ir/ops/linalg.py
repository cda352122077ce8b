"""Contraction primitives: batched matmul and 2-D convolution."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ember.ir import dtypes
from ember.ir.errors import DTypeError, ShapeError
from ember.ir.ops.common import broadcast_shapes, describe, upcast
from ember.ir.primitive import primitive
from ember.ir.types import TensorType


def _matmul(x, y):
    return np.matmul(upcast(x), upcast(y))


@primitive("matmul", ["x", "y"], kind="matmul", numpy=_matmul)
def matmul_rule(types: list[TensorType]) -> TensorType:
    """(..., n, k) @ (..., k, m) -> (..., n, m); batch axes broadcast, dtypes must match."""
    x, y = types
    if x.dtype is not y.dtype or x.dtype is dtypes.bool_:
        raise DTypeError(f"ember.matmul: expected operands of one non-bool dtype ({describe(types)})")
    if x.rank < 2 or y.rank < 2 or x.shape[-1] != y.shape[-2]:
        raise ShapeError(f"ember.matmul: cannot multiply {describe(types)}")
    batch = broadcast_shapes("matmul", [TensorType(x.shape[:-2], x.dtype),
                                        TensorType(y.shape[:-2], y.dtype)])
    return TensorType(batch + (x.shape[-2], y.shape[-1]), x.dtype)


def conv2d_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of a convolution along one spatial axis."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _conv2d(x, w, *, stride, padding, dilation, groups):
    x, w = upcast(x), upcast(w)
    n, c, _, _ = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, [(0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])])
    span = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    win = sliding_window_view(xp, span, axis=(2, 3))
    win = win[:, :, ::stride[0], ::stride[1], ::dilation[0], ::dilation[1]]
    oh, ow = win.shape[2], win.shape[3]
    win = win.reshape(n, groups, cg, oh, ow, kh, kw)
    wg = w.reshape(groups, o // groups, cg, kh, kw)
    out = np.einsum("ngchwij,gocij->ngohw", win, wg, optimize=True)
    return out.reshape(n, o, oh, ow)


@primitive("conv2d", ["x", "w"], ["stride", "padding", "dilation", "groups"], kind="conv",
           numpy=_conv2d)
def conv2d_rule(types: list[TensorType], *, stride, padding, dilation, groups) -> TensorType:
    """Cross-correlation of x (N, C, H, W) with w (O, C/groups, KH, KW), no bias."""
    x, w = types
    if x.dtype is not w.dtype or not x.dtype.is_floating_point:
        raise DTypeError(f"ember.conv2d: expected operands of one floating dtype ({describe(types)})")
    if x.rank != 4 or w.rank != 4:
        raise ShapeError(f"ember.conv2d: expected 4-D input and weight ({describe(types)})")
    if groups < 1 or x.shape[1] != w.shape[1] * groups or w.shape[0] % groups:
        raise ShapeError(f"ember.conv2d: input channels {x.shape[1]} do not match weight "
                         f"{w.shape} with groups={groups} ({describe(types)})")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ShapeError(f"ember.conv2d: invalid stride {stride}, padding {padding} or "
                         f"dilation {dilation} ({describe(types)})")
    spatial = tuple(conv2d_output_size(x.shape[2 + i], w.shape[2 + i], stride[i], padding[i],
                                       dilation[i]) for i in range(2))
    if min(spatial) < 1:
        raise ShapeError(f"ember.conv2d: kernel larger than padded input ({describe(types)}, "
                         f"padding {padding}, dilation {dilation})")
    return TensorType((x.shape[0], w.shape[0]) + spatial, x.dtype)
