"""Matrix products and convolution over the matmul and conv2d primitives."""

from __future__ import annotations

from ember.frontend.dispatch import apply
from ember.frontend.ops.promotion import promote_operands
from ember.frontend.ops.shape import squeeze, unsqueeze
from ember.frontend.tensor import Tensor
from ember.frontend.transfer import to_device
from ember.ir.errors import ShapeError


def matmul(x: Tensor, y: Tensor) -> Tensor:
    """Matrix product with NumPy's rules for 1-D operands and broadcast batch dimensions."""
    if x.ndim == 0 or y.ndim == 0:
        raise ShapeError(f"ember.matmul: both arguments need at least 1 dimension, got shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    a = unsqueeze(x, 0) if x.ndim == 1 else x
    b = unsqueeze(y, -1) if y.ndim == 1 else y
    if a.dtype is not b.dtype:
        raise RuntimeError(f"ember.matmul: expected both operands to have the same dtype, got "
                           f"{x.dtype.name} and {y.dtype.name}")
    out = apply("matmul", a, b)
    if y.ndim == 1:
        out = squeeze(out, -1)
    if x.ndim == 1:
        out = squeeze(out, -2 if y.ndim > 1 else -1)
    return out


def mm(x: Tensor, y: Tensor) -> Tensor:
    """Product of two matrices."""
    if x.ndim != 2 or y.ndim != 2:
        raise ShapeError(f"ember.mm: expected 2-D tensors, got shapes {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    return matmul(x, y)


def bmm(x: Tensor, y: Tensor) -> Tensor:
    """Batched product of two 3-D tensors."""
    if x.ndim != 3 or y.ndim != 3 or x.shape[0] != y.shape[0]:
        raise ShapeError(f"ember.bmm: expected 3-D tensors with equal batch, got shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    return matmul(x, y)


def dot(x: Tensor, y: Tensor) -> Tensor:
    """Inner product of two vectors."""
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise ShapeError(f"ember.dot: expected 1-D tensors of equal size, got shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    return matmul(x, y)


def outer(x: Tensor, y: Tensor) -> Tensor:
    """Outer product of two vectors."""
    a, b = promote_operands(x, y)
    return unsqueeze(a, 1) * unsqueeze(b, 0)


def _pair(v, name: str) -> tuple[int, int]:
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2:
        raise ValueError(f"ember.conv2d: {name} must be an int or a pair, got {v!r}")
    return pair


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of (N, C, H, W) or (C, H, W) input, plus an optional bias."""
    batched = x.ndim == 4
    if x.ndim == 3:
        x = unsqueeze(x, 0)
    out = apply("conv2d", x, weight, stride=_pair(stride, "stride"),
                padding=_pair(padding, "padding"), dilation=_pair(dilation, "dilation"),
                groups=groups)
    if bias is not None:
        if tuple(bias.shape) != (weight.shape[0],):
            raise ShapeError(f"ember.conv2d: bias of shape {tuple(bias.shape)} does not match "
                             f"the {weight.shape[0]} output channels of weight "
                             f"{tuple(weight.shape)}")
        out = out + bias.reshape(1, -1, 1, 1)
    return out if batched else squeeze(out, 0)


def _triangle(x: Tensor, diagonal: int, upper: bool) -> Tensor:
    if x.ndim < 2:
        raise ShapeError(f"ember.{'triu' if upper else 'tril'}: input needs at least 2 "
                         f"dimensions, got shape {tuple(x.shape)}")
    shape = tuple(x.shape[-2:])
    rows = apply("iota", shape=shape, axis=0, dtype="int64")
    cols = apply("iota", shape=shape, axis=1, dtype="int64")
    keep = to_device((cols - rows >= diagonal) if upper else (cols - rows <= diagonal), x.device)
    return apply("where", apply("broadcast_to", keep, shape=tuple(x.shape)), x,
                 apply("full", shape=(), value=0, dtype=x.dtype.name))


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """Elements on and above the `diagonal`-th diagonal; zeros elsewhere."""
    return _triangle(x, diagonal, True)


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """Elements on and below the `diagonal`-th diagonal; zeros elsewhere."""
    return _triangle(x, diagonal, False)
