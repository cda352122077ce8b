"""`ember.jit` on whole models: compiled forward, derived backward and compiled training steps
give the eager results, for five small models and two optimizers."""

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
import ember.optim as optim

ATOL = 1e-5
RTOL = 1e-4
BATCH = 4
CLASSES = 3


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 16),
                                 nn.Tanh(), nn.Linear(16, CLASSES))

    def forward(self, x):
        return self.net(x)


class DropoutCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.dropout = nn.Dropout(0.25)
        self.fc = nn.Linear(8 * 3 * 3, CLASSES)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout(ember.flatten(x, 1))
        return self.fc(x)


class BatchNormCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 6 * 6, CLASSES)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.fc(ember.flatten(x, 1))


class LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 8, batch_first=True)
        self.fc = nn.Linear(8, CLASSES)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.fc(h[-1])


class TransformerClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32,
                                           dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.fc = nn.Linear(16, CLASSES)

    def forward(self, x):
        return self.fc(self.encoder(x).mean(1))


MODELS = {
    "mlp": (MLP, (3, 4)),
    "dropout_cnn": (DropoutCNN, (1, 12, 12)),
    "batchnorm_cnn": (BatchNormCNN, (1, 12, 12)),
    "lstm": (LSTMClassifier, (6, 5)),
    "transformer": (TransformerClassifier, (5, 16)),
}

OPTIMIZERS = {
    "sgd": lambda params: optim.SGD(params, lr=0.05, momentum=0.9),
    "adam": lambda params: optim.Adam(params, lr=0.01),
}


def _build(name, seed=1):
    cls, _ = MODELS[name]
    ember.manual_seed(seed)
    return cls()


def _batch(name, seed):
    _, shape = MODELS[name]
    ember.manual_seed(100 + seed)
    return ember.randn(BATCH, *shape), ember.randint(0, CLASSES, (BATCH,))


def _close(got, expected, what):
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=RTOL, atol=ATOL,
                               err_msg=what)


def _grads(model):
    return {n: p.grad.numpy().copy() for n, p in model.named_parameters()}


@pytest.mark.parametrize("name", list(MODELS))
def test_compiled_forward_matches_eager(name):
    eager, model = _build(name), _build(name)
    compiled = ember.jit(model)
    for mode in ("train", "eval"):
        eager.train(mode == "train")
        model.train(mode == "train")
        for step in range(2):
            x, _ = _batch(name, step)
            ember.manual_seed(7 + step)
            expected = eager(x)
            ember.manual_seed(7 + step)
            got = compiled(x)
            _close(got.detach().numpy(), expected.detach().numpy(), f"{name} {mode} {step}")
    assert compiled._jit.trace_count == 2  # once per training mode
    # running statistics updated by the compiled training calls equal the eager ones
    for (n, b), (_, e) in zip(model.named_buffers(), eager.named_buffers()):
        _close(b.numpy(), e.numpy(), f"{name} buffer {n}")


@pytest.mark.parametrize("name", list(MODELS))
def test_compiled_forward_derived_backward_matches_eager(name):
    eager, model = _build(name), _build(name)
    compiled = ember.jit(model)
    for step in range(2):
        x, y = _batch(name, step)
        for m, forward in ((eager, eager), (model, compiled)):
            m.zero_grad()
            ember.manual_seed(11 + step)
            F.cross_entropy(forward(x), y).backward()
        expected, got = _grads(eager), _grads(model)
        assert got.keys() == expected.keys()
        for n in expected:
            _close(got[n], expected[n], f"{name} step {step} grad of {n}")
    assert compiled._jit.trace_count == 1


def _train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.detach()


def _optimizer_state(optimizer, model):
    names = {id(p): n for n, p in model.named_parameters()}
    state = {}
    for p, s in optimizer.state.items():
        for k, v in s.items():
            state[f"{names[id(p)]}.{k}"] = v.numpy().copy() if isinstance(v, ember.Tensor) else v
    return state


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("name", list(MODELS))
def test_compiled_training_step_matches_eager(name, opt):
    eager, model = _build(name), _build(name)
    eager_opt, opt_ = OPTIMIZERS[opt](eager.parameters()), OPTIMIZERS[opt](model.parameters())

    def step(x, y):
        return _train_step(model, opt_, x, y)

    compiled = ember.jit(step)
    batches = [_batch(name, i) for i in range(5)]

    ember.manual_seed(42)
    eager_losses = [_train_step(eager, eager_opt, x, y).item() for x, y in batches]
    ember.manual_seed(42)
    losses = [compiled(x, y).item() for x, y in batches]

    _close(losses, eager_losses, f"{name}/{opt} losses")
    for (n, p), (_, e) in zip(model.named_parameters(), eager.named_parameters()):
        _close(p.detach().numpy(), e.detach().numpy(), f"{name}/{opt} parameter {n}")
        _close(p.grad.numpy(), e.grad.numpy(), f"{name}/{opt} grad of {n}")
    for (n, b), (_, e) in zip(model.named_buffers(), eager.named_buffers()):
        _close(b.numpy(), e.numpy(), f"{name}/{opt} buffer {n}")
    got_state, expected_state = _optimizer_state(opt_, model), _optimizer_state(eager_opt, eager)
    assert got_state.keys() == expected_state.keys() and got_state
    for k in expected_state:
        _close(got_state[k], expected_state[k], f"{name}/{opt} optimizer state {k}")

    # first call traces with empty optimizer state, the second retraces once, then cached
    assert compiled.trace_count == 2
    explain = compiled.explain()
    assert "compile 2" in explain and "state" in explain.splitlines()[-1]
    assert "runs eagerly" not in explain


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_compiled_training_step_after_loading_a_checkpoint(opt, tmp_path):
    """load_state_dict replaces the optimizer's state tensors: the compiled step must use the
    new ones, so replaying the same batches from a checkpoint reproduces the same run."""
    model = _build("mlp")
    optimizer = OPTIMIZERS[opt](model.parameters())
    compiled = ember.jit(lambda x, y: _train_step(model, optimizer, x, y))
    batches = [_batch("mlp", i) for i in range(5)]
    for x, y in batches[:2]:
        compiled(x, y)
    path = tmp_path / "checkpoint.safetensors"
    ember.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    first = [compiled(x, y).item() for x, y in batches[2:]]
    first_params = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    checkpoint = ember.load(path)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    again = [compiled(x, y).item() for x, y in batches[2:]]
    _close(again, first, f"{opt} losses after reload")
    for n, p in model.named_parameters():
        _close(p.detach().numpy(), first_params[n], f"{opt} parameter {n} after reload")
