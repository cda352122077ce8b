"""conv2d forward and gradients against PyTorch, finite differences, and bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ember
from ember.frontend.ops.linalg import conv2d

TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-10, atol=1e-10)}


def _run_both(x, w, b, **kw):
    """Forward and backward (with a random output gradient) in ember and in torch."""
    ex, ew = ember.tensor(x, requires_grad=True), ember.tensor(w, requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    eb = tb = None
    if b is not None:
        eb, tb = ember.tensor(b, requires_grad=True), torch.tensor(b, requires_grad=True)
    ey, ty = conv2d(ex, ew, eb, **kw), F.conv2d(tx, tw, tb, **kw)
    go = np.random.default_rng(1).standard_normal(tuple(ty.shape)).astype(x.dtype)
    ey.backward(ember.tensor(go))
    ty.backward(torch.tensor(go))
    pairs = [(ey.detach().numpy(), ty.detach().numpy()), (ex.grad.numpy(), tx.grad.numpy()),
             (ew.grad.numpy(), tw.grad.numpy())]
    if b is not None:
        pairs.append((eb.grad.numpy(), tb.grad.numpy()))
    return pairs


def _check(x, w, b, **kw):
    tol = TOL[x.dtype.type]
    for name, (got, want) in zip(["output", "grad x", "grad w", "grad b"], _run_both(x, w, b, **kw)):
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, err_msg=f"{name} {kw}", **tol)


def _data(n, c, h, wd, o, groups, kh, kw, dtype, bias, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, wd)).astype(dtype) if n else \
        rng.standard_normal((c, h, wd)).astype(dtype)
    w = rng.standard_normal((o, c // groups, kh, kw)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if bias else None
    return x, w, b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("padding", [0, 1, 2])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_grid_matches_torch(stride, padding, dilation, groups, dtype):
    # 9x10 input with a 3x2 kernel: for most strides the last rows/cols are never reached.
    bias = (stride + padding + dilation) % 2 == 0
    x, w, b = _data(2, 4, 9, 10, 6, groups, 3, 2, dtype, bias)
    _check(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stride,padding,dilation", [(1, 1, 1), (2, 0, 1), (2, 1, 2), (3, 2, 1)])
def test_depthwise(stride, padding, dilation, dtype):
    x, w, b = _data(2, 3, 8, 11, 6, 3, 3, 3, dtype, True)  # channel multiplier 2
    _check(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=3)


@pytest.mark.parametrize("kw", [
    dict(stride=(2, 3), padding=(1, 0), dilation=(1, 2)),
    dict(stride=(1, 2), padding=(0, 3), dilation=(3, 1), groups=2),
    dict(stride=3, padding=4),  # padding larger than the kernel reach
    dict(stride=(3, 1), padding=(2, 1), dilation=(2, 1)),
])
def test_asymmetric_attrs_and_kernels(kw):
    x, w, b = _data(3, 4, 10, 7, 4, kw.get("groups", 1), 2, 3, np.float64, False)
    _check(x, w, b, **kw)


def test_kernel_one_and_tiny_input():
    x, w, b = _data(1, 2, 1, 1, 3, 1, 1, 1, np.float64, True)
    _check(x, w, b, stride=2, padding=3)


@pytest.mark.parametrize("bias", [False, True])
def test_unbatched_input(bias):
    x, w, b = _data(0, 4, 7, 6, 4, 2, 3, 3, np.float32, bias)
    _check(x, w, b, stride=2, padding=1, groups=2)
    ey = conv2d(ember.tensor(x), ember.tensor(w), None if b is None else ember.tensor(b),
                stride=2, padding=1, groups=2)
    assert tuple(ey.shape) == (4, 4, 3)


@pytest.mark.parametrize("kw", [
    dict(),
    dict(stride=2, padding=1),
    dict(stride=(2, 1), dilation=(1, 2), padding=(0, 1), groups=2),
])
def test_gradcheck(kw):
    x, w, b = _data(1, 2, 5, 4, 2, kw.get("groups", 1), 2, 2, np.float64, True)
    inputs = [ember.tensor(a, requires_grad=True) for a in (x, w, b)]
    assert ember.autograd.gradcheck(lambda x, w, b: conv2d(x, w, b, **kw), inputs)


def test_double_backward_matches_torch():
    kw = dict(stride=2, padding=1, dilation=(1, 2), groups=2)
    x, w, _ = _data(2, 4, 7, 8, 4, 2, 3, 2, np.float64, False)
    grads = []
    for lib, conv in ((ember, conv2d), (torch, F.conv2d)):
        tx, tw = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = conv(tx, tw, None, **kw)
        gx, gw = lib.autograd.grad((y * y).sum(), [tx, tw], create_graph=True)
        second = lib.autograd.grad((gx * gx).sum() + (gw * gw * gw).sum(), [tx, tw])
        grads.append([t.detach().numpy() for t in (gx, gw, *second)])
    for got, want in zip(*grads):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("xs,ws,kw,dtypes", [
    ((1, 3, 5, 5), (2, 4, 3, 3), {}, ("float32", "float32")),           # channel mismatch
    ((1, 4, 5, 5), (3, 2, 3, 3), dict(groups=2), ("float32", "float32")),  # O % groups
    ((1, 3, 2, 2), (2, 3, 3, 3), {}, ("float32", "float32")),           # kernel too large
    ((4, 5), (2, 3, 3, 3), {}, ("float32", "float32")),                 # rank
    ((1, 3, 5, 5), (2, 3, 3), {}, ("float32", "float32")),              # weight rank
    ((1, 3, 5, 5), (2, 3, 3, 3), dict(stride=0), ("float32", "float32")),
    ((1, 3, 5, 5), (2, 3, 3, 3), {}, ("float32", "float64")),           # dtype mismatch
    ((1, 3, 5, 5), (2, 3, 3, 3), {}, ("int64", "int64")),               # not floating
])
def test_bad_input_raises(xs, ws, kw, dtypes):
    x = ember.tensor(np.zeros(xs, dtype=dtypes[0]))
    w = ember.tensor(np.zeros(ws, dtype=dtypes[1]))
    with pytest.raises((RuntimeError, ValueError, TypeError)) as info:
        conv2d(x, w, **kw)
    msg = str(info.value)
    assert "conv2d" in msg
    assert str(ws) in msg
    if len(xs) == 4:
        assert str(xs) in msg
    if dtypes[0] != dtypes[1]:
        assert dtypes[0] in msg and dtypes[1] in msg
