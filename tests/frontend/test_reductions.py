"""Reductions against PyTorch: values, indices, gradients, dims, keepdim, dtypes, errors."""

import numpy as np
import pytest
import torch

import ember
from torch_compare import ALL, FLOATS, assert_same, check, data, pair

DIMS = [None, 0, -1, (0, 2), (-1, 0), (1,)]


def distinct(shape, dtype, seed=0):
    """Values without ties (so max/min have one winner), exactly representable in `dtype`."""
    n = int(np.prod(shape))
    values = np.random.default_rng(seed).permutation(n).reshape(shape)
    if dtype == "bool":
        return values % 2 == 0
    return (values - n // 2) * (0.25 if dtype in FLOATS else 1)


def _torch_prod(x, dim, keepdim):
    """torch.prod over several dims (torch takes one int dim), one dim at a time."""
    dims = range(x.ndim) if dim is None else [dim] if isinstance(dim, int) else dim
    for d in sorted((d % x.ndim for d in dims), reverse=True):
        x = x.prod(dim=d, keepdim=keepdim)
    return x


def _call(lib, name, x, dim, keepdim, **kw):
    if lib is torch and name == "prod" and not isinstance(dim, int):
        return _torch_prod(x, dim, keepdim)
    args = {} if dim is None and lib is torch and name in ("amax", "amin") else {"dim": dim}
    return getattr(x, name)(**args, keepdim=keepdim, **kw)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("name", ["sum", "prod", "amax", "amin", "mean", "logsumexp"])
def test_reduction(name, dtype, dim, keepdim):
    if name == "prod" and dtype in FLOATS:
        x = data((2, 3, 4), dtype, 0.5, 1.5)
    else:
        x = distinct((2, 3, 4), dtype) if name in ("amax", "amin") else data((2, 3, 4), dtype)
    if name == "logsumexp" and dim is None:
        dim = (0, 1, 2)  # torch.logsumexp needs an explicit dim
    check(lambda t: _call(ember, name, t, dim, keepdim), lambda t: _call(torch, name, t, dim,
                                                                          keepdim), [x], [dtype])


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), 1])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std(name, dtype, dim, keepdim):
    x = data((3, 4, 5), dtype)
    for correction in (0, 1):
        check(lambda t: getattr(t, name)(dim=dim, keepdim=keepdim, correction=correction),
              lambda t: getattr(t, name)(dim=dim, keepdim=keepdim, correction=correction),
              [x], [dtype])
    check(lambda t: getattr(t, name)(dim, False, keepdim),
          lambda t: getattr(t, name)(dim, False, keepdim), [x], [dtype])


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1, -3])
@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_values_and_indices(name, dtype, dim, keepdim):
    x = distinct((3, 4, 5), dtype, seed=1)
    if dtype == "bool":
        x = np.random.default_rng(1).integers(0, 2, (3, 4, 5)).astype(bool)
    e, t = pair(x, dtype)
    ev, ei = getattr(e, name)(dim, keepdim)
    tv, ti = getattr(t, name)(dim, keepdim)
    assert_same(ei, ti)
    assert_same(ev, tv)
    check(lambda a: getattr(a, name)(dim=dim, keepdim=keepdim).values,
          lambda a: getattr(a, name)(dim=dim, keepdim=keepdim).values, [x], [dtype])
    check(lambda a: getattr(a, name)(), lambda a: getattr(a, name)(), [x], [dtype])


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, -1, 2])
@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(name, dtype, dim, keepdim):
    x = distinct((3, 4, 5), dtype, seed=2)
    check(lambda t: getattr(t, name)(dim=dim, keepdim=keepdim),
          lambda t: getattr(t, name)(dim=dim, keepdim=keepdim), [x], [dtype])


def test_arg_ties_take_first_like_torch():
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, -1.0]])
    for name in ("argmax", "argmin"):
        check(lambda t: getattr(t, name)(dim=1), lambda t: getattr(t, name)(dim=1), [x],
              ["float32"])


@pytest.mark.parametrize("name", ["sum", "prod", "amax", "amin", "mean", "logsumexp", "var",
                                  "std", "argmax", "argmin"])
def test_non_contiguous(name):
    x = distinct((3, 4, 5), "float64", seed=3) / 8
    for dim in (0, (0, 2), -1):
        if name in ("argmax", "argmin", "prod") and isinstance(dim, tuple):
            continue
        check(lambda t: getattr(t, name)(dim=dim, keepdim=False),
              lambda t: getattr(t, name)(dim=dim, keepdim=False), [x], ["float64"],
              transpose=True)


@pytest.mark.parametrize("name", ["sum", "prod", "mean", "amax", "amin", "logsumexp"])
def test_zero_size(name):
    x = data((0, 3), "float32")
    dims = {"amax": (1, -1), "amin": (1, -1), "prod": (0, 1)}.get(name, (0, 1, (0, 1)))
    for dim in dims:
        check(lambda t: getattr(t, name)(dim=dim), lambda t: getattr(t, name)(dim=dim), [x],
              ["float32"])
    if name not in ("amax", "amin"):
        check(lambda t: getattr(t, name)(dim=0, keepdim=True),
              lambda t: getattr(t, name)(dim=0, keepdim=True), [x], ["float32"])


def test_zero_size_extremes_raise():
    for fn in (lambda t: t.amax(dim=0), lambda t: t.max(), lambda t: t.argmax(),
               lambda t: t.max(dim=0)):
        with pytest.raises((RuntimeError, IndexError), match=r"ember\."):
            fn(ember.zeros(0, 3))


def test_zero_dim_input():
    x = np.array(1.5)
    for name in ("sum", "prod", "amax", "mean", "argmax", "logsumexp"):
        for dim in (0, -1):
            check(lambda t: getattr(t, name)(dim=dim), lambda t: getattr(t, name)(dim=dim),
                  [x], ["float64"])
    check(lambda t: t.max(dim=0).values, lambda t: t.max(dim=0).values, [x], ["float64"])
    check(lambda t: t.max(dim=0).indices, lambda t: t.max(dim=0).indices, [x], ["float64"])


def test_sum_and_prod_dtype_argument():
    x = data((2, 3), "int32", 1, 3)
    check(lambda t: t.sum(dtype=ember.float64), lambda t: t.sum(dtype=torch.float64), [x],
          ["int32"])
    check(lambda t: t.prod(1, dtype=ember.float32), lambda t: t.prod(1, dtype=torch.float32),
          [x], ["int32"])
    check(lambda t: t.mean(dtype=ember.float64), lambda t: t.mean(dtype=torch.float64), [x],
          ["int32"])


def test_prod_gradient_with_zeros_matches_torch():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 3.0]])
    check(lambda t: t.prod(1), lambda t: t.prod(1), [x], ["float64"])
    check(lambda t: t.prod(), lambda t: t.prod(), [x[2:]], ["float64"])


def test_amax_ties_share_gradient_like_torch():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    check(lambda t: t.amax(1), lambda t: t.amax(1), [x], ["float64"])
    check(lambda t: t.max(), lambda t: t.max(), [x], ["float64"])
    # Indexed max sends the gradient to the one element its index names.
    check(lambda t: t.max(1).values, lambda t: t.max(1).values, [x], ["float64"])


def test_logsumexp_extreme_values():
    x = np.array([[1000.0, 1000.0], [-np.inf, -np.inf], [np.inf, 1.0]])
    check(lambda t: t.logsumexp(1), lambda t: t.logsumexp(1), [x], ["float32"], grad=False)
    check(lambda t: t.logsumexp(1), lambda t: t.logsumexp(1), [x[:1]], ["float32"])


# --- finite differences --------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sum", "prod", "amax", "amin", "mean", "var", "std",
                                  "logsumexp"])
def test_gradcheck(name):
    x = ember.tensor(distinct((2, 3, 2), "float64", seed=4) / 6 + 0.1, requires_grad=True)
    for dim in ((0, 2), -1):
        assert ember.autograd.gradcheck(lambda t: getattr(t, name)(dim=dim), [x])
    assert ember.autograd.gradcheck(lambda t: getattr(t, name)(dim=1, keepdim=True), [x])


@pytest.mark.parametrize("name", ["max", "min"])
def test_gradcheck_indexed(name):
    x = ember.tensor(distinct((2, 3, 2), "float64", seed=5) / 6, requires_grad=True)
    assert ember.autograd.gradcheck(lambda t: getattr(t, name)(dim=1).values, [x])
    assert ember.autograd.gradcheck(lambda t: getattr(t, name)(), [x])


# --- errors --------------------------------------------------------------------------------

def test_dim_errors_name_op():
    with pytest.raises(IndexError, match=r"ember\.sum: dimension out of range"):
        ember.ones(3).sum(dim=5)
    with pytest.raises(IndexError, match=r"ember\.amax"):
        ember.ones(2, 3).amax(dim=(0, -3))
    with pytest.raises(IndexError, match=r"ember\.argmax"):
        ember.ones(2, 3).argmax(dim=2)
    with pytest.raises(RuntimeError, match=r"ember\.sum:.*multiple times"):
        ember.ones(2, 3).sum(dim=(1, -1))
    with pytest.raises(RuntimeError, match=r"ember\.mean:.*int64"):
        ember.ones(2, 3).long().mean()
