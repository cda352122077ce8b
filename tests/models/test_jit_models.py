"""`ember.jit` on whole models: compiled forward, derived backward and compiled training steps
give the eager results, for five small models, two optimizers and three backends (the reference
interpreter, native CPU code and, where a GPU is present, CUDA kernels on CUDA tensors against the
eager CPU run)."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
import ember.optim as optim
from model_zoo import MODELS, batch, build, train_step

ATOL = 1e-5
RTOL = 1e-4

BACKENDS = ("interpreter", "llvm",
            pytest.param("cuda", marks=pytest.mark.skipif(
                not ember.cuda.is_available(),
                reason="needs a CUDA device and pycuda or cuda-python")))


def _device(backend):
    return "cuda" if backend == "cuda" else "cpu"


def _on(backend, *tensors):
    """`tensors` moved to the device that `backend` runs on."""
    return [t.to(_device(backend)) for t in tensors]

OPTIMIZERS = {
    "sgd": lambda params: optim.SGD(params, lr=0.05, momentum=0.9),
    # Some gradients are zero in exact arithmetic (a bias before BatchNorm, attention's key
    # bias) and float32 round-off (~1e-8) in practice, which Adam with its default eps would
    # normalise into full-size steps: any two correct backends diverge on them. eps=1e-3 keeps
    # round-off from moving the parameters and leaves real gradients normalised.
    "adam": lambda params: optim.Adam(params, lr=0.01, eps=1e-3),
}


def _numpy(value):
    return value.detach().cpu().numpy() if isinstance(value, ember.Tensor) else np.asarray(value)


def _close(got, expected, what):
    np.testing.assert_allclose(_numpy(got), _numpy(expected), rtol=RTOL, atol=ATOL, err_msg=what)


def _grads(model):
    return {n: _numpy(p.grad).copy() for n, p in model.named_parameters()}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(MODELS))
def test_compiled_forward_matches_eager(name, backend):
    eager, model = build(name), build(name).to(_device(backend))
    compiled = ember.jit(model, backend=backend)
    for mode in ("train", "eval"):
        eager.train(mode == "train")
        model.train(mode == "train")
        for step in range(2):
            x, _ = batch(name, step)
            ember.manual_seed(7 + step)
            expected = eager(x)
            ember.manual_seed(7 + step)
            got = compiled(*_on(backend, x))
            _close(got, expected, f"{name} {mode} {step}")
    assert compiled._jit.trace_count == 2  # once per training mode
    # running statistics updated by the compiled training calls equal the eager ones
    for (n, b), (_, e) in zip(model.named_buffers(), eager.named_buffers()):
        _close(b, e, f"{name} buffer {n}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(MODELS))
def test_compiled_forward_derived_backward_matches_eager(name, backend):
    eager, model = build(name), build(name).to(_device(backend))
    compiled = ember.jit(model, backend=backend)
    for step in range(2):
        x, y = batch(name, step)
        for m, forward, (x_, y_) in ((eager, eager, (x, y)), (model, compiled, _on(backend, x, y))):
            m.zero_grad()
            ember.manual_seed(11 + step)
            F.cross_entropy(forward(x_), y_).backward()
        expected, got = _grads(eager), _grads(model)
        assert got.keys() == expected.keys()
        for n in expected:
            _close(got[n], expected[n], f"{name} step {step} grad of {n}")
    assert compiled._jit.trace_count == 1


def _optimizer_state(optimizer, model):
    names = {id(p): n for n, p in model.named_parameters()}
    state = {}
    for p, s in optimizer.state.items():
        for k, v in s.items():
            state[f"{names[id(p)]}.{k}"] = _numpy(v).copy() if isinstance(v, ember.Tensor) else v
    return state


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("name", list(MODELS))
def test_compiled_training_step_matches_eager(name, opt, backend):
    eager, model = build(name), build(name).to(_device(backend))
    eager_opt, opt_ = OPTIMIZERS[opt](eager.parameters()), OPTIMIZERS[opt](model.parameters())

    def step(x, y):
        return train_step(model, opt_, x, y)

    compiled = ember.jit(step, backend=backend)
    batches = [batch(name, i) for i in range(5)]

    ember.manual_seed(42)
    eager_losses = [train_step(eager, eager_opt, x, y).item() for x, y in batches]
    ember.manual_seed(42)
    losses = [compiled(*_on(backend, x, y)).item() for x, y in batches]

    _close(losses, eager_losses, f"{name}/{opt} losses")
    for (n, p), (_, e) in zip(model.named_parameters(), eager.named_parameters()):
        _close(p, e, f"{name}/{opt} parameter {n}")
        _close(p.grad, e.grad, f"{name}/{opt} grad of {n}")
    for (n, b), (_, e) in zip(model.named_buffers(), eager.named_buffers()):
        _close(b, e, f"{name}/{opt} buffer {n}")
    got_state, expected_state = _optimizer_state(opt_, model), _optimizer_state(eager_opt, eager)
    assert got_state.keys() == expected_state.keys() and got_state
    for k in expected_state:
        _close(got_state[k], expected_state[k], f"{name}/{opt} optimizer state {k}")

    # first call traces with empty optimizer state, the second retraces once, then cached
    assert compiled.trace_count == 2
    explain = compiled.explain()
    assert "compile 2" in explain and "state" in explain.splitlines()[-1]
    assert "runs eagerly" not in explain


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_compiled_training_step_after_loading_a_checkpoint(opt, backend, tmp_path):
    """load_state_dict replaces the optimizer's state tensors: the compiled step must use the
    new ones, so replaying the same batches from a checkpoint reproduces the same run."""
    model = build("mlp").to(_device(backend))
    optimizer = OPTIMIZERS[opt](model.parameters())
    compiled = ember.jit(lambda x, y: train_step(model, optimizer, x, y), backend=backend)
    batches = [_on(backend, *batch("mlp", i)) for i in range(5)]
    for x, y in batches[:2]:
        compiled(x, y)
    path = tmp_path / "checkpoint.safetensors"
    ember.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    first = [compiled(x, y).item() for x, y in batches[2:]]
    first_params = {n: _numpy(p).copy() for n, p in model.named_parameters()}
    checkpoint = ember.load(path)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    again = [compiled(x, y).item() for x, y in batches[2:]]
    _close(again, first, f"{opt} losses after reload")
    for n, p in model.named_parameters():
        _close(p, first_params[n], f"{opt} parameter {n} after reload")
