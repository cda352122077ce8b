"""repr of tensors in PyTorch's format."""

from __future__ import annotations

import numpy as np

from ember.ir import dtypes

_DEFAULT_SHOWN = (dtypes.float32, dtypes.int64, dtypes.bool_)


def _format_floats(values: np.ndarray):
    finite = values[np.isfinite(values)]
    if finite.size and np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8:
        return lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)
    big = finite.size and (np.abs(finite).max() >= 1e8 or
                           (np.abs(finite[finite != 0]).min(initial=1.0) < 1e-4))
    if big:
        return lambda v: f"{v:.4e}"
    return lambda v: f"{v:.4f}" if np.isfinite(v) else str(v)


def format_tensor(t) -> str:
    """tensor([...], dtype=..., requires_grad=True / grad_fn=<...>) like PyTorch."""
    data = t._data
    if data.dtype.kind == "f":
        data = data.astype(np.float64)
        fmt = _format_floats(data)
        body = np.array2string(data, separator=", ", formatter={"float_kind": fmt},
                               prefix="tensor(", threshold=1000, edgeitems=3)
    elif data.dtype == np.bool_:
        body = np.array2string(data, separator=", ", prefix="tensor(",
                               formatter={"bool": lambda v: "True" if v else "False"})
    else:
        body = np.array2string(data, separator=", ", prefix="tensor(", threshold=1000)
    if data.size == 0:
        body = "[]"
    extras = []
    if data.size == 0 and t.ndim != 1:
        extras.append(f"size={tuple(t.shape)}")
    if t.dtype not in _DEFAULT_SHOWN:
        extras.append(f"dtype=ember.{t.dtype.name}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + extras) + ")"
