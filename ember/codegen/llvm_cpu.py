"""The CPU compile driver: graph module -> loops IR -> LLVM IR -> machine code in this process.

`compile_graph` runs the tail of the pipeline, `lower-to-loops`, on a copy of a graph module;
`compile_loops` translates loops IR (see `ember.codegen.llvm.translate` for the calling
convention), optimises it at -O3 for the host CPU and JIT-compiles it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import llvmlite.binding as llvm

from ember.codegen.llvm import target
from ember.codegen.llvm.translate import Translation, translate_module
from ember.ir.core import Operation
from ember.ir.types import MemRefType


@dataclass
class CpuKernel:
    """Compiled code for one loops-IR function: call `address` as `void (void **buffers)`."""

    translation: Translation
    llvm_ir: str  # as translated, before optimisation
    optimized_ir: str
    engine: llvm.ExecutionEngine  # owns the machine code; must outlive every call
    address: int

    @property
    def arguments(self) -> list[MemRefType]:
        return self.translation.arguments

    @property
    def error_ops(self) -> list[str]:
        return self.translation.error_ops

    @functools.cached_property
    def assembly(self) -> str:
        """Host assembly of the optimised module (compiled again from its text: the JIT
        engine owns the module it was given)."""
        return target.assembly(target.parse(self.optimized_ir))


def translate(loops_module: Operation) -> tuple[Translation, str]:
    """The LLVM translation of a loops module and its IR text, with the host's triple and
    data layout (the vectorizer's cost model needs them)."""
    translation = translate_module(loops_module)
    machine = target.host_target_machine()
    translation.module.triple = machine.triple
    translation.module.data_layout = str(machine.target_data)
    return translation, str(translation.module)


def compile_loops(loops_module: Operation) -> CpuKernel:
    """Translate, optimise and JIT-compile a loops-IR module."""
    translation, text = translate(loops_module)
    module = target.parse(text)
    target.optimize(module)
    optimized = str(module)
    engine = target.jit(module)
    address = engine.get_function_address(translation.entry)
    return CpuKernel(translation, text, optimized, engine, address)


def lower_to_loops(graph_module: Operation) -> Operation:
    """The loops IR of a (fused) graph module, leaving the graph module as it was."""
    from ember import passes  # registers lower-to-loops
    from ember.ir.parser import parse

    loops = parse(str(graph_module))
    passes.PassManager("lower-to-loops").run(loops)
    return loops


def compile_graph(graph_module: Operation) -> CpuKernel:
    """Machine code for a graph module's function (destination-passing, see translate)."""
    return compile_loops(lower_to_loops(graph_module))
