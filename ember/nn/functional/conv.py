"""Convolutions: conv1d, conv2d (with 'same'/'valid' padding) and conv_transpose2d."""

from __future__ import annotations

from ember.frontend.autograd.vjp_rules import dilate
from ember.frontend.ops import linalg
from ember.frontend.ops.shape import pad_constant
from ember.frontend.tensor import Tensor
from ember.ir.errors import ShapeError


def ntuple(value, n: int, op: str, name: str) -> tuple[int, ...]:
    """`value` as an n-tuple of ints (an int is repeated)."""
    out = (value,) * n if isinstance(value, int) else tuple(value)
    if len(out) != n or not all(isinstance(v, int) for v in out):
        raise ValueError(f"ember.{op}: {name} must be an int or a tuple of {n} ints, got "
                         f"{value!r}")
    return out


def same_padding(kernel, dilation) -> list[tuple[int, int]]:
    """(left, right) padding per spatial axis that keeps the size at stride 1 (extra on the right,
    as PyTorch does)."""
    totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return [(t // 2, t - t // 2) for t in totals]


def _check_conv_input(op: str, x: Tensor, weight: Tensor, spatial: int) -> None:
    if weight.ndim != spatial + 2 or x.ndim not in (spatial + 1, spatial + 2):
        raise ShapeError(f"ember.{op}: expected a {spatial + 1}-D (unbatched) or "
                         f"{spatial + 2}-D (batched) input and a {spatial + 2}-D weight, got "
                         f"input of shape {tuple(x.shape)} and weight of shape "
                         f"{tuple(weight.shape)}")


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D cross-correlation; padding is an int, a pair, 'valid' or 'same'."""
    _check_conv_input("conv2d", x, weight, 2)
    stride = ntuple(stride, 2, "conv2d", "stride")
    dilation = ntuple(dilation, 2, "conv2d", "dilation")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"ember.conv2d: invalid padding string {padding!r}, should be one "
                             f"of {{'same', 'valid'}}")
        if padding == "valid":
            padding = (0, 0)
        else:
            if stride != (1, 1):
                raise RuntimeError("ember.conv2d: padding='same' is not supported for strided "
                                   "convolutions")
            sides = same_padding(weight.shape[2:], dilation)
            # The primitive pads symmetrically; an odd total needs one more row/column on the
            # bottom/right, added to the input first.
            extra = [0] * (2 * (x.ndim - 2)) + [p for lo, hi in sides for p in (0, hi - lo)]
            if any(extra):
                x = pad_constant(x, extra, 0.0)
            padding = tuple(lo for lo, _ in sides)
    return linalg.conv2d(x, weight, bias, stride, padding, dilation, groups)


def conv1d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D cross-correlation of (N, C, L) or (C, L) input, as a conv2d of height 1."""
    _check_conv_input("conv1d", x, weight, 1)
    stride = ntuple(stride, 1, "conv1d", "stride")
    dilation = ntuple(dilation, 1, "conv1d", "dilation")
    if not isinstance(padding, str):
        padding = (0,) + ntuple(padding, 1, "conv1d", "padding")
    out = conv2d(x.unsqueeze(-2), weight.unsqueeze(-2), bias, (1,) + stride, padding,
                 (1,) + dilation, groups)
    return out.squeeze(-2)


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The gradient of conv2d w.r.t. its input, as a layer: weight is (C_in, C_out/groups, kh, kw).

    Written like conv2d's input VJP: x spread out by the stride, padded by the kernel reach
    minus `padding` (plus `output_padding` at the end), then correlated with the flipped,
    group-transposed weight.
    """
    _check_conv_input("conv_transpose2d", x, weight, 2)
    stride = ntuple(stride, 2, "conv_transpose2d", "stride")
    padding = ntuple(padding, 2, "conv_transpose2d", "padding")
    output_padding = ntuple(output_padding, 2, "conv_transpose2d", "output_padding")
    dilation = ntuple(dilation, 2, "conv_transpose2d", "dilation")
    batched = x.ndim == 4
    if not batched:
        x = x.unsqueeze(0)
    n, c_in, h, w = x.shape
    _, c_out_g, kh, kw = weight.shape
    if groups < 1 or weight.shape[0] != c_in or c_in % groups:
        raise ShapeError(f"ember.conv_transpose2d: input of shape {tuple(x.shape)} does not "
                         f"match weight of shape {tuple(weight.shape)} with groups={groups} "
                         f"(weight must be (C_in, C_out/groups, kh, kw), C_in divisible by "
                         f"groups)")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 or min(output_padding) < 0:
        raise ValueError(f"ember.conv_transpose2d: invalid stride {stride}, padding {padding}, "
                         f"output_padding {output_padding} or dilation {dilation}")
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError(f"ember.conv_transpose2d: output padding must be smaller than either "
                           f"stride or dilation, but got output_padding {output_padding}, stride "
                           f"{stride} and dilation {dilation}")
    reach = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
    out_size = tuple((size - 1) * s - 2 * p + r + op + 1 for size, s, p, r, op
                     in zip((h, w), stride, padding, reach, output_padding))
    if min(out_size) < 1:
        raise ShapeError(f"ember.conv_transpose2d: input of shape {tuple(x.shape)} with weight "
                         f"{tuple(weight.shape)}, stride {stride}, padding {padding} and "
                         f"dilation {dilation} gives a non-positive output size {out_size}")
    spread = (n, c_in, (h - 1) * stride[0] + 1, (w - 1) * stride[1] + 1)
    x = dilate(x, (1, 1) + stride, spread, (0, 0, 0, 0))
    # Negative amounts crop: those outputs would land in the removed `padding` border.
    full = (reach[0] - padding[0], reach[1] - padding[1])
    x = pad_constant(x, [0, 0, 0, 0, full[0], full[0] + output_padding[0],
                         full[1], full[1] + output_padding[1]], 0.0)
    # (C_in, C_out/G, kh, kw) -> per group (C_out/G, C_in/G) -> (C_out, C_in/G, kh, kw).
    wt = weight.reshape(groups, c_in // groups, c_out_g, kh, kw).transpose(1, 2)
    wt = wt.reshape(groups * c_out_g, c_in // groups, kh, kw).flip((2, 3))
    out = linalg.conv2d(x, wt, bias, 1, 0, dilation, groups)
    return out if batched else out.squeeze(0)
