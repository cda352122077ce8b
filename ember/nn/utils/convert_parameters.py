"""Conversion between a list of parameters and one flat vector."""

from __future__ import annotations

from typing import Iterable

from ember.frontend.ops.shape import cat
from ember.frontend.tensor import Tensor


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor."""
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Replace the parameters' values by consecutive slices of the 1-D `vec`."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"ember.nn.utils.vector_to_parameters: expected ember.Tensor, but got: "
                        f"{type(vec).__name__}")
    parameters = list(parameters)
    needed = sum(p.numel() for p in parameters)
    if vec.numel() < needed:
        raise RuntimeError(f"ember.nn.utils.vector_to_parameters: the parameters need {needed} "
                           f"elements, got a vector of shape {list(vec.shape)}")
    pointer = 0
    for param in parameters:
        count = param.numel()
        param.data = vec[pointer:pointer + count].view_as(param).data
        pointer += count
