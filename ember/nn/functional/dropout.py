"""Dropout: zero elements at random during training, scaling the rest."""

from __future__ import annotations

from ember.frontend.ops.random import rand
from ember.frontend.tensor import Tensor


def dropout(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Each element zeroed with probability p and the rest scaled by 1/(1-p) when training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        out = x * 0.0
    else:
        keep = rand(x.shape, dtype=x.dtype) >= p
        out = x.where(keep, 0.0) * (1.0 / (1.0 - p))
    return x.copy_(out) if inplace else out
