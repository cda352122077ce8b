"""Splitting work across the host's cores from generated code.

A worker is an LLVM function `void @w(i64 lo, i64 hi, <captured values>...)` that does the
iterations [lo, hi) of some loop, independently of every other range. `launch` emits one call
of the process's thread pool (`ember.codegen.llvm.thread_pool`), with a task that looks up its
chunk in a constant table and unpacks the captured values from a stack struct. The result never
depends on which thread ran a chunk, nor on the chunking, because a worker computes each
iteration the same way whatever range it is given.
"""

from __future__ import annotations

import os

from llvmlite import ir

from ember.codegen.llvm import thread_pool
from ember.codegen.llvm.control import I64, i64
from ember.codegen.llvm.intrinsics import declare

_PTR = ir.PointerType()
_I32 = ir.IntType(32)
# Threads per parallel loop: the host's cores, at most 2 (the machines Ember is tuned on; more
# threads than cores only adds start-up cost).
MAX_THREADS = 2
# Estimated scalar operations below which a loop runs on one thread: handing parts to the
# pool's spinning workers and joining them costs a few microseconds, and an elementwise loop
# over 40K floats (~10 us) already runs ~10% faster on two threads.
MIN_PARALLEL_WORK = 1 << 18
# Row loops are cut into parts that shrink (`claimed_chunks`): the first, long and far apart,
# let each thread stream through memory of its own, and the last, 1/TAIL_PARTS_PER_THREAD of a
# thread's share, let the threads finish together, also when another process slows one down
# (static halves would leave the other waiting). Over (4096, 1024), layer norm ran 13-19% and
# softmax 2-4% faster than on 16 even parts while this machine's memory was in its fast mode,
# and the same in its slow one; `x * 2`, GELU and the MLP step ran the same.
TAIL_PARTS_PER_THREAD = 16


def default_threads() -> int:
    return max(1, min(MAX_THREADS, os.cpu_count() or 1))


def settings() -> str:
    """How loops are split across threads: compiled code bakes the split in (its chunk
    tables), so this is part of every cache key; a cache shared by machines with different
    core counts then never serves one the other's code."""
    return (f"threads {default_threads()} tail-parts {TAIL_PARTS_PER_THREAD} "
            f"min-work {MIN_PARALLEL_WORK}")


def chunks(total: int, parts: int, grain: int = 1) -> list[tuple[int, int]]:
    """[0, total) cut into at most `parts` non-empty ranges whose bounds are multiples of
    `grain` (except `total`), as even as that allows."""
    units = -(-total // grain)
    parts = max(1, min(parts, units))
    bounds = [min(total, (units * p // parts) * grain) for p in range(parts + 1)]
    return [(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if lo < hi]


def claimed_chunks(total: int, threads: int) -> list[tuple[int, int]]:
    """[0, total) cut into ranges for `threads` threads that claim them in order: each is
    1/(2 * threads) of what the ranges before it leave, and none is shorter than
    1/TAIL_PARTS_PER_THREAD of a thread's share."""
    if threads <= 1:
        return [(0, total)] if total > 0 else []
    shortest = max(1, -(-total // (threads * TAIL_PARTS_PER_THREAD)))
    bounds = [0]
    while bounds[-1] < total:
        length = max(shortest, (total - bounds[-1]) // (2 * threads))
        bounds.append(min(total, bounds[-1] + length))
    return list(zip(bounds, bounds[1:]))


def entry_alloca(b: ir.IRBuilder, ty: ir.Type) -> ir.Value:
    """A stack slot in the function's entry block (so that loops do not grow the stack)."""
    entry = b.function.entry_basic_block
    at_start = ir.IRBuilder(entry)
    at_start.position_at_start(entry)
    slot = at_start.alloca(ty)
    slot.type = _PTR  # llvmlite types the alloca's pointer; the module uses opaque `ptr`s
    # `b` keeps an insertion index into its block: re-anchor it at the end.
    b.position_at_end(b.block)
    return slot


def _task(module: ir.Module, worker: ir.Function, ranges: list[tuple[int, int]],
          frame: ir.LiteralStructType) -> ir.Function:
    """`void @<worker>.task(ptr frame, i64 part)`: the worker on range `part`, with the captured
    values stored in `frame` (the thread pool's task signature)."""
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [_PTR, I64]),
                     name=f"{worker.name}.task")
    fn.linkage = "internal"
    table_type = ir.ArrayType(ir.ArrayType(I64, 2), len(ranges))
    table = ir.GlobalVariable(module, table_type, f"{worker.name}.ranges")
    table.linkage = "internal"
    table.global_constant = True
    table.initializer = ir.Constant(table_type, [[lo, hi] for lo, hi in ranges])
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    frame_ptr, part = fn.args
    lo, hi = (b.load(b.gep(table, [i64(0), part, ir.Constant(_I32, i)], inbounds=True,
                           source_etype=table_type), typ=I64)
              for i in range(2))
    captured = [b.load(b.gep(frame_ptr, [ir.Constant(_I32, 0), ir.Constant(_I32, i)],
                             inbounds=True, source_etype=frame), typ=ty)
                for i, ty in enumerate(frame.elements)]
    b.call(worker, [lo, hi, *captured])
    b.ret_void()
    return fn


def launch(b: ir.IRBuilder, worker: ir.Function, ranges: list[tuple[int, int]],
           captured: list[ir.Value]) -> None:
    """Run `worker(lo, hi, *captured)` for every range, spread over the process's thread pool
    (`ember.codegen.llvm.thread_pool`); returns (at the builder's position) once all are done."""
    if len(ranges) == 1:
        b.call(worker, [i64(ranges[0][0]), i64(ranges[0][1]), *captured])
        return
    frame = ir.LiteralStructType([v.type for v in captured])
    task = _task(b.module, worker, ranges, frame)
    values = entry_alloca(b, frame)
    for i, value in enumerate(captured):
        b.store(value, b.gep(values, [ir.Constant(_I32, 0), ir.Constant(_I32, i)],
                             inbounds=True, source_etype=frame))
    run = declare(b.module, thread_pool.ENTRY, ir.VoidType(), [_PTR, _PTR, I64])
    b.call(run, [task, values, i64(len(ranges))])
