"""Attribute values round-trip exactly through MLIR's attribute syntax."""

import math

import ml_dtypes
import numpy as np
import pytest

from ember.ir import FunctionType, ParseError, TensorType
from ember.ir import dtypes
from ember.ir.attributes import parse_attribute, print_attribute

SCALARS = [True, False, 0, 5, -3, 2**63 - 1, -2**63, 0.5, 1.0, -0.0, 0.0, 1e-300, 5e-324, 1e20,
           1 / 3, float("inf"), float("-inf"), "float32", "", 'q"uo\\te\n\ttab €', (1, 2, 3), (),
           (0,), (-7, 2**40), (True, False), (0.5, -0.0)]


@pytest.mark.parametrize("value", SCALARS, ids=repr)
def test_scalar_round_trip(value):
    back = parse_attribute(print_attribute(value))
    assert type(back) is type(value) and back == value
    if isinstance(value, float):
        assert math.copysign(1, back) == math.copysign(1, value)


def test_nan_round_trips_bit_exactly():
    for bits in (0x7FF8000000000000, 0x7FF8000000000001, 0xFFF8000000000000):
        value = np.array(bits, np.uint64).view(np.float64).item()
        text = print_attribute(value)
        assert text == f"0x{bits:016X} : f64"
        back = parse_attribute(text)
        assert isinstance(back, float) and np.array(back).view(np.uint64) == bits


def test_exact_spellings():
    assert print_attribute(True) == "true"
    assert print_attribute(5) == "5 : i64"
    assert print_attribute(0.5) == "0.5 : f64"
    assert print_attribute(1e-300) == "1.0e-300 : f64"
    assert print_attribute(float("inf")) == "0x7FF0000000000000 : f64"
    assert print_attribute("float32") == '"float32"'
    assert print_attribute([1, 2, 3]) == "array<i64: 1, 2, 3>"
    assert print_attribute(()) == "array<i64>"
    assert print_attribute(np.ones((2, 3), np.float32)) == "dense<1.0> : tensor<2x3xf32>"
    assert print_attribute(np.array([[1, 2]], np.int32)) == "dense<[[1, 2]]> : tensor<1x2xi32>"
    assert print_attribute(np.array([1, 2], ml_dtypes.bfloat16)) == \
        'dense<"0x803F0040"> : tensor<2xbf16>'
    t = TensorType((2,), dtypes.float32)
    assert print_attribute(FunctionType([t, t], [t])) == \
        "(tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>"


def test_list_parses_back_as_tuple():
    assert parse_attribute(print_attribute([4, 5])) == (4, 5)


ARRAYS = [
    np.arange(6, dtype=np.float32).reshape(2, 3),
    np.array([0.1, 1 / 3, 1e-8, 3e38, -0.0], np.float32),
    np.array([1 / 3, 1e300, 5e-324]),
    np.array([np.nan, np.inf, -np.inf, 1.0], np.float32),
    np.array([1.5, -2, 65504], np.float16),
    np.array([[1.0, 3.140625], [-0.0, np.inf]], ml_dtypes.bfloat16),
    np.zeros(3, ml_dtypes.bfloat16),
    np.array([True, False, True]),
    np.ones((2, 2), bool),
    np.array([-2**63, 2**63 - 1], np.int64),
    np.arange(12, dtype=np.int32).reshape(2, 3, 2),
    np.array(7, np.int64),
    np.array(-0.0, np.float32),
    np.zeros((0,), np.float32),
    np.zeros((2, 0, 3), np.int64),
    np.arange(1000, dtype=np.float64),
    np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32),
    np.arange(200) % 3 == 0,
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_dense_round_trip(array):
    text = print_attribute(array)
    back = parse_attribute(text)
    assert isinstance(back, np.ndarray)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == array.tobytes()
    assert print_attribute(back) == text


def test_parses_mlir_opt_spellings():
    assert parse_attribute("1.000000e+00 : f64") == 1.0
    assert parse_attribute("-5.000000e-01") == -0.5
    assert parse_attribute("7") == 7
    assert parse_attribute('"a\\22b"') == 'a"b'
    back = parse_attribute("dense<[1.000000e-01, 0x7FC00000]> : tensor<2xf32>")
    assert back[0] == np.float32(0.1) and np.isnan(back[1])


@pytest.mark.parametrize("text, column", [
    ("array<i64: 1, >", 15),
    ("array<i64: 1.5>", 12),
    ("flase", 1),
    ("dense<[1, 2]> : tensor<3xi64>", 7),
    ("dense<[[1], [2, 3]]> : tensor<2x2xi64>", 7),
    ("dense<1> : tensor<2xq7>", 21),
    ("300 : i8", 7),
    ("5000000000 : i32", 1),
    ('"abc', 1),
])
def test_bad_attribute_syntax(text, column):
    with pytest.raises(ParseError, match=rf"^1:{column}: "):
        parse_attribute(text)


def test_unprintable_values_raise():
    with pytest.raises(TypeError):
        print_attribute(object())
    with pytest.raises(TypeError):
        print_attribute((1, "a"))
    with pytest.raises(TypeError):
        print_attribute(np.zeros(2, np.uint8))
    with pytest.raises(ValueError):
        print_attribute(2**64)
