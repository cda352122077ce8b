"""Ember's IR: element types, tensor types, the table of primitive operations, and the
operations, blocks and regions built from them, with their printer, parser and verifier."""

from ember.ir import ops as _ops  # registers every primitive
from ember.ir.core import (Block, Builder, FunctionType, Operation, Region, Value, func_op,
                           module_op)
from ember.ir.dtypes import DType
from ember.ir.errors import DTypeError, ShapeError
from ember.ir.parser import parse
from ember.ir.primitive import PRIMITIVES, Primitive, get_primitive
from ember.ir.printer import print_operation
from ember.ir.syntax import ParseError
from ember.ir.types import TensorType
from ember.ir.verifier import VerifyError, verify

__all__ = ["Block", "Builder", "DType", "DTypeError", "FunctionType", "Operation", "PRIMITIVES",
           "ParseError", "Primitive", "Region", "ShapeError", "TensorType", "Value",
           "VerifyError", "func_op", "get_primitive", "module_op", "parse", "print_operation",
           "verify"]
