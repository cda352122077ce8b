"""Helpers for the layer tests: build an Ember layer with a Torch layer's weights, then compare
outputs, input gradients, parameter gradients and buffers."""

import numpy as np
import torch

import ember

FLOATS = ["float32", "float64"]
TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-9, atol=1e-10)}


def np_of(x):
    return x.detach().numpy()


def close(e, t, dtype, what=""):
    assert tuple(e.shape) == tuple(t.shape), (what, tuple(e.shape), tuple(t.shape))
    np.testing.assert_allclose(np_of(e), np_of(t), err_msg=what, equal_nan=True, **TOL[dtype])


def copy_into(emod, tmod):
    """Load tmod's state_dict into emod (the key sets must be equal)."""
    state = {k: ember.tensor(v.numpy()) for k, v in tmod.state_dict().items()}
    assert list(emod.state_dict()) == list(tmod.state_dict())
    emod.load_state_dict(state)


def pair(tmod, emod, dtype):
    """tmod and emod cast to `dtype`, emod holding tmod's weights."""
    tmod = tmod.to(getattr(torch, dtype))
    emod = emod.to(getattr(ember, dtype))
    copy_into(emod, tmod)
    return tmod, emod


def inputs(array, dtype, grad=True):
    array = np.asarray(array)
    if array.dtype.kind != "f":
        return ember.tensor(array), torch.tensor(array)
    e = ember.tensor(array, dtype=getattr(ember, dtype), requires_grad=grad)
    t = torch.tensor(array, dtype=getattr(torch, dtype), requires_grad=grad)
    return e, t


def run_both(emod, tmod, arrays, dtype, seed=0):
    """Forward and backward of both layers (or functions) on the same inputs; outputs, input
    gradients, parameter gradients and buffers are compared."""
    pairs = [inputs(a, dtype) for a in arrays]
    eout = emod(*[p[0] for p in pairs])
    tout = tmod(*[p[1] for p in pairs])
    close(eout, tout, dtype, "output")
    cot = np.random.default_rng(seed).uniform(0.5, 1.5, tuple(tout.shape))
    (eout * ember.tensor(cot, dtype=eout.dtype)).sum().backward()
    (tout * torch.tensor(cot, dtype=tout.dtype)).sum().backward()
    for i, (e, t) in enumerate(pairs):
        if t.requires_grad:
            close(e.grad, t.grad, dtype, f"grad of input {i}")
    if not isinstance(tmod, torch.nn.Module):  # a plain function: no parameters or buffers
        return eout, tout
    tparams = dict(tmod.named_parameters())
    for name, p in emod.named_parameters():
        if tparams[name].grad is None:
            assert p.grad is None, name
        else:
            close(p.grad, tparams[name].grad, dtype, f"grad of {name}")
    tbuffers = dict(tmod.named_buffers())
    for name, b in emod.named_buffers():
        np.testing.assert_allclose(np_of(b), tbuffers[name].numpy(), err_msg=name, **TOL[dtype])
    return eout, tout


def uniform(shape, low=-2.0, high=2.0, seed=0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def finite_difference_check(fn, arrays, eps=1e-6, tol=1e-6):
    """Autograd gradients of sum(fn(*xs) * c) in float64 equal central differences."""
    xs = [ember.tensor(a, dtype=ember.float64, requires_grad=True) for a in arrays]
    out = fn(*xs)
    cot = np.random.default_rng(1).uniform(0.5, 1.5, tuple(out.shape))
    (out * ember.tensor(cot)).sum().backward()
    for i, a in enumerate(arrays):
        numeric = np.zeros_like(a)
        for j in np.ndindex(a.shape):
            values = []
            for step in (eps, -eps):
                shifted = [np.array(b, dtype=np.float64) for b in arrays]
                shifted[i][j] += step
                with ember.no_grad():
                    y = fn(*[ember.tensor(b, dtype=ember.float64) for b in shifted])
                values.append(float((y.numpy() * cot).sum()))
            numeric[j] = (values[0] - values[1]) / (2 * eps)
        np.testing.assert_allclose(xs[i].grad.numpy(), numeric, rtol=tol, atol=tol,
                                   err_msg=f"input {i}")
