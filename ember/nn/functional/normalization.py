"""Normalisation functions: layer, batch and group norm."""

from __future__ import annotations

import math
from typing import Sequence

from ember.frontend.grad_mode import no_grad
from ember.frontend.tensor import Tensor
from ember.ir.errors import ShapeError


def layer_norm(x: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last len(normalized_shape) dimensions, then scale and shift."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.dim() - len(shape):]) != shape:
        raise RuntimeError(f"ember.layer_norm: normalized_shape {list(shape)} does not match the "
                           f"trailing dimensions of input shape {list(x.shape)}")
    dims = tuple(range(x.dim() - len(shape), x.dim()))
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dims, keepdim=True)
    out = centered * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def _channel_affine(out: Tensor, weight: Tensor | None, bias: Tensor | None,
                    shape: tuple[int, ...]) -> Tensor:
    """out * weight + bias with per-channel (dim 1) parameters."""
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum=0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) by batch statistics (training) or running ones (eval).

    In training, the running statistics are updated in place:
    running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance.
    `momentum` may be a 0-d tensor (BatchNorm's cumulative average passes 1 / batches).
    """
    if x.ndim < 2:
        raise ShapeError(f"ember.batch_norm: expected an input with at least 2 dimensions "
                         f"(N, C, ...), got shape {tuple(x.shape)}")
    channels = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != channels:
            raise ShapeError(f"ember.batch_norm: {name} of shape {tuple(t.shape)} does not match "
                             f"the {channels} channels of input shape {tuple(x.shape)}")
    shape = (1, channels) + (1,) * (x.ndim - 2)
    if training:
        count = x.numel() // channels
        if count <= 1:
            raise ValueError(f"ember.batch_norm: expected more than 1 value per channel when "
                             f"training, got input size {x.shape}")
        dims = (0,) + tuple(range(2, x.ndim))
        mean = x.mean(dims)
        centered = x - mean.reshape(shape)
        var = (centered * centered).mean(dims)
        with no_grad():
            if running_mean is not None:
                running_mean.copy_(running_mean * (1 - momentum) + mean.detach() * momentum)
            if running_var is not None:
                unbiased = var.detach() * (count / (count - 1))
                running_var.copy_(running_var * (1 - momentum) + unbiased * momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("ember.batch_norm: running_mean and running_var must be given when "
                             "training=False")
        centered = x - running_mean.reshape(shape)
        var = running_var
    out = centered * (var.reshape(shape) + eps).rsqrt()
    return _channel_affine(out, weight, bias, shape)


def group_norm(x: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each group of channels of each sample, then scale and shift per channel."""
    if x.ndim < 2 or num_groups < 1 or x.shape[1] % num_groups:
        raise RuntimeError(f"ember.group_norm: expected number of channels in input to be "
                           f"divisible by num_groups, but got input of shape {list(x.shape)} "
                           f"and num_groups={num_groups}")
    channels = x.shape[1]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise ShapeError(f"ember.group_norm: {name} of shape {tuple(t.shape)} does not match "
                             f"the {channels} channels of input shape {tuple(x.shape)}")
    grouped = x.reshape(x.shape[0], num_groups, math.prod(x.shape[1:]) // num_groups)
    mean = grouped.mean(-1, keepdim=True)
    centered = grouped - mean
    var = (centered * centered).mean(-1, keepdim=True)
    out = (centered * (var + eps).rsqrt()).reshape(x.shape)
    return _channel_affine(out, weight, bias, (1, channels) + (1,) * (x.ndim - 2))
