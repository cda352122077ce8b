"""`ember.jit` on CUDA tensors: the "cuda" backend compiles the traced graphs with the CUDA code
generator and runs each with one runtime call, here on the fake driver (kernels run in the SIMT
interpreter), matching the same jitted code on the CPU."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from cuda_fake import install_fake_cuda


@pytest.fixture
def driver(monkeypatch):
    return install_fake_cuda(monkeypatch)


def _mlp():
    ember.manual_seed(0)
    return ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU(), ember.nn.Linear(8, 3))


def _close(got, expected):
    assert got.device == "cuda:0"
    np.testing.assert_allclose(got.detach().cpu().numpy(), expected.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_jitted_mlp_forward_runs_on_the_cuda_backend(driver):
    model, x = _mlp(), ember.randn(5, 4)
    with ember.no_grad():
        expected = model(x)
        compiled = ember.jit(model.cuda())
        x = x.cuda()
        for _ in range(2):
            _close(compiled(x), expected)
        assert "ptx" in compiled.lower(x).stages and "compiled 1 time(s)" in compiled.explain()
        launches = len(driver.launches)
        compiled(x)
    assert len(driver.launches) > launches  # the compiled graph's kernels, launched


def test_jitted_forward_differentiates_through_the_compiled_backward(driver):
    model, x = _mlp(), ember.randn(5, 4)
    model(x).sum().backward()
    expected = [p.grad for p in model.parameters()]
    cuda_model = _mlp().cuda()
    compiled = ember.jit(cuda_model)
    compiled(x.cuda()).sum().backward()
    for p, g in zip(cuda_model.parameters(), expected):
        _close(p.grad, g)


def _step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def _dropout_mlp():
    ember.manual_seed(0)
    return ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU(), ember.nn.Dropout(0.3),
                               ember.nn.Linear(8, 3))


# Adam keeps its step count on the host, as PyTorch does: the compiled CUDA step reads it and
# writes it back. Dropout's draws take the generator's (host) counters into the CUDA graph.
@pytest.mark.parametrize("make_model,make_optimizer", [
    (_mlp, lambda params: ember.optim.SGD(params, lr=0.1, momentum=0.9)),
    (_dropout_mlp, lambda params: ember.optim.Adam(params, lr=0.01)),
], ids=["sgd", "dropout-adam"])
def test_jitted_training_step_matches_the_cpu(driver, make_model, make_optimizer):
    x, y = ember.randn(6, 4), ember.tensor([0, 1, 2, 0, 1, 2])
    models = {"cpu": make_model(), "cuda": make_model().cuda()}
    losses = {}
    for where, model in models.items():
        optimizer = make_optimizer(model.parameters())
        step = ember.jit(lambda x, y: _step(model, optimizer, x, y))
        ember.manual_seed(3)
        losses[where] = [step(x.to(where), y.to(where)) for _ in range(3)]
        # compiled twice (the optimizer's state exists from the second step), never run eagerly
        assert step.trace_count == 2 and "runs eagerly" not in step.explain()
    for got, expected in zip(losses["cuda"], losses["cpu"]):
        _close(got, expected)
    for p, q in zip(models["cuda"].parameters(), models["cpu"].parameters()):
        _close(p, q)
