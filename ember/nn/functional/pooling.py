"""Pooling: max and average over sliding windows, and adaptive average pooling.

Max pooling reduces over each window's taps with max(dim), so the gradient goes to the first
maximum of each window, as in PyTorch. Windows that tile the input (stride equal to the
kernel, no padding or dilation) are a reshape and permute of it, which compiled code reads in
place; other windows stack one strided slice of the padded input per kernel tap. Average pooling is a depthwise convolution with a kernel of ones divided by the number
of counted elements, so both directions are single conv2d primitives.
"""

from __future__ import annotations

from ember.frontend.dispatch import apply
from ember.frontend.ops.creation import arange, ones
from ember.frontend.ops.shape import cat, pad_constant, slice_axis, stack
from ember.frontend.tensor import Tensor
from ember.ir.errors import ShapeError
from ember.nn.functional.conv import ntuple


def _output_size(size: int, kernel: int, stride: int, padding: int, dilation: int,
                 ceil_mode: bool) -> int:
    """PyTorch's pooling output length: ceil mode may add a window that starts in the input."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _stride_or_kernel(stride, kernel: tuple[int, ...], op: str) -> tuple[int, ...]:
    """The stride as a tuple; None (or torch's other default, an empty list) means the kernel."""
    if stride is None or (isinstance(stride, (list, tuple)) and not stride):
        return kernel
    return ntuple(stride, len(kernel), op, "stride")


def _pool_geometry(op: str, x: Tensor, kernel_size, stride, padding, dilation, ceil_mode):
    """Checked (kernel, stride, padding, dilation, output size) pairs for a 2-D pooling."""
    kernel = ntuple(kernel_size, 2, op, "kernel_size")
    stride = _stride_or_kernel(stride, kernel, op)
    padding = ntuple(padding, 2, op, "padding")
    dilation = ntuple(dilation, 2, op, "dilation")
    if x.ndim not in (3, 4):
        raise ShapeError(f"ember.{op}: expected a 3-D (unbatched) or 4-D (batched) input, got "
                         f"shape {tuple(x.shape)}")
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"ember.{op}: kernel_size {kernel}, stride {stride} and dilation "
                         f"{dilation} must be positive and padding {padding} non-negative")
    for k, p, d in zip(kernel, padding, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"ember.{op}: pad should be at most half of effective kernel "
                               f"size, but got pad={p}, kernel_size={k} and dilation={d}")
    out = tuple(_output_size(size, k, s, p, d, ceil_mode) for size, k, s, p, d
                in zip(x.shape[-2:], kernel, stride, padding, dilation))
    if min(out) < 1:
        raise RuntimeError(f"ember.{op}: given input of shape {tuple(x.shape)}, kernel_size "
                           f"{kernel}, stride {stride}, padding {padding} and dilation "
                           f"{dilation}, the calculated output size {out} is too small")
    return kernel, stride, padding, dilation, out


def _far_padding(size: int, kernel: int, stride: int, padding: int, dilation: int,
                 out: int) -> int:
    """Padding after the input that the last window needs (beyond `padding` in ceil mode)."""
    return max((out - 1) * stride + dilation * (kernel - 1) + 1 - size - padding, 0)


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Maximum over sliding windows of (N, C, H, W) or (C, H, W) input (padding is -inf)."""
    kernel, stride, padding, dilation, out = _pool_geometry(
        "max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    if not x.dtype.is_floating_point:
        raise TypeError(f"ember.max_pool2d: expected a floating input, got {x.dtype.name}")
    h, w = x.shape[-2:]
    far = [_far_padding(size, k, s, p, d, o) for size, k, s, p, d, o
           in zip((h, w), kernel, stride, padding, dilation, out)]
    if stride == kernel and dilation == (1, 1) and not any(padding) and not any(far):
        windows = _tiled_windows(x, kernel, out)
    else:
        windows = _stacked_windows(x, kernel, stride, padding, dilation, out, far)
    values, tap = windows.max(-1)
    if not return_indices:
        return values
    # Flat index into the input's H*W plane of the chosen tap, as torch returns it.
    row = arange(out[0], device=x.device).reshape(-1, 1) * stride[0] - padding[0] + (tap // kernel[1]) * dilation[0]
    col = arange(out[1], device=x.device) * stride[1] - padding[1] + (tap % kernel[1]) * dilation[1]
    return values, row * w + col


def _tiled_windows(x: Tensor, kernel, out) -> Tensor:
    """(..., out_h, out_w, taps) windows of input tiled by the kernel, taps in row-major order:
    a crop, a reshape and a permute (views)."""
    axis = x.ndim - 2
    cropped = slice_axis(slice_axis(x, axis, 0, out[0] * kernel[0], 1), axis + 1, 0,
                         out[1] * kernel[1], 1)
    lead = tuple(x.shape[:-2])
    blocks = cropped.reshape(lead + (out[0], kernel[0], out[1], kernel[1]))
    order = list(range(axis)) + [axis, axis + 2, axis + 1, axis + 3]
    return blocks.permute(*order).reshape(lead + (out[0], out[1], kernel[0] * kernel[1]))


def _stacked_windows(x: Tensor, kernel, stride, padding, dilation, out, far) -> Tensor:
    """(..., out_h, out_w, taps) windows as a stack of one strided slice per tap of the input
    padded with -inf."""
    pads = [0, 0] * (x.ndim - 2) + [padding[0], far[0], padding[1], far[1]]
    xp = pad_constant(x, pads, float("-inf")) if any(pads) else x
    taps = []
    for a in range(kernel[0]):
        for b in range(kernel[1]):
            rows = slice_axis(xp, x.ndim - 2, a * dilation[0],
                              a * dilation[0] + (out[0] - 1) * stride[0] + 1, stride[0])
            taps.append(slice_axis(rows, x.ndim - 1, b * dilation[1],
                                   b * dilation[1] + (out[1] - 1) * stride[1] + 1, stride[1]))
    return stack(taps, -1)


def _sum_windows(x: Tensor, kernel, stride) -> Tensor:
    """Sums over windows of already padded (..., H, W) input: a depthwise conv with ones."""
    lead = tuple(x.shape[:-2])
    planes = x.reshape((-1, 1) + tuple(x.shape[-2:]))
    taps = ones(1, 1, *kernel, dtype=x.dtype, device=x.device)
    out = apply("conv2d", planes, taps, stride=tuple(stride), padding=(0, 0), dilation=(1, 1),
                groups=1)
    return out.reshape(lead + tuple(out.shape[-2:]))


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over sliding windows of (N, C, H, W) or (C, H, W) input."""
    kernel, stride, padding, _, out = _pool_geometry(
        "avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    if not x.dtype.is_floating_point:
        raise TypeError(f"ember.avg_pool2d: expected a floating input, got {x.dtype.name}")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("ember.avg_pool2d: divisor must be not zero")
    h, w = x.shape[-2:]
    far = [_far_padding(size, k, s, p, 1, o) for size, k, s, p, o
           in zip((h, w), kernel, stride, padding, out)]
    spatial = [padding[0], far[0], padding[1], far[1]]
    sums = _sum_windows(pad_constant(x, [0, 0] * (x.ndim - 2) + spatial, 0.0), kernel, stride)
    if divisor_override is not None:
        return sums / divisor_override
    # The divisor counts the window's elements inside the input, or (count_include_pad) inside
    # the input plus its `padding` border, but never the extra ceil-mode border: the same window
    # sums over a mask of ones where elements count.
    mask = ones(1, 1, h, w, dtype=x.dtype, device=x.device)
    if count_include_pad:
        near = [min(p, f) for p, f in zip(padding, far)]
        mask = pad_constant(mask, [0, 0, 0, 0, padding[0], near[0], padding[1], near[1]], 1.0)
        mask = pad_constant(mask, [0, 0, 0, 0, 0, far[0] - near[0], 0, far[1] - near[1]], 0.0)
    else:
        mask = pad_constant(mask, [0, 0, 0, 0] + spatial, 0.0)
    divisor = _sum_windows(mask, kernel, stride).reshape(out)
    return sums / divisor


def _to_2d(op: str, x: Tensor) -> Tensor:
    if x.ndim not in (2, 3):
        raise ShapeError(f"ember.{op}: expected a 2-D (unbatched) or 3-D (batched) input, got "
                         f"shape {tuple(x.shape)}")
    return x.unsqueeze(-2)


def _single(value, op: str, name: str) -> tuple[int]:
    return ntuple(value, 1, op, name)


def max_pool1d(x: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Maximum over sliding windows of (N, C, L) or (C, L) input."""
    kernel = _single(kernel_size, "max_pool1d", "kernel_size")
    stride = _stride_or_kernel(stride, kernel, "max_pool1d")
    out = max_pool2d(_to_2d("max_pool1d", x), (1,) + kernel, (1,) + stride,
                     (0,) + _single(padding, "max_pool1d", "padding"),
                     (1,) + _single(dilation, "max_pool1d", "dilation"), ceil_mode,
                     return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def avg_pool1d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over sliding windows of (N, C, L) or (C, L) input."""
    kernel = _single(kernel_size, "avg_pool1d", "kernel_size")
    stride = _stride_or_kernel(stride, kernel, "avg_pool1d")
    out = avg_pool2d(_to_2d("avg_pool1d", x), (1,) + kernel, (1,) + stride,
                     (0,) + _single(padding, "avg_pool1d", "padding"), ceil_mode,
                     count_include_pad)
    return out.squeeze(-2)


def _adaptive_mean(x: Tensor, axis: int, out: int) -> Tensor:
    """Means over PyTorch's adaptive windows [floor(i*n/out), ceil((i+1)*n/out)) along `axis`."""
    size = x.shape[axis]
    if size % out == 0:
        split = tuple(x.shape[:axis]) + (out, size // out) + tuple(x.shape[axis + 1:])
        return x.reshape(split).mean(axis + 1)
    pieces = []
    for i in range(out):
        start, stop = (i * size) // out, -((-(i + 1) * size) // out)
        pieces.append(slice_axis(x, axis, start, stop).mean(axis, keepdim=True))
    return cat(pieces, axis)


def _adaptive_sizes(op: str, x: Tensor, output_size, spatial: int) -> tuple[int, ...]:
    sizes = (output_size,) * spatial if output_size is None or isinstance(output_size, int) \
        else tuple(output_size)
    if len(sizes) != spatial:
        raise ValueError(f"ember.{op}: output_size must have {spatial} elements, got "
                         f"{output_size!r}")
    if x.ndim not in (spatial + 1, spatial + 2) or 0 in x.shape[-spatial:]:
        raise ShapeError(f"ember.{op}: expected a non-empty {spatial + 1}-D or {spatial + 2}-D "
                         f"input, got shape {tuple(x.shape)}")
    sizes = tuple(x.shape[x.ndim - spatial + i] if s is None else s
                  for i, s in enumerate(sizes))
    if min(sizes) < 0:
        raise ValueError(f"ember.{op}: output_size must be non-negative, got {output_size!r}")
    return sizes


def adaptive_avg_pool2d(x: Tensor, output_size) -> Tensor:
    """Mean over the adaptive windows that divide (H, W) into `output_size` (None keeps a size)."""
    sizes = _adaptive_sizes("adaptive_avg_pool2d", x, output_size, 2)
    if 0 in sizes:
        return x.new_zeros(tuple(x.shape[:-2]) + sizes)
    # A window is a product of an H range and a W range of equal-sized rows: the mean separates.
    return _adaptive_mean(_adaptive_mean(x, x.ndim - 2, sizes[0]), x.ndim - 1, sizes[1])


def adaptive_avg_pool1d(x: Tensor, output_size) -> Tensor:
    """Mean over the adaptive windows that divide L into `output_size`."""
    (size,) = _adaptive_sizes("adaptive_avg_pool1d", x, output_size, 1)
    if size == 0:
        return x.new_zeros(tuple(x.shape[:-1]) + (0,))
    return _adaptive_mean(x, x.ndim - 1, size)
