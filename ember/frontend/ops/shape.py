"""Shape functions: views (reshape, permute, expand, ...) and joins/splits built on movement ops."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ember.frontend.dispatch import apply
from ember.frontend.ops.promotion import promote_operands
from ember.frontend.tensor import Tensor, _wrap_dim
from ember.ir.errors import ShapeError


def _sizes(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(d) for d in shape)


def infer_shape(op: str, x: Tensor, shape: Sequence[int]) -> tuple[int, ...]:
    """`shape` with a single -1 resolved from x's number of elements."""
    shape = list(shape)
    unknown = [i for i, d in enumerate(shape) if d == -1]
    if len(unknown) > 1:
        raise ShapeError(f"ember.{op}: only one dimension can be inferred, got {tuple(shape)}")
    known = math.prod(d for d in shape if d != -1)
    if unknown:
        if known == 0 or x.numel() % known:
            raise ShapeError(f"ember.{op}: shape {tuple(shape)} is invalid for input of size "
                             f"{x.numel()} (shape {tuple(x.shape)})")
        shape[unknown[0]] = x.numel() // known
    if math.prod(shape) != x.numel() or any(d < 0 for d in shape):
        raise ShapeError(f"ember.{op}: shape {tuple(shape)} is invalid for input of size "
                         f"{x.numel()} (shape {tuple(x.shape)})")
    return tuple(shape)


def reshape(x: Tensor, *shape) -> Tensor:
    """Same elements, new shape; a view when the layout allows, else a copy."""
    shape = infer_shape("reshape", x, _sizes(shape))
    return x if shape == tuple(x.shape) else apply("reshape", x, shape=shape)


def view(x: Tensor, *shape) -> Tensor:
    """Same storage, new shape; raises if the layout does not allow a view."""
    shape = infer_shape("view", x, _sizes(shape))
    out = apply("reshape", x, shape=shape)
    if x.numel() and out._base is None and shape != tuple(x.shape):
        raise RuntimeError(f"ember.view: size {shape} is not compatible with the strides of the "
                           f"input (shape {tuple(x.shape)}); use .reshape(...) instead.")
    return out


def view_as(x: Tensor, other: Tensor) -> Tensor:
    """x viewed with other's shape."""
    return view(x, other.shape)


def reshape_as(x: Tensor, other: Tensor) -> Tensor:
    """x reshaped to other's shape."""
    return reshape(x, other.shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Dimensions start_dim..end_dim merged into one."""
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = _wrap_dim(start_dim, x.ndim, "flatten"), _wrap_dim(end_dim, x.ndim, "flatten")
    if start > end:
        raise ShapeError(f"ember.flatten: start_dim {start_dim} cannot come after end_dim "
                         f"{end_dim}")
    shape = x.shape[:start] + (math.prod(x.shape[start:end + 1]),) + x.shape[end + 1:]
    return reshape(x, shape)


def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Dimension `dim` split into `sizes`."""
    dim = _wrap_dim(dim, x.ndim, "unflatten")
    return reshape(x, x.shape[:dim] + tuple(sizes) + x.shape[dim + 1:])


def squeeze(x: Tensor, dim=None) -> Tensor:
    """Size-1 dimensions removed (all of them, or those in `dim`)."""
    if dim is None:
        dims = {i for i, d in enumerate(x.shape) if d == 1}
    else:
        dims = {_wrap_dim(d, x.ndim, "squeeze") for d in (dim if isinstance(dim, (tuple, list))
                                                           else [dim])}
        dims = {d for d in dims if x.ndim and x.shape[d] == 1}
    return reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in dims))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """A size-1 dimension inserted at `dim`."""
    dim = _wrap_dim(dim, x.ndim + 1, "unsqueeze")
    return apply("reshape", x, shape=x.shape[:dim] + (1,) + x.shape[dim:])


def permute(x: Tensor, *dims) -> Tensor:
    """Dimensions reordered (a view)."""
    dims = _sizes(dims)
    if len(dims) != x.ndim:
        raise ShapeError(f"ember.permute: number of dims {len(dims)} does not match the input's "
                         f"{x.ndim} (shape {tuple(x.shape)})")
    return apply("permute", x, dims=tuple(_wrap_dim(d, x.ndim, "permute") for d in dims))


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Two dimensions swapped (a view)."""
    if x.ndim == 0:
        return x
    dims = list(range(x.ndim))
    a, b = _wrap_dim(dim0, x.ndim, "transpose"), _wrap_dim(dim1, x.ndim, "transpose")
    dims[a], dims[b] = dims[b], dims[a]
    return apply("permute", x, dims=tuple(dims))


def t(x: Tensor) -> Tensor:
    """Transpose of a matrix (vectors and scalars unchanged)."""
    if x.ndim > 2:
        raise ShapeError(f"ember.t: expects a tensor with <= 2 dimensions, got shape "
                         f"{tuple(x.shape)}")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def matrix_transpose(x: Tensor) -> Tensor:
    """Reversed dimensions (x.T)."""
    return apply("permute", x, dims=tuple(reversed(range(x.ndim))))


def batch_matrix_transpose(x: Tensor) -> Tensor:
    """x with its last two dimensions swapped (x.mT)."""
    if x.ndim < 2:
        raise RuntimeError(f"ember.mT: only supported on matrices or batches of matrices, got a "
                           f"{x.ndim}-D tensor")
    return transpose(x, -2, -1)


def movedim(x: Tensor, source, destination) -> Tensor:
    """Dimensions `source` (an int or a sequence) moved to positions `destination`."""
    sources = [source] if isinstance(source, int) else list(source)
    destinations = [destination] if isinstance(destination, int) else list(destination)
    if len(sources) != len(destinations):
        raise ShapeError(f"ember.movedim: source {source} and destination {destination} must "
                         f"have the same number of dimensions")
    src = [_wrap_dim(d, x.ndim, "movedim") for d in sources]
    dst = [_wrap_dim(d, x.ndim, "movedim") for d in destinations]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ShapeError(f"ember.movedim: repeated dim in source {source} or destination "
                         f"{destination}")
    dims = [None] * x.ndim
    for s, d in zip(src, dst):
        dims[d] = s
    rest = iter(d for d in range(x.ndim) if d not in src)
    dims = [next(rest) if d is None else d for d in dims]
    return apply("permute", x, dims=tuple(dims))


def expand(x: Tensor, *sizes) -> Tensor:
    """Size-1 dimensions repeated without copying; -1 keeps a size."""
    sizes = _sizes(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ShapeError(f"ember.expand: the number of sizes {len(sizes)} must be at least the "
                         f"input's {x.ndim} (shape {tuple(x.shape)})")
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return x if shape == tuple(x.shape) else apply("broadcast_to", x, shape=shape)


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    """x expanded to other's shape."""
    return expand(x, other.shape)


def broadcast_to(x: Tensor, shape) -> Tensor:
    """x broadcast to `shape`."""
    return expand(x, tuple(shape))


def broadcast_tensors(*tensors: Tensor) -> list[Tensor]:
    """All tensors broadcast to their common shape."""
    from ember.ir.ops.common import broadcast_shapes

    shape = broadcast_shapes("broadcast_tensors", [t.type for t in tensors])
    return [expand(t, shape) for t in tensors]


def contiguous(x: Tensor) -> Tensor:
    """x itself if row-major, else a row-major copy."""
    if x.is_contiguous():
        return x
    out = clone(x)
    if not out.is_cuda:  # CUDA kernels write row-major results already
        # clone keeps x's strides, as PyTorch's does; contiguous() promises row-major order.
        out._array = np.ascontiguousarray(out._array)
    return out


def clone(x: Tensor) -> Tensor:
    """A copy with its own storage (gradients flow back to x)."""
    return apply("cast", x, dtype=x.dtype.name)


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """Elements start .. start+length-1 along `dim` (a view)."""
    dim = _wrap_dim(dim, x.ndim, "narrow")
    start = start + x.shape[dim] if start < 0 else start
    return slice_axis(x, dim, start, start + length)


def slice_axis(x: Tensor, dim: int, start: int, stop: int, step: int = 1) -> Tensor:
    """x[..., start:stop:step, ...] along `dim` (a view)."""
    starts, stops, steps = [0] * x.ndim, list(x.shape), [1] * x.ndim
    starts[dim], stops[dim], steps[dim] = start, stop, step
    return apply("slice", x, starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))


def flip(x: Tensor, dims) -> Tensor:
    """Elements reversed along `dims`."""
    dims = [_wrap_dim(d, x.ndim, "flip") for d in ([dims] if isinstance(dims, int) else dims)]
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"ember.flip: dims {dims} contain a dimension more than once")
    return apply("flip", x, axes=tuple(sorted(dims)))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Tensors joined along an existing dimension `dim` (dtypes promote)."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("ember.cat: expected a non-empty list of tensors")
    # Like PyTorch, 1-D empty tensors are skipped whatever the others' shape.
    kept = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    kept = promote_operands(*kept) if len(kept) > 1 else kept
    dim = _wrap_dim(dim, kept[0].ndim, "cat")
    return apply("concat", *kept, axis=dim) if len(kept) > 1 else clone(kept[0])


concat = cat
concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Tensors of one shape joined along a new dimension `dim`."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("ember.stack: expected a non-empty list of tensors")
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"ember.stack: expects each tensor to be equal size, got shapes "
                         f"{[tuple(t.shape) for t in tensors]}")
    dim = _wrap_dim(dim, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(t, dim) for t in tensors], dim)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Joined along dim 1 (dim 0 for vectors)."""
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Joined along dim 0, vectors becoming rows."""
    return cat([t.reshape(1, -1) if t.ndim == 1 else t for t in tensors], 0)


def split(x: Tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of `split_size` along `dim` (the last may be smaller), or of the given sizes."""
    dim = _wrap_dim(dim, x.ndim, "split")
    size = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and size:
            raise RuntimeError(f"ember.split: split_size must be positive, got {step}")
        sections = [min(step, size - i) for i in range(0, size, step)] if size else [0]
    else:
        sections = list(split_size_or_sections)
        if sum(sections) != size:
            raise ShapeError(f"ember.split: sections {sections} do not sum to the size {size} "
                             f"of dim {dim} (shape {tuple(x.shape)})")
    pieces, start = [], 0
    for s in sections:
        pieces.append(slice_axis(x, dim, start, start + s))
        start += s
    return tuple(pieces)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """x split into `chunks` nearly equal pieces along `dim`."""
    if chunks <= 0:
        raise RuntimeError(f"ember.chunk: chunks must be positive, got {chunks}")
    size = x.shape[_wrap_dim(dim, x.ndim, "chunk")]
    if size == 0:
        return split(x, [0] * chunks, dim)  # PyTorch gives `chunks` empty pieces
    return split(x, -(-size // chunks), dim)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along `dim`, with that dimension removed."""
    dim = _wrap_dim(dim, x.ndim, "unbind")
    return tuple(squeeze(p, dim) for p in split(x, 1, dim))


def repeat(x: Tensor, *sizes) -> Tensor:
    """x tiled `sizes` times along each dimension."""
    sizes = _sizes(sizes)
    if len(sizes) < x.ndim:
        raise ShapeError(f"ember.repeat: number of repeat dims {len(sizes)} can not be smaller "
                         f"than the number of tensor dims {x.ndim}")
    x = reshape(x, (1,) * (len(sizes) - x.ndim) + tuple(x.shape))
    interleaved = [d for pair in zip(sizes, x.shape) for d in pair]
    expanded = expand(reshape(x, [d for s in x.shape for d in (1, s)]), interleaved)
    out = reshape(expanded, [r * s for r, s in zip(sizes, x.shape)])
    # Without any real repetition the reshapes are views; repeat always copies.
    return clone(out) if out._storage is x._storage else out


def tile(x: Tensor, *dims) -> Tensor:
    """x repeated along each dimension (leading ones added as needed)."""
    dims = _sizes(dims)
    return repeat(x, (1,) * (x.ndim - len(dims)) + dims)


def pad_constant(x: Tensor, pads: Sequence[int], value=0.0) -> Tensor:
    """x padded by pads = [lo0, hi0, lo1, hi1, ...] (first axis first) with `value`.

    Negative amounts crop, as in torch.nn.functional.pad.
    """
    if len(pads) != 2 * x.ndim:
        raise ShapeError(f"ember.pad: expected {2 * x.ndim} padding amounts for shape "
                         f"{tuple(x.shape)}, got {list(pads)}")
    starts = [max(0, -p) for p in pads[0::2]]
    stops = [size - max(0, -p) for size, p in zip(x.shape, pads[1::2])]
    if any(a > b for a, b in zip(starts, stops)):
        raise ShapeError(f"ember.pad: padding {list(pads)} crops more than the input shape "
                         f"{tuple(x.shape)}")
    if any(p < 0 for p in pads):
        x = apply("slice", x, starts=tuple(starts), stops=tuple(stops), steps=(1,) * x.ndim)
    if all(p <= 0 for p in pads):
        return x
    return apply("pad", x, pads=tuple(max(0, p) for p in pads), value=value)
