"""Clearing gradients: what Module.zero_grad and Optimizer.zero_grad share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from ember.frontend.tensor import Tensor


def zero_grads(tensors: Iterable[Tensor], set_to_none: bool) -> None:
    """Clear the gradient of each tensor: to None, or zeroed in place.

    Zeroing in place keeps the same gradient tensor, as in PyTorch, so references to `.grad`
    stay valid; it is first detached from any graph that produced it.
    """
    for t in tensors:
        if t.grad is None:
            continue
        if set_to_none:
            t.grad = None
        else:
            if t.grad.grad_fn is not None:
                t.grad.detach_()
            else:
                t.grad.requires_grad_(False)
            t.grad.zero_()
