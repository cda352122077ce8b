"""The one op table: every primitive is complete, and its shape/dtype rules match PyTorch."""

import itertools

import numpy as np
import pytest
import torch

import ember
from ember.frontend.autograd.vjp_rules import VJP_RULES
from ember.ir import PRIMITIVES, DTypeError, ShapeError, TensorType, get_primitive
from ember.ir import dtypes

REQUIRED = """
neg abs sign exp log log1p expm1 sqrt rsqrt sin cos tanh sigmoid erf reciprocal floor ceil round
logical_not cast add sub mul div pow maximum minimum remainder atan2 eq ne lt le gt ge logical_and
logical_or where sum prod max min argmax argmin reshape permute broadcast_to slice pad concat flip
matmul conv2d gather scatter_add random_uniform full iota
""".split()

UNARY = [n for n, p in PRIMITIVES.items() if p.kind == "unary" and n != "cast"]
BINARY = [n for n, p in PRIMITIVES.items() if p.kind == "binary"]
TORCH_DTYPES = {d: getattr(torch, "bool" if d is dtypes.bool_ else d.name)
                for d in dtypes.ALL_DTYPES}
FROM_TORCH = {v: k for k, v in TORCH_DTYPES.items()}


def t(shape, dtype=dtypes.float32):
    return TensorType(tuple(shape), dtype)


# --- completeness ----------------------------------------------------------------------------

def test_required_primitives_present():
    assert set(REQUIRED) <= set(PRIMITIVES), sorted(set(REQUIRED) - set(PRIMITIVES))


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitive_is_complete(name):
    prim = PRIMITIVES[name]
    assert prim.name == name
    assert isinstance(prim.operands, tuple) and isinstance(prim.attrs, tuple)
    assert all(isinstance(s, str) and s for s in prim.operands + prim.attrs)
    assert callable(prim.rule) and callable(prim.numpy)
    assert prim.doc, f"{name}: shape rule has no docstring"
    if prim.differentiable:
        assert name in VJP_RULES, f"{name} is differentiable but has no VJP rule"
    else:
        assert name not in VJP_RULES, f"{name} is not differentiable but has a VJP rule"


def test_no_vjp_rule_for_unknown_primitive():
    assert set(VJP_RULES) <= set(PRIMITIVES), sorted(set(VJP_RULES) - set(PRIMITIVES))


def test_get_primitive_unknown_names_op():
    with pytest.raises(KeyError, match="no_such_op"):
        get_primitive("no_such_op")


def test_schema_checks_operand_and_attr_counts():
    with pytest.raises(TypeError, match="ember.add.*2 operands"):
        PRIMITIVES["add"].infer([t((2,))], {})
    with pytest.raises(TypeError, match="ember.sum"):
        PRIMITIVES["sum"].infer([t((2,))], {"axes": (0,)})


# --- shape rules ----------------------------------------------------------------------------

@pytest.mark.parametrize("a,b,out", [
    ((3, 1, 4), (5, 4), (3, 5, 4)), ((), (2, 3), (2, 3)), ((0, 3), (1, 3), (0, 3)),
    ((2, 1), (1, 2), (2, 2)), ((1,), (0,), (0,)),
])
def test_binary_rule_broadcasts(a, b, out):
    for name in BINARY:
        assert PRIMITIVES[name].infer([t(a), t(b)], {}).shape == out
        assert PRIMITIVES[name].infer([t(b), t(a)], {}).shape == out


@pytest.mark.parametrize("name", BINARY)
def test_binary_rule_shape_error_names_op_and_shapes(name):
    with pytest.raises(ShapeError, match=rf"ember\.{name}:.*\(2, 3\) and \(4,\)"):
        PRIMITIVES[name].infer([t((2, 3)), t((4,))], {})


def _torch_result(fn, *torch_dtypes):
    try:
        return fn(*[torch.ones(2, dtype=d) for d in torch_dtypes]).dtype
    except RuntimeError:
        return None


_TORCH_BINARY = {"pow": torch.pow, "remainder": torch.remainder, "atan2": torch.atan2,
                 "div": torch.true_divide}


@pytest.mark.parametrize("name", BINARY)
def test_binary_rule_dtype_matches_torch(name):
    fn = _TORCH_BINARY.get(name, getattr(torch, name))
    for a, b in itertools.product(dtypes.ALL_DTYPES, repeat=2):
        expected = _torch_result(fn, TORCH_DTYPES[a], TORCH_DTYPES[b])
        if expected is None:
            with pytest.raises(DTypeError, match=rf"ember\.{name}:.*{a.name} and {b.name}"):
                PRIMITIVES[name].infer([t((2,), a), t((2,), b)], {})
        else:
            got = PRIMITIVES[name].infer([t((2,), a), t((2,), b)], {}).dtype
            assert got is FROM_TORCH[expected], (name, a, b)


def test_promote_types_matches_torch():
    for a, b in itertools.product(dtypes.ALL_DTYPES, repeat=2):
        expected = torch.promote_types(TORCH_DTYPES[a], TORCH_DTYPES[b])
        assert dtypes.promote_types(a, b) is FROM_TORCH[expected], (a, b)
        rule = PRIMITIVES["add"].infer([t((), a), t((), b)], {})
        assert rule.dtype is FROM_TORCH[expected], (a, b)


@pytest.mark.parametrize("name", UNARY)
def test_unary_rule_dtype_matches_torch(name):
    fn = {"logical_not": torch.logical_not}.get(name, getattr(torch, name))
    for a in dtypes.ALL_DTYPES:
        expected = _torch_result(fn, TORCH_DTYPES[a])
        if expected is None:
            with pytest.raises(DTypeError, match=rf"ember\.{name}:.*{a.name}"):
                PRIMITIVES[name].infer([t((2, 3), a)], {})
        else:
            got = PRIMITIVES[name].infer([t((2, 3), a)], {})
            assert got == t((2, 3), FROM_TORCH[expected]), (name, a)


def test_where_rule():
    rule = PRIMITIVES["where"]
    out = rule.infer([t((3, 1), dtypes.bool_), t((1, 4), dtypes.int32), t((4,), dtypes.float16)],
                     {})
    assert out == t((3, 4), dtypes.float16)
    with pytest.raises(DTypeError, match=r"ember\.where:.*float32"):
        rule.infer([t((2,)), t((2,)), t((2,))], {})
    with pytest.raises(ShapeError, match=r"ember\.where:.*\(2,\).*\(3,\)"):
        rule.infer([t((2,), dtypes.bool_), t((3,)), t((3,))], {})


def test_cast_rule():
    for a, b in itertools.product(dtypes.ALL_DTYPES, repeat=2):
        assert PRIMITIVES["cast"].infer([t((2,), a)], {"dtype": b.name}) == t((2,), b)


@pytest.mark.parametrize("name,dtype,out", [
    ("sum", dtypes.int32, dtypes.int64), ("sum", dtypes.bool_, dtypes.int64),
    ("prod", dtypes.int32, dtypes.int64), ("sum", dtypes.float16, dtypes.float16),
    ("max", dtypes.int32, dtypes.int32), ("min", dtypes.bool_, dtypes.bool_),
])
def test_reduction_rule(name, dtype, out):
    rule = PRIMITIVES[name]
    assert rule.infer([t((2, 3, 4), dtype)], {"axes": (0, 2), "keepdim": False}) == \
        t((3,), out)
    assert rule.infer([t((2, 3, 4), dtype)], {"axes": (1,), "keepdim": True}) == \
        t((2, 1, 4), out)
    assert rule.infer([t((2, 3, 4), dtype)], {"axes": (), "keepdim": False}) == \
        t((2, 3, 4), out)
    with pytest.raises(ShapeError, match=rf"ember\.{name}:.*axis 3.*\(2, 3, 4\)"):
        rule.infer([t((2, 3, 4), dtype)], {"axes": (3,), "keepdim": False})
    with pytest.raises(ShapeError, match=rf"ember\.{name}:.*repeated"):
        rule.infer([t((2, 3, 4), dtype)], {"axes": (1, 1), "keepdim": False})


def test_empty_reductions():
    assert PRIMITIVES["sum"].infer([t((0, 3))], {"axes": (0,), "keepdim": False}) == t((3,))
    for name in ("max", "min"):
        with pytest.raises(ShapeError, match=rf"ember\.{name}:.*\(0, 3\)"):
            PRIMITIVES[name].infer([t((0, 3))], {"axes": (0,), "keepdim": False})
        assert PRIMITIVES[name].infer([t((0, 3))], {"axes": (1,), "keepdim": False}) == t((0,))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_rule(name):
    rule = PRIMITIVES[name]
    assert rule.infer([t((2, 3))], {"axis": 1, "keepdim": False}) == t((2,), dtypes.int64)
    assert rule.infer([t((2, 3))], {"axis": 0, "keepdim": True}) == t((1, 3), dtypes.int64)
    with pytest.raises(ShapeError, match=rf"ember\.{name}:.*\(0, 3\)"):
        rule.infer([t((0, 3))], {"axis": 0, "keepdim": False})
    with pytest.raises(ShapeError, match=rf"ember\.{name}:.*axis 2"):
        rule.infer([t((2, 3))], {"axis": 2, "keepdim": False})


def test_matmul_rule():
    rule = PRIMITIVES["matmul"]
    assert rule.infer([t((5, 1, 2, 3)), t((4, 3, 6))], {}) == t((5, 4, 2, 6))
    with pytest.raises(ShapeError, match=r"ember\.matmul:.*\(2, 3\) and \(2, 3\)"):
        rule.infer([t((2, 3)), t((2, 3))], {})
    with pytest.raises(DTypeError, match=r"ember\.matmul:.*float32 and float64"):
        rule.infer([t((2, 3)), t((3, 2), dtypes.float64)], {})
    with pytest.raises(ShapeError, match=r"ember\.matmul"):
        rule.infer([t((2, 2, 3)), t((3, 3, 2))], {})


def test_movement_rules():
    P = PRIMITIVES
    assert P["reshape"].infer([t((2, 3))], {"shape": (3, 2)}) == t((3, 2))
    with pytest.raises(ShapeError, match=r"ember\.reshape:.*\(2, 3\).*\(4,\)"):
        P["reshape"].infer([t((2, 3))], {"shape": (4,)})
    assert P["permute"].infer([t((2, 3, 4))], {"dims": (2, 0, 1)}) == t((4, 2, 3))
    with pytest.raises(ShapeError, match=r"ember\.permute"):
        P["permute"].infer([t((2, 3))], {"dims": (0, 0)})
    assert P["broadcast_to"].infer([t((3, 1))], {"shape": (2, 3, 4)}) == t((2, 3, 4))
    with pytest.raises(ShapeError, match=r"ember\.broadcast_to:.*\(3, 2\)"):
        P["broadcast_to"].infer([t((3, 2))], {"shape": (3, 4)})
    assert P["slice"].infer([t((10, 4))], {"starts": (1, 0), "stops": (8, 4),
                                           "steps": (3, 1)}) == t((3, 4))
    with pytest.raises(ShapeError, match=r"ember\.slice"):
        P["slice"].infer([t((10,))], {"starts": (0,), "stops": (11,), "steps": (1,)})
    assert P["pad"].infer([t((2, 3))], {"pads": (1, 0, 2, 2), "value": 0.0}) == t((3, 7))
    with pytest.raises(ShapeError, match=r"ember\.pad"):
        P["pad"].infer([t((2, 3))], {"pads": (1, 0), "value": 0.0})
    assert P["concat"].infer([t((2, 3)), t((2, 5))], {"axis": 1}) == t((2, 8))
    with pytest.raises(ShapeError, match=r"ember\.concat:.*\(2, 3\) and \(3, 5\)"):
        P["concat"].infer([t((2, 3)), t((3, 5))], {"axis": 1})
    with pytest.raises(DTypeError, match=r"ember\.concat:.*float32 and int64"):
        P["concat"].infer([t((2, 3)), t((2, 3), dtypes.int64)], {"axis": 1})
    assert P["flip"].infer([t((2, 3))], {"axes": (0, 1)}) == t((2, 3))


def test_index_rules():
    P = PRIMITIVES
    i64 = dtypes.int64
    assert P["gather"].infer([t((4, 3)), t((2, 3), i64)], {"axis": 0}) == t((2, 3))
    with pytest.raises(DTypeError, match=r"ember\.gather:.*float32 and float32"):
        P["gather"].infer([t((4, 3)), t((2, 3))], {"axis": 0})
    with pytest.raises(ShapeError, match=r"ember\.gather"):
        P["gather"].infer([t((4, 3)), t((2,), i64)], {"axis": 0})
    assert P["scatter_add"].infer([t((4, 3)), t((2, 3), i64), t((2, 3))], {"axis": 0}) == \
        t((4, 3))
    with pytest.raises(IndexError, match=r"ember\.gather: index 4"):
        P["gather"].evaluate([np.zeros((4, 3)), np.full((1, 3), 4)], {"axis": 0}, t((1, 3)))


def test_creation_rules():
    P = PRIMITIVES
    assert P["full"].infer([], {"shape": (2, 3), "value": 1.5, "dtype": "float16"}) == \
        t((2, 3), dtypes.float16)
    with pytest.raises(ShapeError, match=r"ember\.full"):
        P["full"].infer([], {"shape": (-1,), "value": 0, "dtype": "float32"})
    ty = P["iota"].infer([], {"shape": (2, 3), "axis": 1, "dtype": "int64"})
    np.testing.assert_array_equal(P["iota"].evaluate([], {"shape": (2, 3), "axis": 1,
                                                          "dtype": "int64"}, ty),
                                  [[0, 1, 2], [0, 1, 2]])
    with pytest.raises(ShapeError, match=r"ember\.iota"):
        P["iota"].infer([], {"shape": (2, 3), "axis": 2, "dtype": "int64"})


# --- NumPy semantics agree with the rules -------------------------------------------------

@pytest.mark.parametrize("name", UNARY + BINARY)
def test_numpy_semantics_match_rule(name):
    prim = PRIMITIVES[name]
    rng = np.random.default_rng(0)
    for d in dtypes.ALL_DTYPES:
        arrays = [(rng.uniform(0.5, 3, (2, 3)) if d.is_floating_point
                   else rng.integers(1, 3, (2, 3))).astype(d.numpy) for _ in prim.operands]
        try:
            ty = prim.infer([t(a.shape, d) for a in arrays], {})
        except DTypeError:
            continue
        out = prim.evaluate(arrays, {}, ty)
        assert out.shape == ty.shape and out.dtype == ty.dtype.numpy


# --- counter-based random ------------------------------------------------------------------

def _uniform(seed, offset, shape=(1000,), dtype="float32"):
    prim = PRIMITIVES["random_uniform"]
    s, o = np.array(seed, np.int64), np.array(offset, np.int64)
    ty = prim.infer([t((), dtypes.int64), t((), dtypes.int64)], {"shape": shape, "dtype": dtype})
    return prim.evaluate([s, o], {"shape": shape, "dtype": dtype}, ty)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_random_uniform(dtype):
    a = _uniform(7, 100, dtype=dtype)
    assert a.dtype == dtypes.from_name(dtype).numpy
    np.testing.assert_array_equal(a, _uniform(7, 100, dtype=dtype))
    assert not np.array_equal(a, _uniform(7, 101, dtype=dtype))
    assert not np.array_equal(a, _uniform(8, 100, dtype=dtype))
    # Counters are per element: offset k continues where offset 0 left off.
    np.testing.assert_array_equal(_uniform(7, 0, (10,), dtype)[5:], _uniform(7, 5, (5,), dtype))
    f = a.astype(np.float64)
    assert f.min() >= 0 and f.max() < 1
    assert abs(f.mean() - 0.5) < 0.05


def test_random_uniform_rule_errors():
    prim = PRIMITIVES["random_uniform"]
    with pytest.raises(DTypeError, match=r"ember\.random_uniform:.*int32"):
        prim.infer([t((), dtypes.int32), t((), dtypes.int64)], {"shape": (2,), "dtype": "float32"})
    with pytest.raises(DTypeError, match=r"ember\.random_uniform:.*int64"):
        prim.infer([t((), dtypes.int64), t((), dtypes.int64)], {"shape": (2,), "dtype": "int64"})


def test_manual_seed_reproduces_rand():
    ember.manual_seed(0)
    a = ember.rand(5)
    c = ember.rand(5)
    ember.manual_seed(0)
    b = ember.rand(5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
