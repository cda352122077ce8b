"""Gradient clipping (torch.nn.utils.clip_grad_norm_ and clip_grad_value_)."""

from __future__ import annotations

import math
import types
import warnings
from typing import Iterable

from ember.frontend.grad_mode import no_grad
from ember.frontend.ops.creation import tensor
from ember.frontend.ops.shape import stack
from ember.frontend.tensor import Tensor


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    is_generator = isinstance(parameters, types.GeneratorType)
    parameters = list(parameters)
    if is_generator and not parameters:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                      stacklevel=3)
    return parameters


def _vector_norm(x: Tensor, norm_type: float) -> Tensor:
    """The p-norm of all elements of x, for any p including 0 and +-inf."""
    if norm_type == math.inf:
        return x.abs().amax()
    if norm_type == -math.inf:
        return x.abs().amin()
    if norm_type == 0:
        return (x != 0).sum().to(x.dtype)
    return x.norm(norm_type)


@no_grad()
def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Scale the gradients in place so that their joint norm is at most max_norm; returns the
    joint norm from before the scaling."""
    parameters = _as_list(parameters)
    norm_type = float(norm_type)
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return tensor(0.0)
    total = _vector_norm(stack([_vector_norm(g, norm_type) for g in grads]), norm_type)
    if error_if_nonfinite and not bool(total.isfinite()):
        raise RuntimeError(f"ember.nn.utils.clip_grad_norm_: the total norm of order {norm_type} "
                           f"for gradients from `parameters` is non-finite, so it cannot be "
                           f"clipped. To disable this error and scale the gradients by the "
                           f"non-finite norm anyway, set `error_if_nonfinite=False`")
    # Scaling by the clamped coefficient, even when it is 1, avoids reading the norm back.
    coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef)
    return total


@no_grad()
def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient in place to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            p.grad.clamp_(min=-clip_value, max=clip_value)
