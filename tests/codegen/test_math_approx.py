"""Accuracy of the vectorizable transcendentals in ember.codegen.math_approx, run as compiled
loops over dense float32 grids and compared with NumPy (or `math`) in float64.

The bound is relative error <= 1e-6, measured as |y - ref| / max(|ref|, 2**-126) so that
denormal results are held to an absolute 1e-6 * 2**-126. Non-finite references (overflow,
poles, NaN) must be matched exactly. Documented exception: sin/cos are held to absolute error
near their zeros, and to |x| <= 2**20 (no Payne-Hanek reduction).
"""

import math

import numpy as np
import pytest

from ember.codegen import math_approx
from ember.codegen.llvm_cpu import compile_loops
from ember.ir import dtypes
from ember.runtime.llvm import LlvmExecutable
from tests.codegen.loops_samples import elementwise

BOUND = 1e-6
SMALLEST_NORMAL = 2.0 ** -126
SPECIALS = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0], np.float32)


def _bit_grid(points_per_sign: int = 1 << 20) -> np.ndarray:
    """Floats evenly spaced in bit pattern: every binade from denormals to FLT_MAX, both signs."""
    step = 0x7F800000 // points_per_sign + 1
    positive = np.arange(0, 0x7F800000, step, dtype=np.uint32).view(np.float32)
    return np.concatenate([positive, -positive, SPECIALS])


GRID = _bit_grid()


def _run(op: str, *inputs: np.ndarray, dtype=dtypes.float32) -> np.ndarray:
    module = elementwise("f", f"math.{op}", inputs[0].shape, dtype, arity=len(inputs))
    return LlvmExecutable(compile_loops(module), len(inputs))(list(inputs))[0]


def _check(got: np.ndarray, ref: np.ndarray, bound: float = BOUND) -> None:
    with np.errstate(over="ignore"):
        ref32 = ref.astype(np.float32)
    finite = np.isfinite(ref32)
    error = np.abs(got[finite] - ref[finite]) / np.maximum(np.abs(ref[finite]), SMALLEST_NORMAL)
    worst = int(np.argmax(error))
    assert error[worst] <= bound, (f"relative error {error[worst]:.3g} at "
                                   f"{ref[finite][worst]!r} (got {got[finite][worst]!r})")
    special = ~finite
    same = (got[special] == ref32[special]) | (np.isnan(got[special]) & np.isnan(ref32[special]))
    assert same.all(), list(zip(got[special][~same], ref32[special][~same]))


def _erf(x: np.ndarray) -> np.ndarray:
    return np.frompyfunc(math.erf, 1, 1)(x).astype(np.float64)


UNARY = {
    "exp": (np.exp, None),
    "log": (np.log, None),
    "log1p": (np.log1p, None),
    "expm1": (np.expm1, None),
    "tanh": (np.tanh, None),
    # erf is +-1 in float32 beyond |x| = 3.9; a dense grid there suffices (math.erf is slow)
    "erf": (_erf, 6.0),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_relative_error(name):
    reference, limit = UNARY[name]
    x = GRID if limit is None else GRID[~(np.abs(GRID) >= limit)]
    with np.errstate(all="ignore"):
        ref = reference(x.astype(np.float64))
    _check(_run(name, x), ref)


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_trig_error(name):
    x = GRID[np.abs(GRID) <= 2.0 ** 20]
    ref = getattr(np, name)(x.astype(np.float64))
    got = _run(name, x)
    assert np.max(np.abs(got - ref)) <= BOUND
    small = np.abs(x) < 1
    _check(got[small], ref[small])
    away_from_zeros = (np.abs(x) <= 1e4) & (np.abs(ref) >= 1e-3)
    _check(got[away_from_zeros], ref[away_from_zeros])
    assert np.isnan(_run(name, np.array([np.inf, -np.inf, np.nan], np.float32))).all()


def _wide(rng, n: int, decades: float) -> np.ndarray:
    signs = rng.choice([-1.0, 1.0], n)
    return (signs * 10.0 ** rng.uniform(-decades, decades, n)).astype(np.float32)


def test_atan2_error():
    rng = np.random.default_rng(0)
    y, x = _wide(rng, 1 << 20, 30), _wide(rng, 1 << 20, 30)
    sy, sx = (g.ravel() for g in np.meshgrid(SPECIALS, SPECIALS))
    y, x = np.concatenate([y, sy]), np.concatenate([x, sx])
    got = _run("atan2", y, x)
    ref = np.arctan2(y.astype(np.float64), x.astype(np.float64))
    _check(got, ref)
    signed = ~np.isnan(ref)
    assert (np.signbit(got[signed]) == np.signbit(ref[signed])).all()  # signed zeros


def test_powf_error():
    rng = np.random.default_rng(1)
    n = 1 << 20
    x = (10.0 ** rng.uniform(-3, 3, n)).astype(np.float32)
    y = rng.uniform(-12, 12, n).astype(np.float32)
    negative_x = -(10.0 ** rng.uniform(-3, 3, n)).astype(np.float32)
    integer_y = np.round(rng.uniform(-12, 12, n)).astype(np.float32)
    specials = np.concatenate([SPECIALS, np.float32([2, -2, 0.5, 3, -3])])
    sx, sy = (g.ravel() for g in np.meshgrid(specials, specials))
    x = np.concatenate([x, negative_x, sx])
    y = np.concatenate([y, integer_y, sy])
    with np.errstate(all="ignore"):
        ref = np.power(x.astype(np.float64), y.astype(np.float64))
    _check(_run("powf", x, y), ref)


@pytest.mark.parametrize("dtype,tolerance", [(dtypes.float16, 1e-3), (dtypes.float64, 1e-14)])
def test_other_float_types(dtype, tolerance):
    """f16 computes through the f32 approximations; f64 calls the C library."""
    x = np.linspace(-4, 4, 1001).astype(dtype.numpy)
    for name in ["exp", "tanh", "sin", "log1p"]:
        with np.errstate(all="ignore"):
            ref = getattr(np, name)(x.astype(np.float64))
        got = _run(name, x, dtype=dtype)
        np.testing.assert_allclose(got, ref, rtol=tolerance, atol=tolerance, equal_nan=True)


@pytest.mark.parametrize("native_ldexp", [True, False])
def test_exp_scaling_paths_agree_in_accuracy(monkeypatch, native_ldexp):
    """exp's final 2**n scaling: one ldexp (AVX-512 hosts) or two exponent-field products
    (every other host); both keep the bound, denormal and overflowing results included."""
    if native_ldexp and not math_approx._host_has_avx512():
        pytest.skip("the AVX-512 path runs AVX-512 instructions")
    monkeypatch.setattr(math_approx, "_host_has_avx512", lambda: native_ldexp)
    x = np.concatenate([np.linspace(-105, 90, 1 << 18, dtype=np.float32), SPECIALS])
    module = elementwise(f"exp_{int(native_ldexp)}", "math.exp", x.shape, dtypes.float32)
    got = LlvmExecutable(compile_loops(module), 1)([x])[0]
    _check(got, np.exp(x.astype(np.float64)))
