"""Activation functions, softmax, normalize and activation modules against PyTorch."""

import warnings

import numpy as np
import pytest
import torch

import ember
from nn_torch_helpers import FLOATS, assert_close, check, uniform

EF, TF = ember.nn.functional, torch.nn.functional

ACTIVATIONS = [
    ("relu", {}), ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {}), ("elu", {"alpha": 0.5}), ("gelu", {}), ("gelu", {"approximate": "tanh"}),
    ("silu", {}), ("sigmoid", {}), ("tanh", {}), ("softplus", {}),
    ("softplus", {"beta": 2.0, "threshold": 3.0}), ("hardtanh", {}),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.0}), ("relu6", {}),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name,kwargs", ACTIVATIONS, ids=lambda v: str(v))
def test_activation_matches_torch(name, kwargs, dtype):
    x = uniform((4, 5), -8.0, 8.0)
    check(lambda t: getattr(EF, name)(t, **kwargs), lambda t: getattr(TF, name)(t, **kwargs),
          [x], dtype)


def test_softplus_large_inputs_keep_finite_gradients():
    x = np.array([-100.0, -30.0, 0.0, 25.0, 100.0, 500.0])
    for beta in (1.0, 0.5, 3.0):
        check(lambda t: EF.softplus(t, beta=beta), lambda t: TF.softplus(t, beta=beta), [x],
              "float32")


def test_elu_large_inputs_keep_finite_gradients():
    check(EF.elu, TF.elu, [np.array([-50.0, 0.5, 100.0, 1000.0])], "float32")


def test_hardtanh_and_relu6_gradients_at_the_bounds_are_zero():
    x = np.array([-1.0, 1.0, 0.0, 6.0, -0.5, 7.0])
    check(EF.hardtanh, TF.hardtanh, [x], "float64")
    check(EF.relu6, TF.relu6, [x], "float64")


def test_leaky_relu_and_elu_gradients_at_zero():
    x = np.array([0.0, -1.0, 1.0])
    check(lambda t: EF.leaky_relu(t, 0.3), lambda t: TF.leaky_relu(t, 0.3), [x], "float64")
    check(lambda t: EF.elu(t, 0.7), lambda t: TF.elu(t, 0.7), [x], "float64")


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "silu", "hardtanh", "relu6"])
def test_inplace_forms_write_into_the_input(name):
    x = uniform((3, 4), seed=3)
    e, t = ember.tensor(x), torch.tensor(x)
    eout = getattr(EF, name)(e, inplace=True)
    getattr(TF, name)(t, inplace=True)
    assert eout is e
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-12)


def test_bad_arguments_raise_like_torch():
    x = ember.randn(3)
    with pytest.raises(RuntimeError, match="gelu.*none or tanh"):
        EF.gelu(x, approximate="exact")
    with pytest.raises(ValueError, match="hardtanh.*min_val"):
        EF.hardtanh(x, 1.0, -1.0)
    with pytest.raises(TypeError, match="softmax.*int64"):
        EF.softmax(ember.arange(3), 0)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax(dim, dtype):
    x = uniform((3, 4, 5), -10, 10)
    check(lambda t: EF.softmax(t, dim), lambda t: TF.softmax(t, dim), [x], dtype)
    check(lambda t: EF.log_softmax(t, dim), lambda t: TF.log_softmax(t, dim), [x], dtype)


def test_softmax_dtype_argument_and_implicit_dim():
    x = uniform((2, 3))
    check(lambda t: EF.softmax(t, 1, dtype=ember.float64),
          lambda t: TF.softmax(t, 1, dtype=torch.float64), [x], "float32")
    ints = np.arange(6).reshape(2, 3)
    assert_close(EF.log_softmax(ember.tensor(ints), 0, dtype=ember.float32),
                 TF.log_softmax(torch.tensor(ints), 0, dtype=torch.float32), "float32")
    for shape in [(5,), (2, 3), (2, 3, 4), (2, 3, 4, 5)]:
        x = uniform(shape)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = EF.softmax(ember.tensor(x, dtype=ember.float64))
        assert any("implicit dimension" in str(w.message) for w in caught)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = TF.softmax(torch.tensor(x))
        assert_close(out, expected, "float64")


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, 0), (3.0, -1), (float("inf"), 1)])
def test_normalize(p, dim, dtype):
    x = uniform((4, 5), seed=2)
    check(lambda t: EF.normalize(t, p, dim), lambda t: TF.normalize(t, p, dim), [x], dtype)


def test_normalize_zero_vector_has_zero_output_and_finite_gradient():
    x = np.zeros((2, 3))
    x[1] = [1.0, 2.0, 2.0]
    check(EF.normalize, TF.normalize, [x], "float64")
    check(lambda t: EF.normalize(t, eps=0.5), lambda t: TF.normalize(t, eps=0.5),
          [np.array([[0.1, 0.2], [3.0, 4.0]])], "float64")


MODULES = [
    ("ReLU", (), {}), ("ReLU", (True,), {}), ("LeakyReLU", (), {}),
    ("LeakyReLU", (0.2, True), {}), ("ELU", (), {}), ("ELU", (0.5,), {"inplace": True}),
    ("GELU", (), {}), ("GELU", ("tanh",), {}), ("SiLU", (), {}), ("SiLU", (True,), {}),
    ("Sigmoid", (), {}), ("Tanh", (), {}), ("Softplus", (), {}), ("Softplus", (2, 10), {}),
    ("Softmax", (1,), {}), ("Softmax", (), {"dim": -1}), ("LogSoftmax", (0,), {}),
    ("Hardtanh", (), {}), ("Hardtanh", (-2, 3.0), {"inplace": True}), ("ReLU6", (), {}),
    ("ReLU6", (True,), {}),
]


@pytest.mark.parametrize("name,args,kwargs", MODULES, ids=lambda v: str(v))
def test_module_matches_torch_forward_backward_and_repr(name, args, kwargs):
    emod = getattr(ember.nn, name)(*args, **kwargs)
    tmod = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(emod) == repr(tmod)
    x = uniform((3, 4), -8.0, 8.0, seed=5)
    if getattr(tmod, "inplace", False):
        # An in-place activation cannot overwrite a leaf: give it a computed input.
        check(lambda t: emod(t * 1.0), lambda t: tmod(t * 1.0), [x], "float64")
    else:
        check(emod, tmod, [x], "float32")


def test_hardtanh_module_arguments():
    with pytest.raises(AssertionError, match="max_val"):
        ember.nn.Hardtanh(1.0, 1.0)
    with pytest.warns(FutureWarning):
        m = ember.nn.Hardtanh(min_value=-2.0)
    assert m.min_val == -2.0 and repr(m) == "Hardtanh(min_val=-2.0, max_val=1.0)"
