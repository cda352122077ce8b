"""repr of tensors in PyTorch's format (torch/_tensor_str.py with its default print options)."""

from __future__ import annotations

import math

import numpy as np

from ember.ir import dtypes

_PRECISION = 4
_THRESHOLD = 1000
_EDGEITEMS = 3
_LINEWIDTH = 80


class _Formatter:
    """Formats every element of one tensor to a common width, choosing fixed, integer or
    scientific notation from the nonzero finite values as PyTorch does."""

    def __init__(self, values: np.ndarray) -> None:
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not self.floating:
            self.max_width = max([len(str(v)) for v in flat.tolist()], default=1)
            return
        flat = flat.astype(np.float64)
        nonzero = flat[np.isfinite(flat) & (flat != 0)]
        if nonzero.size == 0:
            return
        magnitude = np.abs(nonzero)
        low, high = magnitude.min(), magnitude.max()
        self.int_mode = bool(np.all(nonzero == np.ceil(nonzero)))
        self.sci_mode = bool(high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4)
        if self.sci_mode:
            widths = [len(f"{v:.{_PRECISION}e}") for v in nonzero.tolist()]
        elif self.int_mode:
            # The trailing "." marks the tensor as floating point.
            widths = [len(f"{v:.0f}") + 1 for v in nonzero.tolist()]
        else:
            widths = [len(f"{v:.{_PRECISION}f}") for v in nonzero.tolist()]
        self.max_width = max(widths)

    def format(self, value) -> str:
        """One element, right-aligned to the common width."""
        if self.floating:
            if self.sci_mode:
                text = f"{value:{self.max_width}.{_PRECISION}e}"
            elif self.int_mode:
                text = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    text += "."
            else:
                text = f"{value:.{_PRECISION}f}"
        else:
            text = str(value)
        return (self.max_width - len(text)) * " " + text


def _summarized(values: np.ndarray) -> np.ndarray:
    """Only the elements that a summarized print shows (edge items of every dimension)."""
    for axis, size in enumerate(values.shape):
        if size > 2 * _EDGEITEMS:
            keep = list(range(_EDGEITEMS)) + list(range(size - _EDGEITEMS, size))
            values = np.take(values, keep, axis=axis)
    return values


def _vector(values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    per_line = max(1, math.floor((_LINEWIDTH - indent) / (fmt.max_width + 2)))
    items = values.tolist()
    if summarize and len(items) > 2 * _EDGEITEMS:
        data = ([fmt.format(v) for v in items[:_EDGEITEMS]] + [" ..."]
                + [fmt.format(v) for v in items[-_EDGEITEMS:]])
    else:
        data = [fmt.format(v) for v in items]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if values.ndim == 0:
        return fmt.format(values.item())
    if values.ndim == 1:
        return _vector(values, indent, summarize, fmt)
    n = values.shape[0]
    if summarize and n > 2 * _EDGEITEMS:
        rows = ([_nested(values[i], indent + 1, summarize, fmt) for i in range(_EDGEITEMS)]
                + ["..."]
                + [_nested(values[i], indent + 1, summarize, fmt)
                   for i in range(n - _EDGEITEMS, n)])
    else:
        rows = [_nested(values[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _add_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > _LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    return "".join(parts) + ")"


def format_tensor(t) -> str:
    """tensor([...], dtype=..., requires_grad=True / grad_fn=<...>) exactly as PyTorch prints."""
    from ember.frontend.ops.creation import get_default_dtype

    data = t._data
    if t.dtype in (dtypes.float16, dtypes.bfloat16):
        data = data.astype(np.float32)  # half-precision scalars don't take Python's float formats
    prefix = "tensor("
    indent = len(prefix)
    suffixes = [f"device='{t.device}'"] if t.is_cuda else []
    default_shown = (get_default_dtype(), dtypes.int64, dtypes.bool_)
    if data.size == 0:
        if data.ndim != 1:
            suffixes.append(f"size={tuple(data.shape)}")
        # With no elements to show, only float tensors of the default dtype omit it.
        if t.dtype is not get_default_dtype():
            suffixes.append(f"dtype=ember.{t.dtype.name}")
        body = "[]"
    else:
        if t.dtype not in default_shown:
            suffixes.append(f"dtype=ember.{t.dtype.name}")
        summarize = data.size > _THRESHOLD
        fmt = _Formatter(_summarized(data) if summarize else data)
        body = _nested(data, indent, summarize, fmt)
    grad_fn = t.grad_fn
    if grad_fn is not None:
        suffixes.append(f"grad_fn=<{grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
