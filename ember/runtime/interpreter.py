"""The reference interpreter: runs a graph-level function with the op table's NumPy semantics.

It is the `"interpreter"` backend of `ember.jit` and the oracle that later backends are
checked against.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ember.ir.core import Block, Operation
from ember.ir.primitive import PRIMITIVES


def run_function(func: Operation, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Evaluate `func` (a func.func of ember ops) on `inputs`; returns its results."""
    block = func.regions[0].blocks[0]
    if len(inputs) != len(block.arguments):
        raise ValueError(f"{func.attributes['sym_name']}: expected {len(block.arguments)} inputs, "
                         f"got {len(inputs)}")
    results = _run_block(block, inputs)
    if results is None:
        raise ValueError(f"{func.attributes['sym_name']}: function body has no func.return")
    return results


def _run_block(block: Block, inputs: Sequence[np.ndarray]) -> list[np.ndarray] | None:
    """Run `block` on arrays for its arguments; the terminator's operands (None if it has none).

    An `ember.fusion` op runs its body the same way, on its operands: its results are the values
    its `ember.yield` gives, so fused and unfused graphs compute the same arrays.
    """
    env = {id(arg): array for arg, array in zip(block.arguments, inputs)}
    for op in block.operations:
        operands = [env[id(v)] for v in op.operands]
        if op.name in ("func.return", "ember.yield"):
            return operands
        if op.name == "ember.fusion":
            outputs = _run_block(op.regions[0].blocks[0], operands)
        else:
            prim = PRIMITIVES[op.opname]
            outputs = [prim.evaluate(operands, op.inherent_attributes, op.results[0].type)]
        for result, array in zip(op.results, outputs):
            env[id(result)] = array
    return None


class InterpreterExecutable:
    """A compiled function for the interpreter backend: call it with input arrays."""

    def __init__(self, module: Operation) -> None:
        self.func = module.regions[0].blocks[0].operations[0]

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return run_function(self.func, inputs)


def compile_module(module: Operation) -> InterpreterExecutable:
    """The interpreter backend's compile step: nothing to do but keep the module."""
    return InterpreterExecutable(module)
