"""One block per row: the statements of a row body spread over the block's threads.

A row is one iteration of a nest's independent outer loops (`grid.parallel_chain`) or, for
top-level code outside loops, the whole kernel (one block). Its statements, after inlining
loops of one iteration, are handled by kind:

- a loop with independent iterations: threads stride over them (iteration k*T + t on thread
  t, consecutive threads on consecutive iterations), guarded where the count runs out;
- a reduction (`analysis.reduction`): each thread combines its strided share into a partial,
  then the block combines the partials: a butterfly of `gpu.shuffle xor` within each warp,
  one slot per warp in workgroup memory, and a second butterfly, leaving the total in every
  thread; the loop's initial value is combined in last;
- other code without side effects: every thread computes it (the values are the same);
- anything else that writes memory: thread 0 runs it.

`gpu.barrier`s separate statements that write memory from what comes before and after, so
every thread sees a row's values once they are written. All barriers are in code every thread
of the block runs.
"""

from __future__ import annotations

import math

from ember.ir.attributes import DialectAttr
from ember.ir.core import Block, Operation, Value, replace_all_uses
from ember.ir.types import ScalarType
from ember.passes.gpu_lowering.analysis import (Reduction, bounds, has_effects, independent,
                                                reduction, trip_count)
from ember.passes.gpu_lowering.grid import inline_chain
from ember.passes.gpu_lowering.kernel import WARP, Kernel
from ember.passes.lowering.emitter import CMPI, I1

MAX_THREADS = 256
_SHUFFLE_TYPES = {"f32", "f64", "i32", "i64"}


def _is_unit_loop(op: Operation) -> bool:
    return op.name == "scf.for" and not op.results and trip_count(op) == 1


def _kind(op: Operation, ignored: set[Value]) -> str | None:
    """How a row statement runs: "unit" (inlined), "spread", "reduce", "all", "first" (thread
    0), or None when it cannot (it writes memory and has results)."""
    if _is_unit_loop(op):
        return "unit"
    if op.name == "scf.for" and not op.results and bounds(op) is not None:
        if independent(op, [op.regions[0].blocks[0].arguments[0]], ignored):
            return "spread"
    red = reduction(op, ignored)
    if red is not None and str(op.results[0].type) in _SHUFFLE_TYPES:
        return "reduce"
    if not has_effects(op, set()):
        return "all"
    return "first" if not op.results else None


def _statements(ops: list[Operation], ignored: set[Value]) -> list[tuple[Operation, str]]:
    """(statement, kind) of a row body, unit loops expanded; raises ValueError if a statement
    cannot be run by a block."""
    out = []
    for op in ops:
        kind = _kind(op, ignored)
        if kind is None:
            raise ValueError(op.name)
        out.append((op, kind))
        if kind == "unit":
            out += _statements(op.regions[0].blocks[0].operations[:-1], ignored)
    return out


def row_threads(ops: list[Operation], ignored: set[Value]) -> int | None:
    """Threads per block for a row body of `ops`, or None when one block per row does not
    apply (no statement to spread, or one that cannot run in a block)."""
    try:
        statements = _statements(ops, ignored)
    except ValueError:
        return None
    spread = [trip_count(op) for op, kind in statements if kind in ("spread", "reduce")]
    return block_size(max(spread)) if spread else None


def block_size(iterations: int) -> int:
    """Threads per block for a row whose longest loop runs `iterations` times: a power of two
    from a warp up to MAX_THREADS."""
    threads = WARP
    while threads < min(iterations, MAX_THREADS):
        threads *= 2
    return threads


def map_rows(kernel: Kernel, chain: list[Operation], ops: list[Operation],
             threads: int) -> None:
    """Emit the kernel: block b runs row b of `chain` (or the one row `ops`, without chain)."""
    kernel.threads = threads
    kernel.gpu_id("thread_id")
    if chain:
        kernel.grid = math.prod(trip_count(loop) for loop in chain)
        block = kernel.gpu_id("block_id")
        staging = Block()
        with kernel.em.inside(staging):
            inline_chain(kernel, chain, block)
        ops = staging.operations
    _emit(kernel, ops)
    kernel.finish("rows")


def _emit(kernel: Kernel, ops: list[Operation]) -> None:
    em = kernel.em
    ops = list(ops)
    for position, op in enumerate(ops):
        kind = _kind(op, kernel.ignored)
        if kind == "unit":
            body = op.regions[0].blocks[0]
            replace_all_uses(op, body.arguments[0], op.operands[0])
            _emit(kernel, body.operations[:-1])
        elif kind == "spread":
            kernel.barrier()
            _spread(kernel, op)
            em.block.append(op)
            kernel.barrier()
        elif kind == "reduce":
            total = _reduce(kernel, reduction(op, kernel.ignored))
            for later in ops[position + 1:]:
                replace_all_uses(later, op.results[0], total)
        elif kind == "all":
            em.block.append(op)
        else:
            kernel.barrier()
            first = em.value("arith.cmpi", kernel.gpu_id("thread_id"), em.index(0), type=I1,
                             predicate=CMPI["eq"])
            em.if_then(first, lambda: em.block.append(op))
            kernel.barrier()


def _strided(kernel: Kernel, loop: Operation) -> tuple[Value, Value, Value]:
    """Turn `loop` into a loop over chunks of `threads` iterations; in its (emptied) body,
    emit and return (the original iteration's position k, whether k is in range, and the
    original induction variable's value)."""
    em = kernel.em
    lower, _, step = bounds(loop)
    trip = trip_count(loop)
    body = loop.regions[0].blocks[0]
    chunk = body.arguments[0]
    loop.operands[:3] = [em.index(0), em.index(-(-trip // kernel.threads)), em.index(1)]
    with em.inside(body):
        k = em.add(em.mul(chunk, em.index(kernel.threads)), kernel.gpu_id("thread_id"))
        inside = em.value("arith.cmpi", k, em.index(trip), type=I1, predicate=CMPI["slt"])
        iv = em.add(em.index(lower), em.mul(k, em.index(step)))
    return k, inside, iv


def _spread(kernel: Kernel, loop: Operation) -> None:
    """Threads stride over the iterations of `loop` (in place)."""
    body = loop.regions[0].blocks[0]
    ops, chunk = body.operations, body.arguments[0]
    body.operations = []
    _, inside, iv = _strided(kernel, loop)
    for op in ops[:-1]:
        replace_all_uses(op, chunk, iv)

    def then():
        for op in ops[:-1]:
            kernel.em.block.append(op)

    with kernel.em.inside(body):
        kernel.em.if_then(inside, then)
        kernel.em.block.append(ops[-1])


def _reduce(kernel: Kernel, red: Reduction) -> Value:
    """Emit `red.loop` as per-thread partials and their block combination; the total (the
    loop's value), the same in every thread."""
    em, loop = kernel.em, red.loop
    body = loop.regions[0].blocks[0]
    ops, chunk, acc = body.operations, body.arguments[0], body.arguments[1]
    element: ScalarType = acc.type
    init = loop.operands[3]
    identity = em.constant(red.identity, element)
    loop.operands[3] = identity
    body.operations = []
    _, inside, iv = _strided(kernel, loop)
    for op in ops[:-1]:
        replace_all_uses(op, chunk, iv)
    with em.inside(body):
        choice = em.op("scf.if", [inside], [element], regions=2)
        with em.inside(choice.regions[0].add_block()):
            for op in ops[:-1]:
                em.block.append(op)
            em.op("scf.yield", ops[-1].operands)
        with em.inside(choice.regions[1].add_block()):
            em.op("scf.yield", [acc])
        em.op("scf.yield", choice.results)
    em.block.append(loop)
    total = _block_combine(kernel, red, loop.results[0], identity)
    return em.value(red.combine.name, init, total)


def _warp_combine(kernel: Kernel, red: Reduction, value: Value) -> Value:
    """Butterfly over a warp: every lane ends with the combination of all 32 lanes' values."""
    em = kernel.em
    i32 = ScalarType("i32")
    width = em.constant(WARP, i32)
    offset = WARP // 2
    while offset:
        other = em.op("gpu.shuffle", [value, em.constant(offset, i32), width],
                      [value.type, I1], {"mode": DialectAttr("#gpu<shuffle_mode xor>")})
        value = em.value(red.combine.name, value, other.results[0])
        offset //= 2
    return value


def _block_combine(kernel: Kernel, red: Reduction, partial: Value, identity: Value) -> Value:
    em = kernel.em
    value = _warp_combine(kernel, red, partial)
    warps = kernel.threads // WARP
    if warps == 1:
        return value
    thread = kernel.gpu_id("thread_id")
    lane, warp = em.rem(thread, em.index(WARP)), em.div(thread, em.index(WARP))
    shared = kernel.shared(partial.type)
    kernel.barrier()
    leader = em.value("arith.cmpi", lane, em.index(0), type=I1, predicate=CMPI["eq"])
    em.if_then(leader, lambda: em.op("memref.store", [value, shared, warp]))
    kernel.barrier()
    has_slot = em.value("arith.cmpi", lane, em.index(warps), type=I1, predicate=CMPI["slt"])
    slot = em.select(has_slot, lane, em.index(0))
    loaded = em.op("memref.load", [shared, slot], [partial.type]).result
    value = _warp_combine(kernel, red, em.select(has_slot, loaded, identity))
    kernel.barrier()  # the slots may be written again by the next reduction
    return value
