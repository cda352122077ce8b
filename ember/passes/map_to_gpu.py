"""`map-to-gpu`: loops IR onto a GPU, in MLIR's `gpu` dialect (plain mlir-opt verifies it).

Input: the loops IR of `lower-to-loops,fuse-rows`. Output: a module marked
`gpu.container_module` holding `gpu.module @kernels`, with one `gpu.func ... kernel` per
top-level loop nest (and per run of top-level code that writes memory), and each func.func
turned into host code: `gpu.alloc` for its intermediate buffers, one `gpu.launch_func` per
kernel in program order, `gpu.dealloc`. The calling convention and the status word are those
of `lower-to-loops`; kernels report bad indices into the same status buffer (when several
threads fail at once, the words of the report may come from different threads).

Each kernel is mapped by the shape of its nest (recorded in its `ember.mapping` attribute,
its threads per block in `known_block_size`):

- "grid": the nest's leading independent loops, flattened, one thread per iteration, on a 1-D
  grid of 1-D blocks; consecutive threads take consecutive innermost iterations (coalesced);
  conv2d nests and matmuls that "tiles" does not take (`ember.kernel`) take this mapping, a
  thread per output element, unless "rows" takes fewer steps (below);
- "tiles": float32 matmul nests with tiles enough to fill the GPU or a short K, a tile of the
  product per block, staged through workgroup memory: see `gpu_lowering.tiles`;
- "rows": one block per iteration of the independent loops, when the row body has loops to
  spread over threads or reductions (softmax, layer norm, sums): see `gpu_lowering.rows`.
  Nests the other mappings would give a thread per output (conv2d and matmul nests, and
  reductions over several axes, collapsed to one loop by `gpu_lowering.collapse`) take it when
  their rows are few and their reductions long (bias and weight gradients), by a count of
  steps per thread in waves of resident threads;
- "single": one thread, for nests whose iterations depend on each other (scatter_add).
"""

from __future__ import annotations

import math

from ember.ir.attributes import UNIT, I32Array
from ember.ir.core import Operation, Value, functions
from ember.passes.gpu_lowering.analysis import reduction as analysis_reduction
from ember.passes.gpu_lowering.analysis import trip_count
from ember.passes.gpu_lowering.collapse import collapse, nest_length, reduction_nest
from ember.passes.gpu_lowering.grid import map_grid, map_single, parallel_chain
from ember.passes.gpu_lowering.kernel import Kernel
from ember.passes.gpu_lowering.outline import kernel_groups, launch, outline, rewire
from ember.passes.gpu_lowering.rows import MAX_THREADS, block_size, map_rows, row_threads
from ember.passes.gpu_lowering.tiles import TILE, Matmul, map_tiles, matmul_nest
from ember.passes.lowering.emitter import Emitter, LoweringError
from ember.passes.pass_manager import Pass, register_pass

_HOST_OPS = {"arith.constant", "gpu.alloc", "gpu.dealloc", "gpu.launch_func", "func.return"}
# Attributes for the CPU's hand-written kernels: a GPU kernel has its own mapping.
_CPU_HINTS = ("ember.kernel", "ember.conv2d")
# The GPU the mapping choices are made for (PTX is made without one): an H100's 132
# multiprocessors, 2048 resident threads each.
MULTIPROCESSORS = 132
RESIDENT_THREADS = MULTIPROCESSORS * 2048
# What combining a block's partial results costs, in steps of a reduction loop: two warp
# butterflies of five shuffles each, and the barriers and workgroup memory between them.
COMBINE_STEPS = 32


@register_pass
class MapToGpuPass(Pass):
    """Map loops IR onto the GPU: gpu.func kernels launched from host functions."""

    name = "map-to-gpu"

    def run(self, module: Operation) -> None:
        top = module.regions[0].blocks[0]
        if any(op.name == "gpu.module" for op in top.operations):
            raise LoweringError("map-to-gpu: the module is mapped to the GPU already")
        kernels = Operation("gpu.module", attributes={"sym_name": "kernels"}, regions=1)
        block = kernels.regions[0].add_block()
        for func in functions(module):
            for kernel in map_function(func):
                block.append(kernel)
        kernels.parent = top
        top.operations.insert(0, kernels)
        module.attributes["gpu.container_module"] = UNIT


def _tiles_fill_the_gpu(matmul: Matmul) -> bool:
    """Whether the tiled mapping has blocks enough to keep half the multiprocessors busy, or
    a K too short to split: a small product with a long K (a weight gradient, a first layer's
    forward) runs faster as one block per element, the block splitting K."""
    tiles = math.prod(trip_count(loop) for loop in matmul.chain[:-2]) * math.prod(
        -(-trip_count(loop) // TILE) for loop in matmul.chain[-2:])
    return tiles >= MULTIPROCESSORS // 2 or trip_count(matmul.k_loop) < MAX_THREADS


def _rows_beat_threads(chain: list[Operation], inner: list[Operation],
                       ignored: set[Value]) -> bool:
    """Whether splitting the longest reduction of a row over a block's threads (and combining
    the partials) takes fewer steps than a thread per row does, counting waves of
    RESIDENT_THREADS: so for few rows with long reductions (bias and weight gradients), not
    for many short ones (convolutions) or small problems."""
    lengths = [n for op in inner if (n := _reduction_length(op, ignored))]
    if not lengths:
        return False
    rows, length = math.prod(trip_count(loop) for loop in chain), max(lengths)
    threads = block_size(length)
    per_thread = -(-rows // RESIDENT_THREADS) * length
    per_block = -(-rows * threads // RESIDENT_THREADS) * (-(-length // threads) + COMBINE_STEPS)
    return per_block < per_thread


def _reduction_length(op: Operation, ignored: set[Value]) -> int | None:
    """How many elements `op` combines if it is a reduction loop or a nest of them."""
    if analysis_reduction(op, ignored) is not None:
        return trip_count(op)
    nest = reduction_nest(op)
    return None if nest is None else nest_length(nest)


def _collapsed(kernel: Kernel, op: Operation) -> Operation:
    nest = reduction_nest(op)
    return op if nest is None else collapse(kernel.em, nest)


def map_function(func: Operation) -> list[Operation]:
    """Turn `func` into host code in place; its kernels (gpu.func ops), in launch order."""
    body = func.regions[0].blocks[0]
    status = body.arguments[-1]
    name = func.attributes["sym_name"]
    kernels, launches = [], []
    host = Emitter(body, status=status)
    one = host.index(1)
    groups = kernel_groups(body)
    # Every kernel is outlined before any is rewired: they clone host code they share.
    outlined = [outline(f"{name}_{i}", ops, body) for i, ops in enumerate(groups)]
    for i, (ops, (kernel_func, arguments, mapping)) in enumerate(zip(groups, outlined)):
        rewire(ops, mapping)
        position = arguments.index(status) if status in arguments else None
        kernel_status = kernel_func.regions[0].blocks[0].arguments[position] \
            if position is not None else None
        kernel = Kernel(kernel_func, kernel_status)
        _map(kernel, ops)
        kernels.append(kernel_func)
        launches.append(launch(f"{name}_{i}", host.index(kernel.grid),
                               host.index(kernel.threads), one, arguments))
    allocs = [op for op in body.operations if op.name == "memref.alloc"]
    deallocs = [op for op in body.operations if op.name == "memref.dealloc"]
    for op in allocs:
        op.name, op.attributes = "gpu.alloc", {"operandSegmentSizes": I32Array((0, 0, 0))}
    for op in deallocs:
        op.name = "gpu.dealloc"
    body.operations = []
    for op in allocs + launches + deallocs:
        body.append(op)
    host.op("func.return")
    host.finish()
    for op in body.operations:
        if op.name not in _HOST_OPS:
            raise LoweringError(f"map-to-gpu: {op.name} survived in host function @{name}")
    return kernels


def _map(kernel: Kernel, ops: list[Operation]) -> None:
    """Emit the body of `kernel` computing `ops`, choosing the mapping by their shape."""
    ignored = kernel.ignored
    if len(ops) == 1 and ops[0].name == "scf.for" and not ops[0].results:
        loop = ops[0]
        chain = parallel_chain(loop, ignored)
        matmul = matmul_nest(chain) if loop.attributes.get("ember.kernel") == "matmul" else None
        if matmul is not None and _tiles_fill_the_gpu(matmul):
            map_tiles(kernel, matmul)
        elif not chain:
            map_single(kernel, ops)
        else:
            inner = chain[-1].regions[0].blocks[0].operations[:-1]
            threads = None if "ember.kernel" in loop.attributes else row_threads(inner, ignored)
            if threads is None and _rows_beat_threads(chain, inner, ignored):
                inner = [_collapsed(kernel, op) for op in inner]
                threads = row_threads(inner, ignored)
            if threads is not None:
                map_rows(kernel, chain, [], threads)
            else:
                map_grid(kernel, chain)
    else:
        threads = row_threads(ops, ignored)
        if threads is not None:
            map_rows(kernel, [], ops, threads)
        else:
            map_single(kernel, ops)
    for op in kernel.func.walk():
        if op.name in ("memref.alloc", "memref.dealloc"):
            raise LoweringError("map-to-gpu: a buffer allocated inside a loop nest is not "
                                "supported on the GPU")
        for hint in _CPU_HINTS:
            op.attributes.pop(hint, None)
