"""Tensor.to's overloads and Module.to on the CPU: dtypes, devices, other tensors, copies."""

import numpy as np
import pytest

import ember


def test_to_dtype_overloads():
    x = ember.tensor([1.5, -2.5])
    assert x.to(ember.float64).dtype is ember.float64
    assert x.to(dtype=ember.int64).tolist() == [1, -2]
    assert x.to("cpu", ember.float16).dtype is ember.float16
    assert x.to(device="cpu", dtype=ember.float64).dtype is ember.float64
    assert x.to(ember.zeros(1, dtype=ember.int32)).dtype is ember.int32


def test_to_returns_self_unless_something_changes_or_copy():
    x = ember.ones(3)
    assert x.to(ember.float32) is x and x.to("cpu") is x
    y = x.to(ember.float32, copy=True)
    assert y is not x and y.tolist() == x.tolist()
    y.add_(1)
    assert x.tolist() == [1.0, 1.0, 1.0]


def test_to_rejects_other_arguments():
    with pytest.raises(TypeError, match="expected a dtype, a device or a tensor"):
        ember.ones(2).to([1])


def test_to_is_differentiable_across_dtypes():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    x.to(ember.float64).sum().backward()
    assert x.grad.dtype is ember.float32 and x.grad.tolist() == [1.0, 1.0]


def test_like_and_new_constructors_keep_the_device():
    x = ember.ones(2, dtype=ember.float64)
    for t in (ember.zeros_like(x), ember.ones_like(x), ember.full_like(x, 3), x.new_zeros(4),
              x.new_ones(1), x.new_full((2,), 5.0), x.new_tensor([1, 2]), ember.rand_like(x)):
        assert t.device == x.device


def test_module_to_cpu_and_dtypes():
    model = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.BatchNorm1d(4))
    weight = model[0].weight
    assert model.to("cpu") is model and model.cpu() is model
    model.to(ember.float64)
    assert model[0].weight is weight and weight.dtype is ember.float64
    assert model[1].running_mean.dtype is ember.float64
    assert model[1].num_batches_tracked.dtype is ember.int64  # integers keep their dtype
    model.to(device="cpu", dtype=ember.float32)
    assert weight.dtype is ember.float32 and weight.device == "cpu"
    model.to(ember.zeros(1, dtype=ember.float64))
    assert weight.dtype is ember.float64
    model.float()
    out = model(ember.randn(5, 3))
    assert out.dtype is ember.float32 and out.shape == (5, 4)
    np.testing.assert_array_equal(weight.requires_grad, True)


def test_module_to_rejects_integer_dtypes():
    with pytest.raises(TypeError, match="only floating point dtypes"):
        ember.nn.Linear(2, 2).to(ember.int64)
