"""RNN, LSTM, GRU and their cells against torch: values, final states, gradients, init."""

import copy
import math

import numpy as np
import pytest
import torch

import ember

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")

DTYPES = [(np.float32, torch.float32, ember.float32, 1e-5), (np.float64, torch.float64,
                                                             ember.float64, 1e-10)]
MODULES = {"RNN": {}, "RNN_relu": {"nonlinearity": "relu"}, "LSTM": {}, "GRU": {},
           "LSTM_proj": {"proj_size": 2}}


def _class_name(kind):
    return kind.split("_")[0]


def _pair(kind, *args, dtype=DTYPES[1], **kwargs):
    """The torch module and the ember one holding the same weights."""
    kwargs = {**MODULES.get(kind, {}), **kwargs}
    ref = getattr(torch.nn, _class_name(kind))(*args, **kwargs).to(dtype[1])
    mine = getattr(ember.nn, _class_name(kind))(*args, **kwargs).to(dtype[2])
    mine.load_state_dict({k: ember.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    return ref, mine


def _leaves(arrays):
    return ([torch.tensor(a, requires_grad=True) for a in arrays],
            [ember.tensor(a, requires_grad=True) for a in arrays])


def _flat(out):
    """A module's outputs as a flat list of tensors."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _check(ref, mine, arrays, call, tol, rng):
    """Forward outputs, then input and parameter gradients of a random projection, agree."""
    ref_in, mine_in = _leaves(arrays)
    ref_out, mine_out = _flat(call(ref, ref_in)), _flat(call(mine, mine_in))
    assert len(ref_out) == len(mine_out)
    ref_loss, mine_loss = 0, 0
    for r, m in zip(ref_out, mine_out):
        assert tuple(r.shape) == tuple(m.shape)
        np.testing.assert_allclose(m.detach().numpy(), r.detach().numpy(), atol=tol, rtol=tol)
        g = rng.standard_normal(tuple(r.shape)).astype(arrays[0].dtype)
        ref_loss = ref_loss + (r * torch.tensor(g)).sum()
        mine_loss = mine_loss + (m * ember.tensor(g)).sum()
    ref_loss.backward()
    mine_loss.backward()
    for r, m in zip(ref_in, mine_in):
        np.testing.assert_allclose(m.grad.numpy(), r.grad.numpy(), atol=tol, rtol=tol)
    mine_params = dict(mine.named_parameters())
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(mine_params[name].grad.numpy(), p.grad.numpy(), atol=tol,
                                   rtol=tol, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("kind", list(MODULES))
@pytest.mark.parametrize("layers,bidirectional,batch_first,with_state", [
    (1, False, False, False), (2, True, False, True), (2, False, True, True),
    (1, True, True, False)])
def test_matches_torch(kind, dtype, layers, bidirectional, batch_first, with_state):
    rng = np.random.default_rng(0)
    ref, mine = _pair(kind, 3, 4, num_layers=layers, bidirectional=bidirectional,
                      batch_first=batch_first, dtype=dtype)
    seq, batch, dirs = 5, 2, 2 if bidirectional else 1
    x = rng.standard_normal((batch, seq, 3) if batch_first else (seq, batch, 3))
    arrays = [x.astype(dtype[0])]
    out_size = 2 if kind == "LSTM_proj" else 4
    if with_state:
        arrays.append(rng.standard_normal((layers * dirs, batch, out_size)).astype(dtype[0]))
        if kind.startswith("LSTM"):
            arrays.append(rng.standard_normal((layers * dirs, batch, 4)).astype(dtype[0]))

    def call(module, inputs):
        if not with_state:
            return module(inputs[0])
        hx = tuple(inputs[1:]) if kind.startswith("LSTM") else inputs[1]
        return module(inputs[0], hx)

    _check(ref, mine, arrays, call, dtype[3], rng)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_input(kind, with_state):
    rng = np.random.default_rng(1)
    ref, mine = _pair(kind, 3, 4, num_layers=2, bidirectional=True, batch_first=True)
    arrays = [rng.standard_normal((5, 3))]
    if with_state:
        arrays += [rng.standard_normal((4, 4)) for _ in range(2 if kind == "LSTM" else 1)]

    def call(module, inputs):
        if not with_state:
            return module(inputs[0])
        return module(inputs[0], tuple(inputs[1:]) if kind == "LSTM" else inputs[1])

    _check(ref, mine, arrays, call, 1e-10, rng)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_train_mode_without_dropout_and_no_bias(kind):
    rng = np.random.default_rng(2)
    ref, mine = _pair(kind, 3, 4, num_layers=2, bias=False)
    ref.train(), mine.train()
    _check(ref, mine, [rng.standard_normal((4, 2, 3))], lambda m, i: m(i[0]), 1e-10, rng)


def test_dropout_between_layers_only_in_training():
    x = ember.randn(6, 2, 3)
    lstm = ember.nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    lstm.eval()
    a, b = lstm(x)[0].detach(), lstm(x)[0].detach()
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    lstm.train()
    ember.manual_seed(0)
    c = lstm(x)[0]
    assert not np.allclose(c.detach().numpy(), a.numpy())
    # With one layer there is nothing between layers to drop; torch warns about it.
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        single = ember.nn.GRU(3, 4, dropout=0.5)
    np.testing.assert_array_equal(single.train()(x)[0].detach().numpy(),
                                  single.eval()(x)[0].detach().numpy())


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("cell", ["RNNCell", "LSTMCell", "GRUCell", "RNNCell_relu"])
@pytest.mark.parametrize("batched,with_state", [(True, True), (True, False), (False, True)])
def test_cells_match_torch(cell, dtype, batched, with_state):
    rng = np.random.default_rng(3)
    name = cell.split("_")[0]
    kwargs = {"nonlinearity": "relu"} if cell.endswith("relu") else {}
    ref = getattr(torch.nn, name)(3, 4, **kwargs).to(dtype[1])
    mine = getattr(ember.nn, name)(3, 4, **kwargs).to(dtype[2])
    mine.load_state_dict({k: ember.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    lead = (2,) if batched else ()
    arrays = [rng.standard_normal(lead + (3,)).astype(dtype[0])]
    if with_state:
        n_states = 2 if name == "LSTMCell" else 1
        arrays += [rng.standard_normal(lead + (4,)).astype(dtype[0]) for _ in range(n_states)]

    def call(module, inputs):
        if not with_state:
            return module(inputs[0])
        return module(inputs[0], tuple(inputs[1:]) if name == "LSTMCell" else inputs[1])

    _check(ref, mine, arrays, call, dtype[3], rng)


@pytest.mark.parametrize("kind", list(MODULES))
def test_state_dict_keys_and_shapes(kind):
    ref = getattr(torch.nn, _class_name(kind))(3, 5, num_layers=2, bidirectional=True,
                                               **MODULES[kind])
    mine = getattr(ember.nn, _class_name(kind))(3, 5, num_layers=2, bidirectional=True,
                                                **MODULES[kind])
    assert list(mine.state_dict()) == list(ref.state_dict())
    for (name, p), (_, q) in zip(mine.state_dict().items(), ref.state_dict().items()):
        assert tuple(p.shape) == tuple(q.shape), name
    assert repr(mine) == repr(ref)
    for cell in ("RNNCell", "LSTMCell", "GRUCell"):
        assert list(getattr(ember.nn, cell)(3, 5, bias=False).state_dict()) == \
            list(getattr(torch.nn, cell)(3, 5, bias=False).state_dict())


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN", "LSTMCell"])
def test_default_init_is_uniform_in_torch_bound(cls):
    hidden = 64
    module = getattr(ember.nn, cls)(32, hidden)
    bound = 1 / math.sqrt(hidden)
    values = np.concatenate([p.detach().numpy().ravel() for p in module.parameters()])
    assert np.abs(values).max() <= bound
    # U(-b, b) has mean 0 and variance b^2 / 3.
    assert abs(values.mean()) < 0.02 * bound * 3
    np.testing.assert_allclose(values.var(), bound ** 2 / 3, rtol=0.05)


def test_deepcopy_gives_independent_parameters():
    lstm = ember.nn.LSTM(3, 4, num_layers=2)
    clone = copy.deepcopy(lstm)
    assert list(clone.state_dict()) == list(lstm.state_dict())
    for p, q in zip(lstm.parameters(), clone.parameters()):
        assert p is not q and isinstance(q, ember.nn.Parameter) and q.requires_grad
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    with ember.no_grad():
        clone.weight_ih_l0.fill_(0.0)
    assert lstm.weight_ih_l0.abs().sum().item() > 0


def test_bad_input_raises_clear_errors():
    lstm = ember.nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(RuntimeError, match=r"input_size.*Expected 3, got 5"):
        lstm(ember.randn(2, 1, 5))
    with pytest.raises(ValueError, match="2-D or 3-D"):
        lstm(ember.randn(2, 1, 1, 3))
    with pytest.raises(RuntimeError, match=r"hx\[0\] of size \[2, 1, 4\], got \[1, 1, 4\]"):
        lstm(ember.randn(2, 1, 3), (ember.zeros(1, 1, 4), ember.zeros(2, 1, 4)))
    with pytest.raises(RuntimeError, match="should also be 3-D"):
        lstm(ember.randn(2, 1, 3), (ember.zeros(2, 4), ember.zeros(2, 4)))
    with pytest.raises(RuntimeError, match="dtype"):
        ember.nn.GRU(3, 4)(ember.randn(2, 1, 3, dtype=ember.float64))
    with pytest.raises(ValueError, match="nonlinearity"):
        ember.nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="dropout"):
        ember.nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="proj_size"):
        ember.nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="hidden_size"):
        ember.nn.RNN(3, 0)
    with pytest.raises(RuntimeError, match="inconsistent input_size"):
        ember.nn.GRUCell(3, 4)(ember.randn(2, 5))
    with pytest.raises(RuntimeError, match="batch size 2"):
        ember.nn.RNNCell(3, 4)(ember.randn(2, 3), ember.randn(3, 4))
