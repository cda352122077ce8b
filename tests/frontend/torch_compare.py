"""Helpers comparing Ember with PyTorch: same inputs, same results, same gradients."""

import ml_dtypes
import numpy as np
import pytest
import torch

import ember

FLOATS = ["float32", "float64", "float16", "bfloat16"]
ALL = FLOATS + ["int32", "int64", "bool"]
TOL = {"float32": (1e-5, 1e-6), "float64": (1e-10, 1e-12), "float16": (1e-2, 1e-3),
       "bfloat16": (2e-2, 1e-2), "int32": (0, 0), "int64": (0, 0), "bool": (0, 0)}


def edtype(name):
    return ember.bool if name == "bool" else getattr(ember, name)


def tdtype(name):
    return getattr(torch, name)


def data(shape, dtype, low=-2.0, high=2.0, seed=0):
    """Random values exactly representable in `dtype` (as float64 or int64/bool NumPy)."""
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.startswith("int"):
        return rng.integers(int(np.ceil(low)), int(np.floor(high)) + 1, shape).astype(np.int64)
    x = rng.uniform(low, high, shape)
    store = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    return x.astype(store).astype(np.float64)


def pair(array, dtype, grad=False):
    """The same values as an Ember and a Torch tensor of `dtype`."""
    e = ember.tensor(array, dtype=edtype(dtype), requires_grad=grad)
    t = torch.tensor(array).to(tdtype(dtype)).requires_grad_(grad)
    return e, t


def as_np(x):
    if isinstance(x, torch.Tensor):
        x = x.detach()
        return (x.double() if x.is_floating_point() else x).numpy()
    x = x.detach().numpy()
    return x.astype(np.float64) if x.dtype.kind == "f" or x.dtype == ml_dtypes.bfloat16 else x


def assert_same(e, t, dtype=None, tol=None):
    """Ember result `e` equals Torch result `t` in dtype, shape and value."""
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    rtol, atol = tol or TOL[dtype or str(t.dtype).split(".")[-1]]
    np.testing.assert_allclose(as_np(e), as_np(t), rtol=rtol, atol=atol, equal_nan=True)


def check(efn, tfn, arrays, dtypes, grad=True, tol=None, transpose=False, seed=1):
    """Run efn/tfn on the arrays; compare results and, for float inputs, gradients."""
    grad = grad and all(d in FLOATS for d in dtypes)
    es, ts = zip(*[pair(a, d, grad) for a, d in zip(arrays, dtypes)])
    ein, tin = es, ts
    if transpose:
        ein = [x.transpose(0, 1) for x in es]
        tin = [x.transpose(0, 1) for x in ts]
    try:
        texpected = tfn(*tin)
    except (RuntimeError, TypeError):
        # Ember may raise Python's own exception types where Torch raises RuntimeError.
        with pytest.raises((RuntimeError, TypeError, ValueError, ZeroDivisionError)):
            efn(*ein)
        return
    eout = efn(*ein)
    # Results are only as precise as the least precise input (mixed dtypes promote late).
    rdtype = str(texpected.dtype).split(".")[-1]
    tol = tol or max((TOL[d] for d in [*dtypes, rdtype] if d in FLOATS), default=TOL["int64"])
    assert_same(eout, texpected, tol=tol)
    if not grad or not texpected.requires_grad:
        return
    assert eout.requires_grad
    g = data(tuple(texpected.shape), rdtype, seed=seed)
    eg, tg = pair(g, rdtype)
    try:
        texpected.backward(tg)
    except RuntimeError as e:  # Torch has no derivative (floor_divide, remainder's divisor)
        assert "not implemented" in str(e)
        return
    eout.backward(eg)
    for e, t, d in zip(es, ts, dtypes):
        if t.grad is None:
            assert e.grad is None or not np.any(as_np(e.grad))
        else:
            rtol, atol = tol
            assert_same(e.grad, t.grad, tol=(rtol * 4, atol * 4 + (0.05 if d == "bfloat16" else 0)))
