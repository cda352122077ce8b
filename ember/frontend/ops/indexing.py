"""Indexing with ints, slices, None, Ellipsis, integer tensors and boolean masks, and
index-based functions (gather, scatter_add, index_select, one_hot, masked_fill)."""

from __future__ import annotations

import numpy as np

from ember.frontend.dispatch import apply
from ember.frontend.ops.inplace import base_positions, write_at
from ember.frontend.tensor import Tensor, _wrap_dim
from ember.frontend.tracing import peek
from ember.frontend.transfer import to_device
from ember.ir import dtypes
from ember.ir.errors import DTypeError


def _as_index_tensor(item) -> Tensor:
    if isinstance(item, Tensor):
        return item
    array = np.asarray(item)
    if array.size == 0 and array.dtype.kind == "f":
        array = array.astype(np.int64)  # `[]` is an empty integer index, as in PyTorch
    if array.dtype.kind not in "biu":
        raise IndexError(f"ember.index: tensors used as indices must be long, int or bool, "
                         f"got {array.dtype}")
    return Tensor._wrap(array.astype(np.bool_ if array.dtype == np.bool_ else np.int64))


def _classify(item):
    if isinstance(item, (Tensor, np.ndarray, list)):
        t = _as_index_tensor(item)
        if t.dtype.is_floating_point:
            raise IndexError(f"ember.index: tensors used as indices must be long, int or bool, "
                             f"got {t.dtype.name}")
        if t.dtype is dtypes.bool_:
            return ("boolscalar", bool(t)) if t.ndim == 0 else ("mask", t)
        return ("tensor", t)
    if item is None:
        return ("none",)
    if item is Ellipsis:
        return ("ellipsis",)
    if isinstance(item, slice):
        return ("slice", item)
    if isinstance(item, (bool, np.bool_)):
        return ("boolscalar", bool(item))
    if isinstance(item, (int, np.integer)):
        return ("int", int(item))
    raise IndexError(f"ember.index: unsupported index {item!r} of type {type(item).__name__}")


def _expand_key(x: Tensor, key) -> list:
    """Key items with the ellipsis filled in and boolean masks turned into index tensors."""
    items = [_classify(item) for item in (key if isinstance(key, tuple) else (key,))]
    width = {"int": 1, "slice": 1, "tensor": 1}
    consumed = sum(it[1].ndim if it[0] == "mask" else width.get(it[0], 0) for it in items)
    ellipses = [i for i, it in enumerate(items) if it[0] == "ellipsis"]
    if len(ellipses) > 1:
        raise IndexError("ember.index: an index can only have a single ellipsis ('...')")
    if consumed > x.ndim:
        raise IndexError(f"ember.index: too many indices for tensor of dimension {x.ndim} "
                         f"(shape {tuple(x.shape)})")
    fill = [("slice", slice(None))] * (x.ndim - consumed)
    at = ellipses[0] if ellipses else len(items)
    items = items[:at] + fill + items[at + 1:]
    expanded, dim = [], 0
    for it in items:
        if it[0] == "mask":
            mask = it[1]
            if tuple(mask.shape) != tuple(x.shape[dim:dim + mask.ndim]):
                raise IndexError(f"ember.index: the shape of the mask {tuple(mask.shape)} does "
                                 f"not match the shape of the indexed tensor {tuple(x.shape)} "
                                 f"at dimension {dim}")
            expanded += [("tensor", Tensor._wrap(i.astype(np.int64)))
                         for i in np.nonzero(mask._data)]
            dim += mask.ndim
        else:
            expanded.append(it)
            dim += width.get(it[0], 0)
    # Index tensors may live on the CPU while x is on a CUDA device, as PyTorch allows.
    return [("tensor", it[1].to(x.device)) if it[0] == "tensor" else it for it in expanded]


def getitem(x: Tensor, key) -> Tensor:
    """x[key] with PyTorch's semantics: basic indexing gives views, tensors gather."""
    items = _expand_key(x, key)
    # Basic pass: slices narrow, ints select, None/bool scalars add axes; tensors wait.
    starts, stops, steps = [], [], []
    shape_after = []        # entries: ("dim", size) kept, ("new",) inserted
    advanced = []           # (position in the basic result, index tensor, dim size, dim of x)
    dim = 0
    for it in items:
        kind = it[0]
        if kind in ("none", "boolscalar"):
            shape_after.append(("new",))
            if kind == "boolscalar" and not it[1]:
                shape_after[-1] = ("empty",)
            continue
        size = x.shape[dim]
        if kind == "slice":
            a, b, c = it[1].indices(size)
            if it[1].step is not None and it[1].step <= 0:
                raise ValueError("ember.index: step must be greater than zero")
            b = max(a, b)
            starts.append(a), stops.append(b), steps.append(c)
            shape_after.append(("dim", -(-(b - a) // c)))
        elif kind == "int":
            i = it[1]
            if not -size <= i < size:
                raise IndexError(f"ember.index: index {i} is out of bounds for dimension {dim} "
                                 f"with size {size}")
            i %= size
            starts.append(i), stops.append(i + 1), steps.append(1)
        else:
            starts.append(0), stops.append(size), steps.append(1)
            advanced.append((len(shape_after), it[1], size, dim))
            shape_after.append(("adv", size))
        dim += 1
    out = x
    if (tuple(starts), tuple(stops), tuple(steps)) != ((0,) * x.ndim, tuple(x.shape),
                                                        (1,) * x.ndim):
        out = apply("slice", out, starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))
    new_shape = []
    for entry in shape_after:
        new_shape.append(1 if entry[0] == "new" else 0 if entry[0] == "empty" else entry[1])
    if any(e[0] == "empty" for e in shape_after):
        new_shape = [0 if e[0] == "empty" else s for e, s in zip(shape_after, new_shape)]
        out = apply("reshape", out, shape=tuple(1 if e[0] == "empty" else s
                                                for e, s in zip(shape_after, new_shape)))
        out = apply("slice", out, starts=(0,) * len(new_shape), stops=tuple(new_shape),
                    steps=(1,) * len(new_shape))
    elif tuple(new_shape) != tuple(out.shape):
        out = apply("reshape", out, shape=tuple(new_shape))
    if not advanced:
        return out
    return _gather_advanced(out, advanced)


def _gather_advanced(x: Tensor, advanced) -> Tensor:
    """x indexed by tensors: `advanced` holds (dim of x, index, size, dim in the user's tensor).

    The flat position is computed with tensor operations, so traced indices stay graph values.
    """
    positions = [pos for pos, _, _, _ in advanced]
    indices = []
    for _, t, size, dim in advanced:
        values = peek(t)
        if values.size and (values.min() < -size or values.max() >= size):
            bad = values[(values < -size) | (values >= size)].flat[0]
            raise IndexError(f"ember.index: index {bad} is out of bounds for dimension {dim} "
                             f"with size {size}")
        t = t if t.dtype is dtypes.int64 else t.long()
        indices.append(t.where(t >= 0, t + size))
    try:
        bshape = tuple(np.broadcast_shapes(*(tuple(t.shape) for t in indices)))
    except ValueError:
        raise IndexError(f"ember.index: shape mismatch: indexing tensors could not be broadcast "
                         f"together with shapes {[tuple(t.shape) for t in indices]}") from None
    linear = None
    for t, (_, _, size, _) in zip(indices, advanced):
        t = t.expand(bshape)
        linear = t if linear is None else linear * size + t
    rest = [d for d in range(x.ndim) if d not in positions]
    moved = apply("permute", x, dims=tuple(positions + rest)) if positions + rest != list(
        range(x.ndim)) else x
    count = int(np.prod([x.shape[p] for p in positions]))
    rest_shape = tuple(x.shape[d] for d in rest)
    flat = apply("reshape", moved, shape=(count,) + rest_shape)
    n = linear.numel()
    index = linear.reshape((n,) + (1,) * len(rest_shape)).expand((n,) + rest_shape)
    out = apply("gather", flat, index, axis=0)
    out = apply("reshape", out, shape=bshape + rest_shape)
    adjacent = positions == list(range(positions[0], positions[0] + len(positions)))
    if adjacent and positions[0] > 0:
        k = len(bshape)
        first = positions[0]
        dims = list(range(k, k + first)) + list(range(k)) + list(range(k + first, out.ndim))
        out = apply("permute", out, dims=tuple(dims))
    return out


def setitem(x: Tensor, key, value) -> None:
    """x[key] = value in place (value broadcast to the indexed shape)."""
    from ember.frontend.ops.promotion import as_operand

    # Like PyTorch's copy_, the value takes x's dtype whatever its own.
    value = as_operand(value, x.dtype)
    selected = getitem(Tensor._wrap(base_positions(x)), key)._array
    # PyTorch drops the value's leading size-1 dimensions beyond the indexed result's rank.
    while value.ndim > selected.ndim and value.shape[0] == 1:
        value = value.reshape(value.shape[1:])
    try:
        fits = np.broadcast_shapes(tuple(value.shape), selected.shape) == selected.shape
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(f"ember.index_put_: shape mismatch: value tensor of shape "
                           f"{list(value.shape)} cannot be broadcast to indexing result of shape "
                           f"{list(selected.shape)}")
    write_at(x, np.ascontiguousarray(selected), value, "index_put_")


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """out[i][j] = x[index[i][j]][j] along `dim` (torch.gather)."""
    return apply("gather", x, index, axis=_wrap_dim(dim, x.ndim, "gather"))


def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """x with src added at index positions along `dim` (torch.scatter_add)."""
    return apply("scatter_add", x, index, src, axis=_wrap_dim(dim, x.ndim, "scatter_add"))


def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """Entries of x along `dim` at the positions in the 1-D `index`."""
    if index.ndim > 1 or index.dtype.is_floating_point:
        raise IndexError(f"ember.index_select: index must be a 1-D integer tensor, got shape "
                         f"{tuple(index.shape)} and dtype {index.dtype.name}")
    dim = _wrap_dim(dim, x.ndim, "index_select")
    size = x.shape[dim] if x.ndim else 1
    # Unlike x[index], index_select takes no negative indices.
    values = peek(index)
    if index.numel() and (values.min() < 0 or values.max() >= size):
        bad = values[(values < 0) | (values >= size)].flat[0]
        raise IndexError(f"ember.index_select: index {bad} is out of range for dimension {dim} "
                         f"with size {size}")
    key = (slice(None),) * dim + (index.reshape(-1),)
    return getitem(x, key)


def one_hot(index: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding of integer classes along a new last dimension."""
    if index.dtype.is_floating_point or index.dtype is dtypes.bool_:
        raise DTypeError(f"ember.one_hot: class values must be integers, got {index.dtype.name}")
    if num_classes == -1:
        num_classes = int(index._data.max()) + 1 if index.numel() else 0
    values = peek(index)
    if index.numel() and (values.min() < 0 or values.max() >= num_classes):
        raise IndexError(f"ember.one_hot: class values must be in [0, {num_classes}), got "
                         f"values in [{values.min()}, {values.max()}]")
    classes = to_device(apply("iota", shape=tuple(index.shape) + (num_classes,), axis=index.ndim,
                              dtype="int64"), index.device)
    return (classes == index.unsqueeze(-1)).long()


def masked_fill(x: Tensor, mask: Tensor, value) -> Tensor:
    """x with `value` where mask is true."""
    if mask.dtype is not dtypes.bool_:
        raise DTypeError(f"ember.masked_fill: mask must be bool, got {mask.dtype.name}")
    from ember.frontend.ops.promotion import as_operand

    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"ember.masked_fill: only supports a 0-dimensional value tensor, got "
                           f"shape {tuple(value.shape)}")
    return apply("where", mask, as_operand(value, x.dtype), x)


def nonzero(x: Tensor, *, as_tuple: bool = False):
    """Indices of nonzero elements (data-dependent shape, computed eagerly)."""
    if x.ndim == 0:
        # A 0-d tensor has one element with an empty index when it is nonzero.
        count = int(bool(x._data))
        if as_tuple:
            return (Tensor._wrap(np.zeros(count, np.int64)),)
        return Tensor._wrap(np.zeros((count, 0), np.int64))
    idx = np.nonzero(x._data)
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in idx)
    return Tensor._wrap(np.stack(idx, axis=1).astype(np.int64))


def masked_select(x: Tensor, mask: Tensor) -> Tensor:
    """1-D tensor of the elements of x where mask is true."""
    from ember.frontend.ops.shape import broadcast_tensors

    x, mask = broadcast_tensors(x, mask)
    return getitem(x, mask)


def take_along_dim(x: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """Values of x at `indices` along `dim`, with broadcasting of the other dimensions
    (of the flattened x and indices when dim is None)."""
    if dim is None:
        return gather(x.reshape(-1), 0, indices.reshape(-1))
    dim = _wrap_dim(dim, x.ndim, "take_along_dim")
    shape = list(np.broadcast_shapes(tuple(x.shape[:dim] + (1,) + x.shape[dim + 1:]),
                                     tuple(indices.shape[:dim] + (1,) + indices.shape[dim + 1:])))
    xs = shape.copy()
    xs[dim] = x.shape[dim]
    shape[dim] = indices.shape[dim]
    return gather(x.expand(xs), dim, indices.expand(shape))


__all__ = ["getitem", "setitem", "gather", "scatter_add", "index_select", "one_hot",
           "masked_fill", "nonzero", "masked_select", "take_along_dim"]
