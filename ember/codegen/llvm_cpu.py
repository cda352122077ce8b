"""The CPU compile driver: graph module -> loops IR -> LLVM IR -> machine code in this process.

`compile_graph` runs the tail of the pipeline, `LOOPS_PIPELINE`, on a copy of a graph module;
`compile_loops` translates loops IR (see `ember.codegen.llvm.translate` for the calling
convention), optimises it at -O3 for the host CPU, emits an object file and loads it.

Object files go through the disk cache (`ember.codegen.cache`), keyed by the text handed in
(the fused graph, or the loops IR) and the LLVM settings: a hit skips lowering, translation
and LLVM entirely, and the stages a kernel prints (loops IR, LLVM IR, assembly) are rebuilt
only when someone asks for them.
"""

from __future__ import annotations

import functools
import json
from typing import Callable

import llvmlite.binding as llvm

from ember.codegen import cache
from ember.codegen.llvm import parallel, streaming, target, thread_pool
from ember.codegen.llvm.translate import Translation, translate_module
from ember.ir.core import Operation
from ember.ir.dtypes import from_name
from ember.ir.types import MemRefType

# From a fused graph to the loops IR that is translated to LLVM.
LOOPS_PIPELINE = ("lower-to-loops,fuse-rows,reuse-row-values,hoist-reciprocals,donate-buffers,"
                  "stream-stores,pipeline-rows,prefetch-rows")
# Counts compilations that ran LLVM (cache misses), so tests can see a hit skip them.
COMPILE_COUNT = 0


class CpuKernel:
    """Compiled code for one loops-IR function: call `address` as `void (void **buffers)`, the
    buffers being the arguments' and then a scratch arena of `scratch_bytes` (64-byte aligned).

    `loops` produces the loops IR on demand (lowering again after a cache hit); the printed
    stages derive from it lazily, so a kernel loaded from the cache costs no compilation.
    """

    def __init__(self, entry: str, arguments: list[MemRefType], error_ops: list[str],
                 scratch_bytes: int, results_in_arguments: list[tuple[int, int]],
                 engine: llvm.ExecutionEngine, loops: Callable[[], Operation],
                 optimized: llvm.ModuleRef | None = None) -> None:
        self.entry = entry
        self.arguments = arguments
        self.error_ops = error_ops  # names for the status buffer's op indices
        self.scratch_bytes = scratch_bytes
        # (result, argument) positions: results stored in an argument's buffer, whose own
        # memref argument is gone (see `donate-buffers`)
        self.results_in_arguments = results_in_arguments
        self.engine = engine  # owns the machine code; must outlive every call
        self.address = engine.get_function_address(entry)
        self._loops = loops
        self._optimized = optimized

    @functools.cached_property
    def loops(self) -> Operation:
        """The loops IR this kernel was compiled from."""
        return self._loops()

    @functools.cached_property
    def llvm_ir(self) -> str:
        """The LLVM IR as translated, before optimisation."""
        return translate(self.loops)[1]

    @functools.cached_property
    def optimized_ir(self) -> str:
        """The LLVM IR after -O3: the code the machine code is made of."""
        if self._optimized is None:
            self._optimized = optimize(self.llvm_ir)
        return str(self._optimized)

    @functools.cached_property
    def assembly(self) -> str:
        """Host assembly of the optimised module."""
        return target.assembly(target.parse(self.optimized_ir))


def translate(loops_module: Operation) -> tuple[Translation, str]:
    """The LLVM translation of a loops module and its IR text, with the host's triple and
    data layout (the vectorizer's cost model needs them)."""
    translation = translate_module(loops_module)
    machine = target.host_target_machine()
    translation.module.triple = machine.triple
    translation.module.data_layout = str(machine.target_data)
    return translation, str(translation.module)


def optimize(llvm_ir: str) -> llvm.ModuleRef:
    """The parsed, verified and -O3-optimised module of `llvm_ir`, with its marked stores made
    non-temporal (`streaming`)."""
    module = target.parse(llvm_ir)
    target.optimize(module)
    return streaming.apply(module)


def lower_to_loops(graph_module: Operation) -> Operation:
    """The loops IR of a (fused) graph module, leaving the graph module as it was."""
    from ember import passes  # registers lower-to-loops
    from ember.ir.parser import parse

    loops = parse(str(graph_module))
    passes.PassManager(LOOPS_PIPELINE).run(loops)
    return loops


def compile_loops(loops_module: Operation) -> CpuKernel:
    """Translate, optimise and load a loops-IR module (through the disk cache)."""
    return _compile(str(loops_module), lambda: loops_module)


def compile_graph(graph_module: Operation) -> CpuKernel:
    """Machine code for a graph module's function (destination-passing, see translate)."""
    text = str(graph_module)
    return _compile(text, functools.partial(_lower_text, text))


def _lower_text(graph_text: str) -> Operation:
    from ember.ir.parser import parse

    return lower_to_loops(parse(graph_text))


def _compile(key_text: str, loops: Callable[[], Operation]) -> CpuKernel:
    """The kernel of `key_text` from the cache, or compiled from `loops()` and stored."""
    key = cache.key(key_text, f"{target.SETTINGS}; {parallel.settings()}")
    payload = cache.load(key)
    if payload is not None:
        entry, arguments, error_ops, scratch_bytes, donated, obj = _unpack(payload)
        return CpuKernel(entry, arguments, error_ops, scratch_bytes, donated, load_object(obj),
                         loops)
    global COMPILE_COUNT
    COMPILE_COUNT += 1
    loops_module = loops()
    translation, text = translate(loops_module)
    module = optimize(text)
    obj = target.emit_object(module)
    cache.store(key, _pack(translation, obj))
    kernel = CpuKernel(translation.entry, translation.arguments, translation.error_ops,
                       translation.scratch_bytes, translation.results_in_arguments,
                       load_object(obj), lambda: loops_module, module)
    kernel.llvm_ir = text  # fills the cached property: this text was just made
    return kernel


def load_object(obj: bytes) -> llvm.ExecutionEngine:
    """Load a kernel's object code, after the thread pool its parallel loops call."""
    thread_pool.install(parallel.default_threads() - 1)
    return target.load_object(obj)


def _pack(translation: Translation, obj: bytes) -> bytes:
    """A cache payload: a JSON line describing the kernel, then its object code."""
    meta = {"entry": translation.entry, "error_ops": translation.error_ops,
            "arguments": [[list(t.shape), t.dtype.name] for t in translation.arguments],
            "scratch_bytes": translation.scratch_bytes,
            "results_in_arguments": translation.results_in_arguments}
    return json.dumps(meta).encode() + b"\n" + obj


def _unpack(payload: bytes) -> tuple[str, list[MemRefType], list[str], int,
                                     list[tuple[int, int]], bytes]:
    line, _, obj = payload.partition(b"\n")
    meta = json.loads(line)
    arguments = [MemRefType(tuple(shape), from_name(dtype))
                 for shape, dtype in meta["arguments"]]
    donated = [(result, argument) for result, argument in meta["results_in_arguments"]]
    return meta["entry"], arguments, meta["error_ops"], meta["scratch_bytes"], donated, obj
