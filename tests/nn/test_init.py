"""ember.nn.init: statistics of every initialiser, gains, fans, and in-place semantics."""

import math
import warnings

import numpy as np
import pytest
import torch

import ember
from ember.nn import init

SHAPE = (400, 250)  # fan_in 250, fan_out 400: 100k samples


def values(t):
    return t.detach().numpy().astype(np.float64)


def param(*shape, dtype=None):
    return ember.nn.Parameter(ember.empty(*shape, dtype=dtype or ember.float32))


def assert_uniform(t, low, high):
    v = values(t)
    assert v.min() >= low and v.max() <= high
    # the sample spans the interval and has the uniform's mean and std
    assert v.min() < low + 0.01 * (high - low) and v.max() > high - 0.01 * (high - low)
    assert abs(v.mean() - (low + high) / 2) < 0.01 * (high - low)
    assert v.std() == pytest.approx((high - low) / math.sqrt(12), rel=0.02)


def assert_normal(t, mean, std):
    v = values(t)
    assert abs(v.mean() - mean) < 0.02 * std + 1e-12
    assert v.std() == pytest.approx(std, rel=0.02)


@pytest.mark.parametrize("name,param_value", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
    ("leaky_relu", 0.2), ("leaky_relu", 0), ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_matches_torch(name, param_value):
    assert init.calculate_gain(name, param_value) == pytest.approx(
        torch.nn.init.calculate_gain(name, param_value), rel=1e-15)


def test_calculate_gain_bad_arguments():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'softmax'"):
        init.calculate_gain("softmax")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(5, 3), (6, 4, 3, 2), (2, 7, 5)])
def test_fans_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(ember.empty(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(ember.empty(5))


def test_uniform_and_normal():
    assert_uniform(init.uniform_(param(*SHAPE), -0.3, 0.7), -0.3, 0.7)
    assert_uniform(init.uniform_(param(*SHAPE)), 0.0, 1.0)
    assert_normal(init.normal_(param(*SHAPE), 1.5, 0.25), 1.5, 0.25)
    assert_normal(init.normal_(param(*SHAPE, dtype=ember.float64)), 0.0, 1.0)


def test_constant_zeros_ones_eye():
    t = param(3, 4)
    assert init.constant_(t, 0.25) is t
    np.testing.assert_array_equal(values(t), np.full((3, 4), 0.25))
    np.testing.assert_array_equal(values(init.zeros_(t)), np.zeros((3, 4)))
    np.testing.assert_array_equal(values(init.ones_(t)), np.ones((3, 4)))
    np.testing.assert_array_equal(values(init.eye_(t)), np.eye(3, 4))
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(param(2, 2, 2))


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier(gain):
    fan_in, fan_out = SHAPE[1], SHAPE[0]
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    assert_uniform(init.xavier_uniform_(param(*SHAPE), gain=gain), -bound, bound)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    assert_normal(init.xavier_normal_(param(*SHAPE), gain=gain), 0.0, std)


@pytest.mark.parametrize("a,mode,nonlinearity", [
    (0.0, "fan_in", "leaky_relu"), (math.sqrt(5), "fan_in", "leaky_relu"),
    (0.0, "fan_out", "relu"), (0.1, "FAN_OUT", "leaky_relu"), (0.0, "fan_in", "tanh")])
def test_kaiming(a, mode, nonlinearity):
    fan = SHAPE[1] if mode.lower() == "fan_in" else SHAPE[0]
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    assert_uniform(init.kaiming_uniform_(param(*SHAPE), a, mode, nonlinearity), -bound, bound)
    assert_normal(init.kaiming_normal_(param(*SHAPE), a, mode, nonlinearity), 0.0, std)


def test_kaiming_conv_weight_uses_receptive_field_and_bad_mode_raises():
    w = param(64, 16, 5, 5)
    bound = 1.0 / math.sqrt(16 * 25)
    assert_uniform(init.kaiming_uniform_(w, a=math.sqrt(5)), -bound, bound)
    with pytest.raises(ValueError, match="fan_avg"):
        init.kaiming_uniform_(w, mode="fan_avg")


def test_zero_element_tensors_are_left_alone_like_torch():
    for fn in (init.kaiming_uniform_, init.kaiming_normal_):
        with pytest.warns(UserWarning, match="zero-element"):
            assert tuple(fn(ember.empty(0, 3)).shape) == (0, 3)
    assert tuple(init.orthogonal_(ember.empty(0, 3)).shape) == (0, 3)


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.5, 0.2, 0.3, 1.0),
                                          (0.0, 0.02, -0.04, 0.04)])
def test_trunc_normal_matches_torch_statistics(mean, std, a, b):
    e = values(init.trunc_normal_(param(*SHAPE, dtype=ember.float64), mean, std, a, b))
    t = torch.nn.init.trunc_normal_(torch.empty(*SHAPE, dtype=torch.float64), mean, std, a,
                                    b).numpy()
    assert e.min() >= a and e.max() <= b
    assert e.mean() == pytest.approx(t.mean(), abs=0.01 * std)
    assert e.std() == pytest.approx(t.std(), rel=0.02)
    assert np.quantile(e, 0.1) == pytest.approx(np.quantile(t, 0.1), abs=0.02 * std)


def test_trunc_normal_warns_when_mean_is_far_from_the_interval():
    with pytest.warns(UserWarning, match="more than 2 std"):
        init.trunc_normal_(param(10), mean=5.0, std=1.0, a=-1.0, b=1.0)


@pytest.mark.parametrize("shape", [(6, 6), (4, 9), (9, 4), (5, 2, 3)])
@pytest.mark.parametrize("gain", [1.0, 1.5])
def test_orthogonal(shape, gain):
    w = values(init.orthogonal_(param(*shape, dtype=ember.float64), gain)).reshape(shape[0], -1)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(rows, cols)), atol=1e-10)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(param(5))


ALL_INITS = [
    lambda t: init.uniform_(t), lambda t: init.normal_(t), lambda t: init.constant_(t, 0.3),
    init.zeros_, init.ones_, init.eye_, init.xavier_uniform_, init.xavier_normal_,
    init.kaiming_uniform_, init.kaiming_normal_, init.trunc_normal_, init.orthogonal_,
]


@pytest.mark.parametrize("fn", ALL_INITS)
def test_fills_in_place_without_recording_gradients(fn):
    p = param(5, 4)
    storage, before = p._storage, values(p)
    out = fn(p)
    assert out is p and p._storage is storage
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    assert not np.array_equal(values(p), before) or fn is init.zeros_
    (p * 2.0).sum().backward()  # still a usable leaf
    np.testing.assert_array_equal(values(p.grad), np.full((5, 4), 2.0))


def test_generator_makes_initialisation_reproducible():
    a, b = param(20, 10), param(20, 10)
    init.kaiming_uniform_(a, generator=ember.Generator().manual_seed(3))
    init.kaiming_uniform_(b, generator=ember.Generator().manual_seed(3))
    np.testing.assert_array_equal(values(a), values(b))


@pytest.mark.parametrize("in_features,out_features", [(256, 300), (1000, 64)])
def test_linear_default_init_uses_torch_bounds(in_features, out_features):
    layer = ember.nn.Linear(in_features, out_features)
    bound = 1.0 / math.sqrt(in_features)
    w, b = values(layer.weight), values(layer.bias)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    assert np.abs(b).max() <= bound
    tw = torch.nn.Linear(in_features, out_features).weight.detach().numpy()
    assert w.std() == pytest.approx(tw.std(), rel=0.05)


def test_empty_linear_warns_like_torch():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer = ember.nn.Linear(0, 3)
    assert tuple(layer.weight.shape) == (3, 0)
    assert any("zero-element" in str(w.message) for w in caught)
