"""Elementwise functions: each is one primitive after PyTorch's type promotion."""

from __future__ import annotations

import math

from ember.frontend.dispatch import apply
from ember.frontend.ops.promotion import as_operand, promote_operands, scalar_dtype
from ember.frontend.tensor import Tensor
from ember.frontend.tracing import peek
from ember.ir import dtypes
from ember.ir.errors import DTypeError


def _describe(*values) -> str:
    """'shapes (2, 3) and (), dtypes bool and int64' for operands that may be Python scalars."""
    shapes = " and ".join(str(tuple(v.shape)) if isinstance(v, Tensor) else "()" for v in values)
    names = " and ".join(v.dtype.name if isinstance(v, Tensor) else scalar_dtype(v).name
                         for v in values)
    return f"shapes {shapes}, dtypes {names}"


def cast(x: Tensor, dtype: dtypes.DType) -> Tensor:
    """`x` converted to `dtype` (a copy, even when the dtype is unchanged)."""
    return apply("cast", x, dtype=dtypes.from_name(dtype.name).name)


def _unary(op: str):
    def fn(x: Tensor) -> Tensor:
        return apply(op, x)

    fn.__name__ = op
    fn.__doc__ = f"Elementwise {op}."
    return fn


neg = _unary("neg")
abs = _unary("abs")
sign = _unary("sign")
exp = _unary("exp")
log = _unary("log")
log1p = _unary("log1p")
expm1 = _unary("expm1")
sqrt = _unary("sqrt")
rsqrt = _unary("rsqrt")
sin = _unary("sin")
cos = _unary("cos")
tanh = _unary("tanh")
sigmoid = _unary("sigmoid")
erf = _unary("erf")
reciprocal = _unary("reciprocal")
floor = _unary("floor")
ceil = _unary("ceil")
logical_not = _unary("logical_not")


def round(x: Tensor, decimals: int = 0) -> Tensor:
    """Round half to even, optionally to `decimals` decimal places."""
    if decimals == 0:
        return apply("round", x)
    scale = 10.0 ** decimals
    return apply("round", x * scale) / scale


def _binary(op: str):
    def fn(x, y) -> Tensor:
        a, b = promote_operands(x, y)
        return apply(op, a, b)

    fn.__name__ = op
    fn.__doc__ = f"Elementwise {op} with broadcasting and type promotion."
    return fn


maximum = _binary("maximum")
minimum = _binary("minimum")
remainder = _binary("remainder")
atan2 = _binary("atan2")
eq = _binary("eq")
ne = _binary("ne")
lt = _binary("lt")
le = _binary("le")
gt = _binary("gt")
ge = _binary("ge")
logical_and = _binary("logical_and")
logical_or = _binary("logical_or")
mul = _binary("mul")


def logical_xor(x, y) -> Tensor:
    """Elementwise exclusive or of truth values."""
    return ne(as_bool(x), as_bool(y))


def as_bool(x) -> Tensor:
    """Truth values of `x` (nonzero is True); a Python bool for a Python scalar."""
    if not isinstance(x, Tensor):
        return bool(x)
    return x if x.dtype is dtypes.bool_ else ne(x, 0)


def add(x, y, *, alpha=1) -> Tensor:
    """x + alpha * y."""
    a, b = promote_operands(x, y)
    return apply("add", a, b if alpha == 1 else apply("mul", b, as_operand(alpha, b.dtype)))


def sub(x, y, *, alpha=1) -> Tensor:
    """x - alpha * y; bool operands are refused, as in PyTorch."""
    # Checked before promotion, which would turn a bool into the other operand's dtype.
    if any(scalar_dtype(v) is dtypes.bool_ if not isinstance(v, Tensor) else
           v.dtype is dtypes.bool_ for v in (x, y)):
        raise DTypeError(f"ember.sub: not supported for bool tensors ({_describe(x, y)}); "
                         f"use ~ or logical_not() to invert a mask")
    a, b = promote_operands(x, y)
    return apply("sub", a, b if alpha == 1 else apply("mul", b, as_operand(alpha, b.dtype)))


def div(x, y, *, rounding_mode: str | None = None) -> Tensor:
    """x / y: true division, or rounded toward zero ('trunc') or down ('floor')."""
    if rounding_mode is None:
        a, b = promote_operands(x, y)
        return apply("div", a, b)
    if rounding_mode == "floor":
        return floor_divide(x, y)
    if rounding_mode == "trunc":
        a, b = promote_operands(x, y)
        return trunc(_exact_quotient(a, b), a.dtype)
    raise ValueError(f"ember.div: rounding_mode must be None, 'trunc' or 'floor', "
                     f"got {rounding_mode!r}")


def _exact_quotient(a: Tensor, b: Tensor) -> Tensor:
    """a / b in a's dtype for floats; for integers, in float64 (exact below 2**53)."""
    if a.dtype.is_floating_point:
        return apply("div", a, b)
    if a.dtype is dtypes.bool_:
        raise RuntimeError("ember.div: rounding division is not supported for bool tensors")
    return apply("div", cast(a, dtypes.float64), cast(b, dtypes.float64))


def floor_divide(x, y) -> Tensor:
    """Division rounded down, as Python's // operator."""
    a, b = promote_operands(x, y)
    if not a.dtype.is_floating_point and (peek(b) == 0).any():
        raise ZeroDivisionError("ember.floor_divide: integer division by zero")
    q = floor(_exact_quotient(a, b))
    return q if a.dtype.is_floating_point else cast(q, a.dtype)


def pow(x, y) -> Tensor:
    """x ** y."""
    a, b = promote_operands(x, y)
    if not isinstance(y, Tensor) and not a.dtype.is_floating_point and y < 0:
        # PyTorch allows negative integer tensor exponents (truncating), but not scalars.
        raise ValueError(f"ember.pow: integers to negative integer powers are not allowed "
                         f"(dtype {a.dtype.name}, exponent {y})")
    return apply("pow", a, b)


def where(cond: Tensor, x, y) -> Tensor:
    """Elements of x where cond is true, else of y."""
    if not isinstance(cond, Tensor) or cond.dtype is not dtypes.bool_:
        raise TypeError(f"ember.where: condition must be a bool tensor, got "
                        f"{getattr(cond, 'dtype', type(cond).__name__)}")
    a, b = promote_operands(x, y)
    return apply("where", cond, a, b)


def clamp(x: Tensor, min=None, max=None) -> Tensor:
    """Elements limited to [min, max]; either bound may be None or a tensor."""
    if min is None and max is None:
        raise RuntimeError("ember.clamp: at least one of 'min' or 'max' must not be None")
    # where, not maximum/minimum: PyTorch gives x the whole gradient at the bounds, not half.
    out = x
    if min is not None:
        out = where(lt(out, min), min, out)
    if max is not None:
        out = where(gt(out, max), max, out)
    return out


def square(x: Tensor) -> Tensor:
    """x * x (int64 for bool x, since PyTorch squares as x ** 2)."""
    if x.dtype is dtypes.bool_:
        x = cast(x, dtypes.int64)
    return mul(x, x)


def tan(x: Tensor) -> Tensor:
    """Elementwise tangent."""
    return div(sin(x), cos(x))


def log2(x: Tensor) -> Tensor:
    """Base-2 logarithm."""
    return mul(log(x), 1.0 / math.log(2.0))


def log10(x: Tensor) -> Tensor:
    """Base-10 logarithm."""
    return mul(log(x), 1.0 / math.log(10.0))


def trunc(x: Tensor, dtype: dtypes.DType | None = None) -> Tensor:
    """Rounded toward zero (and cast to `dtype` if given)."""
    if x.dtype is dtypes.bool_:
        raise DTypeError(f"ember.trunc: not supported for bool tensors (shape {tuple(x.shape)})")
    if x.dtype.is_floating_point:
        x = where(lt(x, 0), ceil(x), floor(x))
    return x if dtype is None or dtype is x.dtype else cast(x, dtype)


def frac(x: Tensor) -> Tensor:
    """x minus its truncation; floating dtypes only, as in PyTorch."""
    if not x.dtype.is_floating_point:
        raise DTypeError(f"ember.frac: expected a floating-point tensor (shape "
                         f"{tuple(x.shape)}, dtype {x.dtype.name})")
    return sub(x, trunc(x))


def fmod(x, y) -> Tensor:
    """Remainder with the sign of the dividend (C's fmod)."""
    a, b = promote_operands(x, y)
    if not a.dtype.is_floating_point and (peek(b) == 0).any():
        raise ZeroDivisionError("ember.fmod: integer division by zero")
    return sub(a, mul(div(a, b, rounding_mode="trunc"), b))


def relu(x: Tensor) -> Tensor:
    """max(x, 0), with zero gradient at 0 as in PyTorch."""
    if x.dtype is dtypes.bool_:
        raise DTypeError(f"ember.relu: not supported for bool tensors (shape {tuple(x.shape)})")
    return where(gt(x, 0), x, 0)


def isnan(x: Tensor) -> Tensor:
    """True where x is NaN."""
    return ne(x, x)


def isinf(x: Tensor) -> Tensor:
    """True where x is +inf or -inf."""
    return eq(abs(x), math.inf) if x.dtype.is_floating_point else ne(x, x)


def isfinite(x: Tensor) -> Tensor:
    """True where x is neither NaN nor infinite."""
    return logical_not(logical_or(isnan(x), isinf(x)))


def lerp(x: Tensor, end, weight) -> Tensor:
    """x + weight * (end - x)."""
    return add(x, mul(weight, sub(end, x)))


def addcmul(x: Tensor, a, b, *, value=1) -> Tensor:
    """x + value * a * b."""
    return add(x, mul(mul(a, b), value))


def addcdiv(x: Tensor, a, b, *, value=1) -> Tensor:
    """x + value * a / b."""
    return add(x, mul(div(a, b), value))
