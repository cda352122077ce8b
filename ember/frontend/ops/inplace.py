"""In-place updates with PyTorch's semantics: shared storage, version counters, and history
rewritten so that autograd sees the functional equivalent of every write."""

from __future__ import annotations

import numpy as np

from ember.frontend import cuda_eager, tracing
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


def _check_target(target: Tensor, value: Tensor | None, op: str) -> None:
    if is_grad_enabled():
        root = target._base
        if root is None and target.requires_grad and target.grad_fn is None:
            raise RuntimeError(f"ember.{op}: a leaf Variable that requires grad is being used in "
                               f"an in-place operation.")
        if root is not None and root.requires_grad and root.grad_fn is None:
            raise RuntimeError(f"ember.{op}: a view of a leaf Variable that requires grad is "
                               f"being used in an in-place operation.")
    if value is not None and _KIND_ORDER[value.dtype.kind] > _KIND_ORDER[target.dtype.kind]:
        raise RuntimeError(f"ember.{op}: result type {value.dtype.name} can't be cast to the "
                           f"desired output type {target.dtype.name}")


def _store(array, index, values, op: str) -> None:
    """array[index] = values for a NumPy or device array; values (either kind) are cast."""
    try:
        if isinstance(array, np.ndarray):
            if not isinstance(values, np.ndarray):
                values = values.to_host()
            array[index] = values.astype(array.dtype, copy=False)
        else:
            cuda_eager.store(array, index, values)
    except ValueError as e:
        raise RuntimeError(f"ember.{op}: cannot write into this tensor ({e}); expanded tensors "
                           f"share memory between elements, clone() them first") from None


def _set_history(t: Tensor, grad_fn) -> None:
    """Give `t` the history of its new value; a retained gradient follows, as in PyTorch."""
    if t._retains_grad:
        if t._grad_fn is not None:
            t._grad_fn.retained = None
        grad_fn.retained = t
    t._grad_fn = grad_fn
    t._requires_grad = True


def _snapshot(t: Tensor) -> Tensor:
    """A copy of t's values that continues t's history.

    The node of an in-place op may save its operand for backward; saving this copy instead of
    the storage about to be overwritten gives the gradient of the original values, like
    PyTorch's in-place ops (which save the original self where their formula needs it).
    """
    s = Tensor._wrap(t._array.copy() if not t.is_cuda else cuda_eager.copy(t._array))
    if tracing.ACTIVE is not None:
        tracing.ACTIVE.alias(s, t)
    s._grad_fn = t.grad_fn
    s._requires_grad = t.requires_grad
    return s


def update(target: Tensor, fn, args: tuple, kwargs: dict, op: str) -> Tensor:
    """target set to fn(target, *args, **kwargs) in place: the in-place form of `fn`."""
    _check_target(target, None, op)
    operands = (target, *args, *kwargs.values())
    recording = is_grad_enabled() and any(isinstance(t, Tensor) and t.requires_grad
                                          for t in operands)
    return assign(target, fn(_snapshot(target) if recording else target, *args, **kwargs), op)


def assign(target: Tensor, value: Tensor, op: str) -> Tensor:
    """Overwrite all of `target` with `value` (broadcast to its shape) in place."""
    _check_target(target, value, op)
    if value.device != target.device:
        value = value.to(target.device)  # copy_ takes values from any device
    if tuple(value.shape) != tuple(target.shape):
        try:
            value = value.expand(target.shape)
        except RuntimeError:
            raise RuntimeError(f"ember.{op}: output with shape {list(target.shape)} doesn't "
                               f"match the broadcast shape {list(value.shape)}") from None
    recording = is_grad_enabled() and (value.requires_grad or target.requires_grad)
    trace = tracing.ACTIVE
    if value.dtype is not target.dtype and (recording or trace is not None):
        value = value.to(target.dtype)
    if target._base is not None and (recording or trace is not None):
        return _write_positions(target, base_positions(target), value, op)
    if recording and value._grad_fn is None:
        # A constant or a leaf written over `target` still needs a node of its own: through it
        # the old history gets a zero gradient and a leaf value the incoming one.
        keep_value = _constant(np.ones(target.shape, dtype=bool), target)
        value = apply("where", keep_value, value, target)
    _store(target._array, ..., value._array, op)
    target._storage.version += 1
    if recording:
        _set_history(target, value._grad_fn)
    if trace is not None:
        trace.rebind(target, value)
    return target


def write_at(target: Tensor, positions: np.ndarray, value: Tensor, op: str) -> Tensor:
    """target's base elements at flat `positions` set to `value` (broadcast to positions)."""
    _check_target(target, value, op)
    return _write_positions(target, positions, value, op)


def _write_positions(target: Tensor, positions: np.ndarray, value: Tensor, op: str) -> Tensor:
    root = target._base if target._base is not None else target
    if value.device != root.device:
        value = value.to(root.device)  # setitem takes values from any device
    if tuple(value.shape) != positions.shape:
        value = value.expand(positions.shape)
    recording = is_grad_enabled() and (value.requires_grad or root.requires_grad)
    trace = tracing.ACTIVE
    if recording or trace is not None:
        new_root = _functional_write(root, positions, value.to(root.dtype))
    _store(root._array, np.unravel_index(positions, root.shape), value._array, op)
    root._storage.version += 1
    if trace is not None:
        trace.rebind(root, new_root)
    if recording:
        _set_history(root, new_root._grad_fn)
        if target is not root:
            target._regenerate_view_history()
    return target


def _functional_write(root: Tensor, positions: np.ndarray, value: Tensor) -> Tensor:
    """root with the elements at flat `positions` replaced by `value`, as a recorded graph."""
    n = root.numel()
    flat_index = _constant(positions.reshape(-1).astype(np.int64), root)
    mask = np.zeros(n, dtype=bool)
    mask[positions.reshape(-1)] = True
    zeros = root.new_zeros(n)
    scattered = apply("scatter_add", zeros, flat_index, value.reshape(-1), axis=0)
    flat = apply("where", _constant(mask, root), scattered, root.reshape(-1))
    return flat.reshape(root.shape)


def _constant(array: np.ndarray, like: Tensor) -> Tensor:
    """A tensor of host values on `like`'s device."""
    return Tensor._wrap(cuda_eager.move(array, like.device))
