"""canonicalize, fold, cse and dce keep what random graphs compute, and keep them valid."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ember.ir import PRIMITIVES, Builder, TensorType, func_op, module_op, parse, verify
from ember.ir import dtypes
from ember.ir.core import functions
from ember.passes import PassManager
from ember.passes.cse import op_key
from ember.runtime.interpreter import run_function

f32, i64 = dtypes.float32, dtypes.int64
SHAPES = [(2, 3), (3,), (1, 3), (2, 1), (), (6,), (3, 2), (2, 3, 1)]
UNARY = ["neg", "abs", "exp", "tanh", "floor"]
BINARY = ["add", "sub", "mul", "div", "maximum"]


def _emit(b: Builder, name, operands, **attrs):
    """ember.<name> with its inferred type, or None if the operands do not fit the op."""
    try:
        result = PRIMITIVES[name].infer([v.type for v in operands], attrs)
    except (TypeError, ValueError):
        return None
    if result.numel > 64:
        return None
    return b.create(f"ember.{name}", operands, [result], attrs).result


def _full(b, shape, value, dtype):
    return _emit(b, "full", [], shape=shape, value=value, dtype=dtype.name)


@st.composite
def graphs(draw):
    """A module with one random function of elementwise, movement, cast and reduction ops."""
    arg_types = [TensorType(draw(st.sampled_from(SHAPES)), draw(st.sampled_from([f32, i64])))
                 for _ in range(draw(st.integers(1, 3)))]
    module = module_op()
    func = func_op("f", arg_types)
    module.regions[0].blocks[0].append(func)
    b = Builder(func.regions[0].blocks[0])
    pool = list(func.regions[0].blocks[0].arguments)
    for _ in range(draw(st.integers(1, 12))):
        x = draw(st.sampled_from(pool))
        y = draw(st.sampled_from(pool))
        kind = draw(st.sampled_from(["unary", "binary", "identity", "self_sub", "neg_neg",
                                     "reshape", "permute", "broadcast", "sum", "cast", "const",
                                     "repeat"]))
        if kind == "unary":
            out = _emit(b, draw(st.sampled_from(UNARY)), [x])
        elif kind == "binary":
            out = _emit(b, draw(st.sampled_from(BINARY)), [x, y])
        elif kind == "identity":
            # x op identity, with the constant sometimes broadcasting or promoting x.
            name, value = draw(st.sampled_from([("add", 0), ("sub", 0), ("mul", 1), ("div", 1)]))
            shape = draw(st.sampled_from([x.type.shape] + SHAPES))
            c = _full(b, shape, value, draw(st.sampled_from([x.type.dtype, f32])))
            out = _emit(b, name, [c, x] if draw(st.booleans()) else [x, c])
        elif kind == "self_sub":
            out = _emit(b, "sub", [x, x])
        elif kind == "neg_neg":
            out = _emit(b, "neg", [_emit(b, "neg", [x])])
        elif kind == "reshape":
            target = draw(st.sampled_from([s for s in SHAPES + [x.type.shape]
                                           if int(np.prod(s)) == x.type.numel] or [()]))
            out = _emit(b, "reshape", [x], shape=target)
        elif kind == "permute":
            dims = tuple(draw(st.permutations(range(x.type.rank))))
            out = _emit(b, "permute", [x], dims=dims)
        elif kind == "broadcast":
            out = _emit(b, "broadcast_to", [x], shape=(draw(st.integers(1, 2)),) + x.type.shape)
        elif kind == "sum":
            axes = tuple(a for a in range(x.type.rank) if draw(st.booleans()))
            out = _emit(b, "sum", [x], axes=axes, keepdim=draw(st.booleans()))
        elif kind == "cast":
            dtype = draw(st.sampled_from(["float32", "float64", "int64", "int32", "float16"]))
            out = _emit(b, "cast", [x], dtype=dtype)
        elif kind == "const":
            out = _full(b, draw(st.sampled_from(SHAPES)), draw(st.sampled_from([0, 1, 2.5])), f32)
        elif not x.is_block_argument:  # "repeat": a copy of x's op, for CSE to merge
            op = x.owner
            out = b.create(op.name, op.operands, [x.type], op.attributes).result
        else:
            out = None
        if out is not None:
            pool.append(out)
    results = [pool[-1]] + draw(st.lists(st.sampled_from(pool), max_size=2))
    b.ret(results)
    return module


def _inputs(module, seed):
    rng = np.random.default_rng(seed)
    func = functions(module)[0]
    return [(rng.standard_normal(a.type.shape) * 3).astype(a.type.dtype.numpy)
            for a in func.regions[0].blocks[0].arguments]


def _check(pipeline, module, seed):
    verify(module)
    inputs = _inputs(module, seed)
    expected = run_function(functions(module)[0], inputs)
    transformed = parse(str(module))
    before = len(list(transformed.walk()))
    PassManager(pipeline).run(transformed)  # verifies after each pass
    actual = run_function(functions(transformed)[0], inputs)
    for e, a in zip(expected, actual):
        assert a.dtype == e.dtype and a.shape == e.shape
        np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64),
                                   rtol=1e-6, atol=1e-6, equal_nan=True)
    assert len(list(transformed.walk())) <= before, "a simplifying pass added ops"


@pytest.mark.parametrize("pipeline", ["canonicalize", "fold", "cse", "dce",
                                      "canonicalize,fold,cse,dce"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(module=graphs(), seed=st.integers(0, 2 ** 16))
def test_pass_preserves_semantics(pipeline, module, seed):
    _check(pipeline, module, seed)


@settings(max_examples=40, deadline=None)
@given(module=graphs())
def test_dce_leaves_no_dead_ops_and_cse_no_duplicates(module):
    PassManager("cse,dce").run(module)
    body = functions(module)[0].regions[0].blocks[0].operations
    used = {v for op in body for v in op.operands}
    assert all(r in used for op in body for r in op.results)
    keys = [op_key(op) for op in body if op.results]
    assert len(keys) == len(set(keys))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(module=graphs(), seed=st.integers(0, 2 ** 16))
def test_full_jit_pipeline_preserves_semantics(module, seed):
    """The whole default pipeline (fusion, scheduling and memory planning included)."""
    from ember.frontend.jit import DEFAULT_PIPELINE

    verify(module)
    inputs = _inputs(module, seed)
    expected = run_function(functions(module)[0], inputs)
    transformed = PassManager(DEFAULT_PIPELINE).run(parse(str(module)))
    actual = run_function(functions(transformed)[0], inputs)
    for e, a in zip(expected, actual):
        assert a.dtype == e.dtype and a.shape == e.shape
        np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64),
                                   rtol=1e-6, atol=1e-6, equal_nan=True)
