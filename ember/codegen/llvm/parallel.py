"""Splitting work across the host's cores from generated code, with POSIX threads.

A worker is an LLVM function `void @w(i64 lo, i64 hi, <captured values>...)` that does the
iterations [lo, hi) of some loop, independently of every other range. `launch` emits a call of
the worker for each chunk: chunks after the first run on new threads (`pthread_create`, through
a trampoline that unpacks a stack struct), the first on the calling thread, then every thread is
joined. A chunk whose thread cannot be created runs on the calling thread, so the result never
depends on whether threads were available; nor does it depend on the chunking, because a worker
computes each iteration the same way whatever range it is given.
"""

from __future__ import annotations

import os

from llvmlite import ir

from ember.codegen.llvm.control import I64, i64
from ember.codegen.llvm.intrinsics import declare

_PTR = ir.PointerType()
_I32 = ir.IntType(32)
# Threads per parallel loop: the host's cores, at most 2 (the machines Ember is tuned on; more
# threads than cores only adds start-up cost).
MAX_THREADS = 2
# Estimated scalar operations below which a loop runs on one thread: starting and joining a
# thread costs tens of microseconds.
MIN_PARALLEL_WORK = 1 << 21


def default_threads() -> int:
    return max(1, min(MAX_THREADS, os.cpu_count() or 1))


def chunks(total: int, parts: int, grain: int = 1) -> list[tuple[int, int]]:
    """[0, total) cut into at most `parts` non-empty ranges whose bounds are multiples of
    `grain` (except `total`), as even as that allows."""
    units = -(-total // grain)
    parts = max(1, min(parts, units))
    bounds = [min(total, (units * p // parts) * grain) for p in range(parts + 1)]
    return [(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if lo < hi]


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


def _trampoline(module: ir.Module, worker: ir.Function, frame: ir.LiteralStructType):
    """`ptr @<worker>.thread(ptr frame)`: the pthread start routine calling the worker with the
    range and captured values stored in `frame`."""
    fn = ir.Function(module, ir.FunctionType(_PTR, [_PTR]), name=f"{worker.name}.thread")
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    fields = [b.load(b.gep(fn.args[0], [ir.Constant(_I32, 0), ir.Constant(_I32, i)],
                           inbounds=True, source_etype=frame), typ=ty)
              for i, ty in enumerate(frame.elements)]
    b.call(worker, fields)
    b.ret(ir.Constant(_PTR, None))
    return fn


def launch(b: ir.IRBuilder, worker: ir.Function, ranges: list[tuple[int, int]],
           captured: list[ir.Value]) -> None:
    """Run `worker(lo, hi, *captured)` for every range, the ranges after the first on threads
    of their own; returns (at the builder's position) once all of them are done."""
    if len(ranges) == 1:
        b.call(worker, [i64(ranges[0][0]), i64(ranges[0][1]), *captured])
        return
    module = b.module
    frame = ir.LiteralStructType([I64, I64] + [v.type for v in captured])
    start = _trampoline(module, worker, frame)
    create = declare(module, "pthread_create", _I32, [_PTR, _PTR, _PTR, _PTR])
    join = declare(module, "pthread_join", _I32, [I64, _PTR])  # pthread_t: unsigned long
    started = []
    for lo, hi in ranges[1:]:
        args = entry_alloca(b, frame)
        for i, value in enumerate([i64(lo), i64(hi), *captured]):
            b.store(value, b.gep(args, [ir.Constant(_I32, 0), ir.Constant(_I32, i)],
                                 inbounds=True, source_etype=frame))
        thread = entry_alloca(b, I64)
        status = b.call(create, [thread, ir.Constant(_PTR, None), start, args])
        started.append((status, thread, lo, hi))
    b.call(worker, [i64(ranges[0][0]), i64(ranges[0][1]), *captured])
    for status, thread, lo, hi in started:
        failed = b.icmp_signed("!=", status, ir.Constant(_I32, 0))
        with b.if_else(failed) as (then, otherwise):
            with then:
                b.call(worker, [i64(lo), i64(hi), *captured])
            with otherwise:
                b.call(join, [b.load(thread, typ=I64), ir.Constant(_PTR, None)])
