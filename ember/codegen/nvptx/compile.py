"""The CUDA compile driver: graph module -> GPU-mapped loops IR -> LLVM IR -> PTX + plan.

Nothing here needs a GPU: the result is text and a plan, for a runtime to load and launch
(`CudaKernel.ptx`, `CudaKernel.plan`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import llvmlite.binding as llvm

from ember.codegen.nvptx import target
from ember.codegen.nvptx.plan import LaunchPlan, launch_plan
from ember.codegen.nvptx.translate import translate_kernels
from ember.ir.core import Operation, functions

PIPELINE = "lower-to-loops,fuse-rows,map-to-gpu"


def lower_to_gpu(graph_module: Operation) -> Operation:
    """The GPU-mapped loops IR of a (fused) graph module, leaving the graph module as it was."""
    from ember import passes  # registers the passes
    from ember.ir.parser import parse

    loops = parse(str(graph_module))
    passes.PassManager(PIPELINE).run(loops)
    return loops


@dataclass
class CudaKernel:
    """The compiled form of one graph function for one architecture."""

    arch: str
    loops: Operation  # the GPU-mapped loops IR
    plan: LaunchPlan

    @functools.cached_property
    def llvm_ir(self) -> str:
        """The kernels' LLVM IR as translated, before optimisation."""
        return str(translate_kernels(self.loops, self.arch))

    @functools.cached_property
    def optimized_ir(self) -> str:
        """The kernels' LLVM IR after -O3 (what the PTX is made of)."""
        return str(self._optimized)

    @functools.cached_property
    def ptx(self) -> str:
        """The PTX module holding every kernel of the plan (entries named as in the plan)."""
        return target.emit_ptx(self._optimized, self.arch)

    @functools.cached_property
    def _optimized(self) -> llvm.ModuleRef:
        module = llvm.parse_assembly(self.llvm_ir)
        module.verify()
        target.optimize(module, self.arch)
        return module


def compile_graph(graph_module: Operation, arch: str | None = None) -> CudaKernel:
    """Lower a graph module's function for the GPU (`arch`: default `target.default_arch()`);
    the LLVM IR and PTX are made on first use."""
    arch = target.check_arch(arch) if arch else target.default_arch()
    loops = lower_to_gpu(graph_module)
    return CudaKernel(arch, loops, launch_plan(loops, functions(loops)[0]))
