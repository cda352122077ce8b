"""Eager CUDA primitives through the real pipeline: each runs its single-op graph compiled by the
CUDA code generator, on the fake driver (whose launches run the kernels' GPU-mapped loops IR in
the SIMT interpreter), and matches the CPU. Shapes are tiny: the interpreter is slow."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from cuda_fake import install_fake_cuda


@pytest.fixture
def driver(monkeypatch):
    return install_fake_cuda(monkeypatch)


INDEX = ember.tensor([[2, 0, 1, 2], [1, 1, 0, 0], [0, 2, 2, 1]])

OPS = {
    "sigmoid": lambda x, w: x.sigmoid() * x.sin() + x.abs().sqrt(),
    "pow_div": lambda x, w: (x.abs() + 1) ** 1.5 / (w[:3, :4] - 3),
    "compare": lambda x, w: ember.where(x >= 0.1, x.floor(), -x.ceil()),
    "erf": lambda x, w: ember.erf(x) + x.abs().log1p(),
    "sum_max": lambda x, w: x.sum(1) + x.amax(0)[:3],
    "argmax": lambda x, w: x.argmax(1),
    "prod": lambda x, w: x.prod(0),
    "log_softmax": lambda x, w: F.log_softmax(x, -1),
    "layer_norm": lambda x, w: F.layer_norm(x, (4,)),
    "matmul": lambda x, w: x @ w,
    "gather": lambda x, w: x.gather(1, INDEX.to(x.device)),
    "scatter_add": lambda x, w: ember.zeros(3, 4, device=x.device).scatter_add(
        1, INDEX.to(x.device), x),
    "index_select": lambda x, w: x[ember.tensor([2, 0]).to(x.device)],
    "flip_pad_cat": lambda x, w: ember.cat([x.flip(0), F.pad(x, (1, 1))], 1),
    "cast": lambda x, w: (x * 10).to(ember.int32) % 3,
}


@pytest.mark.parametrize("name", list(OPS))
def test_eager_primitives_match_the_cpu(driver, name):
    ember.manual_seed(0)
    x, w = ember.randn(3, 4), ember.randn(4, 5)
    expected = OPS[name](x, w)
    launched = len(driver.launches)
    got = OPS[name](x.cuda(), w.cuda())
    assert len(driver.launches) > launched  # kernels ran, not a host fallback
    assert got.device == "cuda:0" and got.dtype is expected.dtype
    np.testing.assert_allclose(got.cpu().numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


# Functions that build constants of their own (masks, index ranges, initial states): those must
# be made on the input's device, or the op mixes devices.
WITH_CONSTANTS = {
    "cumsum": lambda x: x.cumsum(1),
    "triu": lambda x: x.triu(1),
    "one_hot": lambda x: F.one_hot((x > 0).long().sum(1), 5),
    "argmax_0d": lambda x: x[0, 0].argmax(),
    "pool_indices": lambda x: F.max_pool2d(x[None, None], 2, return_indices=True)[1],
    "avg_pool_pad": lambda x: F.avg_pool2d(x[None, None], 2, padding=1, count_include_pad=False),
    "bilinear": lambda x: F.interpolate(x[None, None], scale_factor=2, mode="bilinear"),
    "nearest": lambda x: F.interpolate(x[None, None], scale_factor=2),
    "causal_attention": lambda x: F.scaled_dot_product_attention(x[None], x[None], x[None],
                                                                 is_causal=True),
    "lstm_state": lambda x: ember.nn.LSTM(4, 3).to(x.device)(x[:, None])[0],
}


@pytest.mark.parametrize("name", list(WITH_CONSTANTS))
def test_constants_are_made_on_the_input_device(driver, name):
    ember.manual_seed(0)
    x = ember.randn(3, 4)
    ember.manual_seed(1)
    expected = WITH_CONSTANTS[name](x)
    ember.manual_seed(1)
    got = WITH_CONSTANTS[name](x.cuda())
    assert got.device == "cuda:0" and got.dtype is expected.dtype
    np.testing.assert_allclose(got.detach().cpu().numpy(), expected.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_conv2d_and_its_gradients_match_the_cpu(driver):
    ember.manual_seed(0)
    x, w = ember.randn(1, 2, 5, 5), ember.randn(3, 2, 3, 3)
    results = {}
    for where in ("cpu", "cuda"):
        xs, ws = (t.to(where).detach().requires_grad_() for t in (x, w))
        out = F.conv2d(xs, ws, stride=1, padding=1)
        out.square().sum().backward()
        results[where] = [out.detach().cpu(), xs.grad.cpu(), ws.grad.cpu()]
    for got, expected in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-5)


def test_random_primitives_match_the_cpu(driver):
    x = ember.ones(2, 8)
    draws = {}
    for where in ("cpu", "cuda"):
        ember.manual_seed(7)
        draws[where] = [ember.rand_like(x.to(where)), F.dropout(x.to(where), 0.5, True)]
    for got, expected in zip(draws["cuda"], draws["cpu"]):
        assert got.device == "cuda:0"
        np.testing.assert_array_equal(got.cpu().numpy(), expected.numpy())


def test_out_of_range_gather_raises_index_error(driver):
    x = ember.arange(6.0, device="cuda").reshape(2, 3)
    index = ember.tensor([[0, 3]], device="cuda")
    with pytest.raises(IndexError, match=r"^ember\.gather: index 3 is out of bounds for an axis "
                                         r"with size 3$"):
        x.gather(1, index)
    assert x.gather(1, ember.tensor([[2, 0]], device="cuda")).tolist() == [[2.0, 0.0]]


def test_mlp_training_step_matches_the_cpu(driver):
    data, target = ember.randn(6, 4), ember.tensor([0, 1, 2, 0, 1, 2])
    models = {}
    for where in ("cpu", "cuda"):
        ember.manual_seed(0)
        model = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.GELU(),
                                    ember.nn.Linear(8, 3)).to(where)
        optimizer = ember.optim.Adam(model.parameters(), lr=0.01)
        loss = F.cross_entropy(model(data.to(where)), target.to(where))
        loss.backward()
        optimizer.step()
        models[where] = (model, loss)
    (cuda_model, cuda_loss), (cpu_model, cpu_loss) = models["cuda"], models["cpu"]
    assert cuda_loss.item() == pytest.approx(cpu_loss.item(), rel=1e-6)
    for p, q in zip(cuda_model.parameters(), cpu_model.parameters()):
        assert p.device == "cuda:0" and p.grad.device == "cuda:0"
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(p.detach().cpu().numpy(), q.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
