"""Facts about loops-IR loops that several loop passes ask: constant bounds, trip counts,
whether a value is defined outside a loop, which op of a block contains another."""

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
