"""What a loop nest allows: constant trip counts, independent iterations, side effects, and
reductions whose partial results threads may combine in any order."""

from __future__ import annotations

from dataclasses import dataclass

from ember.ir.core import Operation, Value
from ember.passes.loop_analysis import constant_value, memory_accesses, trip_count

# Reductions threads can split: combining op -> identity per element type.
IDENTITIES = {
    "arith.addf": {"f32": 0.0, "f64": 0.0},
    "arith.mulf": {"f32": 1.0, "f64": 1.0},
    "arith.maximumf": {"f32": float("-inf"), "f64": float("-inf")},
    "arith.minimumf": {"f32": float("inf"), "f64": float("inf")},
    "arith.addi": {"i32": 0, "i64": 0},
    "arith.muli": {"i32": 1, "i64": 1},
}


def bounds(loop: Operation) -> tuple[int, int, int] | None:
    """(lower, upper, step) of an scf.for with constant bounds, else None."""
    values = [constant_value(v) for v in loop.operands[:3]]
    return None if None in values else tuple(int(v) for v in values)


def stored(root: Operation) -> set[Value]:
    """The memrefs stored into anywhere inside `root`."""
    return {op.operands[1] for op in root.walk() if op.name == "memref.store"}


def has_effects(root: Operation, ignored: set[Value]) -> bool:
    """Whether `root` writes memory other than `ignored` memrefs (or allocates)."""
    return any(op.name in ("memref.alloc", "memref.dealloc") for op in root.walk()) or bool(
        stored(root) - ignored)


def independent(loop: Operation, ivs: list[Value], ignored: set[Value]) -> bool:
    """Whether iterations of `loop` that differ in any of `ivs` (its own and enclosing
    induction variables) touch disjoint elements of every memref the loop writes, so they can
    run at once in any order. Sufficient condition: each access to such a memref indexes it
    with every iv of `ivs` directly, each at the same position in all accesses. Writes to
    `ignored` memrefs (the status word, whose racing writers all report an error) are allowed."""
    if any(op.name in ("memref.alloc", "memref.dealloc") for op in loop.walk()):
        return False
    written = stored(loop) - ignored
    positions: dict[Value, tuple] = {}
    for _, memref, indices in memory_accesses(loop):
        if memref not in written:
            continue
        where = tuple(indices.index(iv) if iv in indices else None for iv in ivs)
        if None in where or positions.setdefault(memref, where) != where:
            return False
    return True


@dataclass
class Reduction:
    """An scf.for with one iter_arg that only enters `combine(acc, x)`, whose result is the
    next accumulator, and whose iterations are otherwise independent: they may be split
    between threads and the partial results combined, `identity` being the empty partial."""

    loop: Operation
    combine: Operation
    identity: int | float


def reduction(loop: Operation, ignored: set[Value]) -> Reduction | None:
    """`loop` as a splittable Reduction, or None. Its body may write memory where each
    iteration writes its own elements (softmax keeps the exponentials it sums)."""
    if loop.name != "scf.for" or len(loop.results) != 1 or trip_count(loop) is None:
        return None
    body = loop.regions[0].blocks[0]
    if has_effects(loop, ignored) and not independent(loop, body.arguments[:1], ignored):
        return None
    acc, result = body.arguments[1], body.operations[-1].operands[0]
    combine = result.owner
    if not isinstance(combine, Operation) or combine.parent is not body:
        return None
    identity = IDENTITIES.get(combine.name, {}).get(str(acc.type))
    if identity is None or acc not in combine.operands:
        return None
    uses = [op for op in loop.walk() for v in op.operands if v is acc]
    return Reduction(loop, combine, identity) if uses == [combine] else None
