"""The vectorized conv2d kernel (`kernels/conv.py`) against torch: strides, paddings,
dilations, groups (depthwise too), both schedules, and the convolutions conv_vjp builds for the
input and weight gradients; every case checks that the kernel, not the reference loops, ran."""

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember.codegen.llvm import kernels
from ember.frontend.autograd.conv_vjp import conv2d_input_grad, conv2d_weight_grad

RNG = np.random.default_rng(0)


@pytest.fixture
def kernel_calls(monkeypatch):
    """The number of conv2d nests the kernel replaced, counted while a test compiles."""
    calls = []

    def counting(*args):
        replaced = emit(*args)
        calls.append(replaced)
        return replaced

    emit = kernels.KERNELS["conv2d"]
    monkeypatch.setitem(kernels.KERNELS, "conv2d", counting)
    return calls


def _array(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _reference(x, w, **attrs):
    return torch.nn.functional.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                                      **attrs).numpy()


# (x shape, w shape, stride, padding, dilation, groups); the last ones pick the kernel-width
# schedule (a wide kernel, a narrow output).
CASES = [
    ((2, 3, 9, 11), (4, 3, 3, 3), (1, 1), (0, 0), (1, 1), 1),
    ((2, 3, 9, 11), (8, 3, 3, 3), (2, 1), (1, 2), (1, 1), 1),
    ((1, 4, 13, 21), (6, 2, 3, 2), (1, 3), (2, 1), (2, 1), 2),
    ((3, 6, 10, 35), (6, 1, 3, 3), (1, 1), (1, 1), (1, 1), 6),  # depthwise
    ((2, 2, 7, 7), (3, 2, 1, 1), (2, 2), (0, 0), (1, 1), 1),
    ((2, 3, 26, 26), (8, 3, 3, 3), (1, 1), (0, 0), (1, 1), 1),  # the CNN's rows of 24
    ((2, 4, 24, 24), (8, 4, 3, 3), (1, 1), (2, 2), (1, 1), 1),  # and of 26
    ((2, 3, 20, 22), (5, 3, 18, 19), (1, 1), (1, 0), (1, 1), 1),
    ((1, 4, 20, 40), (4, 2, 5, 17), (1, 2), (3, 2), (2, 2), 2),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CASES)
def test_conv2d_matches_torch(kernel_calls, x_shape, w_shape, stride, padding, dilation,
                              groups):
    x, w = _array(*x_shape), _array(*w_shape)
    attrs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    fn = ember.jit(lambda a, b: F.conv2d(a, b, **attrs), backend="llvm")
    fn(ember.tensor(x), ember.tensor(w))  # traces: eager code computes this call
    got = fn(ember.tensor(x), ember.tensor(w)).numpy()
    np.testing.assert_allclose(got, _reference(x, w, **attrs), rtol=1e-4, atol=1e-4)
    assert kernel_calls == [True]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", [
    ((4, 6, 12, 12), (8, 3, 3, 3), (1, 1), (1, 1), (1, 1), 2),
    ((3, 4, 13, 11), (4, 4, 3, 3), (2, 2), (1, 0), (1, 2), 1),
    ((2, 4, 9, 9), (4, 1, 3, 3), (2, 1), (1, 1), (1, 1), 4),  # depthwise
])
def test_backward_convolutions(kernel_calls, x_shape, w_shape, stride, padding, dilation,
                               groups):
    """The input- and weight-gradient convolutions of conv_vjp (batch and channels swapped,
    dilation = the forward's stride), compiled, against torch's gradients."""
    x, w = _array(*x_shape), _array(*w_shape)
    attrs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    xt, wt = (torch.from_numpy(a).double().requires_grad_() for a in (x, w))
    y = torch.nn.functional.conv2d(xt, wt, **attrs)
    g = RNG.standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(torch.from_numpy(g).double())

    def grads(g, x, w):
        return (conv2d_input_grad(g, x, w, attrs), conv2d_weight_grad(g, x, w, attrs))

    compiled = ember.jit(grads, backend="llvm")
    compiled(*(ember.tensor(a) for a in (g, x, w)))  # traces: eager code computes this call
    gx, gw = compiled(*(ember.tensor(a) for a in (g, x, w)))
    np.testing.assert_allclose(gx.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gw.numpy(), wt.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert kernel_calls == [True, True]
