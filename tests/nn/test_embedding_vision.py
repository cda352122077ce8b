"""Embedding, pad, interpolate, Flatten and Unflatten against PyTorch: values, gradients, repr,
state_dict, initialisation and errors."""

import numpy as np
import pytest
import torch

import ember
from layer_compare import FLOATS, close, inputs, pair, run_both, uniform

EF, TF = ember.nn.functional, torch.nn.functional
INDEX = np.array([[1, 2, 4, 2], [0, 9, 2, 2]])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kw", [{}, dict(padding_idx=2), dict(padding_idx=-1),
                                dict(scale_grad_by_freq=True),
                                dict(padding_idx=0, scale_grad_by_freq=True),
                                dict(max_norm=1.5), dict(max_norm=1.0, norm_type=1.0)], ids=str)
def test_embedding_matches_torch(kw, dtype):
    tmod, emod = pair(torch.nn.Embedding(10, 3, **kw), ember.nn.Embedding(10, 3, **kw), dtype)
    run_both(emod, tmod, [INDEX], dtype)
    # max_norm renormalises the looked-up rows of the weight in place.
    close(emod.weight, tmod.weight, dtype)


def test_embedding_padding_row_gets_no_gradient_and_starts_at_zero():
    emod = ember.nn.Embedding(5, 4, padding_idx=3)
    np.testing.assert_array_equal(emod.weight.detach().numpy()[3], np.zeros(4, np.float32))
    emod(ember.tensor([[3, 1], [3, 3]])).sum().backward()
    grad = emod.weight.grad.numpy()
    np.testing.assert_array_equal(grad[3], np.zeros(4))
    np.testing.assert_array_equal(grad[1], np.ones(4))


def test_embedding_init_and_from_pretrained():
    ember.manual_seed(0)
    w = ember.nn.Embedding(1000, 8).weight.detach().numpy()
    assert abs(w.mean()) < 0.03 and abs(w.std() - 1.0) < 0.03  # N(0, 1) as torch
    table = uniform((4, 3))
    for freeze in (True, False):
        emod = ember.nn.Embedding.from_pretrained(ember.tensor(table), freeze=freeze,
                                                  padding_idx=1)
        tmod = torch.nn.Embedding.from_pretrained(torch.tensor(table), freeze=freeze,
                                                  padding_idx=1)
        assert emod.weight.requires_grad == tmod.weight.requires_grad == (not freeze)
        assert repr(emod) == repr(tmod)
        e, t = emod(ember.tensor([0, 1, 3])), tmod(torch.tensor([0, 1, 3]))
        close(e, t, "float64")
    with pytest.raises(ValueError, match="2-dimensional"):
        ember.nn.Embedding.from_pretrained(ember.ones(3))


def test_functional_embedding_and_errors():
    (ew, tw) = inputs(uniform((6, 2)), "float64")
    e = EF.embedding(ember.tensor([[5, 0], [1, 1]]), ew, padding_idx=1)
    t = TF.embedding(torch.tensor([[5, 0], [1, 1]]), tw, padding_idx=1)
    close(e, t, "float64")
    (e * e).sum().backward()
    (t * t).sum().backward()
    close(ew.grad, tw.grad, "float64")
    with pytest.raises(IndexError, match="out of range"):
        EF.embedding(ember.tensor([6]), ew)
    with pytest.raises(ember.DTypeError, match="embedding.*float32"):
        EF.embedding(ember.tensor([1.0]), ew)
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        ember.nn.Embedding(10, 3, padding_idx=10)


PADS = [
    ("constant", (1, 2)), ("constant", (1, 0, 2, 1)), ("constant", (-1, 2, 0, -2)),
    ("constant", (1, 1, 0, 0, 2, 0)), ("reflect", (2, 1)), ("reflect", (1, 2, 3, 0)),
    ("replicate", (3, 1, 0, 4)), ("replicate", (-1, 2)), ("circular", (2, 3, 1, 1)),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode,amounts", PADS, ids=str)
def test_pad_matches_torch(mode, amounts, dtype):
    def make(f):
        kw = dict(value=1.5) if mode == "constant" else {}
        return lambda x: f.pad(x, amounts, mode=mode, **kw)

    shape = (2, 3, 4, 5) if mode == "constant" or len(amounts) > 2 else (2, 3, 5)
    run_both(make(EF), make(TF), [uniform(shape)], dtype)


INTERPOLATE = [
    ((1, 2, 5, 7), dict(size=(8, 3), mode="nearest")),
    ((1, 2, 5, 7), dict(scale_factor=2, mode="nearest")),
    ((1, 2, 5, 7), dict(scale_factor=(1.7, 0.6), mode="nearest")),
    ((1, 2, 5, 7), dict(size=(9, 4), mode="nearest-exact")),
    ((1, 2, 5, 7), dict(size=(8, 3), mode="bilinear")),
    ((1, 2, 5, 7), dict(size=(8, 3), mode="bilinear", align_corners=True)),
    ((1, 2, 5, 7), dict(scale_factor=1.5, mode="bilinear")),
    ((1, 2, 5, 7), dict(scale_factor=(2.3, 0.5), mode="bilinear", align_corners=True)),
    ((1, 2, 5, 7), dict(scale_factor=2.5, mode="bilinear", recompute_scale_factor=True)),
    ((1, 2, 5, 7), dict(size=(1, 1), mode="bilinear", align_corners=True)),
    ((2, 3, 6), dict(size=10, mode="linear")),
    ((2, 3, 6), dict(scale_factor=0.5, mode="linear", align_corners=True)),
    ((2, 3, 6), dict(size=4, mode="nearest")),
    ((1, 2, 3, 4, 5), dict(size=(4, 3, 6), mode="trilinear")),
    ((1, 2, 8, 7), dict(size=(3, 5), mode="area")),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,kw", INTERPOLATE, ids=str)
def test_interpolate_matches_torch(shape, kw, dtype):
    run_both(lambda x: EF.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw),
             [uniform(shape)], dtype)


def test_pad_and_interpolate_errors():
    x = ember.randn(1, 2, 3)
    with pytest.raises(RuntimeError, match="divisible by 2"):
        EF.pad(x, (1, 2, 3))
    with pytest.raises(RuntimeError, match="reflect"):
        EF.pad(x, (3, 3), mode="reflect")
    with pytest.raises(NotImplementedError, match="padding size 2 is not supported"):
        EF.pad(ember.randn(1, 1, 4, 4), (1, 1), mode="replicate")
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        EF.interpolate(ember.randn(1, 1, 4, 4), size=3, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        EF.interpolate(ember.randn(1, 1, 4, 4))
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        EF.interpolate(ember.randn(1, 1, 4, 4), size=3, align_corners=True)
    with pytest.raises(NotImplementedError, match="bilinear mode needs 4-D input"):
        EF.interpolate(x, size=3, mode="bilinear")


def test_flatten_and_unflatten_match_torch():
    for make in [lambda nn: nn.Flatten(), lambda nn: nn.Flatten(0, 2),
                 lambda nn: nn.Unflatten(1, (2, 5)), lambda nn: nn.Unflatten(-1, (2, -1))]:
        emod, tmod = make(ember.nn), make(torch.nn)
        assert repr(emod) == repr(tmod)
        run_both(emod, tmod, [uniform((3, 10, 2, 4))], "float64")
    with pytest.raises(RuntimeError, match="don't multiply up to the size of dim 1"):
        ember.nn.Unflatten(1, (2, 4))(ember.randn(2, 10))


def test_embedding_repr_and_state_dict_match_torch():
    for kw in [{}, dict(padding_idx=-1, max_norm=2.0), dict(norm_type=1.0,
                                                            scale_grad_by_freq=True)]:
        emod, tmod = ember.nn.Embedding(10, 3, **kw), torch.nn.Embedding(10, 3, **kw)
        assert repr(emod) == repr(tmod)
        assert list(emod.state_dict()) == list(tmod.state_dict())
