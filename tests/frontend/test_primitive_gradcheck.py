"""Every differentiable primitive's VJP rule against float64 finite differences."""

import numpy as np
import pytest

import ember
from ember.frontend.dispatch import apply
from ember.ir import PRIMITIVES


def leaf(shape, low=-1.0, high=1.0, seed=0):
    values = np.random.default_rng(seed).uniform(low, high, shape)
    return ember.tensor(values, dtype=ember.float64, requires_grad=True)


def index(values):
    return ember.tensor(np.array(values), dtype=ember.int64)


POSITIVE = {"log", "sqrt", "rsqrt", "reciprocal", "log1p"}
OFF_KINK = {"abs"}  # inputs kept away from 0, where abs has a kink

# name: (function of the differentiable inputs, the inputs)
CASES = {
    "where": (lambda x, y: apply("where", index([[1, 0, 1], [0, 1, 1]]).bool(), x, y),
              [leaf((2, 3)), leaf((3,), seed=1)]),
    "cast": (lambda x: apply("cast", x, dtype="float64"), [leaf((2, 3))]),
    "sum": (lambda x: apply("sum", x, axes=(0, 2), keepdim=False), [leaf((2, 3, 2))]),
    "prod": (lambda x: apply("prod", x, axes=(1,), keepdim=True), [leaf((2, 3), 0.5, 2)]),
    "max": (lambda x: apply("max", x, axes=(1,), keepdim=False), [leaf((2, 3))]),
    "min": (lambda x: apply("min", x, axes=(0, 1), keepdim=True), [leaf((2, 3))]),
    "reshape": (lambda x: apply("reshape", x, shape=(3, 2)), [leaf((2, 3))]),
    "permute": (lambda x: apply("permute", x, dims=(2, 0, 1)), [leaf((2, 3, 2))]),
    "broadcast_to": (lambda x: apply("broadcast_to", x, shape=(2, 3, 4)), [leaf((3, 1))]),
    "slice": (lambda x: apply("slice", x, starts=(1, 0), stops=(5, 3), steps=(2, 2)),
              [leaf((5, 3))]),
    "pad": (lambda x: apply("pad", x, pads=(1, 0, 2, 1), value=0.5), [leaf((2, 3))]),
    "concat": (lambda x, y: apply("concat", x, y, axis=1), [leaf((2, 3)), leaf((2, 1))]),
    "flip": (lambda x: apply("flip", x, axes=(0, 1)), [leaf((2, 3))]),
    "matmul": (lambda x, y: apply("matmul", x, y), [leaf((2, 1, 2, 3)), leaf((3, 3, 2))]),
    "conv2d": (lambda x, w: apply("conv2d", x, w, stride=(1, 2), padding=(1, 0),
                                  dilation=(1, 1), groups=1),
               [leaf((1, 2, 4, 5)), leaf((3, 2, 2, 2), seed=1)]),
    "gather": (lambda x: apply("gather", x, index([[0, 2, 1], [2, 2, 0]]), axis=0),
               [leaf((3, 3))]),
    "scatter_add": (lambda x, s: apply("scatter_add", x, index([[0, 2], [2, 2]]), s, axis=0),
                    [leaf((3, 3)), leaf((2, 3), seed=1)]),
}


def _elementwise_inputs(name, n):
    """Inputs away from each primitive's kinks and outside its domain."""
    if name == "remainder":  # divisor in (1.1, 1.9) keeps x / y away from the integers
        return [leaf((2, 3)), leaf((3,), 1.1, 1.9, seed=1)]
    low = 0.3 if name in POSITIVE | OFF_KINK | {"pow", "atan2"} else -1.0
    return [leaf(shape, low, seed=i) for i, shape in enumerate([(2, 3), (3,)][:n])]


for _name, _prim in PRIMITIVES.items():
    if _prim.kind in ("unary", "binary") and _name != "cast":
        CASES[_name] = ((lambda name: lambda *xs: apply(name, *xs))(_name),
                        _elementwise_inputs(_name, len(_prim.operands)))


DIFFERENTIABLE = sorted(n for n, p in PRIMITIVES.items() if p.differentiable)


def test_every_differentiable_primitive_has_a_case():
    assert set(DIFFERENTIABLE) <= set(CASES), sorted(set(DIFFERENTIABLE) - set(CASES))


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradcheck(name):
    fn, inputs = CASES[name]
    if name in ("maximum", "minimum"):
        assert not np.isin(inputs[0].detach().numpy(), inputs[1].detach().numpy()).any()
    assert ember.autograd.gradcheck(fn, inputs)
