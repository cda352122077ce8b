"""Transcendental functions as branch-free LLVM IR, so that loops calling them vectorize.

Each approximation is straight-line code (range reduction, a polynomial, bit manipulation of the
exponent, `select` for special values): no calls to libm and no branches, so LLVM's loop
vectorizer turns a loop of them into packed SIMD code. `math_function(module, name, ty)` wraps
one in an internal, always-inlined LLVM function `ember.<name>.<type>`; for f16 it computes in
f32, and for f64 it calls the C library, whose double-precision functions are correctly rounded
or nearly so (the 1e-6 accuracy target here is for f32).

Error bounds quoted in the docstrings are measured against NumPy/`math` in float64 on dense
grids by tests/codegen/test_math_approx.py, as relative error |y - ref| / |ref| on float32 inputs
unless stated otherwise. Results below the smallest normal float32 are compared in absolute
terms (a denormal has fewer significant bits than the target).

Polynomial coefficients are Taylor coefficients unless a comment names their source.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import llvmlite.binding as llvm
from llvmlite import ir

from ember.codegen.llvm import vector_abi
from ember.codegen.llvm.intrinsics import call_intrinsic, declare, type_suffix

F32 = ir.FloatType()
F64 = ir.DoubleType()

# Polynomial evaluation may use fused multiply-add: it only makes the result more accurate.
_FLAGS = ("contract",)


class _Float:
    """Arithmetic on one IEEE type (f32 or f64) through a builder: the approximations' vocabulary.

    Operands may be LLVM values or Python numbers (made constants of the type).
    """

    def __init__(self, builder: ir.IRBuilder, ty: ir.Type, native_ldexp: bool = False) -> None:
        self.b = builder
        self.native_ldexp = native_ldexp
        self.ty = ty
        self.is_f32 = isinstance(ty, ir.FloatType)
        self.bits = 32 if self.is_f32 else 64
        self.int = ir.IntType(self.bits)
        self.mantissa_bits = 23 if self.is_f32 else 52
        self.bias = 127 if self.is_f32 else 1023

    def v(self, x) -> ir.Value:
        return x if isinstance(x, ir.Value) else ir.Constant(self.ty, float(x))

    def i(self, x) -> ir.Value:
        return x if isinstance(x, ir.Value) else ir.Constant(self.int, int(x))

    def add(self, a, b):
        return self.b.fadd(self.v(a), self.v(b), flags=_FLAGS)

    def sub(self, a, b):
        return self.b.fsub(self.v(a), self.v(b), flags=_FLAGS)

    def mul(self, a, b):
        return self.b.fmul(self.v(a), self.v(b), flags=_FLAGS)

    def div(self, a, b):
        return self.b.fdiv(self.v(a), self.v(b))

    def neg(self, a):
        return self.b.fneg(self.v(a))

    def fma(self, a, b, c):
        """a * b + c with one rounding (exact products make Cody-Waite reduction exact)."""
        return call_intrinsic(self.b, "llvm.fma", self.v(a), self.v(b), self.v(c))

    def poly(self, x, coefficients) -> ir.Value:
        """Horner evaluation; `coefficients` from the highest degree down."""
        acc = self.v(coefficients[0])
        for c in coefficients[1:]:
            acc = self.add(self.mul(acc, x), c)
        return acc

    def cmp(self, op: str, a, b) -> ir.Value:
        """Ordered comparison: false when either side is NaN."""
        return self.b.fcmp_ordered(op, self.v(a), self.v(b))

    def ult(self, a, b) -> ir.Value:
        """a < b, or either is NaN."""
        return self.b.fcmp_unordered("<", self.v(a), self.v(b))

    def isnan(self, a) -> ir.Value:
        return self.b.fcmp_unordered("uno", self.v(a), self.v(a))

    def select(self, cond, a, b):
        return self.b.select(cond, self.v(a), self.v(b))

    def clamp(self, x, lo, hi):
        """x limited to [lo, hi]; NaN stays NaN. Each bound is one compare-and-select of the
        result so far, the shape x86 does in one max or min instruction."""
        above = self.select(self.cmp("<", x, lo), lo, x)
        return self.select(self.cmp(">", above, hi), hi, above)

    def unary(self, intrinsic: str, x) -> ir.Value:
        return call_intrinsic(self.b, intrinsic, self.v(x))

    def fabs(self, x):
        return self.unary("llvm.fabs", x)

    def copysign(self, magnitude, sign):
        return call_intrinsic(self.b, "llvm.copysign", self.v(magnitude), self.v(sign))

    def to_bits(self, x) -> ir.Value:
        return self.b.bitcast(self.v(x), self.int)

    def from_bits(self, n) -> ir.Value:
        return self.b.bitcast(self.i(n), self.ty)

    def signbit(self, x) -> ir.Value:
        return self.b.icmp_signed("<", self.to_bits(x), self.i(0))

    def pow2(self, n) -> ir.Value:
        """2**n for an integer n in the normal exponent range, built from the exponent field."""
        return self.from_bits(self.b.shl(self.b.add(n, self.i(self.bias)),
                                         self.i(self.mantissa_bits)))

    def ldexp(self, x, k) -> ir.Value:
        """x * 2**k for an integer k, rounded once when the result is denormal or overflows."""
        if self.native_ldexp:  # one instruction (AVX-512 vscalefps)
            i32 = ir.IntType(32)
            k32 = k if k.type == i32 else self.b.trunc(k, i32)
            fn = declare(self.b.module, f"llvm.ldexp.{type_suffix(self.ty)}.i32", self.ty,
                         [self.ty, i32])
            return self.b.call(fn, [self.v(x), k32])
        half = self.b.ashr(k, self.i(1))
        return self.mul(self.mul(x, self.pow2(half)), self.pow2(self.b.sub(k, half)))


# --- exp and log ---------------------------------------------------------------------------

# Cody-Waite splits of ln 2: the high part has few bits so n * hi is exact (Cephes, fdlibm).
_LN2_SPLIT = {32: (0.693359375, -2.12194440e-4),
              64: (6.93147180369123816490e-01, 1.90821492927058770002e-10)}
_LN2_F32 = 0.693147182464599609375  # ln 2 rounded to f32
# Inputs beyond these give 0 or inf; clamping keeps the exponent arithmetic in range.
_EXP_RANGE = {32: (-104.0, 89.0), 64: (-746.0, 710.0)}
# exp(r) for |r| <= ln2/2, highest degree first. f32: a degree-5 fit minimising the maximum
# relative error (Lawson-reweighted least squares), truncation 7.6e-8; f64: Taylor to degree
# 13, truncation 2e-16.
_EXP_POLY = {32: [0.008301300611151585, 0.04191558872753021, 0.1666752058029584,
                  0.4999889235746882, 0.9999997078885567, 1.0000000720270759],
             64: [1.0 / math.factorial(k) for k in range(13, -1, -1)]}


def exp(f: _Float, x) -> ir.Value:
    """e**x. f32: max relative error 4.3e-7 for results >= 2**-126 (denormal results exact to
    an absolute 2**-149); overflow gives inf, NaN gives NaN.

    n = round(x / ln2), r = x - n ln2, exp(r) by polynomial, then times 2**n (`ldexp`), so
    that denormal and overflowing results round correctly. f64 subtracts n ln2 in two parts
    (Cody-Waite); f32 in one fused multiply-add with ln 2 rounded to f32, whose error times
    |n| <= 150 adds at most 2.9e-7 to r (and relatively to e**x): one operation fewer in the
    loops that softmax and GELU spend their time in. On AVX-512 hosts f32 scales by the float
    n (`vector_abi.scalef`), which saves converting n to an integer and back.
    """
    lo, hi = _EXP_RANGE[f.bits]
    xc = f.clamp(x, lo, hi)
    # Adding 1.5 * 2**mantissa_bits rounds x / ln2 to an integer n (to nearest, ties even),
    # which lands in the low bits of the sum: n as an integer costs one integer subtraction,
    # and a NaN flows through as a NaN (fptosi of a NaN would be poison).
    shifter = 1.5 * 2.0 ** f.mantissa_bits
    shifted = f.add(f.mul(xc, 1.0 / math.log(2.0)), shifter)
    n = f.sub(shifted, shifter)
    if f.is_f32:
        r = f.fma(f.neg(n), _LN2_F32, xc)
    else:
        ln2_hi, ln2_lo = _LN2_SPLIT[f.bits]
        r = f.sub(f.sub(xc, f.mul(n, ln2_hi)), f.mul(n, ln2_lo))
    p = f.poly(r, _EXP_POLY[f.bits])
    if f.is_f32 and f.native_ldexp:
        return vector_abi.scalef(f.b, p, n)
    return f.ldexp(p, f.b.sub(f.to_bits(shifted), f.to_bits(shifter)))


# Terms of R(z) = 2z/3 + 2z^2/5 + ... in log(1+f) = f - (f^2/2 - s (f^2/2 + R(s^2))):
# truncation 2e-9 (f32) and 1e-17 (f64) relative.
_LOG_TERMS = {32: 4, 64: 10}
# Denormal inputs are scaled by 2**k so their exponent field is meaningful.
_DENORMAL_SCALE = {32: 25, 64: 60}


def log(f: _Float, x) -> ir.Value:
    """Natural logarithm. f32: max relative error 1e-7 (x = 1 gives exactly 0); log(0) = -inf,
    log(x < 0) = NaN, log(inf) = inf.

    x = m * 2**e with m in [sqrt(1/2), sqrt(2)) read from the bits; with f = m - 1 (exact) and
    s = f / (2 + f), log(1 + f) = 2 atanh(s) is evaluated as f minus a small correction, as in
    fdlibm, so the leading term carries no rounding error.
    """
    tiny_bits = _DENORMAL_SCALE[f.bits]
    smallest_normal = 2.0 ** (1 - f.bias)
    tiny = f.cmp("<", x, smallest_normal)
    xs = f.select(tiny, f.mul(x, 2.0 ** tiny_bits), x)
    bits = f.to_bits(xs)
    exponent_mask = (1 << (f.bits - 1 - f.mantissa_bits)) - 1
    e = f.b.sub(f.b.and_(f.b.lshr(bits, f.i(f.mantissa_bits)), f.i(exponent_mask)), f.i(f.bias))
    mantissa_mask = (1 << f.mantissa_bits) - 1
    m = f.from_bits(f.b.or_(f.b.and_(bits, f.i(mantissa_mask)), f.to_bits(1.0)))
    big = f.cmp(">", m, math.sqrt(2.0))
    m = f.select(big, f.mul(m, 0.5), m)
    e = f.b.add(e, f.b.zext(big, f.int))
    e = f.b.sub(e, f.b.select(tiny, f.i(tiny_bits), f.i(0)))
    ef = f.b.sitofp(e, f.ty)
    fr = f.sub(m, 1.0)
    s = f.div(fr, f.add(fr, 2.0))
    z = f.mul(s, s)
    terms = _LOG_TERMS[f.bits]
    r = f.mul(z, f.poly(z, [2.0 / (2 * k + 1) for k in range(terms, 0, -1)]))
    hfsq = f.mul(f.mul(fr, fr), 0.5)
    log1pf = f.sub(fr, f.sub(hfsq, f.mul(s, f.add(hfsq, r))))
    ln2_hi, ln2_lo = _LN2_SPLIT[f.bits]
    y = f.add(f.mul(ef, ln2_hi), f.add(log1pf, f.mul(ef, ln2_lo)))
    y = f.select(f.cmp("==", x, math.inf), math.inf, y)
    y = f.select(f.cmp("==", x, 0.0), -math.inf, y)
    return f.select(f.ult(x, 0.0), math.nan, y)


def log1p(f: _Float, x) -> ir.Value:
    """log(1 + x), accurate near 0. f32: max relative error 2e-7.

    Goldberg's trick: with u = 1 + x rounded, log1p(x) = log(u) * x / (u - 1), which cancels
    the rounding of u; when u rounds to 1, log1p(x) = x to working precision.
    """
    u = f.add(x, 1.0)
    d = f.sub(u, 1.0)
    y = f.mul(log(f, u), f.div(x, d))
    y = f.select(f.cmp("==", d, 0.0), x, y)
    return f.select(f.cmp("==", x, math.inf), x, y)


def expm1(f: _Float, x) -> ir.Value:
    """e**x - 1, accurate near 0. f32: max relative error 1.5e-7.

    |x| < ln2: Taylor series to degree 10 (truncation 5e-10); otherwise exp(x) - 1, which loses
    at most a factor 2 of exp's relative accuracy there.
    """
    taylor = [1.0 / math.factorial(k) for k in range(10, 1, -1)]
    small = f.add(x, f.mul(f.mul(x, x), f.poly(x, taylor)))
    large = f.sub(exp(f, x), 1.0)
    return f.select(f.cmp("<", f.fabs(x), math.log(2.0)), small, large)


# --- functions built from exp ---------------------------------------------------------------

def tanh(f: _Float, x) -> ir.Value:
    """Hyperbolic tangent. f32: max relative error 2.7e-7.

    tanh|x| = e / (e + 2) with e = expm1(2|x|), accurate at 0 and monotone; |x| is clamped
    where tanh already rounds to 1, so e stays finite. The sign is copied back.
    """
    saturate = 9.0 if f.is_f32 else 20.0
    ax = f.fabs(x)
    ax = f.select(f.cmp(">", ax, saturate), saturate, ax)
    e = expm1(f, f.mul(ax, 2.0))
    return f.copysign(f.div(e, f.add(e, 2.0)), x)


# erfc(x) * exp(x^2) on [1, 4] as a polynomial in 1/x: a Chebyshev least-squares fit
# (numpy.polynomial) to math.erfc, relative error 2e-7 in float64, 3.3e-7 with f32 coefficients.
_ERFC_SCALED = [-0.010098984633504376, 0.031199961520287825, 0.01941438031717728,
                -0.23834717252228574, 0.49553957371530694, -0.471500763518539,
                0.04208735741118253, 0.5590164884798338, 0.0002726722694431638]
# erf(x) / x = 2/sqrt(pi) * sum (-1)^n z^n / (n! (2n + 1)), z = x^2 <= 1: truncation 1e-9.
_ERF_TAYLOR = [2.0 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1))
               for n in range(10, -1, -1)]


def erf(f: _Float, x) -> ir.Value:
    """The error function. f32: max relative error 2e-7.

    |x| < 1: x times its Taylor series in x^2. |x| >= 1: 1 - exp(-x^2) * P(1/x), where erfc is
    at most 0.16, so P's relative error reaches erf reduced by 5x; erf rounds to +-1 beyond 3.9.
    """
    ax = f.fabs(x)
    z = f.mul(x, x)
    small = f.mul(x, f.poly(z, _ERF_TAYLOR))
    erfc = f.mul(exp(f, f.neg(z)), f.poly(f.div(1.0, ax), _ERFC_SCALED))
    large = f.copysign(f.sub(1.0, erfc), x)
    return f.select(f.cmp("<", ax, 1.0), small, large)


# --- trigonometry ----------------------------------------------------------------------------

# pi/2 in three parts (twice Cephes' DP1..DP3 for pi/4); with fma the reduction is exact.
_PIO2 = (1.5703125, 4.837512969970703125e-4, 7.54978995489188216e-8)
# Cephes sinf/cosf minimax polynomials on [-pi/4, pi/4].
_SIN = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1]
_COS = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2]
# Beyond this |x| / (pi/2) the quadrant count no longer fits float32's significand.
_MAX_QUADRANT = 2.0 ** 24


def _sin_quadrant(f: _Float, x, shift: int) -> ir.Value:
    """sin(x + shift * pi/2): reduce to r in [-pi/4, pi/4] and the quadrant, pick sin or cos."""
    j = f.unary("llvm.roundeven", f.mul(x, 2.0 / math.pi))
    r = x
    for part in _PIO2:
        r = f.fma(f.neg(j), part, r)
    # Out of range or NaN counts give quadrant 0 (the result is then meaningless or NaN anyway),
    # keeping fptosi defined.
    j = f.select(f.cmp("<", f.fabs(j), _MAX_QUADRANT), j, 0.0)
    quadrant = f.b.add(f.b.fptosi(j, f.int), f.i(shift))
    z = f.mul(r, r)
    sin_r = f.add(r, f.mul(f.mul(r, z), f.poly(z, _SIN)))
    cos_r = f.add(f.sub(1.0, f.mul(z, 0.5)), f.mul(f.mul(z, z), f.poly(z, _COS)))
    odd = f.b.icmp_unsigned("!=", f.b.and_(quadrant, f.i(1)), f.i(0))
    upper = f.b.icmp_unsigned("!=", f.b.and_(quadrant, f.i(2)), f.i(0))
    y = f.select(odd, cos_r, sin_r)
    return f.select(upper, f.neg(y), y)


def sin(f: _Float, x) -> ir.Value:
    """Sine. f32: absolute error <= 1e-7 for |x| <= 2**20; relative error <= 1.5e-7 for
    |x| < 1 and, where |sin x| >= 1e-3, for |x| <= 1e4 (near zeros only absolute error counts).
    Beyond |x| = 2**24 * pi/2 results are not meaningful (that needs Payne-Hanek reduction)."""
    return _sin_quadrant(f, x, 0)


def cos(f: _Float, x) -> ir.Value:
    """Cosine, as sin(x + pi/2) by quadrant: the same bounds as `sin`."""
    return _sin_quadrant(f, x, 1)


# Cephes atanf minimax polynomial on [0, tan(pi/8)].
_ATAN = [8.05374449538e-2, -1.38776856032e-1, 1.99777106478e-1, -3.33329491539e-1]


def _atan_unit(f: _Float, t) -> ir.Value:
    """atan(t) for t in [0, 1]: above tan(pi/8) use pi/4 + atan((t - 1) / (t + 1))."""
    big = f.cmp(">", t, math.tan(math.pi / 8))
    u = f.select(big, f.div(f.sub(t, 1.0), f.add(t, 1.0)), t)
    z = f.mul(u, u)
    v = f.add(u, f.mul(f.mul(u, z), f.poly(z, _ATAN)))
    return f.select(big, f.add(v, math.pi / 4), v)


def atan2(f: _Float, y, x) -> ir.Value:
    """atan2(y, x) with NumPy's signed zeros and infinities. f32: max relative error 2.5e-7.

    atan of min(|x|,|y|) / max(|x|,|y|) in [0, 1], then reflected into the octant.
    """
    ax, ay = f.fabs(x), f.fabs(y)
    swap = f.cmp(">", ay, ax)
    num = f.select(swap, ax, ay)
    den = f.select(swap, ay, ax)
    t = f.div(num, den)
    both_inf = f.b.and_(f.cmp("==", ax, math.inf), f.cmp("==", ay, math.inf))
    t = f.select(both_inf, 1.0, t)
    both_zero = f.b.and_(f.cmp("==", num, 0.0), f.cmp("==", den, 0.0))
    t = f.select(both_zero, 0.0, t)
    a = _atan_unit(f, t)
    a = f.select(swap, f.sub(math.pi / 2, a), a)
    a = f.select(f.signbit(x), f.sub(math.pi, a), a)
    return f.copysign(a, y)


def powf(f: _Float, x, y) -> ir.Value:
    """x**y. f32: max relative error 1e-7 (computed as exp(y log|x|) in double precision, where
    y log|x| carries no significant error). Special values as C's pow and NumPy: finite x < 0
    gives NaN unless y is an integer, negated for odd y; x**0 = 1**y = (-1)**inf = 1.
    """
    d = _Float(f.b, F64, f.native_ldexp) if f.is_f32 else f
    xd, yd = (f.b.fpext(x, F64), f.b.fpext(y, F64)) if f.is_f32 else (x, y)
    r = exp(d, d.mul(yd, log(d, d.fabs(xd))))
    r = f.b.fptrunc(r, f.ty) if f.is_f32 else r
    is_int = f.cmp("==", f.unary("llvm.floor", y), y)
    half = f.mul(y, 0.5)
    is_odd = f.b.and_(is_int, f.cmp("!=", f.unary("llvm.floor", half), half))
    r = f.select(f.b.and_(f.signbit(x), is_odd), f.neg(r), r)
    finite_negative = f.b.and_(f.cmp("<", x, 0.0), f.cmp("!=", x, -math.inf))
    r = f.select(f.b.and_(finite_negative, f.b.not_(is_int)), math.nan, r)
    unit = f.b.and_(f.cmp("==", f.fabs(x), 1.0), f.cmp("==", f.fabs(y), math.inf))
    one = f.b.or_(f.b.or_(f.cmp("==", y, 0.0), f.cmp("==", x, 1.0)), unit)
    return f.select(one, 1.0, r)


# --- the module-level functions -------------------------------------------------------------

APPROXIMATIONS: dict[str, Callable[..., ir.Value]] = {
    "exp": exp, "log": log, "log1p": log1p, "expm1": expm1, "tanh": tanh, "erf": erf,
    "sin": sin, "cos": cos, "atan2": atan2, "powf": powf,
}
# The C library's double-precision function for each name.
_LIBM = {"exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1", "tanh": "tanh",
         "erf": "erf", "sin": "sin", "cos": "cos", "atan2": "atan2", "powf": "pow"}
_ARITY = {"atan2": 2, "powf": 2}


@functools.cache
def _host_has_avx512() -> bool:
    """Whether this CPU has AVX-512, whose vscalefps makes a vector ldexp one instruction (on
    other x86 CPUs LLVM calls the C library's ldexpf per element)."""
    return bool(llvm.get_host_cpu_features().get("avx512f"))


# The approximations accurate to f64 precision (max relative error below 1e-13 on the grids
# of tests/codegen/test_ptx.py), for targets without a C library; the others are f32-accurate
# only.
F64_ACCURATE = frozenset({"exp", "log", "log1p", "powf"})


def math_function(module: ir.Module, name: str, ty: ir.Type, libm: bool = True) -> ir.Function:
    """The internal, always-inlined function `ember.<name>.<type>` computing `name` on `ty`.
    For f64 it calls the C library, or with `libm=False` (a GPU) uses the approximation, which
    must then be one of F64_ACCURATE."""
    symbol = f"ember.{name}.{type_suffix(ty)}"
    existing = module.globals.get(symbol)
    if existing is not None:
        return existing
    arity = _ARITY.get(name, 1)
    fn = ir.Function(module, ir.FunctionType(ty, [ty] * arity), name=symbol)
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    args = list(fn.args)
    native_ldexp = "x86_64" in module.triple and _host_has_avx512()
    if isinstance(ty, ir.DoubleType) and not libm:
        if name not in F64_ACCURATE:
            raise ValueError(f"no f64-accurate approximation of {name}")
        result = APPROXIMATIONS[name](_Float(b, ty, native_ldexp), *args)
    elif isinstance(ty, ir.DoubleType):
        result = b.call(declare(module, _LIBM[name], ty, [ty] * arity), args)
    elif isinstance(ty, ir.HalfType):
        wide = APPROXIMATIONS[name](_Float(b, F32, native_ldexp),
                                    *[b.fpext(a, F32) for a in args])
        result = b.fptrunc(wide, ty)
    else:
        result = APPROXIMATIONS[name](_Float(b, ty, native_ldexp), *args)
    b.ret(result)
    return fn
