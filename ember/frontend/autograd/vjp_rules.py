"""One VJP rule per differentiable primitive, written with ordinary Tensor operations.

A rule takes the tape node (its attributes, operand types and saved tensors) and the
gradient of the result, and returns one gradient (or None) per operand. Because rules are
Tensor code, running them under a tracer records the backward graph.
"""

from __future__ import annotations

import math
from typing import Callable

VJP_RULES: dict[str, Callable] = {}


def defvjp(*names: str):
    """Register the decorated function as the VJP rule of the named primitives."""

    def register(rule: Callable) -> Callable:
        for name in names:
            if name in VJP_RULES:
                raise ValueError(f"VJP rule for {name!r} defined twice")
            VJP_RULES[name] = rule
        return rule

    return register


def unbroadcast(g, shape: tuple[int, ...]):
    """Sum `g` over the axes that broadcasting added or stretched, giving `shape`."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1)
    return g.sum(axes, keepdim=True).reshape(shape) if axes else g.reshape(shape)


# --- elementwise ---------------------------------------------------------------------------

@defvjp("neg")
def neg_vjp(node, g):
    return (-g,)


@defvjp("abs")
def abs_vjp(node, g):
    return (g * node.input(0).sign(),)


@defvjp("exp")
def exp_vjp(node, g):
    return (g * node.output,)


@defvjp("log")
def log_vjp(node, g):
    return (g / node.input(0),)


@defvjp("log1p")
def log1p_vjp(node, g):
    return (g / (node.input(0) + 1),)


@defvjp("expm1")
def expm1_vjp(node, g):
    return (g * (node.output + 1),)


@defvjp("sqrt")
def sqrt_vjp(node, g):
    return (g / (node.output * 2),)


@defvjp("rsqrt")
def rsqrt_vjp(node, g):
    out = node.output
    return (g * out * out * out * -0.5,)


@defvjp("sin")
def sin_vjp(node, g):
    return (g * node.input(0).cos(),)


@defvjp("cos")
def cos_vjp(node, g):
    return (-g * node.input(0).sin(),)


@defvjp("tanh")
def tanh_vjp(node, g):
    out = node.output
    return (g * (1 - out * out),)


@defvjp("sigmoid")
def sigmoid_vjp(node, g):
    out = node.output
    return (g * out * (1 - out),)


@defvjp("erf")
def erf_vjp(node, g):
    x = node.input(0)
    return (g * (x * x).neg().exp() * (2.0 / math.sqrt(math.pi)),)


@defvjp("reciprocal")
def reciprocal_vjp(node, g):
    out = node.output
    return (-g * out * out,)


@defvjp("sign", "floor", "ceil", "round")
def zero_vjp(node, g):
    return (g.new_zeros(node.input_types[0].shape),)


@defvjp("cast")
def cast_vjp(node, g):
    source = node.input_types[0].dtype
    if not source.is_floating_point:
        return (None,)
    return (g if g.dtype is source else g.to(source),)


@defvjp("add")
def add_vjp(node, g):
    x, y = node.input_types
    return unbroadcast(g, x.shape), unbroadcast(g, y.shape)


@defvjp("sub")
def sub_vjp(node, g):
    x, y = node.input_types
    return unbroadcast(g, x.shape), unbroadcast(-g, y.shape)


@defvjp("mul")
def mul_vjp(node, g):
    # Like PyTorch, an operand is read only for the other one's gradient, so `y * 3` still
    # differentiates after y is modified in place.
    x, y = node.input_types
    gx = unbroadcast(g * node.input(1), x.shape) if node.needs_input_grad(0) else None
    gy = unbroadcast(g * node.input(0), y.shape) if node.needs_input_grad(1) else None
    return gx, gy


@defvjp("div")
def div_vjp(node, g):
    x, y = node.input_types
    divisor = node.input(1)
    gx = g / divisor
    gy = unbroadcast(-gx * node.input(0) / divisor, y.shape) if node.needs_input_grad(1) else None
    return unbroadcast(gx, x.shape), gy


@defvjp("pow")
def pow_vjp(node, g):
    x, y, out = node.input(0), node.input(1), node.output
    # d/dx x**y = y * x**(y-1), taken as 0 where y == 0 (so 0**0 contributes no gradient).
    gx = g * (y * x ** (y - 1)).where(y != 0, 0.0)
    # d/dy x**y = x**y * log(x), taken as 0 where x == 0 and y >= 0, as PyTorch does.
    gy = g * (out * x.log()).where((x != 0) | (y < 0), 0.0)
    return unbroadcast(gx, x.shape), unbroadcast(gy, y.shape)


def _minmax_vjp(node, g, pick_first):
    x, y = node.input(0), node.input(1)
    half = g * 0.5
    gx = g.where(pick_first(x, y), 0.0).where(x != y, half)
    gy = g.where(pick_first(y, x), 0.0).where(x != y, half)
    return unbroadcast(gx, x.shape), unbroadcast(gy, y.shape)


@defvjp("maximum")
def maximum_vjp(node, g):
    return _minmax_vjp(node, g, lambda a, b: a > b)


@defvjp("minimum")
def minimum_vjp(node, g):
    return _minmax_vjp(node, g, lambda a, b: a < b)


@defvjp("remainder")
def remainder_vjp(node, g):
    x, y = node.input(0), node.input(1)
    return unbroadcast(g, x.shape), unbroadcast(-g * (x / y).floor(), y.shape)


@defvjp("atan2")
def atan2_vjp(node, g):
    x, y = node.input(0), node.input(1)
    scale = g / (x * x + y * y)
    return unbroadcast(scale * y, x.shape), unbroadcast(-scale * x, y.shape)


@defvjp("where")
def where_vjp(node, g):
    cond = node.input(0)
    _, x, y = node.input_types
    zero = 0.0
    return (None, unbroadcast(g.where(cond, zero), x.shape),
            unbroadcast(g.where(cond.logical_not(), zero), y.shape))


# --- reductions ----------------------------------------------------------------------------

def _expand_back(node, g):
    """g reshaped with the reduced axes kept, broadcast to the operand's shape."""
    x = node.input_types[0]
    axes, keepdim = node.attrs["axes"], node.attrs["keepdim"]
    if not keepdim:
        g = g.reshape(tuple(1 if i in axes else d for i, d in enumerate(x.shape)))
    return g.expand(x.shape)


def _kept(node, t):
    x = node.input_types[0]
    axes = node.attrs["axes"]
    if node.attrs["keepdim"]:
        return t
    return t.reshape(tuple(1 if i in axes else d for i, d in enumerate(x.shape)))


@defvjp("sum")
def sum_vjp(node, g):
    return (_expand_back(node, g),)


@defvjp("prod")
def prod_vjp(node, g):
    x = node.input(0)
    axes = node.attrs["axes"]
    # prod of the other elements: out / x without zeros; with exactly one zero in a slice, the
    # zero's gradient is the product of the rest; with two or more, every gradient is 0.
    is_zero = x == 0
    nonzero_prod = _kept(node, x.where(~is_zero, 1.0).prod(axes, keepdim=node.attrs["keepdim"]))
    zeros = _kept(node, is_zero.sum(axes, keepdim=node.attrs["keepdim"]))
    others = (nonzero_prod / x.where(~is_zero, 1.0)).where(zeros == 0, 0.0)
    others = others.where(~(is_zero & (zeros == 1)), nonzero_prod.expand(x.shape))
    return (_expand_back(node, g) * others,)


@defvjp("max", "min")
def extreme_vjp(node, g):
    x = node.input(0)
    hits = (x == _kept(node, node.output)).to(g.dtype)
    count = hits.sum(node.attrs["axes"], keepdim=True)
    return (_expand_back(node, g) * hits / count,)


# --- movement ------------------------------------------------------------------------------

@defvjp("reshape")
def reshape_vjp(node, g):
    return (g.reshape(node.input_types[0].shape),)


@defvjp("permute")
def permute_vjp(node, g):
    dims = node.attrs["dims"]
    inverse = [0] * len(dims)
    for i, d in enumerate(dims):
        inverse[d] = i
    return (g.permute(inverse),)


@defvjp("broadcast_to")
def broadcast_to_vjp(node, g):
    return (unbroadcast(g, node.input_types[0].shape),)


def _interleave_zeros(g, axis: int, step: int):
    """g with step-1 zeros after every element along `axis` (length n*step)."""
    from ember.frontend.ops.shape import pad_constant

    shape = tuple(g.shape)
    g = g.unsqueeze(axis + 1)
    pads = [0] * (2 * g.ndim)
    pads[2 * (axis + 1) + 1] = step - 1
    g = pad_constant(g, pads, 0.0)
    return g.reshape(shape[:axis] + (shape[axis] * step,) + shape[axis + 1:])


def dilate(g, steps, total_shape, starts):
    """g placed at starts + i*steps inside zeros of `total_shape` (the inverse of slice)."""
    from ember.frontend.ops.shape import pad_constant, slice_axis

    pads = []
    for axis, (step, start, size) in enumerate(zip(steps, starts, total_shape)):
        if step > 1:
            g = _interleave_zeros(g, axis, step)
        length = g.shape[axis]
        keep = min(length, size - start)
        if keep < length:
            g = slice_axis(g, axis, 0, keep)
        pads += [start, size - start - g.shape[axis]]
    return pad_constant(g, pads, 0.0)


@defvjp("slice")
def slice_vjp(node, g):
    x = node.input_types[0]
    return (dilate(g, node.attrs["steps"], x.shape, node.attrs["starts"]),)


@defvjp("pad")
def pad_vjp(node, g):
    from ember.frontend.ops.shape import slice_axis

    pads = node.attrs["pads"]
    for axis, size in enumerate(node.input_types[0].shape):
        g = slice_axis(g, axis, pads[2 * axis], pads[2 * axis] + size)
    return (g,)


@defvjp("concat")
def concat_vjp(node, g):
    axis = node.attrs["axis"]
    return tuple(g.split([t.shape[axis] for t in node.input_types], axis))


@defvjp("flip")
def flip_vjp(node, g):
    return (g.flip(node.attrs["axes"]) if node.attrs["axes"] else g,)


# --- contractions ---------------------------------------------------------------------------

@defvjp("matmul")
def matmul_vjp(node, g):
    # Each product is computed only when its operand needs a gradient (inputs often do not).
    x, y = node.input_types
    gx = gy = None
    if node.needs_input_grad(0):
        gx = unbroadcast(g @ node.input(1).transpose(-1, -2), x.shape)
    if node.needs_input_grad(1):
        gy = unbroadcast(node.input(0).transpose(-1, -2) @ g, y.shape)
    return gx, gy


@defvjp("conv2d")
def conv2d_vjp(node, g):
    from ember.frontend.autograd.conv_vjp import conv2d_input_grad, conv2d_weight_grad

    x, w = node.input_types
    gx = conv2d_input_grad(g, x, node.input(1), node.attrs) if node.needs_input_grad(0) else None
    gw = conv2d_weight_grad(g, node.input(0), w, node.attrs) if node.needs_input_grad(1) else None
    return gx, gw


# --- indexing -------------------------------------------------------------------------------

@defvjp("gather")
def gather_vjp(node, g):
    from ember.frontend.dispatch import apply

    x, index = node.input_types[0], node.input(1)
    zeros = g.new_zeros(x.shape)
    return apply("scatter_add", zeros, index, g, axis=node.attrs["axis"]), None


@defvjp("scatter_add")
def scatter_add_vjp(node, g):
    from ember.frontend.dispatch import apply

    index = node.input(1)
    src = node.input_types[2]
    gsrc = apply("gather", g, index, axis=node.attrs["axis"])
    if tuple(gsrc.shape) != tuple(src.shape):
        from ember.frontend.ops.shape import pad_constant

        pads = [p for i, s in zip(index.shape, src.shape) for p in (0, s - i)]
        gsrc = pad_constant(gsrc, pads, 0.0)
    return g, None, gsrc

