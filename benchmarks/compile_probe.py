"""Child process for the compile-time rows: build the MLP training step for one column, time its
first call, print {"first_call_s": seconds} as JSON.

Usage: python -m benchmarks.compile_probe COLUMN BATCH DEVICE (COLUMN is "torch.compile" or
"ember jit:<backend>", DEVICE "cpu" or "cuda").
"""

from __future__ import annotations

import json
import sys
import time

from benchmarks import implementations as impl
from benchmarks import training


def first_call(column: str, batch: int, device: str) -> float:
    """Seconds taken by the first call of a fresh MLP training step on `device` compiled by
    `column`."""
    if column == impl.TORCH_COMPILE:
        import torch._dynamo

        torch._dynamo.reset()
        step = training.torch_step(training.torch_mlp, batch, (784,), True, device)
    elif column.startswith(impl.JIT_PREFIX):
        step = training.ember_step(training.ember_mlp, batch, (784,),
                                   column[len(impl.JIT_PREFIX):], device)
    else:
        raise ValueError(f"no compiler behind column {column!r}")
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


if __name__ == "__main__":
    print(json.dumps({"first_call_s": first_call(sys.argv[1], int(sys.argv[2]), sys.argv[3])}))
