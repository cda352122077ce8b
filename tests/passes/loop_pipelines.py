"""Loops IR of a real function for pass tests: its fused graph through a pipeline of loop
passes, checked by the loops verifier and (where installed) plain mlir-opt."""

import numpy as np

import ember
from ember.ir import parse
from ember.ir.core import Operation
from ember.ir.loops_verifier import verify_loops
from ember.ir.mlir_tools import find_mlir_opt, mlir_opt_plain
from ember.passes import PassManager


def lowered(fn, arrays: list[np.ndarray], pipeline: str) -> Operation:
    """`fn` traced on `arrays`, fused, then run through `pipeline` (loop passes)."""
    fused = ember.jit(fn, backend="interpreter").lower(*map(ember.from_numpy, arrays))
    module = parse(str(fused.graphs["fused"][0]))
    PassManager(pipeline).run(module)
    text = str(module)
    verify_loops(parse(text))
    if find_mlir_opt() is not None:
        mlir_opt_plain(text)
    return module
