"""Activation functions, softmax and normalize, written with Tensor operations."""

from __future__ import annotations

import math
import warnings
from typing import Callable

from ember.frontend.ops.inplace import update
from ember.frontend.tensor import Tensor
from ember.ir.errors import DTypeError


def _apply(x: Tensor, fn: Callable[[Tensor], Tensor], inplace: bool, op: str) -> Tensor:
    """fn(x), or x overwritten with it for the in-place forms."""
    # `update` computes from a snapshot of x, so the backward pass still sees x's old values.
    return update(x, fn, (), {}, f"{op}_") if inplace else fn(x)


def _check_float(x: Tensor, op: str) -> None:
    if not x.dtype.is_floating_point:
        raise DTypeError(f"ember.{op}: expected a floating point input, got {x.dtype.name} "
                         f"with shape {list(x.shape)}")


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)."""
    return _apply(x, Tensor.relu, inplace, "relu")


def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else negative_slope * x."""
    _check_float(x, "leaky_relu")
    return _apply(x, lambda v: v.where(v > 0, v * negative_slope), inplace, "leaky_relu")


def elu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    _check_float(x, "elu")
    # The negative branch is evaluated everywhere: clamp its argument so large positive
    # values cannot overflow exp and poison the gradient through `where`.
    return _apply(x, lambda v: v.where(v > 0, v.clamp(max=0.0).expm1() * alpha), inplace, "elu")


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), exactly with erf ('none') or with the tanh approximation ('tanh')."""
    _check_float(x, "gelu")
    if approximate == "none":
        return x * 0.5 * (1.0 + (x * (1.0 / math.sqrt(2.0))).erf())
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * 0.5 * (1.0 + inner.tanh())
    raise RuntimeError(f"ember.gelu: approximate argument must be either none or tanh, got "
                       f"{approximate!r}")


def silu(x: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    _check_float(x, "silu")
    return _apply(x, lambda v: v * v.sigmoid(), inplace, "silu")


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return x.tanh()


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    _check_float(x, "softplus")
    scaled = x * beta
    # Clamping keeps exp finite on the branch `where` discards, so its gradient stays finite.
    smooth = scaled.clamp(max=threshold).exp().log1p() / beta
    return x.where(scaled > threshold, smooth)


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]."""
    if min_val > max_val:
        raise ValueError(f"ember.hardtanh: min_val cannot be greater than max_val, got "
                         f"min_val={min_val} and max_val={max_val}")
    # PyTorch passes the gradient only strictly inside the interval, zero at its ends.
    def fn(v: Tensor) -> Tensor:
        inside = (v > min_val) & (v < max_val)
        return v.where(inside, v.clamp(min_val, max_val).detach())

    return _apply(x, fn, inplace, "hardtanh")


def relu6(x: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(x, 0.0, 6.0, inplace)


def _softmax_dim(x: Tensor, dim: int | None, op: str, stacklevel: int) -> int:
    """The given dim, or PyTorch's deprecated implicit choice when it is None."""
    if dim is not None:
        return dim
    # stacklevel counts from here; 3 points at the caller of softmax/log_softmax.
    warnings.warn(f"ember.{op}: implicit dimension choice for {op} has been deprecated. "
                  f"Change the call to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if x.ndim in (0, 1, 3) else 1


def _softmax_input(x: Tensor, dtype, op: str) -> Tensor:
    if dtype is not None:
        return x.to(dtype)
    if not x.dtype.is_floating_point:
        raise DTypeError(f"ember.{op}: expected a floating point input (or a dtype argument), "
                         f"got {x.dtype.name} with shape {list(x.shape)}")
    return x


def softmax(x: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim`, computed stably."""
    dim = _softmax_dim(x, dim, "softmax", _stacklevel)
    return _softmax_input(x, dtype, "softmax").softmax(dim)


def log_softmax(x: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """x - logsumexp(x) along `dim`."""
    dim = _softmax_dim(x, dim, "log_softmax", _stacklevel)
    return _softmax_input(x, dtype, "log_softmax").log_softmax(dim)


def normalize(x: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """x / max(||x||_p, eps) along `dim`."""
    _check_float(x, "normalize")
    if p == 2:
        # sqrt(max(sum x^2, eps^2)) equals max(||x||, eps) and keeps a zero vector's gradient
        # finite (sqrt'(0) is infinite).
        denom = (x * x).sum(dim, keepdim=True).clamp(min=eps * eps).sqrt()
    else:
        denom = x.norm(p, dim, keepdim=True).clamp(min=eps)
    result = x / denom
    return result if out is None else out.copy_(result)
