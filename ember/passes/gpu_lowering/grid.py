"""Spreading a loop nest over threads: the chain of independent loops it starts with, the
flattening of that chain onto one index, and the two mappings without block cooperation: a
1-D grid with one thread per iteration of the chain, and a single thread."""

from __future__ import annotations

import math

from ember.ir.core import Operation, Value, replace_all_uses
from ember.passes.gpu_lowering.analysis import bounds, independent, trip_count
from ember.passes.gpu_lowering.kernel import WARP, Kernel
from ember.passes.lowering.emitter import CMPI, I1

MAX_THREADS = 256  # threads per block of a grid kernel (a multiple of the warp size)


def parallel_chain(loop: Operation, ignored: set[Value]) -> list[Operation]:
    """The perfectly nested loops from `loop` inward whose iterations are all independent
    (constant bounds, no results, nothing else in the bodies between them)."""
    chain: list[Operation] = []
    current = loop
    while current.name == "scf.for" and not current.results and bounds(current) is not None:
        ivs = [c.regions[0].blocks[0].arguments[0] for c in chain + [current]]
        if not independent(loop, ivs, ignored):
            break
        chain.append(current)
        body = current.regions[0].blocks[0].operations
        if len(body) != 2 or body[0].name != "scf.for":
            break
        current = body[0]
    return chain


def inline_chain(kernel: Kernel, chain: list[Operation], flat: Value) -> None:
    """Append the innermost body of `chain` at the insertion point, its induction variables
    computed from `flat`, the row-major position of the iteration in the chain's space."""
    em = kernel.em
    positions = em.delinearize(flat, [trip_count(loop) for loop in chain])
    for loop, position in zip(chain, positions):
        lower, _, step = bounds(loop)
        iv = loop.regions[0].blocks[0].arguments[0]
        replace_all_uses(chain[0], iv, em.add(em.index(lower), em.mul(position, em.index(step))))
    for op in chain[-1].regions[0].blocks[0].operations[:-1]:
        em.block.append(op)


def map_grid(kernel: Kernel, chain: list[Operation]) -> None:
    """One thread per iteration of `chain`, consecutive threads on consecutive innermost
    iterations (coalesced accesses), the excess threads of the last block doing nothing."""
    em = kernel.em
    total = math.prod(trip_count(loop) for loop in chain)
    kernel.threads = min(MAX_THREADS, max(WARP, -(-total // WARP) * WARP))
    kernel.grid = max(1, -(-total // kernel.threads))
    thread, block = kernel.gpu_id("thread_id"), kernel.gpu_id("block_id")
    flat = em.add(em.mul(block, em.index(kernel.threads)), thread)
    inside = em.value("arith.cmpi", flat, em.index(total), type=I1, predicate=CMPI["slt"])
    em.if_then(inside, lambda: inline_chain(kernel, chain, flat))
    kernel.finish("grid")


def map_single(kernel: Kernel, ops: list[Operation]) -> None:
    """The ops as they are, on one thread (nests whose iterations depend on each other, such
    as scatter_add's accumulation)."""
    for op in ops:
        kernel.em.block.append(op)
    kernel.finish("single")
