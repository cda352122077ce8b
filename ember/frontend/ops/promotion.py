"""PyTorch's result_type over tensors and Python scalars, and conversion of mixed operands."""

from __future__ import annotations

import numbers

import numpy as np

from ember.frontend.dispatch import apply
from ember.frontend.tensor import Tensor
from ember.ir import dtypes


def scalar_dtype(value) -> dtypes.DType:
    """The dtype a Python scalar takes part in promotion with (bool, int64 or float32)."""
    if isinstance(value, (bool, np.bool_)):
        return dtypes.bool_
    if isinstance(value, (numbers.Integral, np.integer)):
        return dtypes.int64
    if isinstance(value, (numbers.Real, np.floating)):
        return dtypes.float32
    raise TypeError(f"ember: expected a Tensor or a Python number, got {type(value).__name__}")


def result_type(*values) -> dtypes.DType:
    """The dtype an operation on `values` computes in, as torch.result_type defines it.

    Tensors with dimensions outrank 0-d tensors, which outrank Python scalars; a weaker
    participant only matters when its category (bool < int < float) is higher.
    """
    dim = zero = scalar = None
    for v in values:
        if isinstance(v, Tensor):
            if v.ndim:
                dim = v.dtype if dim is None else dtypes.promote_types(dim, v.dtype)
            else:
                zero = v.dtype if zero is None else dtypes.promote_types(zero, v.dtype)
        else:
            d = scalar_dtype(v)
            scalar = d if scalar is None else dtypes.promote_types(scalar, d)
    return dtypes.combine_categories(dim, dtypes.combine_categories(zero, scalar))


def as_operand(value, dtype: dtypes.DType) -> Tensor:
    """`value` (a tensor or Python scalar) as a tensor of `dtype`, casting where needed."""
    if isinstance(value, Tensor):
        return value if value.dtype is dtype else apply("cast", value, dtype=dtype.name)
    return apply("full", shape=(), value=value, dtype=dtype.name)


def promote_operands(*values) -> list[Tensor]:
    """All `values` as tensors of their common result_type."""
    dtype = result_type(*values)
    return [as_operand(v, dtype) for v in values]
