"""Shared helpers for the tests/nn files: run Ember and PyTorch on the same data, compare
values and gradients."""

import numpy as np
import torch

import ember

FLOATS = ["float32", "float64"]
TOL = {"float32": (2e-5, 2e-6), "float64": (1e-10, 1e-12)}


def to_pair(value, dtype, grad):
    """An Ember and a Torch tensor with the same values; float arrays take `dtype`."""
    array = np.asarray(value)
    if array.dtype.kind == "f":
        e = ember.tensor(array, dtype=getattr(ember, dtype), requires_grad=grad)
        t = torch.tensor(array, dtype=getattr(torch, dtype), requires_grad=grad)
    else:
        e, t = ember.tensor(array), torch.tensor(array)
    return e, t


def assert_close(e, t, dtype):
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape), (tuple(e.shape), tuple(t.shape))
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol,
                               equal_nan=True)


def check(efn, tfn, inputs, dtype, grad=(0,), seed=0):
    """efn(*ember inputs) equals tfn(*torch inputs), and so do the gradients of a random
    projection of the result w.r.t. the inputs at positions `grad`."""
    pairs = [to_pair(v, dtype, i in grad and np.asarray(v).dtype.kind == "f")
             for i, v in enumerate(inputs)]
    es, ts = [p[0] for p in pairs], [p[1] for p in pairs]
    eout, tout = efn(*es), tfn(*ts)
    assert_close(eout, tout, dtype)
    if not tout.requires_grad:
        return
    cot = np.random.default_rng(seed).uniform(0.5, 1.5, tuple(tout.shape))
    ecot, tcot = to_pair(cot, str(tout.dtype).split(".")[-1], False)
    (eout * ecot).sum().backward()
    (tout * tcot).sum().backward()
    for i in grad:
        if ts[i].requires_grad:
            assert es[i].grad is not None, f"no gradient for input {i}"
            assert_close(es[i].grad, ts[i].grad, dtype)


def uniform(shape, low=-3.0, high=3.0, seed=0):
    return np.random.default_rng(seed).uniform(low, high, shape)
