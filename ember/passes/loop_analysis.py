"""Facts about loops-IR loops that several loop passes ask: induction variables, constant
bounds, trip counts, whether a value is defined outside a loop, which op of a block contains
another."""

from __future__ import annotations

from typing import Iterator

from ember.ir.attributes import ScalarAttr
from ember.ir.core import Block, Operation, Value


def constant_value(value: Value) -> int | float | bool | None:
    """The number an `arith.constant` result holds; None for any other value."""
    owner = value.owner
    if not isinstance(owner, Operation) or owner.name != "arith.constant":
        return None
    attr = owner.attributes["value"]
    return attr.value if isinstance(attr, ScalarAttr) else attr


def induction_variable(loop: Operation) -> Value:
    """The induction variable of an `scf.for`: its body's first argument."""
    return loop.regions[0].blocks[0].arguments[0]


def trip_count(loop: Operation) -> int | None:
    """How many iterations an `scf.for` with constant bounds runs; None if a bound varies."""
    lower, upper, step = (constant_value(v) for v in loop.operands[:3])
    if lower is None or upper is None or not step:
        return None
    return max(0, -(-(upper - lower) // step))


def defined_outside(value: Value, loop: Operation) -> bool:
    """Whether `value` is defined outside `loop` (so it is the same in every iteration)."""
    block = value.owner if value.is_block_argument else value.owner.parent
    while block is not None:
        if block is loop.regions[0].blocks[0]:
            return False
        op = block.parent.parent if block.parent is not None else None
        block = op.parent if op is not None else None
    return True


def ancestor_in(op: Operation, block: Block) -> Operation | None:
    """The op of `block` that contains `op` (or is it); None if `op` is not inside `block`."""
    while op is not None:
        if op.parent is block:
            return op
        op = op.parent.parent.parent if op.parent is not None and op.parent.parent else None
    return None


def memory_accesses(root: Operation) -> Iterator[tuple[Operation, Value, list[Value]]]:
    """(op, memref, indices) of every `memref.load` and `memref.store` inside `root`."""
    for op in root.walk():
        if op.name == "memref.load":
            yield op, op.operands[0], op.operands[1:]
        elif op.name == "memref.store":
            yield op, op.operands[1], op.operands[2:]


def index_range(value: Value, iv: Value) -> tuple[int, int, int] | None:
    """(a, lo, hi) such that `value` is a * `iv` + r with lo <= r <= hi wherever it is
    computed, for index arithmetic (addi, subi, muli by a constant) on `iv`, constants and the
    induction variables of loops with constant bounds; None for anything else."""
    if value is iv:
        return 1, 0, 0
    if value.is_block_argument:
        loop = value.owner.parent.parent if value.owner.parent is not None else None
        if loop is None or loop.name != "scf.for" or value.index != 0:
            return None
        lower, trips, step = constant_value(loop.operands[0]), trip_count(loop), \
            constant_value(loop.operands[2])
        if lower is None or not trips or not step or step < 0:
            return None
        return 0, lower, lower + (trips - 1) * step
    number = constant_value(value)
    if isinstance(number, int) and not isinstance(number, bool):
        return 0, number, number
    op = value.owner
    if op.name not in ("arith.addi", "arith.subi", "arith.muli"):
        return None
    left, right = (index_range(v, iv) for v in op.operands)
    if left is None or right is None:
        return None
    if op.name == "arith.addi":
        return left[0] + right[0], left[1] + right[1], left[2] + right[2]
    if op.name == "arith.subi":
        return left[0] - right[0], left[1] - right[2], left[2] - right[1]
    ranged, factor = (left, right) if right[0] == 0 and right[1] == right[2] else (right, left)
    if factor[0] != 0 or factor[1] != factor[2]:
        return None
    scale = factor[1]
    ends = sorted((ranged[1] * scale, ranged[2] * scale))
    return ranged[0] * scale, ends[0], ends[1]


def own_slice(index: Value, iv: Value) -> int | None:
    """a, if `index` picks for each value of `iv` from a range of its own: iv itself (a = 1),
    or a * iv + r with 0 <= r < a (row r of chunk iv of a rows); None otherwise."""
    found = index_range(index, iv)
    if found is None or found[0] < 1 or found[1] < 0 or found[2] >= found[0]:
        return None
    return found[0]
