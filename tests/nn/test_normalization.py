"""BatchNorm1d/2d, GroupNorm, LayerNorm and Dropout2d against PyTorch: values and gradients in
train and eval modes, running statistics after several steps, state_dict, repr and errors."""

import numpy as np
import pytest
import torch

import ember
from layer_compare import FLOATS, close, inputs, pair, run_both, uniform

EF, TF = ember.nn.functional, torch.nn.functional

BN_CONFIGS = [
    dict(),
    dict(momentum=None),
    dict(momentum=0.3, eps=1e-3),
    dict(affine=False),
    dict(bias=False),
    dict(track_running_stats=False),
    dict(momentum=None, affine=False, track_running_stats=False),
]


def _train_then_eval(make, shape, kw, dtype):
    tmod, emod = pair(make(torch.nn)(3, **kw), make(ember.nn)(3, **kw), dtype)
    for step in range(3):
        tmod.zero_grad()
        emod.zero_grad()
        # Buffers (running stats, num_batches_tracked) are compared inside run_both.
        run_both(emod, tmod, [uniform(shape, -1.0, 3.0, seed=step)], dtype, seed=step)
    tmod.eval()
    emod.eval()
    tmod.zero_grad()
    emod.zero_grad()
    run_both(emod, tmod, [uniform(shape, seed=7)], dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kw", BN_CONFIGS, ids=str)
def test_batch_norm2d_matches_torch(kw, dtype):
    _train_then_eval(lambda nn: nn.BatchNorm2d, (4, 3, 5, 4), kw, dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 7)], ids=str)
@pytest.mark.parametrize("kw", BN_CONFIGS[:3], ids=str)
def test_batch_norm1d_matches_torch(kw, shape, dtype):
    _train_then_eval(lambda nn: nn.BatchNorm1d, shape, kw, dtype)


def test_batch_norm_num_batches_tracked_and_reset():
    emod = ember.nn.BatchNorm1d(2)
    for _ in range(4):
        emod(ember.randn(5, 2))
    assert emod.num_batches_tracked.dtype == ember.int64
    assert int(emod.num_batches_tracked.item()) == 4
    emod.eval()
    emod(ember.randn(5, 2))
    assert int(emod.num_batches_tracked.item()) == 4
    emod.reset_running_stats()
    assert int(emod.num_batches_tracked.item()) == 0
    np.testing.assert_array_equal(emod.running_var.numpy(), np.ones(2, np.float32))


def test_functional_batch_norm_matches_torch():
    x = uniform((5, 3, 4))
    w, b = uniform((3,), seed=1), uniform((3,), seed=2)
    for training in (True, False):
        (ex, tx), (ew, tw), (eb, tb) = [inputs(a, "float64") for a in (x, w, b)]
        erm, trm = inputs(uniform((3,), seed=3), "float64", grad=False)
        erv, trv = inputs(uniform((3,), 0.5, 2.0, seed=4), "float64", grad=False)
        eout = EF.batch_norm(ex, erm, erv, ew, eb, training, 0.2, 1e-4)
        tout = TF.batch_norm(tx, trm, trv, tw, tb, training, 0.2, 1e-4)
        close(eout, tout, "float64")
        (eout ** 2).sum().backward()
        (tout ** 2).sum().backward()
        for e, t in [(ex, tx), (ew, tw), (eb, tb), (erm, trm), (erv, trv)]:
            close(e.grad if e.requires_grad else e, t.grad if t.requires_grad else t, "float64")


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("groups,channels,kw,shape", [
    (2, 4, {}, (3, 4, 5, 5)), (1, 6, dict(eps=1e-3), (2, 6, 7)), (6, 6, {}, (2, 6, 3, 2)),
    (3, 6, dict(affine=False), (2, 6, 4)), (2, 4, dict(bias=False), (2, 4)),
], ids=str)
def test_group_norm_matches_torch(groups, channels, kw, shape, dtype):
    tmod, emod = pair(torch.nn.GroupNorm(groups, channels, **kw),
                      ember.nn.GroupNorm(groups, channels, **kw), dtype)
    run_both(emod, tmod, [uniform(shape, -1.0, 3.0)], dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kw", [{}, dict(bias=False), dict(elementwise_affine=False)], ids=str)
def test_layer_norm_matches_torch(kw, dtype):
    tmod, emod = pair(torch.nn.LayerNorm((4, 5), **kw), ember.nn.LayerNorm((4, 5), **kw), dtype)
    run_both(emod, tmod, [uniform((3, 4, 5))], dtype)


NORMS = [
    lambda nn: nn.BatchNorm1d(3), lambda nn: nn.BatchNorm2d(5, eps=1e-3, momentum=None),
    lambda nn: nn.BatchNorm2d(3, affine=False, track_running_stats=False),
    lambda nn: nn.BatchNorm1d(4, bias=False), lambda nn: nn.GroupNorm(2, 4),
    lambda nn: nn.GroupNorm(3, 3, affine=False), lambda nn: nn.LayerNorm(4),
    lambda nn: nn.LayerNorm((2, 3), bias=False), lambda nn: nn.Dropout2d(0.3),
]


@pytest.mark.parametrize("make", NORMS)
def test_repr_and_state_dict_match_torch(make):
    emod, tmod = make(ember.nn), make(torch.nn)
    assert repr(emod) == repr(tmod)
    assert list(emod.state_dict()) == list(tmod.state_dict())
    for k, v in tmod.state_dict().items():
        e = emod.state_dict()[k].numpy()
        np.testing.assert_array_equal(e, v.numpy())
        assert str(e.dtype) == str(v.numpy().dtype), k


def test_normalization_errors_match_torch():
    with pytest.raises(ValueError, match="expected 4D input"):
        ember.nn.BatchNorm2d(3)(ember.randn(2, 3, 4))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        ember.nn.BatchNorm1d(3)(ember.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel when training"):
        ember.nn.BatchNorm1d(3)(ember.randn(1, 3))
    ember.nn.BatchNorm1d(3).eval()(ember.randn(1, 3))  # a single sample is fine in eval
    with pytest.raises(RuntimeError, match=r"divisible by num_groups.*\[2, 3, 4\]"):
        EF.group_norm(ember.randn(2, 3, 4), 2)
    with pytest.raises(ValueError, match=r"num_channels \(3\) must be divisible by num_groups"):
        ember.nn.GroupNorm(2, 3)
    with pytest.raises(ember.ShapeError, match="batch_norm: weight"):
        EF.batch_norm(ember.randn(2, 3), None, None, ember.ones(4), training=True)


def test_dropout2d_drops_whole_channels():
    ember.manual_seed(0)
    x = ember.ones(8, 16, 5, 5, requires_grad=True)
    out = EF.dropout2d(x, 0.25)
    values = out.detach().numpy()
    per_channel = values.reshape(8, 16, -1)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # constant per channel
    assert set(np.unique(values).tolist()) <= {0.0, float(np.float32(1 / 0.75))}
    assert 0.1 < (per_channel[:, :, 0] == 0).mean() < 0.4
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), values)
    layer = ember.nn.Dropout2d(0.5).eval()
    y = ember.randn(2, 3, 4, 4)
    assert layer(y) is y
    with pytest.raises(ValueError, match="between 0 and 1"):
        EF.dropout2d(y, 1.5)
    with pytest.warns(UserWarning, match="3-D input"):
        EF.dropout2d(ember.randn(2, 3, 4), 0.5)
