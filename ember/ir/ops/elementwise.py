"""Elementwise primitives: unary math, binary arithmetic and comparison, where, cast."""

from __future__ import annotations

import math

import numpy as np

from ember.ir import dtypes
from ember.ir.errors import DTypeError
from ember.ir.ops.common import broadcast_shapes, describe, promote, to_float, upcast
from ember.ir.primitive import primitive
from ember.ir.types import TensorType

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(x):
    return np.exp(-np.logaddexp(0, -x))


def _rsqrt(x):
    with np.errstate(divide="ignore"):
        return 1.0 / np.sqrt(x)


def _reciprocal(x):
    with np.errstate(divide="ignore"):
        return 1.0 / x


def _sign(x):
    return x if x.dtype == np.bool_ else np.sign(x)


def _rounding(fn):
    return lambda x: x if x.dtype.kind in "iu" else fn(x)


# name: (NumPy function, dtype policy). Policies: "same" keeps the dtype (no bool), "any" keeps
# the dtype, "float" maps ints and bool to float32, "bool" returns bool.
UNARY = {
    "neg": (np.negative, "same"),
    "abs": (np.abs, "same"),
    "sign": (_sign, "any"),
    "exp": (np.exp, "float"),
    "log": (np.log, "float"),
    "log1p": (np.log1p, "float"),
    "expm1": (np.expm1, "float"),
    "sqrt": (np.sqrt, "float"),
    "rsqrt": (_rsqrt, "float"),
    "sin": (np.sin, "float"),
    "cos": (np.cos, "float"),
    "tanh": (np.tanh, "float"),
    "sigmoid": (_sigmoid, "float"),
    "erf": (_erf, "float"),
    "reciprocal": (_reciprocal, "float"),
    "floor": (_rounding(np.floor), "same"),
    "ceil": (_rounding(np.ceil), "same"),
    "round": (_rounding(np.round), "same"),
    "logical_not": (np.logical_not, "bool"),
}
# Bool results carry no gradient. sign and the roundings are differentiable with a zero
# gradient, as in PyTorch, so that their results still require grad.
NOT_DIFFERENTIABLE = {"logical_not", "eq", "ne", "lt", "le", "gt", "ge", "logical_and",
                      "logical_or"}


def _unary_rule(name: str, policy: str):
    def rule(types: list[TensorType]) -> TensorType:
        (x,) = types
        if policy == "same" and x.dtype is dtypes.bool_:
            raise DTypeError(f"ember.{name}: not supported for bool tensors ({describe(types)})")
        out = {"same": x.dtype, "any": x.dtype, "float": to_float(x.dtype),
               "bool": dtypes.bool_}[policy]
        return TensorType(x.shape, out)

    rule.__doc__ = f"Elementwise {name}."
    return rule


def _unary_numpy(fn, policy: str):
    def run(x: np.ndarray) -> np.ndarray:
        if policy == "float" and x.dtype.kind in "biu":
            x = x.astype(np.float32)
        with np.errstate(all="ignore"):
            return fn(upcast(x))

    return run


for _name, (_fn, _policy) in UNARY.items():
    primitive(_name, ["x"], kind="unary", numpy=_unary_numpy(_fn, _policy),
              differentiable=_name not in NOT_DIFFERENTIABLE)(_unary_rule(_name, _policy))


def _int_pow(x, y):
    if y.dtype.kind not in "iu":
        return np.power(x, y)
    # NumPy refuses negative integer powers; PyTorch truncates: 1 and -1 keep their magnitude
    # and every other base (0 included) gives 0.
    negative = y < 0
    positive = np.power(x, np.where(negative, 0, y))
    # x ** |y| for x = +-1 by y's parity (np.abs would overflow on the most negative y)
    inverted = np.where(np.abs(x) == 1, np.where(y % 2 == 0, np.ones_like(x), x), 0)
    return np.where(negative, inverted, positive)


def _remainder(x, y):
    if x.dtype.kind in "iu" and np.any(y == 0):
        raise ZeroDivisionError("ember.remainder: integer division by zero")
    return np.remainder(x, y)


def _true_divide(x, y):
    if x.dtype.kind in "biu":
        x, y = x.astype(np.float32), y.astype(np.float32)
    return np.true_divide(x, y)


def _atan2(x, y):
    if x.dtype.kind in "biu":
        x, y = x.astype(np.float32), y.astype(np.float32)
    return np.arctan2(x, y)


def _add(x, y):
    return np.logical_or(x, y) if x.dtype == np.bool_ else np.add(x, y)


def _mul(x, y):
    return np.logical_and(x, y) if x.dtype == np.bool_ else np.multiply(x, y)


# name: (NumPy function, dtype policy). "promote" gives the promoted dtype, "float" the promoted
# dtype with ints mapped to float32, "bool" a bool result; "nobool" promotes but rejects a bool
# result; "noboolin" also rejects any bool operand (PyTorch forbids subtracting bools).
BINARY = {
    "add": (_add, "promote"),
    "sub": (np.subtract, "noboolin"),
    "mul": (_mul, "promote"),
    "div": (_true_divide, "float"),
    "pow": (_int_pow, "nobool"),
    "maximum": (np.maximum, "promote"),
    "minimum": (np.minimum, "promote"),
    "remainder": (_remainder, "nobool"),
    "atan2": (_atan2, "float"),
    "eq": (np.equal, "bool"),
    "ne": (np.not_equal, "bool"),
    "lt": (np.less, "bool"),
    "le": (np.less_equal, "bool"),
    "gt": (np.greater, "bool"),
    "ge": (np.greater_equal, "bool"),
    "logical_and": (np.logical_and, "bool"),
    "logical_or": (np.logical_or, "bool"),
}


def _binary_rule(name: str, policy: str):
    def rule(types: list[TensorType]) -> TensorType:
        shape = broadcast_shapes(name, types)
        dtype = promote(types)
        if (policy == "nobool" and dtype is dtypes.bool_) or (
                policy == "noboolin" and any(t.dtype is dtypes.bool_ for t in types)):
            raise DTypeError(f"ember.{name}: not supported for bool tensors ({describe(types)})")
        out = {"promote": dtype, "nobool": dtype, "noboolin": dtype, "float": to_float(dtype),
               "bool": dtypes.bool_}[policy]
        return TensorType(shape, out)

    rule.__doc__ = f"Elementwise {name} with broadcasting and type promotion."
    return rule


def _binary_numpy(fn):
    def run(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        common = np.promote_types(x.dtype, y.dtype)
        x, y = upcast(x.astype(common, copy=False)), upcast(y.astype(common, copy=False))
        with np.errstate(all="ignore"):
            return fn(x, y)

    return run


for _name, (_fn, _policy) in BINARY.items():
    primitive(_name, ["x", "y"], kind="binary", numpy=_binary_numpy(_fn),
              differentiable=_name not in NOT_DIFFERENTIABLE)(_binary_rule(_name, _policy))


def _where(cond, x, y):
    common = np.promote_types(x.dtype, y.dtype)
    return np.where(cond, x.astype(common, copy=False), y.astype(common, copy=False))


@primitive("where", ["cond", "x", "y"], kind="ternary", numpy=_where)
def where_rule(types: list[TensorType]) -> TensorType:
    """x where cond is true, else y; all three broadcast, x and y promote."""
    cond, x, y = types
    if cond.dtype is not dtypes.bool_:
        raise DTypeError(f"ember.where: condition must be bool ({describe(types)})")
    return TensorType(broadcast_shapes("where", types), promote([x, y]))


def _cast(x, *, dtype):
    target = dtypes.from_name(dtype).numpy
    if x.dtype.kind == "f" and target.kind in "iu":
        with np.errstate(invalid="ignore"):
            return np.trunc(upcast(x)).astype(target)
    return x.astype(target)


@primitive("cast", ["x"], ["dtype"], kind="unary", numpy=_cast)
def cast_rule(types: list[TensorType], *, dtype: str) -> TensorType:
    """Convert to the dtype named by the attribute (float to int truncates toward zero)."""
    return TensorType(types[0].shape, dtypes.from_name(dtype))
