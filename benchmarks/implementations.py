"""The columns of the benchmark table: which implementations exist on this machine."""

from __future__ import annotations

import functools

NUMPY = "numpy"
TORCH = "torch eager"
TORCH_COMPILE = "torch.compile"
EMBER_EAGER = "ember eager"
JIT_PREFIX = "ember jit:"


def jit_backends() -> list[str]:
    """Every backend of `ember.jit` present in this checkout (`ember.runtime.BACKENDS`)."""
    from ember.runtime import BACKENDS

    return list(BACKENDS)


def columns() -> list[str]:
    """Implementation names in table order."""
    return [NUMPY, TORCH, TORCH_COMPILE, EMBER_EAGER] + [JIT_PREFIX + b for b in jit_backends()]


@functools.cache
def torch_compile_problem() -> str | None:
    """None if `torch.compile` (inductor) compiles and runs a tiny function here, else why not."""
    import torch

    try:
        x = torch.ones(8)
        if not torch.equal(torch.compile(lambda t: t * 2 + 1)(x), x * 3):
            return "torch.compile gave a wrong result on a smoke test"
    except Exception as e:  # any failure (no C compiler, unsupported platform) means n/a
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]
    return None
