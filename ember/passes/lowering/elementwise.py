"""Elementwise ops (kind unary, binary, ternary) as scalar `arith`/`math` code.

An elementwise op never gets loops of its own: it becomes a LoopTensor that computes its element
inside whatever loop nest reads it. Each op computes in the dtype its NumPy semantics use (the
operands promoted as NumPy promotes them, float16/bfloat16 widened to float32, integers made
float32 for the float-valued functions) and converts to its result dtype at the end.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ember.ir import dtypes
from ember.ir.core import Operation, Value
from ember.ir.dtypes import DType
from ember.passes.loop_analysis import constant_value
from ember.passes.lowering.emitter import (CMPF, CMPI, I1, Emitter, LoopTensor, LoweringError,
                                           broadcast_indices)

Rule = Callable[[Emitter, list[Value]], Value]
_LOW_PRECISION = (dtypes.float16, dtypes.bfloat16)


def _float_or_int(float_op: str, int_op: str, bool_op: str | None = None) -> Rule:
    """One arith op chosen by the compute dtype."""

    def rule(em: Emitter, xs: list[Value]) -> Value:
        dtype = xs[0].type.dtype
        name = (float_op if dtype.is_floating_point
                else bool_op if dtype is dtypes.bool_ and bool_op else int_op)
        if name is None:
            raise LoweringError(f"lower-to-loops: no {int_op} for {dtype.name}")
        return em.value(name, *xs)

    return rule


def _neg(em: Emitter, xs: list[Value]) -> Value:
    (x,) = xs
    if x.type.dtype.is_floating_point:
        return em.value("arith.negf", x)
    return em.value("arith.subi", em.constant(0, x.type), x)


def _sign(em: Emitter, xs: list[Value]) -> Value:
    (x,) = xs
    if x.type.dtype is dtypes.bool_:
        return x
    zero, one, minus = (em.constant(v, x.type) for v in (0, 1, -1))
    # NaN compares false both ways and stays NaN, as np.sign gives.
    positive = _compare(em, "gt", x, zero)
    negative = _compare(em, "lt", x, zero)
    return em.select(positive, one, em.select(negative, minus, x))


def _math(name: str, dialect: str = "math") -> Rule:
    return lambda em, xs: em.value(f"{dialect}.{name}", *xs)


def _sigmoid(em: Emitter, xs: list[Value]) -> Value:
    (x,) = xs
    one = em.constant(1.0, x.type)
    exp = em.value("math.exp", em.value("arith.negf", x))
    return em.value("arith.divf", one, em.value("arith.addf", one, exp))


def _reciprocal(em: Emitter, xs: list[Value]) -> Value:
    return em.value("arith.divf", em.constant(1.0, xs[0].type), xs[0])


def _rounding(name: str) -> Rule:
    # Integers are already whole.
    return lambda em, xs: (em.value(f"math.{name}", *xs) if xs[0].type.dtype.is_floating_point
                           else xs[0])


def _logical_not(em: Emitter, xs: list[Value]) -> Value:
    return em.value("arith.xori", em.convert(xs[0], dtypes.bool_), em.constant(1, I1))


def _select_by(predicate: str, bool_op: str) -> Rule:
    """maximum/minimum of integers (bool: or/and)."""

    def rule(em: Emitter, xs: list[Value]) -> Value:
        x, y = xs
        if x.type.dtype is dtypes.bool_:
            return em.value(bool_op, x, y)
        return em.select(_compare(em, predicate, x, y), x, y)

    return rule


def _extremum(float_op: str, predicate: str, bool_op: str) -> Rule:
    int_rule = _select_by(predicate, bool_op)
    return lambda em, xs: (em.value(float_op, *xs) if xs[0].type.dtype.is_floating_point
                           else int_rule(em, xs))


def _remainder(em: Emitter, xs: list[Value]) -> Value:
    """Python's modulo (the sign of the divisor) from arith's C-style remainder."""
    x, y = xs
    is_float = x.type.dtype.is_floating_point
    r = em.value("arith.remf" if is_float else "arith.remsi", x, y)
    zero = em.constant(0, x.type)
    nonzero = _compare(em, "ne", r, zero)
    signs_differ = em.value("arith.xori", _compare(em, "lt", r, zero), _compare(em, "lt", y, zero))
    fix = em.value("arith.andi", nonzero, signs_differ)
    return em.select(fix, em.value("arith.addf" if is_float else "arith.addi",
                                                  r, y), r)


def _pow(em: Emitter, xs: list[Value]) -> Value:
    x, y = xs
    if not x.type.dtype.is_floating_point:
        return _int_pow(em, x, y)
    if constant_value(y) in (2, 3):
        # As PyTorch computes them: products, within an ulp of pow and far cheaper than the
        # exp(y log|x|) of math.powf (GELU's x**3).
        product = em.value("arith.mulf", x, x)
        return product if constant_value(y) == 2 else em.value("arith.mulf", product, x)
    return em.value("math.powf", x, y)


def _int_pow(em: Emitter, x: Value, y: Value) -> Value:
    """x ** y of integers, as the op table computes it: square-and-multiply over every bit of
    |y| (wrapping like NumPy; a fixed trip count, so no data-dependent loop), and for y < 0
    PyTorch's truncation: x ** |y| when x is 1 or -1, else 0."""
    zero, one = em.constant(0, x.type), em.constant(1, x.type)
    negative = _compare(em, "lt", y, zero)
    magnitude = em.select(negative, em.value("arith.subi", zero, y), y)

    def step(ivs: list[Value], accs: list[Value]) -> list[Value]:
        power, square, bits = accs
        odd = _compare(em, "ne", em.value("arith.andi", bits, one), zero)
        power = em.select(odd, em.value("arith.muli", power, square), power)
        # shrui: |INT_MIN| wraps to INT_MIN, whose bits are still the magnitude's.
        return [power, em.value("arith.muli", square, square),
                em.value("arith.shrui", bits, one)]

    power, _, _ = em.loops([x.type.dtype.itemsize * 8], step, [one, x, magnitude])
    unit = _compare(em, "eq", em.value("math.absi", x), one)
    return em.select(negative, em.select(unit, power, zero), power)


# Comparison predicates by compute dtype kind: float (ordered, but `ne` is true for NaN as in
# NumPy), signed integers, and bool (unsigned, so that true is 1, not -1).
_PREDICATES = {
    "eq": ("oeq", "eq", "eq"), "ne": ("une", "ne", "ne"), "lt": ("olt", "slt", "ult"),
    "le": ("ole", "sle", "ule"), "gt": ("ogt", "sgt", "ugt"), "ge": ("oge", "sge", "uge"),
}


def _compare(em: Emitter, name: str, x: Value, y: Value) -> Value:
    dtype = x.type.dtype
    float_p, int_p, bool_p = _PREDICATES[name]
    if dtype.is_floating_point:
        return em.value("arith.cmpf", x, y, type=I1, predicate=CMPF[float_p])
    predicate = bool_p if dtype is dtypes.bool_ else int_p
    return em.value("arith.cmpi", x, y, type=I1, predicate=CMPI[predicate])


def _logical(name: str) -> Rule:
    return lambda em, xs: em.value(name, *(em.convert(x, dtypes.bool_) for x in xs))


RULES: dict[str, Rule] = {
    "neg": _neg,
    "abs": _float_or_int("math.absf", "math.absi"),
    "sign": _sign,
    **{name: _math(name) for name in ("exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin",
                                      "cos", "tanh", "erf")},
    "sigmoid": _sigmoid,
    "reciprocal": _reciprocal,
    "floor": _rounding("floor"),
    "ceil": _rounding("ceil"),
    "round": _rounding("roundeven"),  # NumPy rounds halves to even
    "logical_not": _logical_not,
    "add": _float_or_int("arith.addf", "arith.addi", "arith.ori"),
    "sub": _float_or_int("arith.subf", "arith.subi"),
    "mul": _float_or_int("arith.mulf", "arith.muli", "arith.andi"),
    "div": _math("divf", "arith"),  # integer operands compute as float32
    "pow": _pow,
    "maximum": _extremum("arith.maximumf", "gt", "arith.ori"),
    "minimum": _extremum("arith.minimumf", "lt", "arith.andi"),
    "remainder": _remainder,
    "atan2": _math("atan2"),
    **{name: (lambda n: lambda em, xs: _compare(em, n, *xs))(name) for name in _PREDICATES},
    "logical_and": _logical("arith.andi"),
    "logical_or": _logical("arith.ori"),
}
# Ops whose NumPy semantics compute integer operands as float32.
_FLOAT_VALUED = {"exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tanh", "erf",
                 "sigmoid", "reciprocal", "div", "atan2"}


def numpy_promote(types: list[DType]) -> DType:
    """The dtype NumPy computes mixed operands in (np.promote_types), as the op table does."""
    result = types[0]
    for t in types[1:]:
        try:
            result = dtypes.from_numpy(np.promote_types(result.numpy, t.numpy))
        except TypeError:  # float16 with bfloat16: no NumPy rule
            result = dtypes.promote_types(result, t)
    return result


def compute_dtype(name: str, operand_types: list[DType]) -> DType:
    """The dtype an elementwise op computes in."""
    dtype = numpy_promote(operand_types)
    if name in _FLOAT_VALUED and not dtype.is_floating_point:
        return dtypes.float32
    return dtypes.float32 if dtype in _LOW_PRECISION else dtype


def lower_elementwise(op: Operation, operands: list[LoopTensor]) -> LoopTensor:
    """The LoopTensor of an elementwise op (cast and where included)."""
    out = op.result.type
    name = op.opname
    if name != "cast" and name not in RULES and name != "where":
        raise LoweringError(f"lower-to-loops: no scalar rule for ember.{name}")

    def compute(em: Emitter, indices: list[Value]) -> Value:
        xs = [em.load(x, broadcast_indices(em, indices, x.type.shape)) for x in operands]
        if name == "cast":
            return em.convert(xs[0], out.dtype)
        if name == "where":
            dtype = numpy_promote([x.type.dtype for x in xs[1:]])
            value = em.select(xs[0], *(em.convert(x, dtype) for x in xs[1:]))
            return em.convert(value, out.dtype)
        dtype = compute_dtype(name, [x.type.dtype for x in xs])
        return em.convert(RULES[name](em, [em.convert(x, dtype) for x in xs]), out.dtype)

    return LoopTensor(out, compute=compute)
