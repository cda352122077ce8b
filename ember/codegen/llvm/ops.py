"""One row per scalar op of the `arith` and `math` dialects: how it becomes LLVM instructions.

A row is `rule(t, op, args) -> llvm value`, where `t` is the translator (its `builder`,
`module` and `llvm_type`), `op` the Ember operation and `args` its operands already translated.
Semantics are MLIR's: integer arithmetic wraps, cmpf/cmpi predicates are MLIR's enums.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from llvmlite import ir

from ember.codegen.llvm.intrinsics import call_intrinsic, intrinsic
from ember.codegen.math_approx import math_function
from ember.ir import dtypes

Rule = Callable[..., ir.Value]


def _binary(method: str) -> Rule:
    return lambda t, op, args: getattr(t.builder, method)(args[0], args[1])


def _intrinsic(name: str) -> Rule:
    return lambda t, op, args: call_intrinsic(t.builder, name, *args)


def _approx(name: str) -> Rule:
    """A transcendental from `ember.codegen.math_approx` (inlined, vectorizable)."""
    return lambda t, op, args: t.builder.call(math_function(t.module, name, args[0].type), args)


def _cast(method: str) -> Rule:
    return lambda t, op, args: getattr(t.builder, method)(args[0], t.llvm_type(op.result.type))


def _int_resize(t, op, args) -> ir.Value:
    """index_cast: sign-extend or truncate between `index` (i64) and a fixed-width integer."""
    target = t.llvm_type(op.result.type)
    width = args[0].type.width
    if target.width == width:
        return args[0]
    return (t.builder.sext if target.width > width else t.builder.trunc)(args[0], target)


def _constant(t, op, args) -> ir.Value:
    ty = t.llvm_type(op.result.type)
    value = op.attributes["value"]
    value = getattr(value, "value", value)  # a ScalarAttr carries its number in `value`
    if op.result.type.name == "bf16":  # its bits, rounded as NumPy's bfloat16 rounds
        return ir.Constant(ty, int(np.array(value, dtypes.bfloat16.numpy).view(np.int16)))
    return ir.Constant(ty, float(value) if isinstance(ty, ir.types._BaseFloatType) else int(value))


_I16, _I32, _F32 = ir.IntType(16), ir.IntType(32), ir.FloatType()


def _extf(t, op, args) -> ir.Value:
    """fpext. A bf16 (held as its bits, see translate) is the upper half of an f32."""
    b, x = t.builder, args[0]
    if op.operands[0].type.name == "bf16":
        x = b.bitcast(b.shl(b.zext(x, _I32), ir.Constant(_I32, 16)), _F32)
    target = t.llvm_type(op.result.type)
    return x if x.type == target else b.fpext(x, target)


def _truncf(t, op, args) -> ir.Value:
    """fptrunc. To bf16: the f32's upper 16 bits rounded to nearest even, and a NaN made the
    quiet NaN of its sign, bit for bit what ml_dtypes (NumPy's bfloat16) gives."""
    b, x = t.builder, args[0]
    if op.result.type.name != "bf16":
        return b.fptrunc(x, t.llvm_type(op.result.type))
    if x.type != _F32:
        x = b.fptrunc(x, _F32)  # ml_dtypes converts a double through float too
    bits = b.bitcast(x, _I32)
    sixteen, one = ir.Constant(_I32, 16), ir.Constant(_I32, 1)
    odd = b.and_(b.lshr(bits, sixteen), one)
    rounded = b.lshr(b.add(bits, b.add(ir.Constant(_I32, 0x7FFF), odd)), sixteen)
    quiet_nan = b.or_(b.and_(b.lshr(bits, sixteen), ir.Constant(_I32, 0x8000)),
                      ir.Constant(_I32, 0x7FC0))
    is_nan = b.fcmp_unordered("uno", x, x)
    return b.trunc(b.select(is_nan, quiet_nan, rounded), _I16)


def _safe_division(method: str) -> Rule:
    """divsi / remsi. x86's idiv traps on a zero divisor and on INT_MIN / -1 (both undefined in
    MLIR), which would kill the process; the divisor is replaced so they cannot trap, and the
    results are NumPy's: 0 for a zero divisor, wrapping negation (remainder 0) for -1."""
    def rule(t, op, args) -> ir.Value:
        b = t.builder
        x, d = args
        zero, minus_one = ir.Constant(d.type, 0), ir.Constant(d.type, -1)
        is_zero = b.icmp_signed("==", d, zero)
        is_minus_one = b.icmp_signed("==", d, minus_one)
        safe = b.select(b.or_(is_zero, is_minus_one), ir.Constant(d.type, 1), d)
        y = getattr(b, method)(x, safe)
        special = b.sub(zero, x) if method == "sdiv" else zero
        return b.select(is_zero, zero, b.select(is_minus_one, special, y))
    return rule


# MLIR's arith.cmpf predicate enum -> (ordered?, llvmlite comparison); 0 and 15 are constants.
_CMPF = {1: (True, "=="), 2: (True, ">"), 3: (True, ">="), 4: (True, "<"), 5: (True, "<="),
         6: (True, "!="), 7: (True, "ord"), 8: (False, "=="), 9: (False, ">"), 10: (False, ">="),
         11: (False, "<"), 12: (False, "<="), 13: (False, "!="), 14: (False, "uno")}
# MLIR's arith.cmpi predicate enum -> (signed?, llvmlite comparison).
_CMPI = {0: (True, "=="), 1: (True, "!="), 2: (True, "<"), 3: (True, "<="), 4: (True, ">"),
         5: (True, ">="), 6: (False, "<"), 7: (False, "<="), 8: (False, ">"), 9: (False, ">=")}


def _cmpf(t, op, args) -> ir.Value:
    predicate = op.attributes["predicate"]
    if predicate in (0, 15):
        return ir.Constant(ir.IntType(1), int(predicate == 15))
    ordered, cmp = _CMPF[predicate]
    method = t.builder.fcmp_ordered if ordered else t.builder.fcmp_unordered
    return method(cmp, *args)


def _cmpi(t, op, args) -> ir.Value:
    signed, cmp = _CMPI[op.attributes["predicate"]]
    method = t.builder.icmp_signed if signed else t.builder.icmp_unsigned
    return method(cmp, *args)


def _absi(t, op, args) -> ir.Value:
    # llvm.abs's flag says whether abs(INT_MIN) is poison; NumPy wraps it to INT_MIN.
    ty = args[0].type
    fn = t.module.globals.get(f"llvm.abs.i{ty.width}") or ir.Function(
        t.module, ir.FunctionType(ty, [ty, ir.IntType(1)]), name=f"llvm.abs.i{ty.width}")
    return t.builder.call(fn, [args[0], ir.Constant(ir.IntType(1), 0)])


def _rsqrt(t, op, args) -> ir.Value:
    root = call_intrinsic(t.builder, "llvm.sqrt", args[0])
    return t.builder.fdiv(ir.Constant(root.type, 1.0), root)


def _negf(t, op, args) -> ir.Value:
    return t.builder.fneg(args[0])


def _select(t, op, args) -> ir.Value:
    return t.builder.select(*args)


def _maximum_or_minimum(name: str) -> Rule:
    # llvm.maximum/minimum propagate NaN, as arith.maximumf/minimumf (and NumPy) do.
    return lambda t, op, args: t.builder.call(intrinsic(t.module, name, args[0].type, 2), args)


SCALAR_OPS: dict[str, Rule] = {
    "arith.constant": _constant,
    "arith.addf": _binary("fadd"),
    "arith.subf": _binary("fsub"),
    "arith.mulf": _binary("fmul"),
    "arith.divf": _binary("fdiv"),
    "arith.remf": _binary("frem"),
    "arith.negf": _negf,
    "arith.maximumf": _maximum_or_minimum("llvm.maximum"),
    "arith.minimumf": _maximum_or_minimum("llvm.minimum"),
    "arith.cmpf": _cmpf,
    "arith.select": _select,
    "arith.addi": _binary("add"),
    "arith.subi": _binary("sub"),
    "arith.muli": _binary("mul"),
    "arith.minsi": _intrinsic("llvm.smin"),
    "arith.divsi": _safe_division("sdiv"),
    "arith.remsi": _safe_division("srem"),
    "arith.cmpi": _cmpi,
    "arith.andi": _binary("and_"),
    "arith.ori": _binary("or_"),
    "arith.xori": _binary("xor"),
    "arith.shli": _binary("shl"),
    "arith.shrui": _binary("lshr"),
    "arith.shrsi": _binary("ashr"),
    "arith.extui": _cast("zext"),
    "arith.extsi": _cast("sext"),
    "arith.trunci": _cast("trunc"),
    "arith.index_cast": _int_resize,
    "arith.sitofp": _cast("sitofp"),
    "arith.fptosi": _cast("fptosi"),
    "arith.extf": _extf,
    "arith.truncf": _truncf,
    "math.absf": _intrinsic("llvm.fabs"),
    "math.absi": _absi,
    "math.floor": _intrinsic("llvm.floor"),
    "math.ceil": _intrinsic("llvm.ceil"),
    "math.roundeven": _intrinsic("llvm.roundeven"),
    "math.sqrt": _intrinsic("llvm.sqrt"),
    "math.rsqrt": _rsqrt,
    "math.exp": _approx("exp"),
    "math.log": _approx("log"),
    "math.log1p": _approx("log1p"),
    "math.expm1": _approx("expm1"),
    "math.sin": _approx("sin"),
    "math.cos": _approx("cos"),
    "math.tanh": _approx("tanh"),
    "math.erf": _approx("erf"),
    "math.atan2": _approx("atan2"),
    "math.powf": _approx("powf"),
}
