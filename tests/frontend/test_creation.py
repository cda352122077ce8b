"""Tensor creation, conversion, metadata and printing compared with PyTorch."""

import numpy as np
import pytest
import torch

import ember

DTYPES = [(ember.float32, torch.float32), (ember.float64, torch.float64),
          (ember.float16, torch.float16), (ember.int32, torch.int32),
          (ember.int64, torch.int64), (ember.bool, torch.bool)]


def ember_dtype(torch_dtype):
    return {t: e for e, t in DTYPES}[torch_dtype]


def assert_same(e, t):
    """Same shape, dtype and values."""
    assert tuple(e.shape) == tuple(t.shape)
    assert e.dtype.name == str(t.dtype).removeprefix("torch."), (e.dtype, t.dtype)
    np.testing.assert_allclose(e.numpy().astype(np.float64), t.numpy().astype(np.float64),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("data", [
    [1, 2, 3], [1.0, 2.5], [True, False], [[1, 2], [3, 4]], [[1.0, 2], [3, 4]], [1, 2.0],
    [True, 2], [[[1], [2]]], 3, 2.5, True, [], [[]], [[1.5]],
])
def test_tensor_from_python(data):
    assert_same(ember.tensor(data), torch.tensor(data))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int32, np.int64,
                                   np.bool_])
def test_tensor_from_numpy_keeps_dtype(dtype):
    array = (np.arange(6).reshape(2, 3) % 2).astype(dtype)
    e = ember.tensor(array)
    assert_same(e, torch.tensor(array))
    array[0, 0] = 1
    assert e[0, 0].item() == 0  # tensor() copies


@pytest.mark.parametrize("tdtype", [d for _, d in DTYPES])
def test_tensor_dtype_argument(tdtype):
    data = [[0, 1.5], [2, -3]] if tdtype.is_floating_point else [[0, 1], [2, 0]]
    assert_same(ember.tensor(data, dtype=ember_dtype(tdtype)), torch.tensor(data, dtype=tdtype))


def test_narrow_numpy_integers_widen_to_int32():
    # Ember has no int8/int16/uint8: they widen to the narrowest integer type it has.
    for dtype in (np.int8, np.int16, np.uint8):
        assert ember.tensor(np.array([1, 2], dtype=dtype)).dtype is ember.int32


def test_tensor_from_tensors_and_numpy_scalars():
    assert_same(ember.tensor([ember.tensor(1.0), ember.tensor(2.0)]),
                torch.tensor([torch.tensor(1.0), torch.tensor(2.0)]))
    assert_same(ember.tensor(np.float64(2.0)), torch.tensor(np.float64(2.0)))
    assert_same(ember.tensor([np.float64(1.0), 2]), torch.tensor([np.float64(1.0), 2]))
    assert_same(ember.tensor([np.float16(1.0), 2.5]), torch.tensor([np.float16(1.0), 2.5]))
    assert_same(ember.tensor([np.int32(1), 2]), torch.tensor([np.int32(1), 2]))
    assert_same(ember.scalar_tensor(3), torch.scalar_tensor(3))
    assert_same(ember.tensor(ember.tensor([1, 2])), torch.tensor([1, 2]))


def test_tensor_requires_grad():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    assert x.requires_grad and x.is_leaf
    with pytest.raises(RuntimeError):
        ember.tensor([1, 2], requires_grad=True)


def test_as_tensor_and_from_numpy_share_memory():
    array = np.arange(4.0)
    for e in (ember.as_tensor(array), ember.from_numpy(array)):
        assert e.dtype is ember.float64
        array[1] = 10.0
        assert e[1].item() == 10.0
        e[2] = -1.0
        assert array[2] == -1.0
    copied = ember.as_tensor(array, dtype=ember.float32)
    array[0] = 5.0
    assert copied[0].item() != 5.0
    t = ember.tensor([1.0])
    assert ember.as_tensor(t) is t
    assert_same(ember.as_tensor([1, 2]), torch.as_tensor([1, 2]))


@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
@pytest.mark.parametrize("size", [(2, 3), ((2, 3),), ([4],), ((),), (0, 2)])
@pytest.mark.parametrize("tdtype", [None, torch.int64, torch.float64, torch.bool])
def test_constant_creation(name, size, tdtype):
    kwargs = {} if tdtype is None else {"dtype": tdtype}
    t = getattr(torch, name)(*size, **kwargs)
    e = getattr(ember, name)(*size, **({} if tdtype is None else {"dtype": ember_dtype(tdtype)}))
    assert tuple(e.shape) == tuple(t.shape) and e.dtype.name == str(t.dtype)[6:]
    if name != "empty":
        assert_same(e, t)


@pytest.mark.parametrize("value", [1.5, 3, True, -2])
def test_full(value):
    assert_same(ember.full((2, 2), value), torch.full((2, 2), value))
    assert_same(ember.full([3], value, dtype=ember.float64),
                torch.full([3], value, dtype=torch.float64))


@pytest.mark.parametrize("args", [(5,), (2, 7), (1, 10, 3), (10, 1, -2), (0.0, 1.0, 0.1),
                                  (-1.5, 2.0, 0.5), (5.0,), (1, 2.5), (3, 3), (0, 1, 0.3),
                                  (1.0, -1.0, -0.25)])
def test_arange(args):
    assert_same(ember.arange(*args), torch.arange(*args))


def test_arange_dtype():
    assert_same(ember.arange(5, dtype=ember.float32), torch.arange(5, dtype=torch.float32))
    assert_same(ember.arange(0, 5, 1.5, dtype=ember.int64),
                torch.arange(0, 5, 1.5, dtype=torch.int64))
    with pytest.raises(RuntimeError):
        ember.arange(0, 5, 0)
    with pytest.raises(RuntimeError, match="step sign"):
        ember.arange(3, 0)
    np.testing.assert_array_equal(ember.arange(0, 1, 0.1).numpy(), torch.arange(0, 1, 0.1).numpy())


@pytest.mark.parametrize("args", [(0, 1, 5), (-2.0, 3.0, 7), (1, 1, 1), (0, 10, 0), (3, -3, 4),
                                  (0, 1, 2), (0.5, 2, 1), (-1, 1, 4)])
def test_linspace(args):
    assert_same(ember.linspace(*args), torch.linspace(*args))
    assert_same(ember.linspace(*args, dtype=ember.float64),
                torch.linspace(*args, dtype=torch.float64))


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2), (0,)])
def test_eye(args):
    assert_same(ember.eye(*args), torch.eye(*args))
    assert_same(ember.eye(*args, dtype=ember.int64), torch.eye(*args, dtype=torch.int64))


@pytest.mark.parametrize("tdtype", [torch.float32, torch.int32, torch.float64, torch.bool])
def test_new_factories(tdtype):
    t = torch.ones(2, 3, dtype=tdtype)
    e = ember.ones(2, 3, dtype=ember_dtype(tdtype))
    assert_same(e.new_zeros(2), t.new_zeros(2))
    assert_same(e.new_ones((2, 4)), t.new_ones((2, 4)))
    assert_same(e.new_full((3,), 1), t.new_full((3,), 1))
    assert_same(e.new_tensor([1, 0]), t.new_tensor([1, 0]))
    assert_same(e.new_zeros(2, dtype=ember.float64), t.new_zeros(2, dtype=torch.float64))


@pytest.mark.parametrize("tdtype", [torch.float32, torch.int32, torch.float64, torch.bool])
def test_like(tdtype):
    t = torch.ones(2, 3, dtype=tdtype)
    e = ember.ones(2, 3, dtype=ember_dtype(tdtype))
    assert_same(ember.zeros_like(e), torch.zeros_like(t))
    assert_same(ember.ones_like(e), torch.ones_like(t))
    assert_same(ember.full_like(e, 1), torch.full_like(t, 1))
    assert_same(ember.zeros_like(e, dtype=ember.float64), torch.zeros_like(t, dtype=torch.float64))
    assert tuple(ember.empty_like(e).shape) == (2, 3) and ember.empty_like(e).dtype is e.dtype
    assert ember.ones_like(e.float(), requires_grad=True).requires_grad


def test_rand_shapes_dtypes_ranges():
    x = ember.rand(3, 4)
    assert tuple(x.shape) == (3, 4) and x.dtype is ember.float32
    assert 0 <= x.numpy().min() and x.numpy().max() < 1
    assert ember.rand((2, 5), dtype=ember.float64).dtype is ember.float64
    assert ember.randn(2, 3).dtype is ember.float32 and tuple(ember.randn([7]).shape) == (7,)
    assert tuple(ember.randn(()).shape) == ()
    r = ember.randint(3, 10, (1000,))
    assert r.dtype is ember.int64 and r.numpy().min() == 3 and r.numpy().max() == 9
    assert ember.randint(5, (2, 2)).dtype is ember.int64
    assert ember.randint(0, 5, (3,), dtype=ember.int32).dtype is ember.int32
    assert ember.rand(2, requires_grad=True).requires_grad
    z = ember.zeros(2, 3)
    assert tuple(ember.rand_like(z).shape) == (2, 3) and ember.randn_like(z).dtype is z.dtype
    assert ember.randint_like(z, 4).numpy().max() < 4


def test_manual_seed_reproducible():
    ember.manual_seed(123)
    a, b, c = ember.rand(5), ember.randn(5), ember.randint(0, 100, (5,))
    ember.manual_seed(123)
    assert np.array_equal(a.numpy(), ember.rand(5).numpy())
    assert np.array_equal(b.numpy(), ember.randn(5).numpy())
    assert np.array_equal(c.numpy(), ember.randint(0, 100, (5,)).numpy())
    assert not np.array_equal(ember.rand(5).numpy(), a.numpy())
    g = ember.Generator().manual_seed(7)
    first = ember.rand(3, generator=g)
    g.manual_seed(7)
    assert np.array_equal(first.numpy(), ember.rand(3, generator=g).numpy())


def test_randn_moments():
    ember.manual_seed(0)
    x = ember.randn(100_000).numpy()
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1) < 0.02
    u = ember.rand(100_000).numpy()
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005


def test_dtypes_devices_cuda():
    assert ember.float32 is not ember.float64
    assert ember.float is ember.float32 and ember.double is ember.float64
    assert ember.long is ember.int64 and ember.int is ember.int32 and ember.half is ember.float16
    assert ember.float32.is_floating_point and not ember.int64.is_floating_point
    assert str(ember.float32) == "ember.float32"
    d = ember.device("cpu")
    assert d.type == "cpu" and ember.zeros(1).device == d and str(d) == "cpu"
    assert isinstance(ember.cuda.is_available(), bool)  # false here only without a GPU
    assert ember.zeros(2, device="cpu").device.type == "cpu"


@pytest.mark.parametrize("method", ["float", "double", "long", "int", "bool", "half"])
def test_type_conversions(method):
    data = [[0.0, 1.7], [-2.5, 3.0]]
    assert_same(getattr(ember.tensor(data), method)(), getattr(torch.tensor(data), method)())


@pytest.mark.parametrize("tdtype", [d for _, d in DTYPES])
def test_to_dtype(tdtype):
    data = [1.0, -2.5, 0.0]
    e = ember.tensor(data).to(ember_dtype(tdtype))
    assert_same(e, torch.tensor(data).to(tdtype))
    x = ember.tensor(data)
    assert x.to(ember.float32) is x and x.to("cpu") is x
    assert x.to(ember.float32, copy=True) is not x
    assert_same(x.to(ember.zeros(1, dtype=ember.int64)), torch.tensor(data).to(torch.zeros(1).long()))


def test_to_keeps_gradient():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    (x.to(ember.float64) * 3).sum().backward()
    assert x.grad.dtype is ember.float32 and x.grad.tolist() == [3.0, 3.0]


def test_item_tolist():
    assert ember.tensor(2.5).item() == 2.5 and isinstance(ember.tensor(2.5).item(), float)
    assert ember.tensor([3]).item() == 3 and isinstance(ember.tensor([3]).item(), int)
    assert ember.tensor(True).item() is True
    with pytest.raises(RuntimeError):
        ember.tensor([1, 2]).item()
    for data in ([[1, 2], [3, 4]], [1.5, -2.0], [True, False], 7):
        assert ember.tensor(data).tolist() == torch.tensor(data).tolist()


def test_numpy_shares_memory_and_rejects_grad():
    e = ember.zeros(3)
    a = e.numpy()
    a[0] = 4.0
    assert e[0].item() == 4.0
    e.add_(1)
    assert a.tolist() == [5.0, 1.0, 1.0]
    x = ember.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        x.numpy()
    assert x.detach().numpy().tolist() == [0.0, 0.0]


@pytest.mark.parametrize("shape", [(), (3,), (2, 3, 4), (0, 5)])
def test_metadata(shape):
    e, t = ember.zeros(shape), torch.zeros(shape)
    assert e.shape == t.shape and e.size() == t.size() and isinstance(e.shape, tuple)
    assert e.dim() == t.dim() == e.ndim and e.numel() == t.numel()
    for d in range(-len(shape), len(shape)):
        assert e.size(d) == t.size(d)
    assert repr(e.shape) == repr(t.shape).replace("torch.", "ember.")
    with pytest.raises(IndexError):
        e.size(len(shape) + 1)


REPR_CASES = [
    lambda m: m.tensor([1.5, -2.0]),
    lambda m: m.tensor([1.0, 2.0, 3.0]),
    lambda m: m.tensor([[1, 2], [3, -40]]),
    lambda m: m.tensor([True, False, True]),
    lambda m: m.tensor([1.0, 2.0], dtype=m.float64),
    lambda m: m.tensor([1, 2], dtype=m.int32),
    lambda m: m.tensor([1.5, 2.0], dtype=m.float16),
    lambda m: m.tensor([1.5, -2.0], dtype=m.bfloat16),
    lambda m: m.tensor([0.1, 20.25], requires_grad=True),
    lambda m: m.tensor(2.5, requires_grad=True),
    lambda m: m.tensor([-0.5, 123456.789]),
    lambda m: m.tensor([1e-3, 1e3]),
    lambda m: m.arange(30.0) * 1e5,
    lambda m: m.tensor([0.1] * 25, requires_grad=True),
    lambda m: m.arange(2000).reshape(2, 10, 100) > 5,
    lambda m: m.zeros(2, 0, dtype=m.int32),
    lambda m: m.tensor(3.5),
    lambda m: m.tensor(7),
    lambda m: m.tensor([1e-5, 1.0]),
    lambda m: m.tensor([1e10, 1.0]),
    lambda m: m.tensor([float("nan"), 1.0, float("-inf")]),
    lambda m: m.zeros(3),
    lambda m: m.zeros(0, 3),
    lambda m: m.tensor([], dtype=m.int64),
    lambda m: m.tensor([]),
    lambda m: m.arange(24.0).reshape(2, 3, 4) / 7,
    lambda m: m.arange(100.0) / 3,
    lambda m: m.arange(2000).reshape(40, 50),
    lambda m: m.arange(5000.0) - 2500.5,
    lambda m: m.tensor([[1.0, -1.0], [0.0, 1234.5]], dtype=m.float64, requires_grad=True),
]


@pytest.mark.parametrize("case", range(len(REPR_CASES)))
def test_repr_matches_torch(case):
    make = REPR_CASES[case]
    assert repr(make(ember)) == repr(make(torch)).replace("torch.", "ember.")


def test_repr_grad_fn():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    text = repr(x * 2)
    assert text.startswith("tensor([2., 4.], grad_fn=<") and "Backward" in text
    with ember.no_grad():
        assert repr(x * 2) == "tensor([2., 4.])"


def test_legacy_tensor_constructor_matches_torch():
    for args in [([1, 2, 3],), ([[1.5, 2], [3, 4]],), (2, 3), ()]:
        e, t = ember.Tensor(*args), torch.Tensor(*args)
        assert e.dtype is ember.float32 and tuple(e.shape) == tuple(t.shape)
        if args and not isinstance(args[0], int):
            np.testing.assert_array_equal(e.numpy(), t.numpy())
