"""Single-kernel workloads: GELU (tanh form), softmax, layer norm and matmul, in float32."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from benchmarks import implementations as impl
from benchmarks.case import Builder, Case, Sizes

GELU_C = math.sqrt(2 / math.pi)


def _np_gelu(x):
    # x * x * x: NumPy 2 takes a slow path for float32 x**3, ~100x slower than two products
    return 0.5 * x * (1 + np.tanh(GELU_C * (x + 0.044715 * x * x * x)))


def _np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _np_layer_norm(x, w, b, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def _builders(np_fn: Callable, torch_fn: Callable, ember_fn: Callable,
              arrays: Callable[[], list[np.ndarray]], device: str) -> dict[str, Builder]:
    """One builder per column for a kernel written once per framework; NumPy stays on the CPU,
    the others get their inputs on `device`."""

    def numpy_builder():
        args = arrays()
        return lambda: np_fn(*args)

    def torch_builder(compiled: bool):
        import torch

        fn = torch.compile(torch_fn) if compiled else torch_fn
        args = [torch.from_numpy(a).to(device) for a in arrays()]

        def call():
            with torch.inference_mode():
                return fn(*args)
        return impl.synced(call, device, "torch")

    def ember_builder(backend: str | None):
        import ember

        fn = ember_fn if backend is None else ember.jit(ember_fn, backend=backend)
        args = [ember.from_numpy(a).to(device) for a in arrays()]
        return impl.synced(lambda: fn(*args), device, "ember")

    builders = {impl.NUMPY: numpy_builder, impl.TORCH: lambda: torch_builder(False),
                impl.TORCH_COMPILE: lambda: torch_builder(True),
                impl.EMBER_EAGER: lambda: ember_builder(None)}
    for backend in impl.jit_backends(device):
        builders[impl.JIT_PREFIX + backend] = lambda b=backend: ember_builder(b)
    return builders


def _random(*shapes: tuple[int, ...]) -> Callable[[], list[np.ndarray]]:
    def arrays():
        rng = np.random.default_rng(0)
        return [rng.standard_normal(s, dtype=np.float32) for s in shapes]
    return arrays


def cases(sizes: Sizes, device: str) -> list[Case]:
    """The kernel rows on `device`, timed against NumPy (on the CPU whatever `device` is)."""
    import torch.nn.functional as TF

    import ember
    import ember.nn.functional as EF

    rows, cols, n = sizes.rows, sizes.cols, sizes.matmul
    notes = {} if device == "cpu" else {impl.NUMPY: impl.NUMPY_ON_CPU_NOTE}
    return [
        Case("gelu", f"GELU (tanh) {sizes.gelu / 2**20:g}M f32", impl.NUMPY, _builders(
            _np_gelu, lambda x: TF.gelu(x, approximate="tanh"),
            lambda x: EF.gelu(x, approximate="tanh"), _random((sizes.gelu,)), device),
            notes=notes),
        Case("softmax", f"softmax ({rows}, {cols}) dim -1", impl.NUMPY, _builders(
            _np_softmax, lambda x: TF.softmax(x, dim=-1), lambda x: EF.softmax(x, dim=-1),
            _random((rows, cols)), device), notes=notes),
        Case("layer_norm", f"layer norm ({rows}, {cols}) affine", impl.NUMPY, _builders(
            _np_layer_norm, lambda x, w, b: TF.layer_norm(x, (cols,), w, b),
            lambda x, w, b: EF.layer_norm(x, (cols,), w, b),
            _random((rows, cols), (cols,), (cols,)), device), notes=notes),
        # One read and one write of the array that softmax and layer norm stream: their floor
        # on this machine at the moment of the run (its memory bandwidth varies over seconds).
        Case("scale", f"x * 2 ({rows}, {cols}), softmax's bytes", impl.NUMPY, _builders(
            lambda x: x * 2, lambda x: x * 2, lambda x: x * 2, _random((rows, cols)), device),
            notes=notes),
        Case("matmul", f"matmul {n}x{n}x{n}", impl.NUMPY, _builders(
            np.matmul, lambda a, b: a @ b, ember.matmul, _random((n, n), (n, n)), device),
            flops=2.0 * n**3, notes=notes),
    ]
