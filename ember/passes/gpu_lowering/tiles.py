"""A float32 matmul nest (`ember.kernel = "matmul"`) as a tiled GEMM in workgroup memory.

Each block computes a TILE x TILE tile of C (one batch's): its 16 x 16 threads hold a
PER_THREAD x PER_THREAD register tile each, rows and columns strided by 16 so that a warp's
loads and stores touch consecutive columns. For each DEPTH-deep step along K the block copies
a TILE x DEPTH tile of A and a DEPTH x TILE tile of B into workgroup memory (consecutive
threads on the operand's contiguous axis, transposed or not: coalesced), `gpu.barrier`,
accumulates from the tiles, `gpu.barrier`. Copies past the edges of M, N or K write zeros, so
every step is a full one; stores past M or N are skipped. Batch axes and tiles share the 1-D
grid (block id = (batch, tile row, tile column), row-major). Each element of C is summed in
the order of the reference nest (k ascending from its initial value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ember.ir.core import Operation, Value
from ember.passes.gpu_lowering.analysis import bounds, trip_count
from ember.passes.gpu_lowering.kernel import Kernel
from ember.passes.lowering.emitter import CMPI, F32, I1

TILE = 64  # rows and columns of C per block
PER_THREAD = 4  # rows and columns of C per thread
SIDE = TILE // PER_THREAD  # threads along each side of the block
THREADS = SIDE * SIDE
DEPTH = 16  # the K step: shared memory holds 2 * TILE * DEPTH floats (8 KiB)


@dataclass
class Matmul:
    """C[b.., i, j] = init + sum over k of A[.., i, k] * B[.., k, j]: the loops over C's axes
    (`chain`, batch axes first), the K loop, its two loads (A's, then B's) and the store."""

    chain: list[Operation]
    k_loop: Operation
    load_a: Operation
    load_b: Operation
    store: Operation


def matmul_nest(chain: list[Operation]) -> Matmul | None:
    """The matmul that the parallel loops `chain` of a marked nest compute, or None when the
    nest is not one this mapping handles (not float32, or not the reference nest's shape)."""
    if len(chain) < 2 or any(bounds(loop)[::2] != (0, 1) or bounds(loop)[1] < 1
                             for loop in chain):
        return None
    body = chain[-1].regions[0].blocks[0].operations
    if len(body) != 3 or body[0].name != "scf.for" or body[1].name != "memref.store":
        return None
    k_loop, store = body[0], body[1]
    inner = k_loop.regions[0].blocks[0]
    names = [op.name for op in inner.operations]
    if (names != ["memref.load", "memref.load", "arith.mulf", "arith.addf", "scf.yield"]
            or bounds(k_loop) != (0, trip_count(k_loop), 1) or len(k_loop.results) != 1):
        return None
    load_a, load_b, product, total, done = inner.operations
    ivs = [loop.regions[0].blocks[0].arguments[0] for loop in chain]
    k, acc = inner.arguments
    if (product.operands != [load_a.result, load_b.result]
            or set(total.operands) != {acc, product.result} or done.operands != [total.result]
            or store.operands != [k_loop.results[0], store.operands[1], *ivs]):
        return None
    operands = [load_a.operands[0], load_b.operands[0], store.operands[1]]
    if any(memref.type.element != F32 for memref in operands) or acc.type != F32:
        return None
    i, j = ivs[-2:]
    if not (_indexes(load_a, {i, k}, ivs[:-2]) and _indexes(load_b, {k, j}, ivs[:-2])):
        return None
    return Matmul(chain, k_loop, load_a, load_b, store)


def _indexes(load: Operation, last: set[Value], batch: list[Value]) -> bool:
    """Whether `load`'s last two indices are the ivs `last` (in either order) and the others
    batch ivs or values from outside the nest (a broadcast axis' 0)."""
    *leading, x, y = load.operands[1:]
    outside = all(v in batch or (isinstance(v.owner, Operation)
                                 and v.owner.name == "arith.constant") for v in leading)
    return {x, y} == last and x != y and outside


def map_tiles(kernel: Kernel, mm: Matmul) -> None:
    """Emit the tiled kernel computing `mm` (see the module docstring)."""
    em = kernel.em
    thread, block = kernel.gpu_id("thread_id"), kernel.gpu_id("block_id")
    *batch, m, n = (trip_count(loop) for loop in mm.chain)
    depth = trip_count(mm.k_loop)
    tiles = [-(-m // TILE), -(-n // TILE)]
    kernel.threads = THREADS
    kernel.grid = math.prod(batch) * math.prod(tiles)
    *positions, tile_row, tile_col = em.delinearize(block, [*batch, *tiles])
    ivs = [loop.regions[0].blocks[0].arguments[0] for loop in mm.chain]
    i, j, k = ivs[-2], ivs[-1], mm.k_loop.regions[0].blocks[0].arguments[0]
    at_batch = dict(zip(ivs[:-2], positions))
    row0, col0 = em.mul(tile_row, em.index(TILE)), em.mul(tile_col, em.index(TILE))
    ty, tx = em.div(thread, em.index(SIDE)), em.rem(thread, em.index(SIDE))
    a_tile = kernel.workgroup("a", (TILE, DEPTH), F32)
    b_tile = kernel.workgroup("b", (DEPTH, TILE), F32)

    def step(kt: list[Value], accs: list[Value]) -> list[Value]:
        k0 = em.mul(kt[0], em.index(DEPTH))
        _copy(kernel, mm.load_a, a_tile, {i: (row0, m, TILE), k: (k0, depth, DEPTH)}, at_batch)
        _copy(kernel, mm.load_b, b_tile, {k: (k0, depth, DEPTH), j: (col0, n, TILE)}, at_batch)
        kernel.barrier()
        sums = em.loops([DEPTH], lambda kk, partial: _accumulate(
            kernel, a_tile, b_tile, kk[0], ty, tx, partial), accs)
        kernel.barrier()  # the next step overwrites the tiles
        return sums

    sums = em.loops([-(-depth // DEPTH)], step, [mm.k_loop.operands[3]] * PER_THREAD**2)
    output = mm.store.operands[1]
    for r in range(PER_THREAD):
        row = em.add(row0, em.add(ty, em.index(r * SIDE)))
        for c in range(PER_THREAD):
            col = em.add(col0, em.add(tx, em.index(c * SIDE)))
            indices = [at_batch[iv] for iv in ivs[:-2]] + [row, col]
            inside = _inside(kernel, [(row, m, TILE), (col, n, TILE)])
            _store(kernel, sums[r * PER_THREAD + c], output, indices, inside)
    kernel.finish("tiles")


def _accumulate(kernel: Kernel, a_tile: Value, b_tile: Value, kk: Value, ty: Value, tx: Value,
                accs: list[Value]) -> list[Value]:
    """One k of the thread's register tile: acc[r, c] += A[ty + r*SIDE, kk] * B[kk, tx + c*SIDE]
    (from the tiles)."""
    em = kernel.em
    a = [em.op("memref.load", [a_tile, em.add(ty, em.index(r * SIDE)), kk], [F32]).result
         for r in range(PER_THREAD)]
    b = [em.op("memref.load", [b_tile, kk, em.add(tx, em.index(c * SIDE))], [F32]).result
         for c in range(PER_THREAD)]
    return [em.value("arith.addf", accs[r * PER_THREAD + c], em.value("arith.mulf", a[r], b[c]))
            for r in range(PER_THREAD) for c in range(PER_THREAD)]


def _copy(kernel: Kernel, load: Operation, tile: Value,
          axes: dict[Value, tuple[Value, int, int]], at_batch: dict[Value, Value]) -> None:
    """Copy the part of the operand `load` reads into `tile`, zeros past its edges. `axes`:
    for the ivs of the tile's two axes, in order, (first index, size of the operand's axis,
    tile side); `at_batch`: the values of the batch ivs. Each thread copies every
    THREADS-th element, consecutive threads along the axis the operand's buffer holds
    contiguously (coalesced reads, transposed or not)."""
    em = kernel.em
    shape = tile.type.shape
    order = list(axes)
    contiguous = order.index(load.operands[-1])  # the tile axis along the buffer's last axis
    thread = kernel.gpu_id("thread_id")
    for p in range(math.prod(shape) // THREADS):
        flat = em.add(thread, em.index(p * THREADS))
        fast = em.rem(flat, em.index(shape[contiguous]))
        slow = em.div(flat, em.index(shape[contiguous]))
        local = (slow, fast) if contiguous == 1 else (fast, slow)
        where = {iv: em.add(axes[iv][0], t) for iv, t in zip(order, local)}
        indices = [where.get(v, at_batch.get(v, v)) for v in load.operands[1:]]
        inside = _inside(kernel, [(where[iv], *axes[iv][1:]) for iv in order])
        em.op("memref.store", [_load(kernel, load.operands[0], indices, inside), tile, *local])


def _inside(kernel: Kernel, limits: list[tuple[Value, int, int]]) -> Value | None:
    """i1: each index is below its limit, for the (index, limit, tile side) whose limit is
    not a multiple of the side (only those the tiles overrun); None when none is."""
    em = kernel.em
    tests = [em.value("arith.cmpi", index, em.index(limit), type=I1, predicate=CMPI["slt"])
             for index, limit, side in limits if limit % side]
    while len(tests) > 1:
        tests = [em.value("arith.andi", tests[0], tests[1])] + tests[2:]
    return tests[0] if tests else None


def _load(kernel: Kernel, memref: Value, indices: list[Value], inside: Value | None) -> Value:
    """`memref[indices]` where `inside` (always if None), else 0.0."""
    em = kernel.em
    if inside is None:
        return em.op("memref.load", [memref, *indices], [F32]).result
    choice = em.op("scf.if", [inside], [F32], regions=2)
    with em.inside(choice.regions[0].add_block()):
        em.op("scf.yield", [em.op("memref.load", [memref, *indices], [F32]).result])
    with em.inside(choice.regions[1].add_block()):
        em.op("scf.yield", [em.constant(0.0, F32)])
    return choice.results[0]


def _store(kernel: Kernel, value: Value, memref: Value, indices: list[Value],
           inside: Value | None) -> None:
    """`memref[indices] = value` where `inside` (always if None)."""
    em = kernel.em
    if inside is None:
        em.op("memref.store", [value, memref, *indices])
    else:
        em.if_then(inside, lambda: em.op("memref.store", [value, memref, *indices]))
