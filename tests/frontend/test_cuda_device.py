"""CUDA tensors on a real GPU, against the CPU: transfers of every dtype, eager primitives run
as compiled single-op graphs, autograd, and a training step of a module moved to the GPU.
Skipped where CUDA is not available (as in CI)."""

import numpy as np
import pytest

import ember

pytestmark = pytest.mark.skipif(not ember.cuda.is_available(),
                                reason="needs a CUDA device and pycuda or cuda-python")

DTYPES = [ember.float32, ember.float64, ember.float16, ember.bfloat16, ember.int32, ember.int64,
          ember.bool]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_round_trip(dtype):
    x = (ember.arange(24).reshape(2, 3, 4) % 5).to(dtype)
    y = x.to("cuda")
    assert y.device == ember.device("cuda", ember.cuda.current_device()) and y.dtype is dtype
    np.testing.assert_array_equal(y.cpu().numpy(), x.numpy())
    np.testing.assert_array_equal(y.permute(2, 0, 1).cpu().numpy(), x.permute(2, 0, 1).numpy())


def test_device_api():
    assert ember.cuda.device_count() >= 1
    assert ember.cuda.get_device_name()
    ember.cuda.synchronize()
    x = ember.zeros(1 << 20, device="cuda")
    assert ember.cuda.memory_allocated() >= 4 << 20
    del x
    ember.cuda.empty_cache()


OPS = [
    ("add", lambda x, y: x + y), ("sub_scalar", lambda x, y: 1.5 - x),
    ("mul_div", lambda x, y: x * y / (y.abs() + 1)), ("exp_log", lambda x, y: x.exp().log1p()),
    ("tanh_sigmoid", lambda x, y: x.tanh() + y.sigmoid()), ("pow", lambda x, y: x.abs() ** 1.5),
    ("compare", lambda x, y: (x > y).to(x.dtype)), ("where", lambda x, y: ember.where(x > 0, x, y)),
    ("sum", lambda x, y: x.sum(1)), ("mean_all", lambda x, y: x.mean()),
    ("amax", lambda x, y: x.amax(0)), ("argmax", lambda x, y: x.argmax(1)),
    ("softmax", lambda x, y: x.softmax(-1)), ("log_softmax", lambda x, y: x.log_softmax(0)),
    ("matmul", lambda x, y: x @ y.T), ("transpose", lambda x, y: (x.T * 2).contiguous()),
    ("slice", lambda x, y: x[1:, ::2] + 1), ("gather", lambda x, y: x.gather(1, (y > 0).long())),
    ("cat", lambda x, y: ember.cat([x, y], 0)), ("flip", lambda x, y: x.flip(1)),
    ("cast", lambda x, y: x.to(ember.float16).to(ember.float32)),
    ("cumsum", lambda x, y: x.cumsum(1)),
]


@pytest.mark.parametrize("name,fn", OPS, ids=[o[0] for o in OPS])
def test_eager_ops_match_the_cpu(name, fn):
    ember.manual_seed(0)
    x, y = ember.randn(8, 16), ember.randn(8, 16)
    expected = fn(x, y)
    got = fn(x.cuda(), y.cuda())
    assert got.is_cuda and got.dtype is expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(got.cpu().numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_conv2d_matches_the_cpu():
    x, w = ember.randn(2, 3, 9, 9), ember.randn(4, 3, 3, 3)
    expected = ember.nn.functional.conv2d(x, w, padding=1)
    got = ember.nn.functional.conv2d(x.cuda(), w.cuda(), padding=1)
    np.testing.assert_allclose(got.cpu().numpy(), expected.numpy(), rtol=1e-4, atol=1e-5)


def test_autograd_matches_the_cpu():
    ember.manual_seed(0)
    w = ember.randn(16, 8, requires_grad=True)
    x = ember.randn(4, 16)
    ((x @ w).relu().softmax(-1) * ember.arange(8.0)).sum().backward()
    expected, w.grad = w.grad, None
    w_cuda = w.detach().cuda().requires_grad_()
    ((x.cuda() @ w_cuda).relu().softmax(-1) * ember.arange(8.0, device="cuda")).sum().backward()
    assert w_cuda.grad.is_cuda
    np.testing.assert_allclose(w_cuda.grad.cpu().numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_in_place_updates_and_views():
    x = ember.arange(12.0).reshape(3, 4)
    y = x.cuda()
    for t in (x, y):
        t[:, 1].mul_(10)
        t[t > 30] = -1.0
        t.add_(1)
    np.testing.assert_array_equal(y.cpu().numpy(), x.numpy())


def _model():
    ember.manual_seed(0)
    return ember.nn.Sequential(ember.nn.Conv2d(1, 4, 3, padding=1), ember.nn.ReLU(),
                               ember.nn.Flatten(), ember.nn.Linear(4 * 6 * 6, 10),
                               ember.nn.LayerNorm(10))


def _step(model, data, target):
    optimizer = ember.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = ember.nn.functional.cross_entropy(model(data), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_module_training_steps_match_the_cpu():
    ember.manual_seed(1)
    data, target = ember.randn(8, 1, 6, 6), ember.randint(0, 10, (8,))
    cpu_model = _model()
    cpu_losses = _step(cpu_model, data, target)
    cuda_model = _model().to("cuda")
    cuda_losses = _step(cuda_model, data.cuda(), target.cuda())
    np.testing.assert_allclose(cuda_losses, cpu_losses, rtol=1e-4)
    for p, q in zip(cpu_model.parameters(), cuda_model.cpu().parameters()):
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-4, atol=1e-5)
