"""The `partition` pass: a min-cut chooses the residuals, the backward recomputes the rest, and
forward outputs and backward gradients stay the same."""

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.ir import Builder, TensorType, func_op, get_primitive, module_op, parse, verify
from ember.ir.dtypes import float32, int64
from ember.passes import PASSES, PassManager
from ember.passes.partition import (BACKWARD, RESIDUAL_ARGS, RESIDUALS, combine,
                                    partition_module, saved_bytes, split)
from ember.runtime.interpreter import run_function


def _t(*shape, dtype=float32):
    return TensorType(tuple(shape), dtype)


def _op(b: Builder, name: str, *operands, **attrs):
    """Append `ember.<name>` with its inferred result type; return the result."""
    rtype = get_primitive(name).infer([v.type for v in operands], attrs)
    return b.create(f"ember.{name}", operands, [rtype], attrs).result


def _pair(arg_types, forward, n_cotangents, backward):
    """A combined module from two body builders.

    `forward(b, args)` returns (outputs, residuals); `backward(b, cotangents, residuals)`
    returns the gradients.
    """
    fwd = func_op("f", arg_types)
    b = Builder(fwd.regions[0].blocks[0])
    outputs, residuals = forward(b, fwd.regions[0].blocks[0].arguments)
    b.ret(outputs + residuals)
    bwd = func_op("f_backward", [v.type for v in outputs[:n_cotangents]]
                  + [v.type for v in residuals])
    args = bwd.regions[0].blocks[0].arguments
    b = Builder(bwd.regions[0].blocks[0])
    b.ret(backward(b, args[:n_cotangents], args[n_cotangents:]))
    modules = []
    for func in (fwd, bwd):
        modules.append(module_op())
        modules[-1].regions[0].blocks[0].append(func)
    return combine(modules[0], modules[1], len(residuals))


def _funcs(module):
    forward, backward = module.regions[0].blocks[0].operations
    return forward, backward


def _random(t: TensorType, rng):
    if t.dtype is int64:
        return np.array(rng.integers(0, 1000), dtype=np.int64).reshape(t.shape)
    return rng.standard_normal(t.shape).astype(t.dtype.numpy)


def _run_pair(module, inputs, cotangents):
    """(forward outputs without residuals, backward results) of the interpreter."""
    forward, backward = _funcs(module)
    results = run_function(forward, inputs)
    n = forward.attributes[RESIDUALS]
    outputs, residuals = results[:len(results) - n], results[len(results) - n:]
    return outputs, run_function(backward, cotangents + residuals)


def _partition_and_check(module, seed=0):
    """Partition `module`; check it verifies and computes the same; return (before, after)."""
    verify(module)
    before_text, before = str(module), saved_bytes(module)
    rng = np.random.default_rng(seed)
    forward, backward = _funcs(module)
    inputs = [_random(t, rng) for t in forward.attributes["function_type"].inputs]
    n_cot = len(backward.regions[0].blocks[0].arguments) - backward.attributes[RESIDUAL_ARGS]
    cotangents = [_random(t, rng) for t in backward.attributes["function_type"].inputs[:n_cot]]
    expected = _run_pair(module, inputs, cotangents)
    PassManager("partition").run(module)  # verifies after the pass
    got = _run_pair(module, inputs, cotangents)
    for want, have in zip(expected[0] + expected[1], got[0] + got[1]):
        np.testing.assert_allclose(have, want, rtol=1e-6, atol=1e-6)
    after = saved_bytes(module)
    print(f"saved bytes: {before} before partition, {after} after")
    assert after <= before
    assert str(parse(str(module))) == str(module)
    if after == before:
        assert str(module) == before_text, "no improvement must leave the module unchanged"
    return before, after


def _returned(func):
    return func.regions[0].blocks[0].operations[-1].operands


def _residuals(module):
    forward, _ = _funcs(module)
    operands = _returned(forward)
    return operands[len(operands) - forward.attributes[RESIDUALS]:]


# --- hand-built pairs ---------------------------------------------------------------------------


def _sum_exp_mul():
    """s = sum(exp(x * w)); the backward reads exp(x * w), x and w."""

    def forward(b, args):
        x, w = args
        y = _op(b, "exp", _op(b, "mul", x, w))
        return [_op(b, "sum", y, axes=(0, 1), keepdim=False)], [y, x, w]

    def backward(b, cotangents, residuals):
        (g,), (y, x, w) = cotangents, residuals
        gt = _op(b, "mul", _op(b, "broadcast_to", g, shape=y.type.shape), y)
        return [_op(b, "mul", gt, w), _op(b, "mul", gt, x)]

    return _pair([_t(8, 16), _t(8, 16)], forward, 1, backward)


def test_pass_is_registered_with_a_description():
    assert PASSES["partition"].description().startswith("Save the fewest residual bytes")


def test_cheap_elementwise_values_are_recomputed_from_the_inputs():
    module = _sum_exp_mul()
    before, after = _partition_and_check(module)
    forward, backward = _funcs(module)
    assert after == before * 2 // 3
    assert _residuals(module) == list(forward.regions[0].blocks[0].arguments)
    assert forward.attributes[RESIDUALS] == backward.attributes[RESIDUAL_ARGS] == 2
    names = [op.name for op in backward.regions[0].blocks[0].operations]
    assert names[:2] == ["ember.mul", "ember.exp"]  # recomputed first, in forward order


def test_long_elementwise_chain_after_a_matmul_saves_only_the_matmul_output():
    def forward(b, args):
        h = _op(b, "matmul", *args)
        chain = [_op(b, "tanh", h)]
        for name in ("exp", "sigmoid", "neg", "abs"):
            chain.append(_op(b, name, chain[-1]))
        # Both branches start at h: saving h alone beats saving tanh(h), which needs h too.
        chain.append(_op(b, "mul", chain[-1], h))
        return [chain[-1]], chain

    def backward(b, cotangents, residuals):
        g = cotangents[0]
        for r in residuals:
            g = _op(b, "mul", g, r)
        return [g]

    module = _pair([_t(16, 4), _t(4, 16)], forward, 1, backward)
    before, after = _partition_and_check(module)
    (saved,) = _residuals(module)
    assert saved.owner.name == "ember.matmul"
    assert after == before // 6


@pytest.mark.parametrize("expensive", ["matmul", "random_uniform", "sum"])
def test_expensive_outputs_are_saved_not_recomputed(expensive):
    # The backward also reads every input, so recomputing the expensive value would cost no
    # extra bytes; it is saved all the same, and only exp of it is recomputed.
    def forward(b, args):
        x, w, seed, offset = args
        value = {"matmul": lambda: _op(b, "matmul", x, w),
                 "random_uniform": lambda: _op(b, "random_uniform", seed, offset,
                                               shape=(32, 32), dtype="float32"),
                 "sum": lambda: _op(b, "sum", x, axes=(1,), keepdim=False)}[expensive]()
        e = _op(b, "exp", value)
        return [e], [e, value, *args]

    def backward(b, cotangents, residuals):
        e, value, *args = residuals
        return [_op(b, "mul", _op(b, "mul", cotangents[0], e), value), *args]

    module = _pair([_t(32, 2), _t(2, 32), _t(dtype=int64), _t(dtype=int64)], forward, 1,
                   backward)
    before, after = _partition_and_check(module)
    *args, saved = _residuals(module)
    assert args == _funcs(module)[0].regions[0].blocks[0].arguments
    assert saved.owner.opname == expensive
    assert after == before - saved.type.numel * 4


def test_minimal_residuals_and_unused_ones():
    # The backward needs x itself: nothing to gain, the module stays as it is.
    def forward(b, args):
        return [_op(b, "exp", args[0])], [args[0]]

    module = _pair([_t(4, 4)], forward, 1, lambda b, c, r: [_op(b, "mul", c[0], r[0])])
    before, after = _partition_and_check(module)
    assert after == before
    # A residual the backward never reads is dropped.
    module = _pair([_t(4, 4)], forward, 1, lambda b, c, r: [c[0]])
    assert _partition_and_check(module)[1] == 0


def test_inconsistent_attributes_are_rejected():
    module = _sum_exp_mul()
    _funcs(module)[1].attributes[RESIDUAL_ARGS] = 2
    with pytest.raises(ValueError, match="ember.residual_args = 2"):
        partition_module(module)
    _funcs(module)[1].attributes[RESIDUAL_ARGS] = 3
    _funcs(module)[1].regions[0].blocks[0].arguments[1].type = _t(16, 8)
    with pytest.raises(ValueError, match="residual types of @f do not match"):
        partition_module(module)
    _funcs(module)[0].attributes[BACKWARD] = "missing"
    with pytest.raises(ValueError, match="'missing', which is not a function"):
        partition_module(module)


# --- graphs derived by ember.jit ----------------------------------------------------------------


def test_jit_mlp_forward_and_backward_keep_their_values():
    ember.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(),
                        nn.Linear(32, 4))
    # No pipeline: the cached graphs are the traced ones, not yet partitioned by jit.
    fn = ember.jit(lambda x: (mlp(x).sigmoid() * 2).exp().sum(), passes="")
    fn(ember.randn(16, 8, requires_grad=True))
    (spec,) = fn.cache.values()
    module = combine(spec.forward.module, spec.backward.module, spec.n_residuals)
    before, after = _partition_and_check(module)
    assert after < before
    forward_module, backward_module, n = split(module)
    assert n == _funcs(module)[0].attributes[RESIDUALS]
    for part in (forward_module, backward_module):
        verify(part)
        func = part.regions[0].blocks[0].operations[0]
        assert not {RESIDUALS, RESIDUAL_ARGS, BACKWARD} & set(func.attributes)


def test_residuals_made_from_constants_alone_are_recomputed():
    # The gradient of a * 2 + b needs only the constant 2: no value reaches it from an input,
    # and the cut once failed for want of a source node.
    fn = ember.jit(lambda a, b: a * 2 + b, passes="")
    fn(ember.randn(3, requires_grad=True), ember.randn(3))
    (spec,) = fn.cache.values()
    module = combine(spec.forward.module, spec.backward.module, spec.n_residuals)
    before, after = _partition_and_check(module)
    assert before > 0 and after == 0
    x = ember.randn(3, requires_grad=True)
    ember.jit(lambda a, b: a * 2 + b)(x, ember.randn(3)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 2.0, np.float32))
