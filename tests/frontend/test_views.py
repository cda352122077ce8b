"""Shape and view operations compared with PyTorch: values, gradients, storage sharing,
contiguity and version counters."""

import numpy as np
import pytest
import torch

import ember

RNG = np.random.default_rng(0)


def check(fn, *shapes, grad=True, dtype=np.float32):
    """fn(module, *inputs) in Ember and torch: same outputs, and same input gradients."""
    arrays = [RNG.standard_normal(s).astype(dtype) for s in shapes]
    es = [ember.tensor(a, requires_grad=grad) for a in arrays]
    ts = [torch.tensor(a, requires_grad=grad) for a in arrays]
    e_out, t_out = fn(ember, *es), fn(torch, *ts)
    if isinstance(t_out, torch.Tensor):
        e_out, t_out = [e_out], [t_out]
    assert len(e_out) == len(t_out)
    for e, t in zip(e_out, t_out):
        assert tuple(e.shape) == tuple(t.shape)
        assert e.dtype.name == str(t.dtype)[6:]
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-6, atol=1e-6)
    if not grad:
        return
    weights = [RNG.standard_normal(tuple(t.shape)).astype(np.float32) for t in t_out]
    e_loss = sum((e.float() * ember.tensor(w)).sum() for e, w in zip(e_out, weights))
    t_loss = sum((t.float() * torch.tensor(w)).sum() for t, w in zip(t_out, weights))
    e_loss.backward()
    t_loss.backward()
    for e, t in zip(es, ts):
        if t.grad is None:
            assert e.grad is None
        else:
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-5)


VIEW_CASES = {
    "view": ((2, 3, 4), lambda m, x: x.view(6, 4)),
    "view_infer": ((2, 3, 4), lambda m, x: x.view(-1, 2)),
    "view_tuple": ((2, 3, 4), lambda m, x: x.view((4, 6))),
    "reshape": ((2, 3, 4), lambda m, x: x.reshape(4, -1)),
    "reshape_fn": ((2, 3, 4), lambda m, x: m.reshape(x, (24,))),
    "reshape_scalar": ((1,), lambda m, x: x.reshape(())),
    "reshape_noncontig": ((3, 4), lambda m, x: x.t().reshape(12)),
    "flatten": ((2, 3, 4), lambda m, x: x.flatten()),
    "flatten_range": ((2, 3, 4, 5), lambda m, x: x.flatten(1, 2)),
    "flatten_neg": ((2, 3, 4, 5), lambda m, x: m.flatten(x, -3, -2)),
    "flatten_scalar": ((), lambda m, x: x.flatten()),
    "unflatten": ((2, 12), lambda m, x: x.unflatten(1, (3, 4))),
    "unflatten_infer": ((2, 12), lambda m, x: x.unflatten(-1, (-1, 2))),
    "unsqueeze": ((2, 3), lambda m, x: x.unsqueeze(1)),
    "unsqueeze_neg": ((2, 3), lambda m, x: x.unsqueeze(-1)),
    "unsqueeze_front": ((2, 3), lambda m, x: m.unsqueeze(x, 0)),
    "squeeze_all": ((1, 3, 1, 2), lambda m, x: x.squeeze()),
    "squeeze_dim": ((1, 3, 1, 2), lambda m, x: x.squeeze(2)),
    "squeeze_noop": ((1, 3, 1, 2), lambda m, x: x.squeeze(1)),
    "squeeze_tuple": ((1, 3, 1, 2), lambda m, x: x.squeeze((0, 2))),
    "squeeze_neg": ((1, 3, 1, 2), lambda m, x: x.squeeze(-2)),
    "permute": ((2, 3, 4), lambda m, x: x.permute(2, 0, 1)),
    "permute_tuple": ((2, 3, 4), lambda m, x: x.permute((1, 2, 0))),
    "permute_neg": ((2, 3, 4), lambda m, x: m.permute(x, (-1, 0, 1))),
    "transpose": ((2, 3, 4), lambda m, x: x.transpose(0, 2)),
    "transpose_neg": ((2, 3, 4), lambda m, x: m.transpose(x, -1, -2)),
    "T2": ((2, 3), lambda m, x: x.T),
    "t": ((2, 3), lambda m, x: x.t()),
    "mT": ((4, 2, 3), lambda m, x: x.mT),
    "expand": ((3, 1), lambda m, x: x.expand(3, 4)),
    "expand_lead": ((3, 1), lambda m, x: x.expand(2, -1, 5)),
    "expand_tuple": ((1,), lambda m, x: x.expand((4,))),
    "expand_as": ((1, 3), lambda m, x: x.expand_as(m.zeros(2, 3))),
    "contiguous": ((3, 4), lambda m, x: x.t().contiguous()),
    "view_as": ((3, 4), lambda m, x: x.view_as(m.zeros(2, 6))),
    "narrow": ((5, 4), lambda m, x: x.narrow(0, 1, 3)),
    "narrow_neg": ((5, 4), lambda m, x: m.narrow(x, -1, -3, 2)),
    "movedim": ((2, 3, 4), lambda m, x: x.movedim(0, 2)),
    "movedim_neg": ((2, 3, 4), lambda m, x: m.movedim(x, -1, 0)),
    "movedim_tuple": ((2, 3, 4, 5), lambda m, x: m.movedim(x, (0, 1), (2, 3))),
    "split_int": ((7, 3), lambda m, x: x.split(3)),
    "split_dim": ((2, 7), lambda m, x: m.split(x, 2, dim=1)),
    "split_sections": ((7, 3), lambda m, x: x.split([2, 5])),
    "split_sections_neg": ((3, 6), lambda m, x: x.split((1, 2, 3), -1)),
    "chunk": ((7, 3), lambda m, x: x.chunk(3)),
    "chunk_dim": ((2, 6), lambda m, x: m.chunk(x, 4, 1)),
    "chunk_more_than_size": ((2, 3), lambda m, x: x.chunk(5, 0)),
    "unbind": ((3, 2), lambda m, x: x.unbind()),
    "unbind_dim": ((3, 2), lambda m, x: m.unbind(x, 1)),
    "repeat": ((2, 3), lambda m, x: x.repeat(2, 3)),
    "repeat_lead": ((2, 3), lambda m, x: x.repeat(2, 1, 2)),
    "repeat_tuple": ((3,), lambda m, x: x.repeat((2,))),
    "tile": ((2, 3), lambda m, x: x.tile((2,))),
    "tile_lead": ((2, 3), lambda m, x: m.tile(x, (2, 1, 2))),
    "tile_varargs": ((2, 3), lambda m, x: x.tile(2, 1)),
    "repeat_scalar": ((), lambda m, x: x.repeat(3, 2)),
    "chunk_empty": ((0, 2), lambda m, x: x.chunk(3)),
    "split_empty": ((3, 0), lambda m, x: x.split(0, 1)),
    "flip": ((2, 3, 4), lambda m, x: x.flip(0)),
    "flip_dims": ((2, 3, 4), lambda m, x: m.flip(x, (0, -1))),
    "clamp": ((3, 4), lambda m, x: x.clamp(-0.5, 0.5)),
    "clamp_min": ((3, 4), lambda m, x: m.clamp(x, min=0.1)),
    "clamp_max": ((3, 4), lambda m, x: x.clamp(max=0.2)),
    "clamp_tensor": ((3, 4), lambda m, x: x.clamp(min=m.zeros(4) - 0.3, max=m.ones(3, 1) * 0.4)),
}


@pytest.mark.parametrize("name", list(VIEW_CASES))
def test_view_op(name):
    shape, fn = VIEW_CASES[name]
    check(fn, shape)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_stack(dim):
    check(lambda m, a, b: m.cat([a, b], dim), (2, 3), (2, 3))
    check(lambda m, a, b, c: m.stack((a, b, c), dim), (2, 3), (2, 3), (2, 3))
    check(lambda m, a, b: m.stack([a, b], dim=dim - 1 if dim < 0 else dim), (2, 3), (2, 3))


def test_cat_shapes_and_promotion():
    check(lambda m, a, b: m.cat([a, b], 1), (2, 3), (2, 5))
    check(lambda m, a, b: m.cat([a, b], -2), (1, 3), (4, 3))
    check(lambda m, a, b: m.cat([a, m.zeros(0), b]), (3,), (2,))
    for left, right in [(torch.int64, torch.float32), (torch.int32, torch.int64),
                        (torch.bool, torch.int32), (torch.float32, torch.float64)]:
        t = torch.cat([torch.ones(2, dtype=left), torch.ones(3, dtype=right)])
        e = ember.cat([ember.ones(2, dtype=getattr(ember, str(left)[6:])),
                       ember.ones(3, dtype=getattr(ember, str(right)[6:]))])
        assert e.dtype.name == str(t.dtype)[6:] and e.tolist() == t.tolist()
    with pytest.raises(Exception):
        ember.cat([ember.zeros(2, 3), ember.zeros(3, 3)], 1)


def test_where_and_one_hot():
    cond = RNG.standard_normal((3, 4)) > 0
    check(lambda m, a, b: m.where(m.tensor(cond), a, b), (3, 4), (4,))
    check(lambda m, a: m.where(m.tensor(cond), a, 0.0), (3, 4))
    check(lambda m, a: a.where(m.tensor(cond), -a), (3, 4))
    idx = np.array([[0, 2], [1, 3]])
    for kwargs in ({}, {"num_classes": 5}):
        e = ember.nn.functional.one_hot(ember.tensor(idx), **kwargs) if hasattr(ember, "nn") \
            else ember.one_hot(ember.tensor(idx), **kwargs)
        t = torch.nn.functional.one_hot(torch.tensor(idx), **kwargs)
        assert e.dtype is ember.int64 and e.tolist() == t.tolist()


def test_view_errors_like_torch():
    x = ember.zeros(3, 4).t()
    with pytest.raises(RuntimeError, match="view"):
        x.view(12)
    with pytest.raises(RuntimeError):
        torch.zeros(3, 4).t().view(12)
    assert not x.reshape(12).is_contiguous() or x.reshape(12)._base is not x
    with pytest.raises(Exception):
        ember.zeros(2, 3).view(4)
    with pytest.raises(Exception):
        ember.zeros(2, 3).view(-1, -1)
    # A view that only splits or merges compatible dimensions works on non-contiguous input.
    assert tuple(ember.zeros(4, 6).t().view(3, 2, 4).shape) == (3, 2, 4)
    assert tuple(torch.zeros(4, 6).t().view(3, 2, 4).shape) == (3, 2, 4)


def both(fn):
    """fn run on ember and torch tensors built from the same data, returns both results."""
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    return fn(ember, ember.tensor(data)), fn(torch, torch.tensor(data))


WRITE_THROUGH = {
    "view": lambda m, x: x.view(6, 4),
    "reshape": lambda m, x: x.reshape(24),
    "flatten": lambda m, x: x.flatten(),
    "unsqueeze": lambda m, x: x.unsqueeze(0),
    "squeeze": lambda m, x: x.unsqueeze(0).squeeze(0),
    "permute": lambda m, x: x.permute(2, 0, 1),
    "transpose": lambda m, x: x.transpose(0, 1),
    "mT": lambda m, x: x.mT,
    "narrow": lambda m, x: x.narrow(2, 1, 2),
    "slice": lambda m, x: x[:, 1:, ::2],
    "select": lambda m, x: x[1],
    "split": lambda m, x: x.split(2, dim=2)[1],
    "chunk": lambda m, x: x.chunk(3, dim=1)[2],
    "unbind": lambda m, x: x.unbind(1)[1],
    "movedim": lambda m, x: x.movedim(0, -1),
    "view_of_view": lambda m, x: x[1].view(12)[3:],
    "detach": lambda m, x: x.detach(),
    "unsqueeze_of_transpose": lambda m, x: x.transpose(0, 2).unsqueeze(1),
    "squeeze_of_strided": lambda m, x: x[:, ::2].unsqueeze(-1).squeeze(-1),
    "none_of_transpose": lambda m, x: x.transpose(1, 2)[None, :, None],
}


@pytest.mark.parametrize("name", list(WRITE_THROUGH))
def test_views_share_storage(name):
    fn = WRITE_THROUGH[name]

    def mutate(m, x):
        v = fn(m, x)
        v.add_(1)
        v[0] = 5
        x.mul_(2)  # and the view sees writes to the base
        return x.clone(), v.clone(), v.is_contiguous(), x._version, v._version

    (ex, ev, ec, exv, evv), (tx, tv, tc, txv, tvv) = both(mutate)
    np.testing.assert_array_equal(ex.numpy(), tx.numpy())
    np.testing.assert_array_equal(ev.numpy(), tv.numpy())
    assert ec == tc
    assert (exv, evv) == (txv, tvv)


def test_reshape_of_noncontiguous_copies():
    (e, ex), (t, tx) = both(lambda m, x: (x.transpose(0, 2).reshape(-1), x))
    e.add_(1)
    t.add_(1)
    np.testing.assert_array_equal(ex.numpy(), tx.numpy())
    np.testing.assert_array_equal(e.numpy(), t.numpy())


CONTIGUITY = {
    "base": lambda x: x,
    "t": lambda x: x.transpose(0, 1),
    "permute": lambda x: x.permute(2, 0, 1),
    "slice_rows": lambda x: x[:, 1:],
    "slice_last": lambda x: x[..., 1:3],
    "step": lambda x: x[::2],
    "select": lambda x: x[:, 0],
    "select_last": lambda x: x[..., 0],
    "expand": lambda x: x[:, :1].expand(2, 3, 4),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "contiguous": lambda x: x.transpose(0, 1).contiguous(),
    "narrow0": lambda x: x.narrow(0, 1, 1),
    "size1_transpose": lambda x: x[:1].transpose(0, 1),
    "flip": lambda x: x.flip(0),
    "clone_t": lambda x: x.t().clone() if x.ndim == 2 else x.mT.clone(),
}


@pytest.mark.parametrize("name", list(CONTIGUITY))
def test_is_contiguous_matches_torch(name):
    fn = CONTIGUITY[name]
    e, t = both(lambda m, x: fn(x))
    assert e.is_contiguous() == t.is_contiguous()
    assert e.contiguous().is_contiguous()
    np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_version_counter_sequences():
    def sequence(m, x):
        versions = [x._version]
        v = x[0]
        x.add_(1)
        versions += [x._version, v._version]
        v.mul_(2)
        versions += [x._version, v._version]
        x[1, 0] = 3.0
        versions.append(x._version)
        y = x + 1
        versions.append(y._version)
        x.zero_()
        versions.append(x._version)
        return versions

    assert both(sequence)[0] == both(sequence)[1]


def test_gradient_through_view_of_non_leaf():
    def run(m):
        x = m.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
        y = x * 2
        y.view(6)[1:3].mul_(3)
        y.t()[0].zero_()
        (y * m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
        return y.detach().numpy().copy(), x.grad.numpy()

    (ey, eg), (ty, tg) = run(ember), run(torch)
    np.testing.assert_array_equal(ey, ty)
    np.testing.assert_array_equal(eg, tg)


@pytest.mark.parametrize("fn", [
    lambda m: m.zeros(5).split([2, 2]), lambda m: m.zeros(5).chunk(0),
    lambda m: m.zeros(2, 3).flip((0, 0)), lambda m: m.zeros(3).mT,
    lambda m: m.zeros(2, 3).expand(3, 3), lambda m: m.zeros(2, 3).permute(0, 0),
    lambda m: m.zeros(2, 3).permute(1), lambda m: m.zeros(2, 3).transpose(0, 2),
    lambda m: m.zeros(2, 3).narrow(1, 2, 2), lambda m: m.zeros(2, 3).flatten(1, 0),
    lambda m: m.zeros(2, 3).unflatten(1, (2, 2)), lambda m: m.cat([m.zeros(2, 3), m.zeros(2)]),
    lambda m: m.stack([m.zeros(2), m.zeros(3)]), lambda m: m.zeros(2, 3).repeat(2),
    lambda m: m.zeros(2, 3).reshape(-1, 0), lambda m: m.zeros(2, 3).movedim((0, 1), (1,)),
])
def test_errors_like_torch(fn):
    with pytest.raises((RuntimeError, IndexError)):
        fn(torch)
    with pytest.raises((RuntimeError, IndexError)):
        fn(ember)


@pytest.mark.parametrize("fn", [lambda x: x.flip(0), lambda x: x.flip(()), lambda x: x.clone(),
                                lambda x: x.contiguous().t().contiguous(), lambda x: x.repeat(1, 1)])
def test_copies_do_not_alias(fn):
    x = ember.zeros(2, 3)
    y = fn(x)
    y.add_(1)
    assert x.sum().item() == 0
