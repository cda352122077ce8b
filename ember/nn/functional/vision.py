"""Padding and resampling of images: pad and interpolate."""

from __future__ import annotations

from ember.frontend.ops.creation import arange
from ember.frontend.ops.indexing import index_select
from ember.frontend.ops.shape import cat, pad_constant, slice_axis
from ember.frontend.tensor import Tensor
from ember.ir import dtypes
from ember.ir.errors import ShapeError
from ember.nn.functional.pooling import adaptive_avg_pool1d, adaptive_avg_pool2d


def _pad_axis(x: Tensor, axis: int, lo: int, hi: int, mode: str) -> Tensor:
    """x extended along `axis` by lo and hi elements, filled by `mode`."""
    size = x.shape[axis]
    limit = size - 1 if mode == "reflect" else size
    if mode != "replicate" and max(lo, hi) > limit:
        raise RuntimeError(f"ember.pad: padding ({lo}, {hi}) at dimension {axis} must be at "
                           f"most {limit} in {mode} mode for input of shape {tuple(x.shape)}")
    if size == 0:
        raise RuntimeError(f"ember.pad: cannot pad an empty dimension {axis} in {mode} mode "
                           f"(input shape {tuple(x.shape)})")
    if mode == "reflect":
        before = slice_axis(x, axis, 1, lo + 1).flip(axis)
        after = slice_axis(x, axis, size - 1 - hi, size - 1).flip(axis)
    elif mode == "replicate":
        def edge(start):
            return slice_axis(x, axis, start, start + 1)

        shape = list(x.shape)
        before = edge(0).expand(shape[:axis] + [lo] + shape[axis + 1:])
        after = edge(size - 1).expand(shape[:axis] + [hi] + shape[axis + 1:])
    else:
        before = slice_axis(x, axis, size - lo, size)
        after = slice_axis(x, axis, 0, hi)
    return cat([before, x, after], axis)


def pad(x: Tensor, pad: tuple[int, ...], mode: str = "constant", value: float | None = None
        ) -> Tensor:
    """x padded by pad = (left, right, top, bottom, ...), last dimension first, as torch.

    Modes: 'constant' (with `value`; negative amounts crop), 'reflect' (mirror without the
    edge), 'replicate' (repeat the edge) and 'circular' (wrap around).
    """
    pad = tuple(pad)
    if len(pad) % 2:
        raise RuntimeError(f"ember.pad: padding length must be divisible by 2, got {pad}")
    if len(pad) // 2 > x.ndim:
        raise RuntimeError(f"ember.pad: padding {pad} has more dimensions than the input of "
                           f"shape {tuple(x.shape)}")
    amounts = [0] * (2 * x.ndim)
    for i in range(len(pad) // 2):
        axis = x.ndim - 1 - i
        amounts[2 * axis], amounts[2 * axis + 1] = pad[2 * i], pad[2 * i + 1]
    if mode == "constant":
        return pad_constant(x, amounts, 0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"ember.pad: mode {mode!r} is not supported (constant, "
                                  f"reflect, replicate, circular)")
    dims = len(pad) // 2
    if dims not in (1, 2, 3) or x.ndim not in (dims + 1, dims + 2):
        # As in torch: the non-constant modes pad the last 1-3 dims of an (N,) C, ... input.
        raise NotImplementedError(f"ember.pad: padding size {len(pad)} is not supported for a "
                                  f"{x.ndim}-D input in {mode} mode (2 pads need 2-D or 3-D "
                                  f"input, 4 pads 3-D or 4-D, 6 pads 4-D or 5-D)")
    if value not in (None, 0, 0.0):
        raise ValueError(f"ember.pad: padding mode {mode!r} doesn't take in value argument")
    # Negative amounts crop first; the remaining positive amounts are filled by the mode.
    x = pad_constant(x, [min(a, 0) for a in amounts], 0.0)
    for axis in range(x.ndim):
        lo, hi = max(amounts[2 * axis], 0), max(amounts[2 * axis + 1], 0)
        if lo or hi:
            x = _pad_axis(x, axis, lo, hi, mode)
    return x


_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}


def _output_sizes(x: Tensor, spatial: int, size, scale_factor, recompute_scale_factor):
    """Output sizes, and the scales (input/output per axis, or None for in/out) kernels use."""
    if (size is None) == (scale_factor is None):
        raise ValueError("ember.interpolate: " + ("only one of size or scale_factor should be "
                         "defined" if size is not None else "either size or scale_factor "
                         "should be defined"))
    if size is not None:
        sizes = (size,) * spatial if isinstance(size, int) else tuple(size)
        if len(sizes) != spatial:
            raise ValueError(f"ember.interpolate: input with spatial shape "
                             f"{tuple(x.shape[2:])} expects {spatial} sizes, got {size!r}")
        return sizes, (None,) * spatial
    factors = (scale_factor,) * spatial if isinstance(scale_factor, (int, float)) \
        else tuple(scale_factor)
    if len(factors) != spatial:
        raise ValueError(f"ember.interpolate: input with spatial shape {tuple(x.shape[2:])} "
                         f"expects {spatial} scale factors, got {scale_factor!r}")
    sizes = tuple(int(n * f) for n, f in zip(x.shape[2:], factors))
    if recompute_scale_factor:
        return sizes, (None,) * spatial
    return sizes, tuple(1.0 / f for f in factors)


def _nearest_index(size: int, out: int, scale: float | None, exact: bool, device) -> Tensor:
    """Source index of each output position: floor((dst [+ 0.5]) * scale), in float32 as torch."""
    scale = size / out if scale is None else scale
    dst = arange(out, dtype=dtypes.float32, device=device)
    src = ((dst + 0.5) if exact else dst) * scale
    return src.floor().long().clamp(max=size - 1)


def _linear_axis(x: Tensor, axis: int, out: int, scale: float | None,
                 align_corners: bool) -> Tensor:
    """Linear interpolation along `axis`: a blend of the two neighbouring source entries."""
    size = x.shape[axis]
    dst = arange(out, dtype=x.dtype, device=x.device)
    if align_corners:
        src = dst * ((size - 1) / (out - 1) if out > 1 else 0.0)
    else:
        src = ((dst + 0.5) * (size / out if scale is None else scale) - 0.5).clamp(min=0.0)
    low = src.long().clamp(max=size - 1)
    high = (low + 1).clamp(max=size - 1)
    weight_high = (src - low.to(x.dtype)).clamp(0.0, 1.0)
    shape = (out,) + (1,) * (x.ndim - 1 - axis)
    weight_high = weight_high.reshape(shape)
    return index_select(x, axis, low) * (1.0 - weight_high) \
        + index_select(x, axis, high) * weight_high


def interpolate(x: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resample the spatial dimensions (all but N, C) to `size` or by `scale_factor`.

    Modes: 'nearest', 'nearest-exact', 'linear' (3-D), 'bilinear' (4-D), 'trilinear' (5-D) and
    'area' (adaptive average pooling, 3-D and 4-D).
    """
    if x.ndim < 3:
        raise ShapeError(f"ember.interpolate: expected an input of shape (N, C, ...) with at "
                         f"least one spatial dimension, got shape {tuple(x.shape)}")
    spatial = x.ndim - 2
    if align_corners is not None and mode not in _LINEAR_MODES:
        raise ValueError("ember.interpolate: align_corners option can only be set with the "
                         "interpolating modes: linear | bilinear | bicubic | trilinear")
    if antialias:
        raise NotImplementedError("ember.interpolate: antialias=True is not supported")
    sizes, scales = _output_sizes(x, spatial, size, scale_factor, recompute_scale_factor)
    if min(sizes) < 1:
        raise ValueError(f"ember.interpolate: output size {sizes} must be positive (input shape "
                         f"{tuple(x.shape)})")
    if mode in ("nearest", "nearest-exact"):
        for i, (out, scale) in enumerate(zip(sizes, scales)):
            index = _nearest_index(x.shape[2 + i], out, scale, mode == "nearest-exact", x.device)
            x = index_select(x, 2 + i, index)
        return x
    if mode in _LINEAR_MODES:
        if _LINEAR_MODES[mode] != spatial:
            raise NotImplementedError(f"ember.interpolate: got {x.ndim}-D input, but {mode} "
                                      f"mode needs {_LINEAR_MODES[mode] + 2}-D input")
        if not x.dtype.is_floating_point:
            raise TypeError(f"ember.interpolate: {mode} mode needs a floating input, got "
                            f"{x.dtype.name}")
        for i, (out, scale) in enumerate(zip(sizes, scales)):
            x = _linear_axis(x, 2 + i, out, scale, bool(align_corners))
        return x
    if mode == "area" and spatial in (1, 2):
        return (adaptive_avg_pool1d if spatial == 1 else adaptive_avg_pool2d)(x, sizes)
    raise NotImplementedError(f"ember.interpolate: mode {mode!r} is not supported for "
                              f"{x.ndim}-D input")
