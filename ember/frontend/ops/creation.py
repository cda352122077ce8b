"""Tensor creation: from data, constants, ranges, identity matrices and `*_like` forms."""

from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

from ember.frontend.dispatch import apply
from ember.frontend.tensor import Tensor
from ember.ir import dtypes

_default_dtype = [dtypes.float32]


def get_default_dtype() -> dtypes.DType:
    """The dtype of floating-point tensors created without an explicit dtype."""
    return _default_dtype[0]


def set_default_dtype(dtype: dtypes.DType) -> None:
    """Make `dtype` (float32 or float64) the default floating-point dtype."""
    if dtype not in (dtypes.float32, dtypes.float64):
        raise TypeError(f"ember.set_default_dtype: only float32 and float64 are supported, "
                        f"got {dtype}")
    _default_dtype[0] = dtype


def _finish(t: Tensor, requires_grad: bool, device=None) -> Tensor:
    """t moved to `device` (if given) and made a leaf requiring grad (if asked)."""
    if device is not None:
        from ember.frontend.transfer import to_device

        t = to_device(t, device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_dtype(array: np.ndarray, data) -> dtypes.DType:
    """PyTorch's inference: arrays keep their dtype, Python floats take the default dtype."""
    if isinstance(data, (np.ndarray, np.generic, Tensor)) or array.dtype.kind != "f":
        return dtypes.from_numpy(array.dtype)
    if not isinstance(data, (list, tuple)):
        return get_default_dtype()
    # Typed elements of a sequence (NumPy scalars, tensors) keep their float dtype.
    result = None
    for v in _flatten(data):
        if isinstance(v, Tensor):
            dtype = v.dtype
        elif isinstance(v, (np.ndarray, np.generic)):
            dtype = dtypes.from_numpy(v.dtype)
        else:
            dtype = get_default_dtype() if isinstance(v, float) else None
        if dtype is not None and dtype.is_floating_point:
            result = dtype if result is None else dtypes.promote_types(result, dtype)
    return result or get_default_dtype()


def _to_array(data) -> np.ndarray:
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)) and any(isinstance(v, Tensor) for v in _flatten(data)):
        return np.array([_to_array(v) for v in data])
    return np.asarray(data)


def _flatten(data):
    for v in data:
        if isinstance(v, (list, tuple)):
            yield from _flatten(v)
        else:
            yield v


def tensor(data, dtype: dtypes.DType | None = None, device=None,
           requires_grad: bool = False) -> Tensor:
    """A new tensor copying `data` (numbers, nested lists, NumPy arrays or tensors)."""
    array = _to_array(data)
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise TypeError(f"ember.tensor: cannot make a tensor from {type(data).__name__} "
                        f"(NumPy dtype {array.dtype})")
    dtype = dtype or _infer_dtype(array, data)
    return _finish(Tensor._wrap(np.array(array, dtype=dtype.numpy, copy=True)), requires_grad,
                   device)


def as_tensor(data, dtype: dtypes.DType | None = None, device=None) -> Tensor:
    """`data` as a tensor, sharing memory with a tensor or NumPy array when neither a cast nor
    a move is needed."""
    if isinstance(data, Tensor):
        return data.to(dtype=dtype, device=device)
    if isinstance(data, np.ndarray) and (dtype is None or dtype.numpy == data.dtype):
        return _finish(from_numpy(data), False, device)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with the NumPy array `array`."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"ember.from_numpy: expected np.ndarray, got {type(array).__name__}")
    dtypes.from_numpy(array.dtype)
    if array.dtype not in [d.numpy for d in dtypes.ALL_DTYPES]:
        raise TypeError(f"ember.from_numpy: NumPy dtype {array.dtype} is not supported")
    return Tensor._wrap(array)


def _shape(size) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    shape = tuple(int(d) for d in size)
    if any(d < 0 for d in shape):
        raise RuntimeError(f"ember: negative dimension in size {shape}")
    return shape


def full(size: Sequence[int], fill_value, *, dtype: dtypes.DType | None = None, device=None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of `size` filled with `fill_value`."""
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = dtypes.bool_
        elif isinstance(fill_value, numbers.Integral):
            dtype = dtypes.int64
        else:
            dtype = get_default_dtype()
    out = apply("full", shape=_shape([size]), value=fill_value, dtype=dtype.name)
    return _finish(out, requires_grad, device)


def scalar_tensor(value, dtype: dtypes.DType | None = None, *, device=None,
                  requires_grad: bool = False) -> Tensor:
    """A 0-d tensor holding `value` as `dtype` (the default float dtype if not given)."""
    out = apply("full", shape=(), value=value, dtype=(dtype or get_default_dtype()).name)
    return _finish(out, requires_grad, device)


def zeros(*size, dtype: dtypes.DType | None = None, device=None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    return full(_shape(size), 0, dtype=dtype or get_default_dtype(), device=device,
                requires_grad=requires_grad)


def ones(*size, dtype: dtypes.DType | None = None, device=None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return full(_shape(size), 1, dtype=dtype or get_default_dtype(), device=device,
                requires_grad=requires_grad)


def empty(*size, dtype: dtypes.DType | None = None, device=None,
          requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor (Ember fills it with zeros)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def zeros_like(x: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros with x's shape, dtype and device."""
    return zeros(x.shape, dtype=dtype or x.dtype, device=device or x.device,
                 requires_grad=requires_grad)


def ones_like(x: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Ones with x's shape, dtype and device."""
    return ones(x.shape, dtype=dtype or x.dtype, device=device or x.device,
                requires_grad=requires_grad)


def empty_like(x: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor with x's shape, dtype and device."""
    return zeros_like(x, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(x: Tensor, fill_value, *, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    """`fill_value` with x's shape, dtype and device."""
    return full(x.shape, fill_value, dtype=dtype or x.dtype, device=device or x.device,
                requires_grad=requires_grad)


def arange(start, end=None, step=1, *, dtype: dtypes.DType | None = None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Values from start (inclusive) to end (exclusive) in steps of `step`."""
    if end is None:
        start, end = 0, start
    start, end, step = (_number(v) for v in (start, end, step))
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = get_default_dtype() if is_float else dtypes.int64
    if not dtype.is_floating_point:
        # PyTorch converts the bounds and step to the integer type before counting.
        start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise RuntimeError("ember.arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"ember.arange: upper bound and lower bound inconsistent with step "
                           f"sign (start={start}, end={end}, step={step})")
    count = max(0, int(np.ceil((end - start) / step)))
    # Like PyTorch, compute start + i * step in double (int64 for integers), then cast.
    compute = "float64" if dtype.is_floating_point else "int64"
    out = apply("iota", shape=(count,), axis=0, dtype=compute)
    if (start, step) != (0, 1):
        out = out * step + start
    return _finish(out if out.dtype is dtype else out.to(dtype), requires_grad, device)


def _number(v):
    return v.item() if isinstance(v, Tensor) else v


def linspace(start, end, steps: int, *, dtype: dtypes.DType | None = None, device=None,
             requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end inclusive."""
    dtype = dtype or get_default_dtype()
    start, end = _number(start), _number(end)
    if steps < 0:
        raise RuntimeError("ember.linspace: number of steps must be non-negative")
    if steps == 1:
        return _finish(full((1,), start, dtype=dtype), requires_grad, device)
    index = apply("iota", shape=(steps,), axis=0, dtype="float64")
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    # Like PyTorch, fill the second half from the end so that the last value is exactly `end`.
    half = steps // 2
    from_start = index * step + start
    from_end = end - (steps - 1 - index) * step
    out = apply("where", index < half, from_start, from_end)
    return _finish(out.to(dtype), requires_grad, device)


def eye(n: int, m: int | None = None, *, dtype: dtypes.DType | None = None, device=None,
        requires_grad: bool = False) -> Tensor:
    """An n x m matrix with ones on the diagonal."""
    m = n if m is None else m
    rows = apply("iota", shape=(n, m), axis=0, dtype="int64")
    cols = apply("iota", shape=(n, m), axis=1, dtype="int64")
    return _finish((rows == cols).to(dtype or get_default_dtype()), requires_grad, device)
