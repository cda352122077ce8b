"""VJPs of the conv2d primitive, written as convolutions of Tensors (so tracers record them).

Forward: y[n, o, i, j] = sum_{c, a, b} xpad[n, g(o)*Cg + c, i*s + a*d, j*s + b*d] * w[o, c, a, b]
with xpad the input padded by p on every side and g(o) the group of output channel o.
"""

from __future__ import annotations

from ember.frontend.autograd.vjp_rules import dilate
from ember.frontend.dispatch import apply
from ember.frontend.ops.shape import pad_constant


def conv2d_input_grad(g, x_type, w, attrs):
    """Gradient w.r.t. x: the stride-dilated g, fully padded, correlated with flipped w^T."""
    stride, padding, dilation, groups = (attrs["stride"], attrs["padding"], attrs["dilation"],
                                         attrs["groups"])
    n, c, h, wd = x_type.shape
    o, cg, kh, kw = w.shape
    reach = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))  # kernel extent minus one
    # Put g[i] at i*stride; the trailing zeros stand for the padded-input rows/cols that the
    # forward never reached because (H + 2p - reach - 1) % stride != 0.
    span = (h + 2 * padding[0] - reach[0], wd + 2 * padding[1] - reach[1])
    g = dilate(g, (1, 1) + tuple(stride), (n, o) + span, (0, 0, 0, 0))
    # A "full" correlation pads by `reach`; the forward's own padding p is removed from the
    # result, so the net padding is reach - p per side. Negative means crop g before the conv
    # (those rows only ever fed into padding positions of x).
    full = (reach[0] - padding[0], reach[1] - padding[1])
    if min(full) < 0:
        crop = [0, 0, 0, 0, min(full[0], 0), min(full[0], 0), min(full[1], 0), min(full[1], 0)]
        g = pad_constant(g, crop, 0.0)
    # Per group, the transposed weight maps that group's O/G gradient channels to its C/G
    # input channels: (G, O/G, C/G, kh, kw) -> (G, C/G, O/G, kh, kw) -> (C, O/G, kh, kw).
    wt = w.reshape(groups, o // groups, cg, kh, kw).transpose(1, 2)
    wt = wt.reshape(c, o // groups, kh, kw).flip((2, 3))
    return apply("conv2d", g, wt, stride=(1, 1), padding=(max(full[0], 0), max(full[1], 0)),
                 dilation=tuple(dilation), groups=groups)


def conv2d_weight_grad(g, x, w_type, attrs):
    """Gradient w.r.t. w: x (channels as batch) correlated with g (batch as channels)."""
    stride, padding, dilation, groups = (attrs["stride"], attrs["padding"], attrs["dilation"],
                                         attrs["groups"])
    n, c, h, wd = x.shape
    o, cg, kh, kw = w_type.shape
    # Sum over n becomes the contraction over "input channels"; each group's x channels must
    # only meet that group's g channels, so lay x out as (C/G, G*N, H, W) and use groups=G.
    xt = x.reshape(n, groups, cg, h, wd).permute(2, 1, 0, 3, 4).reshape(cg, groups * n, h, wd)
    gt = g.transpose(0, 1)  # (O, N, OH, OW)
    # Kernel tap a reads xpad at a*d + i*s: the roles of stride and dilation swap.
    out = apply("conv2d", xt, gt, stride=tuple(dilation), padding=tuple(padding),
                dilation=tuple(stride), groups=groups)  # (C/G, O, >=kh, >=kw)
    # Leftover rows/cols (unreached by the forward) can give extra taps beyond the kernel.
    out = out.narrow(2, 0, kh).narrow(3, 0, kw)
    return out.transpose(0, 1)
