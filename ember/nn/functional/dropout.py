"""Dropout: zero elements (or whole channels) at random during training, scaling the rest."""

from __future__ import annotations

import warnings

from ember.frontend.ops.random import rand
from ember.frontend.tensor import Tensor


def _check_p(op: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"ember.{op}: dropout probability has to be between 0 and 1, but got {p}")


def _masked(x: Tensor, p: float, mask_shape: tuple[int, ...], inplace: bool) -> Tensor:
    """x with entries of a random keep-mask of `mask_shape` (broadcast) kept and scaled."""
    if p == 1.0:
        out = x * 0.0
    else:
        keep = rand(mask_shape, dtype=x.dtype, device=x.device) >= p
        out = x.where(keep, 0.0) * (1.0 / (1.0 - p))
    return x.copy_(out) if inplace else out


def dropout(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Each element zeroed with probability p and the rest scaled by 1/(1-p) when training."""
    _check_p("dropout", p)
    if not training or p == 0.0:
        return x
    return _masked(x, p, tuple(x.shape), inplace)


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Whole channels of (N, C, H, W) input zeroed with probability p, the rest scaled."""
    _check_p("dropout2d", p)
    if x.ndim < 2:
        raise RuntimeError(f"ember.dropout2d: expected an input with at least 2 dimensions "
                           f"(N, C, ...), got shape {tuple(x.shape)}")
    if x.ndim == 3:
        warnings.warn("dropout2d: received a 3-D input; as in PyTorch it is read as (N, C, L) "
                      "and whole channels are dropped (use dropout1d for that).", stacklevel=2)
    elif x.ndim != 4:
        warnings.warn(f"dropout2d: received a {x.ndim}-D input; dropout2d expects (N, C, H, W) "
                      f"and drops whole channels (dims 0 and 1 index them).", stacklevel=2)
    if not training or p == 0.0:
        return x
    return _masked(x, p, tuple(x.shape[:2]) + (1,) * (x.ndim - 2), inplace)
