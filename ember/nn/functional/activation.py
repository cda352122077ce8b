"""Activation functions and softmax, written with Tensor operations."""

from __future__ import annotations

from ember.frontend.tensor import Tensor


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)."""
    out = x.relu()
    return x.copy_(out) if inplace else out


def softmax(x: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim`, computed stably."""
    x = x if dtype is None else x.to(dtype)
    shifted = x - x.amax(dim, keepdim=True).detach()
    e = shifted.exp()
    return e / e.sum(dim, keepdim=True)


def log_softmax(x: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """x - logsumexp(x) along `dim`."""
    x = x if dtype is None else x.to(dtype)
    return x - x.logsumexp(dim, keepdim=True)
