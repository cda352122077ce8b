"""ember.nn.utils: gradient clipping and parameter/vector conversion against PyTorch."""

import math

import numpy as np
import pytest
import torch

import ember
from ember.nn.utils import (clip_grad_norm_, clip_grad_value_, parameters_to_vector,
                            vector_to_parameters)

SHAPES = [(3, 4), (5,), (2, 3, 2)]


def make_params(scale=1.0, dtype="float32", seed=0, skip_grad=()):
    """Equal Ember and Torch parameter lists with gradients set (except at `skip_grad`)."""
    rng = np.random.default_rng(seed)
    eps, tps = [], []
    for i, shape in enumerate(SHAPES):
        value, grad = rng.normal(size=shape), rng.normal(size=shape) * scale
        e = ember.nn.Parameter(ember.tensor(value, dtype=getattr(ember, dtype)))
        t = torch.nn.Parameter(torch.tensor(value, dtype=getattr(torch, dtype)))
        if i not in skip_grad:
            e.grad = ember.tensor(grad, dtype=getattr(ember, dtype))
            t.grad = torch.tensor(grad, dtype=getattr(torch, dtype))
        eps.append(e)
        tps.append(t)
    return eps, tps


def assert_grads_equal(eps, tps, rtol=1e-6):
    for e, t in zip(eps, tps):
        if t.grad is None:
            assert e.grad is None
        else:
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, 0.5, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(max_norm, norm_type, dtype):
    norm_type = float(norm_type)
    eps, tps = make_params(dtype=dtype, skip_grad=(1,))
    enorm = clip_grad_norm_(eps, max_norm, norm_type)
    tnorm = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type)
    assert enorm.dtype.name == str(tnorm.dtype).split(".")[-1] and enorm.ndim == 0
    assert float(enorm) == pytest.approx(float(tnorm), rel=1e-6)
    assert_grads_equal(eps, tps)


def test_clip_grad_norm_single_tensor_generator_and_no_grads():
    eps, tps = make_params(seed=1)
    enorm = clip_grad_norm_(eps[0], 0.1)
    tnorm = torch.nn.utils.clip_grad_norm_(tps[0], 0.1)
    assert float(enorm) == pytest.approx(float(tnorm), rel=1e-6)
    assert_grads_equal(eps, tps)
    eps, tps = make_params(seed=2)
    clip_grad_norm_((p for p in eps), 1.0, norm_type=1)
    torch.nn.utils.clip_grad_norm_((p for p in tps), 1.0, norm_type=1)
    assert_grads_equal(eps, tps)
    eps, _ = make_params(skip_grad=(0, 1, 2))
    assert float(clip_grad_norm_(eps, 1.0)) == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((p for p in []), 1.0)


def test_clip_grad_norm_nonfinite():
    eps, tps = make_params()
    eps[0].grad[0, 0] = float("inf")
    tps[0].grad[0, 0] = float("inf")
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(eps, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(eps[1].grad.numpy(), tps[1].grad.numpy())  # untouched
    enorm = clip_grad_norm_(eps, 1.0)
    tnorm = torch.nn.utils.clip_grad_norm_(tps, 1.0)
    assert math.isinf(float(enorm)) and math.isinf(float(tnorm))
    assert_grads_equal(eps, tps)


def test_clip_grad_norm_does_not_record_gradients():
    model = ember.nn.Linear(4, 3)
    model(ember.randn(5, 4)).sum().backward()
    norm = clip_grad_norm_(model.parameters(), 0.01)
    assert not norm.requires_grad
    assert all(not p.grad.requires_grad for p in model.parameters())
    total = math.sqrt(sum(float((p.grad * p.grad).sum()) for p in model.parameters()))
    assert total == pytest.approx(0.01, rel=1e-3)


@pytest.mark.parametrize("clip_value", [0.3, 2])
def test_clip_grad_value_matches_torch(clip_value):
    eps, tps = make_params(seed=3, skip_grad=(2,))
    assert clip_grad_value_(eps, clip_value) is None
    torch.nn.utils.clip_grad_value_(tps, clip_value)
    assert_grads_equal(eps, tps)
    eps, tps = make_params(seed=4)
    clip_grad_value_(eps[1], clip_value)
    torch.nn.utils.clip_grad_value_(tps[1], clip_value)
    assert_grads_equal(eps, tps)


def test_parameters_to_vector_and_back():
    eps, tps = make_params(seed=5)
    evec, tvec = parameters_to_vector(eps), torch.nn.utils.parameters_to_vector(tps)
    np.testing.assert_array_equal(evec.detach().numpy(), tvec.detach().numpy())
    new = np.arange(evec.numel(), dtype=np.float32)
    vector_to_parameters(ember.tensor(new), eps)
    torch.nn.utils.vector_to_parameters(torch.tensor(new), tps)
    for e, t in zip(eps, tps):
        assert isinstance(e, ember.nn.Parameter) and e.requires_grad
        np.testing.assert_array_equal(e.detach().numpy(), t.detach().numpy())


def test_parameters_to_vector_is_differentiable():
    eps, _ = make_params(seed=6)
    for p in eps:
        p.grad = None
    (parameters_to_vector(eps) * 3.0).sum().backward()
    for p in eps:
        np.testing.assert_array_equal(p.grad.numpy(), np.full(tuple(p.shape), 3.0))


def test_vector_to_parameters_bad_input():
    eps, _ = make_params()
    with pytest.raises(TypeError, match="expected ember.Tensor, but got: list"):
        vector_to_parameters([1.0, 2.0], eps)
    with pytest.raises(RuntimeError, match="need 29 elements.*\\[10\\]"):
        vector_to_parameters(ember.zeros(10), eps)
