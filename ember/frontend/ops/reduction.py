"""Reductions with PyTorch's dim/keepdim conventions, and composites built from them."""

from __future__ import annotations

import builtins
import math
from collections import namedtuple

from ember.frontend.dispatch import apply
from ember.frontend.ops.elementwise import cast, where
from ember.frontend.ops.shape import squeeze
from ember.frontend.tensor import Tensor, _wrap_dim
from ember.frontend.transfer import to_device
from ember.ir import dtypes
from ember.ir.errors import DTypeError

MinMax = namedtuple("MinMax", ["values", "indices"])


def _axes(x: Tensor, dim, op: str) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(x.ndim))
    dims = dim if isinstance(dim, (tuple, list)) else [dim]
    axes = tuple(sorted({_wrap_dim(d, x.ndim, op) for d in dims}))
    if len(axes) != len(dims):
        raise RuntimeError(f"ember.{op}: dim {list(dims)} appears multiple times in the list "
                           f"of dims")
    return axes if x.ndim else ()


def _with_dtype(x: Tensor, dtype) -> Tensor:
    return x if dtype is None or x.dtype is dtype else cast(x, dtype)


def sum(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum over `dim` (all dimensions when None); ints and bools sum as int64."""
    return apply("sum", _with_dtype(x, dtype), axes=_axes(x, dim, "sum"), keepdim=keepdim)


def prod(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product over `dim` (all dimensions when None)."""
    return apply("prod", _with_dtype(x, dtype), axes=_axes(x, dim, "prod"), keepdim=keepdim)


def _count(x: Tensor, axes) -> int:
    return math.prod(x.shape[a] for a in axes)


def mean(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Arithmetic mean over `dim`; floating dtypes only."""
    x = _with_dtype(x, dtype)
    if not x.dtype.is_floating_point:
        raise DTypeError(f"ember.mean: could not infer output dtype. Input dtype must be "
                         f"floating point, got {x.dtype.name}")
    axes = _axes(x, dim, "mean")
    n = _count(x, axes)
    return apply("sum", x, axes=axes, keepdim=keepdim) / (n if n else math.nan)


def var(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Variance over `dim` with Bessel's correction by default (correction=1)."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = _axes(x, dim, "var")
    centered = x - mean(x, axes, keepdim=True)
    n = _count(x, axes)
    # builtins.max: this module's max is the tensor reduction.
    return sum(centered * centered, axes, keepdim) / builtins.max(n - correction, 0)


def std(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Standard deviation over `dim`."""
    return var(x, dim, unbiased, keepdim, correction=correction).sqrt()


def var_mean(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """(var, mean) over `dim`."""
    return (var(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim))


def std_mean(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """(std, mean) over `dim`."""
    return (std(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim))


def amax(x: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Maximum over `dim` (all when empty); ties share the gradient evenly."""
    return apply("max", x, axes=_axes(x, dim if dim != () else None, "amax"), keepdim=keepdim)


def amin(x: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Minimum over `dim` (all when empty); ties share the gradient evenly."""
    return apply("min", x, axes=_axes(x, dim if dim != () else None, "amin"), keepdim=keepdim)


def _arg(op: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    if dim is None:
        flat = apply("reshape", x, shape=(x.numel(),))
        out = apply(op, flat, axis=0, keepdim=False)
        return apply("reshape", out, shape=(1,) * x.ndim) if keepdim else out
    if x.ndim == 0:
        return to_device(apply("full", shape=(), value=0, dtype="int64"), x.device)
    return apply(op, x, axis=_wrap_dim(dim, x.ndim, op), keepdim=keepdim)


def argmax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the maximum (over the flattened tensor when dim is None)."""
    return _arg("argmax", x, dim, keepdim)


def argmin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the minimum (over the flattened tensor when dim is None)."""
    return _arg("argmin", x, dim, keepdim)


def _extreme(op: str, x: Tensor, dim, keepdim: bool, other):
    from ember.frontend.ops.elementwise import maximum, minimum

    if other is not None:
        return (maximum if op == "max" else minimum)(x, other)
    if dim is None:
        return apply(op, x, axes=_axes(x, None, op), keepdim=False)
    if x.ndim == 0:
        return MinMax(x * 1, argmax(x))
    axis = _wrap_dim(dim, x.ndim, op)
    # argmax refuses bools, as in PyTorch, but max along a dim accepts them.
    keys = cast(x, dtypes.int32) if x.dtype is dtypes.bool_ else x
    index = apply("arg" + op, keys, axis=axis, keepdim=True)
    # Values are gathered at the index, so the gradient goes to that one element, as in PyTorch.
    values = apply("gather", x, index, axis=axis)
    if not keepdim:
        values, index = squeeze(values, axis), squeeze(index, axis)
    return MinMax(values, index)


def max(x: Tensor, dim=None, keepdim: bool = False, *, other=None):
    """Maximum of all elements, (values, indices) along `dim`, or elementwise with a tensor."""
    if isinstance(dim, Tensor):
        dim, other = None, dim
    return _extreme("max", x, dim, keepdim, other)


def min(x: Tensor, dim=None, keepdim: bool = False, *, other=None):
    """Minimum of all elements, (values, indices) along `dim`, or elementwise with a tensor."""
    if isinstance(dim, Tensor):
        dim, other = None, dim
    return _extreme("min", x, dim, keepdim, other)


def logsumexp(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) over `dim`, computed stably."""
    if not x.dtype.is_floating_point:
        x = cast(x, dtypes.float32)
    axes = _axes(x, dim, "logsumexp")
    if x.numel() == 0:
        return sum(x, axes, keepdim).log()
    peak = apply("max", x, axes=axes, keepdim=True).detach()
    peak = where(peak.isinf(), 0.0, peak)
    out = sum((x - peak).exp(), axes, keepdim=True).log() + peak
    return out if keepdim else squeeze(out, axes)


def all(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """True when every element (along `dim`) is nonzero."""
    return apply("min", x.bool(), axes=_axes(x, dim, "all"), keepdim=keepdim) \
        if x.numel() else apply("full", shape=(), value=True, dtype="bool")


def any(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """True when some element (along `dim`) is nonzero."""
    return apply("max", x.bool(), axes=_axes(x, dim, "any"), keepdim=keepdim) \
        if x.numel() else apply("full", shape=(), value=False, dtype="bool")


def count_nonzero(x: Tensor, dim=None) -> Tensor:
    """Number of nonzero elements (along `dim`)."""
    return sum(x.bool(), dim)


def norm(x: Tensor, p=2, dim=None, keepdim: bool = False) -> Tensor:
    """Vector p-norm over `dim` (all elements when None)."""
    if p == math.inf:
        return amax(x.abs(), dim if dim is not None else (), keepdim)
    if p == 2:
        return sum(x * x, dim, keepdim).sqrt()
    if p == 1:
        return sum(x.abs(), dim, keepdim)
    return sum(x.abs() ** p, dim, keepdim) ** (1.0 / p)


def cumsum(x: Tensor, dim: int) -> Tensor:
    """Running sum along `dim` (a matmul with a triangular mask)."""
    from ember.frontend.ops.creation import ones
    from ember.frontend.ops.shape import movedim

    dim = _wrap_dim(dim, x.ndim, "cumsum")
    n = x.shape[dim] if x.ndim else 1
    dtype = x.dtype if x.dtype.is_floating_point else dtypes.int64
    mask = ones(n, n, dtype=dtype, device=x.device).triu()
    moved = movedim(cast(x, dtype) if x.dtype is not dtype else x, dim, -1)
    return movedim(moved @ mask, -1, dim)


def softmax(x: Tensor, dim: int, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim`, computed stably."""
    x = _with_dtype(x, dtype)
    e = (x - apply("max", x, axes=_axes(x, dim, "softmax"), keepdim=True).detach()).exp()
    return e / sum(e, dim, keepdim=True)


def log_softmax(x: Tensor, dim: int, dtype=None) -> Tensor:
    """x - logsumexp(x) along `dim`."""
    x = _with_dtype(x, dtype)
    return x - logsumexp(x, dim, keepdim=True)
