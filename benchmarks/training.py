"""Training-step workloads: one SGD-momentum step (forward, cross entropy, backward, update) of
the 784-128-10 MLP and of the two-convolution CNN of examples/cnn_digits.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable

import numpy as np

from benchmarks import implementations as impl
from benchmarks import numpy_models
from benchmarks.case import Builder, Case, Sizes

LR, MOMENTUM = 0.01, 0.9
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cnn_digits.py"
TORCH_COMPILE_NOTE = "torch.compile on forward + loss (backward by AOTAutograd); eager SGD step"


def ember_cnn():
    """The `Net` of examples/cnn_digits.py, loaded from the example file itself."""
    spec = importlib.util.spec_from_file_location("cnn_digits_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Net()


def torch_cnn():
    """The same network as examples/cnn_digits.py, in PyTorch."""
    import torch.nn as nn

    return nn.Sequential(nn.Conv2d(1, 32, 3, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128),
                         nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10), nn.LogSoftmax(dim=1))


def ember_mlp():
    import ember.nn as nn

    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def torch_mlp():
    import torch.nn as nn

    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def _batch(batch: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (rng.standard_normal((batch, *shape), dtype=np.float32),
            rng.integers(0, 10, batch, dtype=np.int64))


def ember_step(make_model: Callable, batch: int, shape: tuple[int, ...],
               backend: str | None, device: str) -> Callable[[], object]:
    """An Ember training step on a fixed batch on `device`; jitted with `backend` unless it is
    None."""
    import ember
    import ember.nn.functional as F
    import ember.optim as optim

    ember.manual_seed(0)
    model = make_model().to(device)
    optimizer = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def step(x, y):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.detach()

    fn = step if backend is None else ember.jit(step, backend=backend)
    x, y = (ember.from_numpy(a).to(device) for a in _batch(batch, shape))
    return impl.synced(lambda: fn(x, y), device, "ember")


def torch_step(make_model: Callable, batch: int, shape: tuple[int, ...],
               compiled: bool, device: str) -> Callable[[], object]:
    """A PyTorch training step on a fixed batch on `device`, optionally with torch.compile."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    model = make_model().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def loss_of(x, y):
        return F.cross_entropy(model(x), y)

    loss_fn = torch.compile(loss_of) if compiled else loss_of
    x, y = (torch.from_numpy(a).to(device) for a in _batch(batch, shape))

    def step():
        optimizer.zero_grad()
        loss = loss_fn(x, y)
        loss.backward()
        optimizer.step()
        return loss.detach()
    return impl.synced(step, device, "torch")


def _numpy_step(model_cls, batch: int, shape: tuple[int, ...]) -> Callable[[], object]:
    model = model_cls(LR, MOMENTUM)
    x, y = _batch(batch, shape)
    return lambda: model.step(x, y)


def _builders(models: tuple[Callable, Callable, type], batch: int, shape: tuple[int, ...],
              device: str) -> dict[str, Builder]:
    make_ember, make_torch, numpy_cls = models
    builders = {
        impl.NUMPY: lambda: _numpy_step(numpy_cls, batch, shape),
        impl.TORCH: lambda: torch_step(make_torch, batch, shape, False, device),
        impl.TORCH_COMPILE: lambda: torch_step(make_torch, batch, shape, True, device),
        impl.EMBER_EAGER: lambda: ember_step(make_ember, batch, shape, None, device),
    }
    for backend in impl.jit_backends(device):
        builders[impl.JIT_PREFIX + backend] = (
            lambda b=backend: ember_step(make_ember, batch, shape, b, device))
    return builders


MLP = (ember_mlp, torch_mlp, numpy_models.MLP)
CNN = (ember_cnn, torch_cnn, numpy_models.CNN)


def cases(sizes: Sizes, device: str) -> list[Case]:
    """The training-step rows on `device`, timed against PyTorch eager. Three warm-up calls: a
    jitted step compiles again on its second call, once the optimizer has momentum buffers."""
    b = sizes.batch
    notes = {impl.TORCH_COMPILE: TORCH_COMPILE_NOTE}
    if device != "cpu":
        notes[impl.NUMPY] = impl.NUMPY_ON_CPU_NOTE
    return [
        Case("mlp_step", f"MLP 784-128-10 train step, batch {b}", impl.TORCH,
             _builders(MLP, b, (784,), device), warmup=3, notes=notes),
        Case("cnn_step", f"CNN (cnn_digits) train step, batch {b}", impl.TORCH,
             _builders(CNN, b, (1, 28, 28), device), warmup=3, notes=notes),
    ]
