"""Indexing (__getitem__/__setitem__) and index-based functions compared with PyTorch."""

import numpy as np
import pytest
import torch

import ember

RNG = np.random.default_rng(0)
DATA = RNG.standard_normal((4, 5, 6)).astype(np.float32)
MASK3 = DATA > 0
MASK2 = DATA[:, :, 0] > 0
MASK1 = np.array([True, False, True, True, False])


def convert(key, m):
    """key with NumPy arrays turned into module m's tensors (lists stay lists)."""
    if isinstance(key, tuple):
        return tuple(convert(k, m) for k in key)
    if isinstance(key, np.ndarray):
        return m.tensor(key)
    return key


KEYS = [
    0, -1, 3, (1, 2), (-1, -2, -3), (0, 1, 2),
    slice(None), slice(1, 3), slice(None, None, 2), slice(-3, None), slice(1, -1, 3),
    slice(10, 20), slice(3, 1), (slice(None), slice(1, 4, 2), slice(None, None, 4)),
    None, (None, 0), (0, None, slice(1, 3), None), Ellipsis, (Ellipsis, 0), (0, Ellipsis),
    (Ellipsis, None), (..., None, 1), (1, ..., 2), (None, ..., None),
    [0, 2], np.array([[0, 1], [2, 3]]), [-1, 0, -2], np.array([3, 1, 1]),
    np.array([[0], [2]]), (np.array([0, 2]), np.array([1, 3])),
    (slice(None), [0, 2], slice(1, None)), ([1, 2], slice(None), [0, 5]),
    (0, [1, 2]), ([0, 1], [1, 2], [2, 3]), (np.array([[0], [1]]), np.array([0, 2, 4])),
    (slice(None), np.array([[0, 1]]), np.array([[2], [3]])),
    (np.array([1, 0]), 2), (..., [0, 1]), (None, [1, 2], None, slice(0, 2)),
    (slice(None), 1, [0, 3]), ([0, 2], 1, [0, 3]), ([2], Ellipsis, [1]),
    MASK3, MASK2, (slice(None), MASK1),
    (MASK2, 0), (slice(1, 3), MASK1, slice(None, 2)), np.array([True, False, True, False]),
    True, False, (0, True), (None, False, 1),
    np.array(2), (np.array(1), slice(None), np.array(-1)),
    ([0, 0, 1],), [True, False, True, True],
]


def key_id(key):
    return repr(key).replace("\n", "")[:60]


@pytest.mark.parametrize("key", KEYS, ids=[key_id(k) for k in KEYS])
def test_getitem_values_shapes_grads(key):
    e = ember.tensor(DATA, requires_grad=True)
    t = torch.tensor(DATA, requires_grad=True)
    e_out, t_out = e[convert(key, ember)], t[convert(key, torch)]
    assert tuple(e_out.shape) == tuple(t_out.shape)
    np.testing.assert_array_equal(e_out.detach().numpy(), t_out.detach().numpy())
    weights = RNG.standard_normal(tuple(t_out.shape)).astype(np.float32)
    (e_out * ember.tensor(weights)).sum().backward()
    (t_out * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_getitem_basic_is_view_advanced_is_copy():
    x = ember.zeros(3, 4)
    x[1:, ::2][0, 1] = 7.0
    assert x[1, 2].item() == 7.0
    x[:, [0, 1]].add_(1)  # a copy: x is unchanged
    assert x.sum().item() == 7.0
    x[0].fill_(2.0)
    assert x[0].tolist() == [2.0] * 4


def test_getitem_scalar_tensor_index_and_int_dtypes():
    x = ember.arange(10)
    assert x[ember.tensor(3)].item() == 3 and x[ember.tensor(3)].ndim == 0
    assert x[ember.tensor([1, 2], dtype=ember.int32)].tolist() == [1, 2]
    assert x[np.int64(4)].item() == 4


def test_getitem_errors():
    x = ember.zeros(3, 4)
    with pytest.raises(IndexError, match=r"index 5 .*size 4|size 4.*index 5"):
        x[0, 5]
    with pytest.raises(IndexError, match="3"):
        x[3]
    with pytest.raises(IndexError, match=r"-4"):
        x[-4]
    with pytest.raises(IndexError, match=r"\b7\b.*\b3\b|\b3\b.*\b7\b"):
        x[[0, 7]]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="too many indices"):
        x[:, :, None, 1]
    with pytest.raises(IndexError):
        x[ember.tensor([True, False])]
    with pytest.raises(IndexError):
        x[ember.tensor([0.5])]
    with pytest.raises(IndexError):
        x[[0, 1], [0, 1, 2]]


SET_KEYS = [
    (0, 1.5), (-1, 2.0), ((1, 2), -3.0), (slice(1, 3), 4.0),
    ((slice(None), slice(None, None, 2)), "row"), ((Ellipsis, 0), "col"),
    ([0, 2], "slab"), ((slice(None), [0, 2], slice(1, None)), 9.0),
    (([1, 2], slice(None), [0, 5]), 1.0), ((0, [1, 2]), "row"),
    (MASK3, 0.0), (MASK2, -1.0), ((slice(None), MASK1), 2.0), (MASK3, "masked_values"),
    ((None, 1), 5.0), (([0, 0, 1], 0, 0), 8.0), ((..., None, 1), "col"),
    ((np.array([[0], [1]]), np.array([0, 2, 4])), "adv2"),
    ((1, 1), "extra_leading_ones"), (([], 1), 3.0), ((0, slice(None), 2), "row"),
]


def set_value(kind, target_shape, m):
    if isinstance(kind, str):
        # "row"/"col" broadcast along the leading dims; the others fill the whole target.
        shape = target_shape[-1:] if kind in ("row", "col") else target_shape
        if kind == "extra_leading_ones":
            shape = (1, 1) + target_shape
        return m.tensor(np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape))
    return kind


@pytest.mark.parametrize("key,value", SET_KEYS, ids=[key_id(k) for k, _ in SET_KEYS])
def test_setitem_matches_torch(key, value):
    e, t = ember.tensor(DATA), torch.tensor(DATA)
    shape = tuple(t[convert(key, torch)].shape)
    e[convert(key, ember)] = set_value(value, shape, ember)
    t[convert(key, torch)] = set_value(value, shape, torch)
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    assert e._version == t._version


@pytest.mark.parametrize("key,value", SET_KEYS, ids=[key_id(k) for k, _ in SET_KEYS])
def test_setitem_non_leaf_gradients(key, value):
    def run(m):
        x = m.tensor(DATA, requires_grad=True)
        y = x * 2
        shape = tuple(y[convert(key, m)].shape)
        v = set_value(value, shape, m)
        z = None
        if isinstance(v, (m.Tensor,)):
            z = v.float().requires_grad_(True)
            v = z * 3
        y[convert(key, m)] = v
        (y * m.tensor(DATA + 1)).sum().backward()
        return y.detach().numpy().copy(), x.grad.numpy(), None if z is None else z.grad.numpy()

    (ey, ex, ez), (ty, tx, tz) = run(ember), run(torch)
    np.testing.assert_array_equal(ey, ty)
    np.testing.assert_allclose(ex, tx, rtol=1e-6)
    if tz is not None:
        np.testing.assert_allclose(ez, tz, rtol=1e-6)


def test_setitem_mask_zero_on_non_leaf():
    def run(m):
        x = m.tensor(DATA, requires_grad=True)
        y = x * 2
        y[y > 0] = 0
        y.sum().backward()
        return x.grad.numpy()

    np.testing.assert_array_equal(run(ember), run(torch))


def test_setitem_tensor_requiring_grad_into_plain_tensor():
    def run(m):
        y = m.zeros(3, 4)
        z = m.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        y[0] = z
        y[1:, 1] = z[1]
        (y * m.arange(12.0).reshape(3, 4)).sum().backward()
        return y.detach().numpy().copy(), z.grad.numpy(), y.requires_grad

    (ey, ez, er), (ty, tz, tr) = run(ember), run(torch)
    np.testing.assert_array_equal(ey, ty)
    np.testing.assert_array_equal(ez, tz)
    assert er == tr


def test_setitem_through_view_of_non_leaf():
    def run(m):
        x = m.tensor(DATA, requires_grad=True)
        y = x * 1.5
        v = y[1]
        v[:, 2] = 0.0
        v[0] += 1.0
        w = y.transpose(0, 2)[::2]
        w[0, [1, 3]] = -2.0
        (y ** 2).sum().backward()
        return y.detach().numpy().copy(), x.grad.numpy()

    (ey, eg), (ty, tg) = run(ember), run(torch)
    np.testing.assert_allclose(ey, ty, rtol=1e-6)
    np.testing.assert_allclose(eg, tg, rtol=1e-5)


def test_setitem_casts_and_broadcasts():
    for key, value in [((slice(None), 0), [1, 2, 3]), (0, 7), (slice(None), [[1], [2], [3]])]:
        e, t = ember.zeros(3, 3, dtype=ember.int64), torch.zeros(3, 3, dtype=torch.int64)
        e[key] = ember.tensor(value)
        t[key] = torch.tensor(value)
        assert e.tolist() == t.tolist()
    e, t = ember.zeros(2, 2), torch.zeros(2, 2)
    e[0] = ember.tensor([1, 2])
    t[0] = torch.tensor([1, 2])
    assert e.tolist() == t.tolist() and e.dtype is ember.float32
    # Like copy_, any value dtype is cast to the target's, floats truncating into integers.
    e, t = ember.zeros(3, dtype=ember.int64), torch.zeros(3, dtype=torch.int64)
    e[0], e[1:] = ember.tensor(2.7), ember.tensor([-1.5, 3.9], dtype=ember.float64)
    t[0], t[1:] = torch.tensor(2.7), torch.tensor([-1.5, 3.9], dtype=torch.float64)
    assert e.tolist() == t.tolist()
    e, t = ember.zeros(3, dtype=ember.bool), torch.zeros(3, dtype=torch.bool)
    e[1], t[1] = 5, 5
    assert e.tolist() == t.tolist()


def test_setitem_errors():
    leaf = ember.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf[0] = 1.0
    with pytest.raises(RuntimeError, match="leaf"):
        leaf[[0, 1]] = 1.0
    with ember.no_grad():
        leaf[0] = 1.0
    assert leaf.tolist() == [1.0, 0.0, 0.0]
    x = ember.zeros(3, 4)
    with pytest.raises(IndexError, match=r"\b4\b"):
        x[0, 4] = 1.0
    with pytest.raises(IndexError, match=r"\b9\b"):
        x[[9]] = 1.0
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0] = 1.0
    with pytest.raises(RuntimeError, match=r"shape mismatch.*\[5\].*\[4\]"):
        x[0] = ember.ones(5)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        x[0] = ember.ones(2, 4)
    view_of_leaf = leaf[:2]
    with pytest.raises(RuntimeError, match="leaf"):
        view_of_leaf[0] = 1.0


def ints(shape, high):
    return RNG.integers(0, high, shape)


FUNCTIONS = {
    "gather0": ((4, 5), lambda m, x: m.gather(x, 0, m.tensor(ints((3, 5), 4)))),
    "gather1": ((4, 5), lambda m, x: x.gather(1, m.tensor(ints((4, 2), 5)))),
    "gather_neg": ((2, 3, 4), lambda m, x: x.gather(-1, m.tensor(ints((2, 2, 6), 4)))),
    "gather_small": ((4, 5), lambda m, x: x.gather(1, m.tensor(ints((2, 3), 5)))),
    "scatter_add0": ((4, 5), lambda m, x: m.scatter_add(x, 0, m.tensor(ints((3, 5), 4)),
                                                        x[:3] * 2)),
    "scatter_add1": ((4, 5), lambda m, x: x.scatter_add(1, m.tensor(ints((4, 7), 5)),
                                                        m.ones(4, 7))),
    "index_select0": ((4, 5), lambda m, x: m.index_select(x, 0, m.tensor([3, 0, 3]))),
    "index_select1": ((4, 5), lambda m, x: x.index_select(-1, m.tensor([1, 4]))),
    "index_select_3d": ((2, 3, 4), lambda m, x: x.index_select(1, m.tensor([2, 2, 0, 1]))),
    "masked_fill": ((4, 5), lambda m, x: x.masked_fill(m.tensor(ints((4, 5), 2) > 0), -1.0)),
    "masked_fill_bcast": ((4, 5), lambda m, x: m.masked_fill(x, m.tensor([True, False] * 2
                                                                          + [True]), 0.5)),
    "masked_fill_tensor": ((4, 5), lambda m, x: x.masked_fill(m.tensor(ints((5,), 2) > 0),
                                                              m.tensor(3.0))),
    "take_along_dim": ((4, 5), lambda m, x: m.take_along_dim(x, m.tensor(ints((4, 2), 5)), 1)),
    "take_along_dim0": ((4, 5), lambda m, x: x.take_along_dim(m.tensor(ints((2, 5), 4)), 0)),
    "take_along_argmax": ((4, 5), lambda m, x: m.take_along_dim(x, x.argmax(1, keepdim=True),
                                                                dim=1)),
    "take_along_bcast": ((3, 4, 5), lambda m, x: m.take_along_dim(x, m.tensor(ints((1, 4, 2), 5)),
                                                                  2)),
    "masked_select": ((4, 5), lambda m, x: m.masked_select(x, x > 0)),
    "masked_select_bcast": ((4, 5), lambda m, x: x.masked_select(m.tensor([True, False] * 2
                                                                           + [True]))),
    "take_along_flat": ((4, 5), lambda m, x: m.take_along_dim(x, m.tensor([0, 7, 19, 7]))),
    "index_select_empty": ((4, 5), lambda m, x: x.index_select(1, m.tensor([], dtype=m.int64))),
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_index_functions(name):
    shape, fn = FUNCTIONS[name]
    data = RNG.standard_normal(shape).astype(np.float32)
    state = RNG.bit_generator.state

    def run(m):
        RNG.bit_generator.state = state  # the same random indices for both modules
        x = m.tensor(data, requires_grad=True)
        out = fn(m, x)
        weights = np.linspace(-1, 1, out.numel(), dtype=np.float32).reshape(tuple(out.shape))
        (out * m.tensor(weights)).sum().backward()
        return out.detach().numpy().copy(), x.grad.numpy(), out.dtype

    (eo, eg, ed), (to, tg, td) = run(ember), run(torch)
    assert eo.shape == to.shape and ed.name == str(td)[6:]
    np.testing.assert_allclose(eo, to, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(eg, tg, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fn", [
    lambda m, x: x.gather(1, m.tensor([[4]])), lambda m, x: x.gather(1, m.tensor([0])),
    lambda m, x: x.gather(0, m.tensor([[0, 1, 2, 0, 1]])),
    lambda m, x: x.scatter_add(0, m.tensor([[3, 1]]), m.ones(2, 3)),
    lambda m, x: x.index_select(0, m.tensor([[0]])), lambda m, x: x.index_select(0, m.tensor([3])),
    lambda m, x: x.index_select(0, m.tensor([-1])),
    lambda m, x: x.masked_fill(m.tensor([1, 0, 1, 0]), 1.0),
    lambda m, x: x.masked_fill(m.tensor([True, False, True, False]), m.tensor([1.0])),
])
def test_index_function_errors(fn):
    for m in (torch, ember):
        with pytest.raises((RuntimeError, IndexError)):
            fn(m, m.zeros(3, 4))


def test_nonzero():
    for data in ([[0, 1], [2, 0]], [0.0, 3.0, 0.0], 3, 0, [[False]]):
        e, t = ember.tensor(data), torch.tensor(data)
        assert ember.nonzero(e).tolist() == torch.nonzero(t).tolist()
        assert tuple(ember.nonzero(e).shape) == tuple(torch.nonzero(t).shape)
        assert [i.tolist() for i in e.nonzero(as_tuple=True)] == \
            [i.tolist() for i in t.nonzero(as_tuple=True)]
