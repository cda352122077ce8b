"""Affine maps: linear and bilinear."""

from __future__ import annotations

from ember.frontend.tensor import Tensor
from ember.ir.errors import ShapeError


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias."""
    out = x @ weight.t()
    return out if bias is None else out + bias


def bilinear(x1: Tensor, x2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """out[..., o] = sum_ij x1[..., i] * weight[o, i, j] * x2[..., j] + bias[o]."""
    if weight.ndim != 3:
        raise ShapeError(f"ember.bilinear: expected a 3-D weight, got shape {tuple(weight.shape)}")
    out_features, in1, in2 = weight.shape
    if x1.ndim == 0 or tuple(x1.shape[:-1]) != tuple(x2.shape[:-1]) \
            or x1.shape[-1] != in1 or x2.shape[-1] != in2:
        raise ShapeError(f"ember.bilinear: inputs of shapes {tuple(x1.shape)} and "
                         f"{tuple(x2.shape)} do not match weight {tuple(weight.shape)} (equal "
                         f"leading dimensions and last dimensions {in1} and {in2} expected)")
    if bias is not None and tuple(bias.shape) != (out_features,):
        raise ShapeError(f"ember.bilinear: bias of shape {tuple(bias.shape)} does not match the "
                         f"{out_features} output features of weight {tuple(weight.shape)}")
    # One matmul contracts i for every (o, j) at once; the j contraction is a product and a sum.
    mixed = x1 @ weight.permute(1, 0, 2).reshape(in1, out_features * in2)
    mixed = mixed.reshape(tuple(x1.shape[:-1]) + (out_features, in2))
    out = (mixed * x2.unsqueeze(-2)).sum(-1)
    return out if bias is None else out + bias
