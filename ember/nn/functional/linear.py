"""Affine maps."""

from __future__ import annotations

from ember.frontend.tensor import Tensor


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias."""
    out = x @ weight.t()
    return out if bias is None else out + bias
