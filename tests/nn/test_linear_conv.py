"""Linear, Bilinear and convolution layers and functions against PyTorch: values, gradients
(input and parameters), state_dict keys, repr, default initialisation and errors."""

import math

import numpy as np
import pytest
import torch

import ember
from layer_compare import FLOATS, close, inputs, pair, run_both, uniform

EF, TF = ember.nn.functional, torch.nn.functional


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_and_bilinear_match_torch(dtype, bias):
    tmod, emod = pair(torch.nn.Linear(5, 3, bias=bias), ember.nn.Linear(5, 3, bias=bias), dtype)
    run_both(emod, tmod, [uniform((2, 4, 5))], dtype)
    tmod, emod = pair(torch.nn.Bilinear(3, 4, 5, bias=bias),
                      ember.nn.Bilinear(3, 4, 5, bias=bias), dtype)
    run_both(emod, tmod, [uniform((2, 6, 3)), uniform((2, 6, 4), seed=1)], dtype)


CONV2D_GRID = [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=1),
    dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2), groups=2),
    dict(stride=3, padding=2, dilation=2, groups=4),
    dict(stride=1, padding="same", dilation=1, groups=1),
    dict(stride=1, padding="same", dilation=(2, 3), groups=2),
    dict(stride=1, padding="valid", dilation=1, groups=1),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kw", CONV2D_GRID, ids=str)
@pytest.mark.parametrize("kernel", [3, (2, 3)], ids=str)
def test_conv2d_layer_matches_torch(kw, kernel, dtype):
    tmod, emod = pair(torch.nn.Conv2d(4, 8, kernel, **kw), ember.nn.Conv2d(4, 8, kernel, **kw),
                      dtype)
    run_both(emod, tmod, [uniform((2, 4, 9, 8))], dtype)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), "same"], ids=str)
def test_conv2d_padding_modes_match_torch(mode, padding):
    kw = dict(padding=padding, padding_mode=mode, bias=False)
    tmod, emod = pair(torch.nn.Conv2d(3, 4, (3, 4), **kw), ember.nn.Conv2d(3, 4, (3, 4), **kw),
                      "float64")
    run_both(emod, tmod, [uniform((2, 3, 6, 7))], "float64")


CONV1D_GRID = [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=2, dilation=3, groups=2),
    dict(stride=1, padding="same", dilation=2, groups=1),
    dict(stride=1, padding=1, dilation=1, groups=1, padding_mode="reflect"),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kw", CONV1D_GRID, ids=str)
def test_conv1d_layer_matches_torch(kw, dtype):
    tmod, emod = pair(torch.nn.Conv1d(4, 6, 4, **kw), ember.nn.Conv1d(4, 6, 4, **kw), dtype)
    run_both(emod, tmod, [uniform((3, 4, 11))], dtype)
    # Unbatched (C, L) input.
    tmod.zero_grad()
    emod.zero_grad()
    run_both(emod, tmod, [uniform((4, 11), seed=2)], dtype)


CONVT_GRID = [
    dict(stride=1, padding=0, output_padding=0, groups=1, dilation=1),
    dict(stride=2, padding=1, output_padding=1, groups=1, dilation=1),
    dict(stride=(3, 2), padding=(2, 0), output_padding=(2, 1), groups=2, dilation=1),
    dict(stride=2, padding=3, output_padding=1, groups=2, dilation=2),
    dict(stride=1, padding=1, output_padding=1, groups=1, dilation=2),
    dict(stride=2, padding=(4, 1), output_padding=0, groups=4, dilation=(1, 3)),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kw", CONVT_GRID, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose2d_layer_matches_torch(kw, bias, dtype):
    tmod, emod = pair(torch.nn.ConvTranspose2d(4, 8, (3, 4), bias=bias, **kw),
                      ember.nn.ConvTranspose2d(4, 8, (3, 4), bias=bias, **kw), dtype)
    run_both(emod, tmod, [uniform((2, 4, 5, 6))], dtype)


def test_conv_transpose2d_output_size_and_unbatched():
    kw = dict(stride=3, padding=1)
    tmod, emod = pair(torch.nn.ConvTranspose2d(2, 3, 3, **kw),
                      ember.nn.ConvTranspose2d(2, 3, 3, **kw), "float64")
    x = uniform((1, 2, 4, 4))
    for size in [(10, 10), (11, 12), (1, 3, 12, 10)]:
        e, t = inputs(x, "float64")
        close(emod(e, output_size=size), tmod(t, output_size=size), "float64")
    with pytest.raises(ValueError, match="output size"):
        emod(inputs(x, "float64")[0], output_size=(13, 10))
    e, t = inputs(x[0], "float64")
    close(emod(e), tmod(t), "float64")


def test_conv_functions_match_torch():
    x, w, b = uniform((2, 4, 7, 6)), uniform((4, 3, 3, 2), seed=1), uniform((6,), seed=2)
    for dtype in FLOATS:
        (ex, tx), (ew, tw), (eb, tb) = [inputs(a, dtype) for a in (x, w, b)]
        eout = EF.conv_transpose2d(ex, ew, eb, stride=2, padding=1, output_padding=1, groups=2)
        tout = TF.conv_transpose2d(tx, tw, tb, stride=2, padding=1, output_padding=1, groups=2)
        close(eout, tout, dtype)
        eout.sum().backward()
        tout.sum().backward()
        for e, t in [(ex, tx), (ew, tw), (eb, tb)]:
            close(e.grad, t.grad, dtype)
    (ex, tx), (ew, tw) = [inputs(a, "float64") for a in (uniform((2, 4, 9)), uniform((4, 2, 3)))]
    close(EF.conv1d(ex, ew, stride=2, padding=1, groups=2),
          TF.conv1d(tx, tw, stride=2, padding=1, groups=2), "float64")
    (ex, tx), (ew, tw) = inputs(x, "float64"), inputs(uniform((5, 4, 4, 3)), "float64")
    close(EF.conv2d(ex, ew, padding="same", dilation=2),
          TF.conv2d(tx, tw, padding="same", dilation=2), "float64")
    (ex, tx), (ew, tw), (eb, tb) = [inputs(a, "float64") for a in
                                    (uniform((7, 3)), uniform((7, 4)), uniform((5, 3, 4)))]
    close(EF.bilinear(ex, ew, eb), TF.bilinear(tx, tw, tb), "float64")


LAYERS = [
    (lambda nn: nn.Linear(7, 3), "Linear(in_features=7, out_features=3, bias=True)"),
    (lambda nn: nn.Bilinear(2, 3, 4, bias=False), None),
    (lambda nn: nn.Conv1d(2, 4, 3, stride=2, padding=1, bias=False, padding_mode="reflect"), None),
    (lambda nn: nn.Conv2d(3, 4, 3, padding="same"), None),
    (lambda nn: nn.Conv2d(4, 8, (3, 5), stride=(2, 1), padding=(1, 2), dilation=2, groups=2),
     None),
    (lambda nn: nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1, groups=2), None),
    (lambda nn: nn.ConvTranspose2d(4, 6, 3, bias=False, dilation=2, padding=1), None),
]


@pytest.mark.parametrize("make,expected", LAYERS)
def test_repr_and_state_dict_match_torch(make, expected):
    emod, tmod = make(ember.nn), make(torch.nn)
    assert repr(emod) == repr(tmod)
    if expected is not None:
        assert repr(emod) == expected
    assert list(emod.state_dict()) == list(tmod.state_dict())
    for k, v in tmod.state_dict().items():
        assert tuple(emod.state_dict()[k].shape) == tuple(v.shape), k


INIT = [
    (lambda nn: nn.Linear(40, 30), 40),
    (lambda nn: nn.Conv2d(8, 16, 3, groups=2), 4 * 9),
    (lambda nn: nn.Conv1d(6, 12, 5), 6 * 5),
    # Transposed weights are (C_in, C_out/groups, k, k): torch's fan_in is C_out/groups * k * k.
    (lambda nn: nn.ConvTranspose2d(8, 12, 3, groups=2), 6 * 9),
    (lambda nn: nn.Bilinear(20, 30, 8), 20),
]


@pytest.mark.parametrize("make,fan_in", INIT)
def test_default_init_has_torch_bounds(make, fan_in):
    ember.manual_seed(0)
    emod = make(ember.nn)
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) and the bias share this bound
    for name, p in emod.named_parameters():
        v = p.detach().numpy()
        assert np.abs(v).max() <= bound + 1e-7, name
        if v.size >= 500:
            assert np.abs(v).max() > 0.95 * bound, name
            assert abs(v.mean()) < 0.1 * bound, name
            assert abs(v.std() - bound / math.sqrt(3)) < 0.1 * bound, name


def test_conv_errors_match_torch():
    for kw, message in [(dict(stride=2, padding="same"), "strided"),
                        (dict(padding="foo"), "Invalid padding string"),
                        (dict(groups=2), "in_channels must be divisible by groups"),
                        (dict(padding_mode="x"), "padding_mode must be one of")]:
        with pytest.raises(ValueError, match=message):
            ember.nn.Conv2d(3, 4, 3, **kw)
        with pytest.raises(ValueError, match=message):
            torch.nn.Conv2d(3, 4, 3, **kw)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        ember.nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        ember.nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect")
    x, w = ember.randn(1, 4, 5, 5), ember.randn(4, 2, 3, 3)
    with pytest.raises(RuntimeError, match="output padding must be smaller"):
        EF.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(RuntimeError, match="not supported for strided"):
        EF.conv2d(ember.randn(1, 3, 5, 5), ember.randn(4, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ember.ShapeError, match=r"conv1d.*\(1, 3, 5\).*\(4, 3, 3, 3\)"):
        EF.conv1d(ember.randn(1, 3, 5), ember.randn(4, 3, 3, 3))
    with pytest.raises(ember.ShapeError, match="conv_transpose2d"):
        EF.conv_transpose2d(ember.randn(1, 3, 5, 5), w)
    with pytest.raises(ember.ShapeError, match="bilinear"):
        EF.bilinear(ember.randn(2, 3), ember.randn(2, 4), ember.randn(5, 3, 3))
    with pytest.raises(ember.ShapeError, match="conv2d"):
        ember.nn.Conv2d(3, 4, 3)(ember.randn(1, 2, 5, 5))
