"""CUDA tensor plumbing over the fake driver: storage, transfers, device checks, views, in-place
writes, autograd and modules. Kernels are the CUDA code generator's, run by the fake driver in
the SIMT interpreter, so these tests check the generated code and everything around it."""

import numpy as np
import pytest

import ember
from cuda_fake import install_fake_cuda
from ember.runtime.cuda import eager

DTYPES = [ember.float32, ember.float64, ember.float16, ember.bfloat16, ember.int32, ember.int64,
          ember.bool]


@pytest.fixture
def driver(monkeypatch):
    return install_fake_cuda(monkeypatch, devices=2)


def test_api_reports_the_fake_devices(driver):
    assert ember.cuda.is_available() and ember.cuda.device_count() == 2
    assert ember.cuda.get_device_name(1) == "Fake GPU 1"
    assert ember.cuda.current_device() == 0
    ember.cuda.set_device(1)
    assert ember.cuda.current_device() == 1 and ember.ones(1, device="cuda").device == "cuda:1"
    with pytest.raises(RuntimeError, match="CUDA device index 5 is out of range"):
        ember.ones(1).to("cuda:5")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_round_trip_keeps_values_and_dtype(driver, dtype):
    x = (ember.arange(12).reshape(3, 4) % 3).to(dtype)
    y = x.cuda()
    assert y.device == ember.device("cuda:0") and y.is_cuda and y.dtype is dtype
    assert y.shape == (3, 4) and y.stride() == (4, 1) and y.get_device() == 0
    back = y.cpu()
    assert back.device == "cpu" and back.dtype is dtype
    np.testing.assert_array_equal(back.numpy(), x.numpy())


def test_reading_values_syncs_and_copies(driver):
    y = ember.tensor([[1.5, 2.0]], device="cuda")
    assert y.sum().item() == 3.5 and y.tolist() == [[1.5, 2.0]]
    assert repr(y) == "tensor([[1.5000, 2.0000]], device='cuda:0')"
    assert repr(y.double()) == "tensor([[1.5000, 2.0000]], device='cuda:0', dtype=ember.float64)"
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
        y.numpy()
    with pytest.raises(TypeError, match="Use Tensor.cpu"):
        np.asarray(y)
    np.testing.assert_array_equal(y.numpy(force=True), [[1.5, 2.0]])


def test_creation_ops_with_device(driver):
    for t in (ember.zeros(2, 3, device="cuda"), ember.ones(2, device="cuda:1"),
              ember.full((2,), 7, device="cuda"), ember.arange(5, device="cuda"),
              ember.eye(3, device="cuda"), ember.rand(4, device="cuda"),
              ember.randn(4, device="cuda"), ember.tensor([1, 2], device="cuda")):
        assert t.is_cuda
    x = ember.ones(2, device="cuda:1")
    assert ember.zeros_like(x).device == "cuda:1" and x.new_zeros(3).device == "cuda:1"
    leaf = ember.zeros(3, device="cuda", requires_grad=True)
    assert leaf.is_leaf and leaf.requires_grad


def test_random_numbers_are_the_same_on_every_device(driver):
    ember.manual_seed(3)
    a = ember.randn(5)
    ember.manual_seed(3)
    b = ember.randn(5, device="cuda")
    np.testing.assert_array_equal(a.numpy(), b.cpu().numpy())


OPS = [
    ("add", lambda x, y: x + y), ("mul_scalar", lambda x, y: x * 2.5 - 1),
    ("matmul", lambda x, y: x @ y.T), ("softmax", lambda x, y: x.softmax(-1)),
    ("sum", lambda x, y: x.sum(0)), ("max", lambda x, y: x.amax(1)),
    ("where", lambda x, y: ember.where(x > 0, x, y)), ("exp", lambda x, y: x.exp()),
    ("transpose", lambda x, y: x.T + y.T), ("index", lambda x, y: x[1:, ::2] * y[0, 0]),
    ("cat", lambda x, y: ember.cat([x, y], 1)), ("cast", lambda x, y: (x > y).long()),
]


@pytest.mark.parametrize("name,fn", OPS, ids=[o[0] for o in OPS])
def test_eager_ops_match_the_cpu(driver, name, fn):
    x, y = ember.randn(3, 4), ember.randn(3, 4)
    expected = fn(x, y)
    got = fn(x.cuda(), y.cuda())
    assert got.device == "cuda:0" and got.dtype is expected.dtype
    np.testing.assert_allclose(got.cpu().numpy(), expected.numpy(), rtol=1e-6)


def test_single_op_graphs_are_cached_by_signature(driver):
    x = ember.randn(4, device="cuda")
    x + x
    before = eager.cache_size()
    for _ in range(3):
        x + x
    assert eager.cache_size() == before
    ember.randn(5, device="cuda") + ember.randn(5, device="cuda")
    assert eager.cache_size() > before


def test_mixing_devices_names_the_op_and_both_devices(driver):
    with pytest.raises(RuntimeError, match=r"ember.add: Expected all tensors to be on the same "
                                           r"device, but found at least two devices, cuda:0 "
                                           r"and cpu!"):
        ember.ones(2, device="cuda") + ember.ones(2)
    with pytest.raises(RuntimeError, match="cuda:0 and cuda:1"):
        ember.ones(2, device="cuda:0") * ember.ones(2, device="cuda:1")


def test_cpu_scalars_mix_with_cuda_tensors(driver):
    x = ember.ones(3, device="cuda")
    assert (x + ember.tensor(2.0)).device == "cuda:0"
    assert (x * 3).tolist() == [3.0, 3.0, 3.0]


def test_views_share_the_device_buffer(driver):
    x = ember.zeros(3, 4, device="cuda")
    column = x[:, 1]
    row = x[2]
    transposed = x.T
    assert column.data_ptr() == x.data_ptr() + 4 and not transposed.is_contiguous()
    column.fill_(1.0)
    row.add_(2.0)
    expected = np.zeros((3, 4))
    expected[:, 1] = 1
    expected[2] += 2
    np.testing.assert_array_equal(x.cpu().numpy(), expected)
    np.testing.assert_array_equal(transposed.cpu().numpy(), expected.T)
    assert transposed.contiguous().is_contiguous()


def test_setitem_and_masked_writes(driver):
    x = ember.arange(6.0).reshape(2, 3)
    y = x.cuda()
    for t in (x, y):
        t[0, 1] = -1.0
        t[t > 3] = 0.0
        t[:, 2] += 10
    np.testing.assert_array_equal(y.cpu().numpy(), x.numpy())


def test_copy_between_devices(driver):
    x = ember.zeros(2, 2, device="cuda")
    x.copy_(ember.tensor([[1, 2], [3, 4]]))
    assert x.dtype is ember.float32 and x.tolist() == [[1, 2], [3, 4]]
    target = ember.zeros(2, 2)
    target.copy_(x)
    assert target.tolist() == [[1, 2], [3, 4]]


def test_autograd_through_cuda_ops_and_transfers(driver):
    w = ember.randn(4, 3, requires_grad=True)
    x = ember.randn(5, 4)
    loss_cpu = (x @ w).tanh().sum()
    loss_cpu.backward()
    grad_cpu, w.grad = w.grad, None
    w_cuda = w.to("cuda")
    assert w_cuda.grad_fn.name() == "ToCopyBackward0"
    loss = (x.cuda() @ w_cuda).tanh().sum()
    loss.backward()
    assert w.grad.device == "cpu"
    np.testing.assert_allclose(w.grad.numpy(), grad_cpu.numpy(), rtol=1e-6)


def test_cuda_leaves_get_cuda_gradients(driver):
    w = ember.randn(3, requires_grad=True, device="cuda")
    (w * w).sum().backward()
    assert w.grad.device == "cuda:0"
    np.testing.assert_allclose(w.grad.cpu().numpy(), 2 * w.detach().cpu().numpy())


def _train(model, data, target, steps=3):
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = ember.nn.functional.cross_entropy(model(data), target)
        loss.backward()
        optimizer.step()
    return loss.item()


def _model():
    ember.manual_seed(0)
    return ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU(), ember.nn.Dropout(0.2),
                               ember.nn.Linear(8, 3))


def test_module_to_cuda_trains_like_the_cpu(driver):
    data, target = ember.randn(6, 4), ember.tensor([0, 1, 2, 0, 1, 2])
    cpu_model = _model()
    ember.manual_seed(1)
    cpu_loss = _train(cpu_model, data, target)
    cuda_model = _model()
    weight = cuda_model[0].weight
    assert cuda_model.cuda() is cuda_model and weight.device == "cuda:0"
    assert cuda_model[0].weight is weight
    ember.manual_seed(1)
    cuda_loss = _train(cuda_model, data.cuda(), target.cuda())
    assert weight.grad.device == "cuda:0"
    assert cuda_loss == pytest.approx(cpu_loss, rel=1e-5)
    for p, q in zip(cpu_model.parameters(), cuda_model.cpu().parameters()):
        assert q.device == "cpu"
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_memory_is_cached_and_reported(driver):
    ember.cuda.empty_cache()
    start = ember.cuda.memory_allocated()
    x = ember.zeros(1024, device="cuda")
    assert ember.cuda.memory_allocated() == start + 4096
    ptr = x.data_ptr()
    del x
    assert ember.cuda.memory_allocated() == start
    assert ember.cuda.memory_reserved() >= start + 4096
    assert ember.zeros(1000, device="cuda").data_ptr() == ptr  # the freed block, reused
    ember.cuda.empty_cache()
    assert ember.cuda.memory_reserved() == ember.cuda.memory_allocated()
    assert ember.cuda.max_memory_allocated() >= start + 4096


def test_deepcopy_keeps_the_device(driver):
    import copy

    model = ember.nn.Linear(2, 2).cuda()
    clone = copy.deepcopy(model)
    assert clone.weight.device == "cuda:0" and clone.weight.data_ptr() != model.weight.data_ptr()
    np.testing.assert_array_equal(clone.weight.detach().cpu().numpy(),
                                  model.weight.detach().cpu().numpy())


def test_checkpoints_of_cuda_models_and_optimizers_load_back(driver, tmp_path):
    """Saved from device memory; loaded as host tensors, which load_state_dict copies onto
    the model's device and the optimizer moves next to each parameter (its step stays host)."""
    ember.manual_seed(0)
    model = ember.nn.Linear(3, 2).cuda()
    optimizer = ember.optim.Adam(model.parameters(), lr=0.1)
    model(ember.randn(4, 3, device="cuda")).sum().backward()
    optimizer.step()
    path = tmp_path / "checkpoint.safetensors"
    ember.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    checkpoint = ember.load(path)
    restored = ember.nn.Linear(3, 2).cuda()
    restored_optimizer = ember.optim.Adam(restored.parameters(), lr=0.1)
    restored.load_state_dict(checkpoint["model"])
    restored_optimizer.load_state_dict(checkpoint["optimizer"])
    for p, q in zip(restored.parameters(), model.parameters()):
        assert p.is_cuda
        np.testing.assert_array_equal(p.detach().cpu().numpy(), q.detach().cpu().numpy())
    state = restored_optimizer.state[restored.weight]
    assert state["exp_avg"].is_cuda and not state["step"].is_cuda
