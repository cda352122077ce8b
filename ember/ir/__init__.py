"""Ember's IR: element types, tensor types and the table of primitive operations."""

from ember.ir import ops as _ops  # registers every primitive
from ember.ir.dtypes import DType
from ember.ir.errors import DTypeError, ShapeError
from ember.ir.primitive import PRIMITIVES, Primitive, get_primitive
from ember.ir.types import TensorType

__all__ = ["DType", "DTypeError", "PRIMITIVES", "Primitive", "ShapeError", "TensorType",
           "get_primitive"]
