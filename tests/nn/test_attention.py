"""scaled_dot_product_attention, MultiheadAttention and the Transformer encoder against torch."""

import copy
import math

import numpy as np
import pytest
import torch

import ember

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

DTYPES = [(np.float32, torch.float32, ember.float32, 1e-5), (np.float64, torch.float64,
                                                             ember.float64, 1e-10)]


def _pair(ref_cls, mine_cls, *args, dtype=DTYPES[1], **kwargs):
    """The torch module and the ember one holding the same weights, in eval mode."""
    ref = ref_cls(*args, **kwargs).to(dtype[1]).eval()
    mine = mine_cls(*args, **kwargs).to(dtype[2]).eval()
    assert list(mine.state_dict()) == list(ref.state_dict())
    mine.load_state_dict({k: ember.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    return ref, mine


def _to(value, lib, grad):
    """A torch or ember tensor of `value` (arrays of floats may require grad)."""
    if value is None:
        return None
    if lib is torch:
        return torch.tensor(value, requires_grad=grad and value.dtype.kind == "f")
    return ember.tensor(value, requires_grad=grad and value.dtype.kind == "f")


def _compare(ref_fn, mine_fn, arrays, masks, tol, rng, ref=None, mine=None):
    """Values of every output, then gradients (inputs and parameters) of a random projection.

    `arrays` are differentiable inputs; `masks` are passed along without gradients."""
    ref_in = [_to(a, torch, True) for a in arrays]
    mine_in = [_to(a, ember, True) for a in arrays]
    ref_out = ref_fn(*ref_in, *[_to(m, torch, False) for m in masks])
    mine_out = mine_fn(*mine_in, *[_to(m, ember, False) for m in masks])
    ref_out = ref_out if isinstance(ref_out, tuple) else (ref_out,)
    mine_out = mine_out if isinstance(mine_out, tuple) else (mine_out,)
    ref_loss = mine_loss = 0
    for r, m in zip(ref_out, mine_out, strict=True):
        if r is None:
            assert m is None
            continue
        assert tuple(m.shape) == tuple(r.shape)
        np.testing.assert_allclose(m.detach().numpy(), r.detach().numpy(), atol=tol, rtol=tol,
                                   equal_nan=True)
        g = rng.standard_normal(tuple(r.shape)).astype(arrays[0].dtype)
        ref_loss = ref_loss + (r * torch.tensor(g)).nan_to_num().sum()
        mine_loss = mine_loss + _nan_to_zero(m * ember.tensor(g)).sum()
    ref_loss.backward()
    mine_loss.backward()
    for r, m in zip(ref_in, mine_in):
        np.testing.assert_allclose(m.grad.numpy(), r.grad.numpy(), atol=tol, rtol=tol)
    if ref is not None:
        params = dict(mine.named_parameters())
        for name, p in ref.named_parameters():
            np.testing.assert_allclose(params[name].grad.numpy(), p.grad.numpy(), atol=tol,
                                       rtol=tol, err_msg=name)


def _nan_to_zero(x):
    return x.masked_fill(x.isnan(), 0.0)


# --- scaled_dot_product_attention ------------------------------------------------------------

def _sdpa_mask(kind, rng, length, source):
    if kind == "bool":
        mask = rng.random((length, source)) > 0.3
        mask[:, 0] = True
        return mask
    if kind == "bool_dead_row":
        mask = rng.random((2, 1, length, source)) > 0.3
        mask[0, 0, 1] = False  # a query that may attend nothing gives zeros in torch
        return mask
    if kind == "float":
        return rng.standard_normal((length, source))
    return None


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("mask", [None, "bool", "bool_dead_row", "float", "causal"])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa_matches_torch(dtype, mask, scale):
    rng = np.random.default_rng(0)
    length, source = 4, 6 if mask != "causal" else 4
    q = rng.standard_normal((2, 3, length, 8)).astype(dtype[0])
    k = rng.standard_normal((2, 3, source, 8)).astype(dtype[0])
    v = rng.standard_normal((2, 3, source, 5)).astype(dtype[0])
    m = _sdpa_mask(mask, rng, length, source)
    m = m.astype(dtype[0]) if m is not None and m.dtype.kind == "f" else m
    causal = mask == "causal"

    def run(lib):
        f = lib.nn.functional.scaled_dot_product_attention
        return lambda q, k, v, m: f(q, k, v, attn_mask=m, is_causal=causal, scale=scale)

    _compare(run(torch), run(ember), [q, k, v], [m], dtype[3], rng)


def test_sdpa_grouped_query_attention_and_3d_input():
    rng = np.random.default_rng(1)
    q = rng.standard_normal((2, 4, 3, 8))
    k, v = rng.standard_normal((2, 2, 5, 8)), rng.standard_normal((2, 2, 5, 8))

    def run(lib):
        f = lib.nn.functional.scaled_dot_product_attention
        return lambda q, k, v: f(q, k, v, enable_gqa=True)

    _compare(run(torch), run(ember), [q, k, v], [], 1e-10, rng)
    _compare(torch.nn.functional.scaled_dot_product_attention,
             ember.nn.functional.scaled_dot_product_attention,
             [q[0], k[0, :1], v[0, :1]], [], 1e-10, rng)


def test_sdpa_dropout():
    q = ember.randn(2, 8, 16)
    out = ember.nn.functional.scaled_dot_product_attention(q, q, q, dropout_p=1.0)
    assert float(out.abs().sum()) == 0.0
    ember.manual_seed(0)
    a = ember.nn.functional.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    b = ember.nn.functional.scaled_dot_product_attention(q, q, q)
    assert not np.allclose(a.numpy(), b.numpy())


def test_sdpa_errors():
    f = ember.nn.functional.scaled_dot_product_attention
    q = ember.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"query \[2, 3, 4\], key \[2, 5, 3\]"):
        f(q, ember.randn(2, 5, 3), ember.randn(2, 5, 3))
    with pytest.raises(RuntimeError, match="is_causal"):
        f(q, q, q, attn_mask=ember.ones(3, 3, dtype=ember.bool), is_causal=True)
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \[2, 2\]"):
        f(q, q, q, attn_mask=ember.ones(2, 2, dtype=ember.bool))
    with pytest.raises(RuntimeError, match="dtype"):
        f(q, q, q, attn_mask=ember.ones(3, 3, dtype=ember.int64))


# --- MultiheadAttention ----------------------------------------------------------------------

MHA_CASES = {
    "plain": {},
    "no_bias": {"init": {"bias": False}},
    "cross_kdim_vdim": {"init": {"kdim": 5, "vdim": 3}},
    "bias_kv_zero_attn": {"init": {"add_bias_kv": True, "add_zero_attn": True},
                          "attn_mask": "bool2d", "key_padding_mask": "bool"},
    "bool_masks": {"attn_mask": "bool2d", "key_padding_mask": "bool"},
    "float_masks": {"attn_mask": "float3d", "key_padding_mask": "float"},
    "causal": {"attn_mask": "causal", "is_causal": True},
    "causal_and_padding": {"attn_mask": "causal", "is_causal": True,
                           "key_padding_mask": "bool"},
    "per_head_weights": {"average": False, "attn_mask": "float2d"},
}


def _mha_masks(case, rng, batch, heads, length, source, dtype, batched=True):
    masks = []
    kind = case.get("attn_mask")
    if kind == "bool2d":
        m = rng.random((length, source)) < 0.3
        m[:, 0] = False
        masks.append(m)
    elif kind == "causal":
        masks.append(np.triu(np.ones((length, source), bool), 1))
    elif kind == "float2d":
        masks.append(rng.standard_normal((length, source)).astype(dtype))
    elif kind == "float3d":
        lead = batch * heads if batched else heads
        masks.append(rng.standard_normal((lead, length, source)).astype(dtype))
    else:
        masks.append(None)
    kind = case.get("key_padding_mask")
    shape = (batch, source) if batched else (source,)
    if kind == "bool":
        m = np.zeros(shape, bool)
        m[..., -2:] = True
        masks.append(m)
    elif kind == "float":
        masks.append(np.where(rng.random(shape) < 0.3, -1e4, 0.0).astype(dtype))
    else:
        masks.append(None)
    return masks


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", list(MHA_CASES))
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_matches_torch(dtype, case, need_weights, batch_first):
    spec = MHA_CASES[case]
    rng = np.random.default_rng(2)
    init = spec.get("init", {})
    ref, mine = _pair(torch.nn.MultiheadAttention, ember.nn.MultiheadAttention, 8, 2,
                      batch_first=batch_first, dtype=dtype, **init)
    batch, length, source = 3, 4, 4 if spec.get("attn_mask") == "causal" else 5
    cross = "kdim" in init

    def seq(n, features):
        shape = (batch, n, features) if batch_first else (n, batch, features)
        return rng.standard_normal(shape).astype(dtype[0])

    arrays = [seq(length, 8)] + ([seq(source, 5), seq(source, 3)] if cross else [])
    if not cross and source != length:
        arrays += [seq(source, 8)]
    masks = _mha_masks(spec, rng, batch, 2, length, source, dtype[0])

    def run(module):
        def call(q, *rest):
            *kv, attn_mask, padding = rest
            k, v = (kv[0], kv[-1]) if kv else (q, q)
            return module(q, k, v, key_padding_mask=padding, attn_mask=attn_mask,
                          need_weights=need_weights,
                          average_attn_weights=spec.get("average", True),
                          is_causal=spec.get("is_causal", False))
        return call

    _compare(run(ref), run(mine), arrays, masks, dtype[3], rng, ref, mine)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("case", ["plain", "float_masks", "bool_masks"])
def test_mha_unbatched(need_weights, case):
    rng = np.random.default_rng(3)
    ref, mine = _pair(torch.nn.MultiheadAttention, ember.nn.MultiheadAttention, 6, 3)
    ref.train(), mine.train()
    q, kv = rng.standard_normal((4, 6)), rng.standard_normal((5, 6))
    masks = _mha_masks(MHA_CASES[case], rng, 1, 3, 4, 5, np.float64, batched=False)

    def run(module):
        return lambda q, kv, m, p: module(q, kv, kv, key_padding_mask=p, attn_mask=m,
                                          need_weights=need_weights)

    _compare(run(ref), run(mine), [q, kv], masks, 1e-10, rng, ref, mine)


def test_mha_fully_masked_rows_like_torch():
    """torch gives NaN rows with need_weights=True (plain softmax) and zeros without."""
    rng = np.random.default_rng(4)
    ref, mine = _pair(torch.nn.MultiheadAttention, ember.nn.MultiheadAttention, 4, 2)
    x = rng.standard_normal((3, 2, 4))
    padding = np.zeros((2, 3), bool)
    padding[0] = True
    for need in (True, False):
        r = ref(torch.tensor(x), torch.tensor(x), torch.tensor(x),
                key_padding_mask=torch.tensor(padding), need_weights=need)[0]
        m = mine(ember.tensor(x), ember.tensor(x), ember.tensor(x),
                 key_padding_mask=ember.tensor(padding), need_weights=need)[0]
        np.testing.assert_allclose(m.detach().numpy(), r.detach().numpy(), atol=1e-10,
                                   equal_nan=True)


def test_mha_state_dict_and_default_init():
    for kwargs in ({}, {"kdim": 5, "vdim": 3}, {"add_bias_kv": True, "bias": False}):
        ref = torch.nn.MultiheadAttention(8, 2, **kwargs)
        mine = ember.nn.MultiheadAttention(8, 2, **kwargs)
        assert list(mine.state_dict()) == list(ref.state_dict())
        for key, value in ref.state_dict().items():
            assert tuple(mine.state_dict()[key].shape) == tuple(value.shape), key
    e = 64
    mha = ember.nn.MultiheadAttention(e, 4)
    w = mha.in_proj_weight.detach().numpy()
    bound = math.sqrt(6 / (e + 3 * e))  # xavier_uniform_ on the (3E, E) matrix
    assert np.abs(w).max() <= bound
    np.testing.assert_allclose(w.var(), bound ** 2 / 3, rtol=0.05)
    assert not mha.in_proj_bias.detach().numpy().any()
    assert not mha.out_proj.bias.detach().numpy().any()
    out_bound = 1 / math.sqrt(e)  # Linear's kaiming_uniform_(a=sqrt(5))
    assert np.abs(mha.out_proj.weight.detach().numpy()).max() <= out_bound


def test_mha_errors():
    mha = ember.nn.MultiheadAttention(8, 2)
    x = ember.randn(4, 3, 8)
    with pytest.raises(AssertionError, match="divisible"):
        ember.nn.MultiheadAttention(8, 3)
    with pytest.raises(AssertionError, match="embedding dimension of 8, but got 6"):
        mha(ember.randn(4, 3, 6), ember.randn(4, 3, 6), ember.randn(4, 3, 6))
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \[4, 3\], but should be \[4, 4\]"):
        mha(x, x, x, attn_mask=ember.zeros(4, 3))
    with pytest.raises(RuntimeError, match=r"3D attn_mask is \[2, 4, 4\]"):
        mha(x, x, x, attn_mask=ember.zeros(2, 4, 4))
    with pytest.raises(AssertionError, match=r"key_padding_mask shape of \[3, 4\]"):
        mha(x, x, x, key_padding_mask=ember.zeros(4, 3, dtype=ember.bool))
    with pytest.raises(RuntimeError, match="Need attn_mask|need attn_mask"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(AssertionError, match="expected key and value to be 3-D"):
        mha(x, ember.randn(4, 8), ember.randn(4, 8))


# --- TransformerEncoderLayer, TransformerEncoder -----------------------------------------------

def _gelu_callable(lib):
    return lib.nn.functional.gelu


ENCODER_CASES = {
    "post_norm_relu": {},
    "pre_norm_gelu": {"norm_first": True, "activation": "gelu"},
    "callable_activation": {"activation": _gelu_callable},
    "causal_bool_mask_and_padding": {"mask": "causal", "is_causal": True, "padding": True},
    "float_mask": {"mask": "float", "norm_first": True},
    "no_bias": {"bias": False, "padding": True},
}


def _encoder_layer(lib, spec, dtype_lib, batch_first):
    activation = spec.get("activation", "relu")
    activation = activation(lib) if callable(activation) else activation
    return lib.nn.TransformerEncoderLayer(
        8, 2, dim_feedforward=16, dropout=spec.get("dropout", 0.0), activation=activation,
        batch_first=batch_first, norm_first=spec.get("norm_first", False),
        bias=spec.get("bias", True), layer_norm_eps=1e-6).to(dtype_lib)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", list(ENCODER_CASES))
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("train", [False, True])
def test_encoder_layer_matches_torch(dtype, case, batch_first, train):
    spec = ENCODER_CASES[case]
    rng = np.random.default_rng(5)
    ref = _encoder_layer(torch, {**spec, "dropout": 0.0 if train else 0.1}, dtype[1],
                         batch_first)
    mine = _encoder_layer(ember, {**spec, "dropout": 0.0 if train else 0.1}, dtype[2],
                          batch_first)
    assert list(mine.state_dict()) == list(ref.state_dict())
    mine.load_state_dict({k: ember.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    ref.train(train), mine.train(train)
    batch, length = 3, 5
    x = rng.standard_normal((batch, length, 8) if batch_first else (length, batch, 8))
    mask = None
    if spec.get("mask") == "causal":
        mask = np.triu(np.ones((length, length), bool), 1)
    elif spec.get("mask") == "float":
        mask = rng.standard_normal((length, length)).astype(dtype[0])
    padding = None
    if spec.get("padding"):
        padding = np.zeros((batch, length), bool)
        padding[1, -2:] = True

    def run(module):
        return lambda x, m, p: module(x, src_mask=m, src_key_padding_mask=p,
                                      is_causal=spec.get("is_causal", False))

    _compare(run(ref), run(mine), [x.astype(dtype[0])], [mask, padding], dtype[3], rng, ref,
             mine)


@pytest.mark.parametrize("with_norm", [False, True])
def test_encoder_stack_matches_torch(with_norm):
    rng = np.random.default_rng(6)

    def build(lib):
        layer = lib.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
        norm = lib.nn.LayerNorm(8) if with_norm else None
        return lib.nn.TransformerEncoder(layer, 2, norm=norm, enable_nested_tensor=False)

    ref, mine = build(torch).double(), build(ember).double()
    assert list(mine.state_dict()) == list(ref.state_dict())
    assert "layers.1.self_attn.in_proj_weight" in mine.state_dict()
    # The layers are independent copies of the prototype.
    assert mine.layers[0].linear1.weight is not mine.layers[1].linear1.weight
    mine.load_state_dict({k: ember.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    x = rng.standard_normal((5, 3, 8))
    mask = np.triu(np.ones((5, 5), bool), 1)
    padding = np.zeros((3, 5), bool)
    padding[0, -1] = True

    def run(module):
        return lambda x, m, p: module(x, mask=m, src_key_padding_mask=p)

    _compare(run(ref), run(mine), [x], [mask, padding], 1e-10, rng, ref, mine)


def test_encoder_layer_dropout_and_errors():
    layer = ember.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.5)
    x = ember.randn(5, 2, 8)
    layer.eval()
    np.testing.assert_array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())
    layer.train()
    assert not np.allclose(layer(x).detach().numpy(), layer.eval()(x).detach().numpy())
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        ember.nn.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(AssertionError, match="embedding dimension of 8, but got 4"):
        layer(ember.randn(5, 2, 4))


def test_deepcopy_of_attention_modules():
    layer = ember.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    clone = copy.deepcopy(layer)
    assert list(clone.state_dict()) == list(layer.state_dict())
    assert clone.activation is layer.activation
    for (name, p), q in zip(layer.named_parameters(), clone.parameters()):
        assert p is not q, name
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
