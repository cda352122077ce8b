"""The columns of the benchmark table: which implementations exist on this machine."""

from __future__ import annotations

import functools
from typing import Callable, Literal

NUMPY = "numpy"
TORCH = "torch eager"
TORCH_COMPILE = "torch.compile"
EMBER_EAGER = "ember eager"
JIT_PREFIX = "ember jit:"
NUMPY_ON_CPU_NOTE = "runs on the CPU whatever --device is: the kernel rows' reference"


def jit_backends(device: str = "cpu") -> list[str]:
    """Every backend of `ember.jit` present in this checkout (`ember.runtime.BACKENDS`) that
    runs tensors of `device`."""
    from ember.runtime import BACKEND_DEVICES

    return [name for name, where in BACKEND_DEVICES.items() if where == device]


def columns(device: str = "cpu") -> list[str]:
    """Implementation names in table order for tensors on `device`."""
    return ([NUMPY, TORCH, TORCH_COMPILE, EMBER_EAGER]
            + [JIT_PREFIX + b for b in jit_backends(device)])


def synced(call: Callable[[], object], device: str,
           framework: Literal["torch", "ember"]) -> Callable[[], object]:
    """`call`, followed on CUDA by waiting for `framework`'s queued GPU work, so that a timing
    covers the work and not only its launch."""
    if device == "cpu":
        return call
    if framework == "torch":
        import torch

        wait = torch.cuda.synchronize
    else:
        import ember

        wait = ember.cuda.synchronize

    def call_and_wait():
        out = call()
        wait()
        return out
    return call_and_wait


def ember_device_problem(device: str) -> str | None:
    """None if Ember can put a tensor on `device`, else Ember's reason why not."""
    import ember

    try:
        ember.zeros(1).to(device)
    except RuntimeError as e:  # ember.cuda explains a missing driver or device this way
        return str(e)
    return None


@functools.cache
def torch_device_problem(device: str) -> str | None:
    """None if PyTorch can run on `device`, else why not."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        return f"torch {torch.__version__}: CUDA is not available (torch.cuda.is_available())"
    return None


@functools.cache
def torch_compile_problem(device: str) -> str | None:
    """None if `torch.compile` (inductor) compiles and runs a tiny function on `device`, else
    why not."""
    import torch

    try:
        x = torch.ones(8, device=device)
        if not torch.equal(torch.compile(lambda t: t * 2 + 1)(x), x * 3):
            return "torch.compile gave a wrong result on a smoke test"
    except Exception as e:  # any failure (no C compiler, unsupported platform) means n/a
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]
    return None
