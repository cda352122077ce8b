"""In-place updates with PyTorch's semantics: shared storage, version counters, and history
rewritten so that autograd sees the functional equivalent of every write."""

from __future__ import annotations

import numpy as np

from ember.frontend.dispatch import apply
from ember.frontend.grad_mode import is_grad_enabled
from ember.frontend.tensor import Tensor
from ember.ir.primitive import PRIMITIVES

_KIND_ORDER = {"bool": 0, "int": 1, "float": 2}


def replay_view(base: Tensor, view_ops) -> Tensor:
    """The view of `base` described by `view_ops`, recorded again on base's current history."""
    out = base
    for op, attrs in view_ops:
        out = apply(op, out, **attrs)
    return out


def base_positions(t: Tensor) -> np.ndarray:
    """For each element of `t`, its flat position in its base's storage."""
    root = t._base if t._base is not None else t
    positions = np.arange(root.numel(), dtype=np.int64).reshape(root.shape)
    for op, attrs in t._view_ops:
        prim = PRIMITIVES[op]
        positions = prim.numpy(positions, **attrs)
    return positions


def _check_target(target: Tensor, value: Tensor, op: str) -> None:
    if is_grad_enabled():
        root = target._base if target._base is not None else None
        if target._base is None and target.requires_grad and target.grad_fn is None:
            raise RuntimeError(f"ember.{op}: a leaf Variable that requires grad is being used in "
                               f"an in-place operation.")
        if root is not None and root.requires_grad and root.grad_fn is None:
            raise RuntimeError(f"ember.{op}: a view of a leaf Variable that requires grad is "
                               f"being used in an in-place operation.")
    if _KIND_ORDER[value.dtype.kind] > _KIND_ORDER[target.dtype.kind]:
        raise RuntimeError(f"ember.{op}: result type {value.dtype.name} can't be cast to the "
                           f"desired output type {target.dtype.name}")


def _store(array: np.ndarray, index, values: np.ndarray, op: str) -> None:
    try:
        array[index] = values
    except ValueError as e:
        raise RuntimeError(f"ember.{op}: cannot write into this tensor ({e}); expanded tensors "
                           f"share memory between elements, clone() them first") from None


def assign(target: Tensor, value: Tensor, op: str) -> Tensor:
    """Overwrite all of `target` with `value` (broadcast to its shape) in place."""
    _check_target(target, value, op)
    if tuple(value.shape) != tuple(target.shape):
        try:
            value = value.expand(target.shape)
        except RuntimeError:
            raise RuntimeError(f"ember.{op}: output with shape {list(target.shape)} doesn't "
                               f"match the broadcast shape {list(value.shape)}") from None
    recording = is_grad_enabled() and (value.requires_grad or target.requires_grad)
    if target._base is not None and recording:
        return _write_positions(target, base_positions(target), value, op)
    _store(target._data, ..., value._data.astype(target._data.dtype, copy=False), op)
    target._storage.version += 1
    if recording:
        target._grad_fn = value._grad_fn if value.requires_grad else None
        target.requires_grad = value.requires_grad
    return target


def write_at(target: Tensor, positions: np.ndarray, value: Tensor, op: str) -> Tensor:
    """target's base elements at flat `positions` set to `value` (broadcast to positions)."""
    _check_target(target, value, op)
    return _write_positions(target, positions, value, op)


def _write_positions(target: Tensor, positions: np.ndarray, value: Tensor, op: str) -> Tensor:
    root = target._base if target._base is not None else target
    if tuple(value.shape) != positions.shape:
        value = value.expand(positions.shape)
    recording = is_grad_enabled() and (value.requires_grad or root.requires_grad)
    if recording:
        new_root = _functional_write(root, positions, value.to(root.dtype))
    _store(root._data, np.unravel_index(positions, root.shape),
           value._data.astype(root._data.dtype, copy=False), op)
    root._storage.version += 1
    if recording:
        root._grad_fn = new_root._grad_fn
        root.requires_grad = True
        if target is not root:
            target._regenerate_view_history()
    return target


def _functional_write(root: Tensor, positions: np.ndarray, value: Tensor) -> Tensor:
    """root with the elements at flat `positions` replaced by `value`, as a recorded graph."""
    n = root.numel()
    flat_index = Tensor._wrap(positions.reshape(-1).astype(np.int64))
    mask = np.zeros(n, dtype=bool)
    mask[positions.reshape(-1)] = True
    zeros = apply("full", shape=(n,), value=0, dtype=root.dtype.name)
    scattered = apply("scatter_add", zeros, flat_index, value.reshape(-1), axis=0)
    flat = apply("where", Tensor._wrap(mask), scattered, root.reshape(-1))
    return flat.reshape(root.shape)
