"""The reference interpreter: runs a graph-level function with the op table's NumPy semantics.

It is the `"interpreter"` backend of `ember.jit` and the oracle that later backends are
checked against.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ember.ir.core import Operation
from ember.ir.primitive import PRIMITIVES


def run_function(func: Operation, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Evaluate `func` (a func.func of ember ops) on `inputs`; returns its results."""
    block = func.regions[0].blocks[0]
    if len(inputs) != len(block.arguments):
        raise ValueError(f"{func.attributes['sym_name']}: expected {len(block.arguments)} inputs, "
                         f"got {len(inputs)}")
    env = {id(arg): array for arg, array in zip(block.arguments, inputs)}
    for op in block.operations:
        if op.name == "func.return":
            return [env[id(v)] for v in op.operands]
        prim = PRIMITIVES[op.opname]
        result = op.results[0]
        env[id(result)] = prim.evaluate([env[id(v)] for v in op.operands], op.attributes,
                                        result.type)
    raise ValueError(f"{func.attributes['sym_name']}: function body has no func.return")


class InterpreterExecutable:
    """A compiled function for the interpreter backend: call it with input arrays."""

    def __init__(self, module: Operation) -> None:
        self.func = module.regions[0].blocks[0].operations[0]

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return run_function(self.func, inputs)


def compile_module(module: Operation) -> InterpreterExecutable:
    """The interpreter backend's compile step: nothing to do but keep the module."""
    return InterpreterExecutable(module)
