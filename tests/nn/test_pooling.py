"""Max, average and adaptive pooling (functions and layers) against PyTorch: values, gradients,
indices, repr and errors over a grid of kernels, strides, paddings, dilations and ceil_mode."""

import numpy as np
import pytest
import torch

import ember
from layer_compare import FLOATS, close, finite_difference_check, inputs, run_both, uniform

EF, TF = ember.nn.functional, torch.nn.functional

MAX_GRID = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0), dilation=(2, 1)),
    dict(kernel_size=3, stride=3, padding=1, dilation=2, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True),
    dict(kernel_size=4, stride=1, padding=2),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kw", MAX_GRID, ids=str)
def test_max_pool2d_matches_torch(kw, dtype):
    run_both(ember.nn.MaxPool2d(**kw), torch.nn.MaxPool2d(**kw), [uniform((2, 3, 9, 10))], dtype)
    (e, t) = inputs(uniform((3, 8, 7), seed=1), dtype)
    ev, ei = EF.max_pool2d(e, return_indices=True, **kw)
    tv, ti = TF.max_pool2d(t, return_indices=True, **kw)
    close(ev, tv, dtype)
    np.testing.assert_array_equal(ei.numpy(), ti.numpy())


def test_max_pool2d_gradient_goes_to_the_first_maximum_like_torch():
    x = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 2.0], [3.0, 1.0, 3.0]]]])
    run_both(ember.nn.MaxPool2d(2, 1), torch.nn.MaxPool2d(2, 1), [x], "float64")


def test_tiled_max_pool2d_ties_and_crop_like_torch():
    """Windows that tile the input (stride = kernel) are a view of it; ties still send the
    gradient to the first maximum, and rows and columns past the last window are cropped."""
    x = np.zeros((2, 3, 7, 9))
    x[..., 0:2, 2:4] = 5.0  # a window whose four taps tie
    x[0, 1, 4, 6] = x[0, 1, 5, 7] = 2.0
    run_both(ember.nn.MaxPool2d(2), torch.nn.MaxPool2d(2), [x], "float64")
    run_both(ember.nn.MaxPool2d((3, 2)), torch.nn.MaxPool2d((3, 2)), [x[0]], "float64")


AVG_GRID = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 4), stride=(3, 1), padding=(1, 2), ceil_mode=True),
    dict(kernel_size=(4, 3), stride=(3, 2), padding=(0, 1), ceil_mode=True,
         count_include_pad=False),
    dict(kernel_size=3, stride=1, padding=1, divisor_override=5),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kw", AVG_GRID, ids=str)
def test_avg_pool2d_matches_torch(kw, dtype):
    run_both(ember.nn.AvgPool2d(**kw), torch.nn.AvgPool2d(**kw), [uniform((2, 3, 9, 10))], dtype)
    e, t = inputs(uniform((3, 8, 7), seed=1), dtype)
    close(EF.avg_pool2d(e, **kw), TF.avg_pool2d(t, **kw), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("out", [1, 3, (4, 2), (5, None), (7, 9), (12, 11)], ids=str)
def test_adaptive_avg_pool2d_matches_torch(out, dtype):
    run_both(ember.nn.AdaptiveAvgPool2d(out), torch.nn.AdaptiveAvgPool2d(out),
             [uniform((2, 3, 8, 9))], dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_1d_pooling_matches_torch(dtype):
    x = uniform((2, 3, 11))
    for kw in [dict(kernel_size=3), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
               dict(kernel_size=2, stride=1, padding=1, dilation=3)]:
        run_both(ember.nn.MaxPool1d(**kw), torch.nn.MaxPool1d(**kw), [x], dtype)
        e, t = inputs(x, dtype)
        ev, ei = EF.max_pool1d(e, return_indices=True, **kw)
        tv, ti = TF.max_pool1d(t, return_indices=True, **kw)
        close(ev, tv, dtype)
        np.testing.assert_array_equal(ei.numpy(), ti.numpy())
    for kw in [dict(kernel_size=3), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True,
                                         count_include_pad=False)]:
        run_both(ember.nn.AvgPool1d(**kw), torch.nn.AvgPool1d(**kw), [x], dtype)
    for out in [4, 5, 11]:
        run_both(ember.nn.AdaptiveAvgPool1d(out), torch.nn.AdaptiveAvgPool1d(out), [x], dtype)


POOLS = [
    lambda nn: nn.MaxPool2d(2), lambda nn: nn.MaxPool2d((3, 2), stride=1, padding=1,
                                                        dilation=2, ceil_mode=True),
    lambda nn: nn.MaxPool1d(3), lambda nn: nn.AvgPool2d(3, 2, 1), lambda nn: nn.AvgPool1d(3),
    lambda nn: nn.AdaptiveAvgPool2d((3, None)), lambda nn: nn.AdaptiveAvgPool1d(2),
]


@pytest.mark.parametrize("make", POOLS)
def test_pool_repr_matches_torch(make):
    assert repr(make(ember.nn)) == repr(make(torch.nn))
    assert list(make(ember.nn).state_dict()) == []


def test_pooling_errors():
    x = ember.randn(1, 1, 5, 5)
    for fn in (EF.max_pool2d, EF.avg_pool2d):
        with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel"):
            fn(x, 2, padding=2)
    with pytest.raises(RuntimeError, match="output size .* is too small"):
        EF.max_pool2d(ember.randn(1, 1, 2, 2), 3)
    with pytest.raises(ember.ShapeError, match=r"max_pool2d.*\(5, 5\)"):
        EF.max_pool2d(ember.randn(5, 5), 2)
    with pytest.raises(ValueError, match="output_size"):
        EF.adaptive_avg_pool2d(x, (1, 2, 3))


FINITE_DIFFERENCES = [
    (lambda x: EF.max_pool2d(x, 3, 2, 1, ceil_mode=True), [(1, 2, 5, 4)]),
    (lambda x: EF.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
     [(1, 2, 5, 4)]),
    (lambda x: EF.adaptive_avg_pool2d(x, (3, 2)), [(1, 2, 5, 5)]),
    (lambda x, w: EF.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1, groups=2),
     [(1, 2, 3, 3), (2, 2, 3, 2)]),
    (lambda x: EF.interpolate(x, size=(5, 3), mode="bilinear"), [(1, 1, 3, 4)]),
    (lambda x, w: EF.group_norm(x, 2, w), [(2, 4, 3), (4,)]),
    (lambda x, w: EF.batch_norm(x, None, None, w, training=True), [(3, 2, 2), (2,)]),
    (lambda x: EF.pad(x, (2, 1, 1, 2), mode="reflect"), [(1, 2, 3, 3)]),
]


@pytest.mark.parametrize("fn,shapes", FINITE_DIFFERENCES)
def test_composites_match_finite_differences(fn, shapes):
    finite_difference_check(fn, [uniform(s, seed=i) for i, s in enumerate(shapes)])
