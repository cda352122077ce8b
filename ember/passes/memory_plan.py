"""Memory planning: give every tensor a function computes a buffer, reusing dead ones.

The memory model, shared with the `schedule` pass:

- A value's size is its tensor's bytes (elements times the element size).
- Function arguments are the caller's buffers: they are live for the whole call and never
  written, so they count in every total but are not planned.
- An op result is live from its op to its last use by a later op of the function body (uses
  nested in an op's regions count as uses by that op); a returned value lives to the end, and an
  unused result only during its op. Every result is its own tensor, views included.

`plan_memory` walks the body in its current order (run `schedule` first), assigning each result
a buffer: an operand's buffer if the op can update it in place, else a free buffer of exactly
the same byte size (a buffer is never split or merged, so a plan needs no offsets and one buffer
holds one tensor at a time), else a new buffer. The pass records the plan as discardable
attributes, which print and parse back:

    func.func @f(%arg0: tensor<4xf32>) -> tensor<4xf32>
        attributes {ember.buffers = array<i64: 16>, ember.peak_bytes = 32 : i64} {
      %0 = "ember.exp"(%arg0) {ember.buffer = array<i64: 0>} : ...
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from ember.ir.core import Block, Operation, Value, functions
from ember.ir.primitive import PRIMITIVES
from ember.passes.pass_manager import Pass, register_pass

BUFFER_ATTR = "ember.buffer"
BUFFERS_ATTR = "ember.buffers"
PEAK_ATTR = "ember.peak_bytes"
_ELEMENTWISE_KINDS = {"unary", "binary", "ternary"}


def body(func: Operation) -> Block:
    """The single block of a func.func."""
    return func.regions[0].blocks[0]


def users(block: Block) -> dict[Value, list[Operation]]:
    """For each result of an op of `block`, the ops of `block` that use it, each once."""
    found: dict[Value, list[Operation]] = {r: [] for op in block.operations for r in op.results}
    for op in block.operations:
        for value in dict.fromkeys(v for nested in op.walk() for v in nested.operands):
            if value in found:
                found[value].append(op)
    return found


def live_ranges(block: Block, order: list[Operation] | None = None) -> dict[Value, range]:
    """Positions in `order` (default: the block's) where each op result is live: from its op
    to its last user, inclusive."""
    order = block.operations if order is None else order
    position = {op: i for i, op in enumerate(order)}
    return {v: range(position[v.owner], max([position[u] for u in us] + [position[v.owner]]) + 1)
            for v, us in users(block).items()}


def argument_bytes(func: Operation) -> int:
    """The bytes of the function's arguments, live throughout a call."""
    return sum(a.type.nbytes for a in body(func).arguments)


def peak_live_bytes(func: Operation, order: list[Operation] | None = None) -> int:
    """The peak of the live bytes (arguments plus live results) when the body's ops run in
    `order` (default: the current one), each result allocated at its op, none reused."""
    block = body(func)
    order = block.operations if order is None else order
    ranges = live_ranges(block, order)
    dying: dict[int, int] = {}
    for value, span in ranges.items():
        dying[span[-1]] = dying.get(span[-1], 0) + value.type.nbytes
    live = peak = argument_bytes(func)
    for i, op in enumerate(order):
        # An op's results exist while it reads its operands, so both count at position i.
        live += sum(r.type.nbytes for r in op.results)
        peak = max(peak, live)
        live -= dying.get(i, 0)
    return peak


def eager_live_bytes(func: Operation) -> int:
    """What eager execution of the body in its current order holds at its peak: arguments
    throughout, every result from its op until its last use, no buffer reused."""
    return peak_live_bytes(func)


@dataclass
class MemoryPlan:
    """Where each op result of one function lives.

    `buffers[b]` is the byte size of buffer b; `assignment` maps each op result to its buffer;
    `inplace` lists (op, operand index, result index) for results written over an operand;
    `peak_bytes` is the most a call holds at once under the plan: its arguments plus the
    buffers that hold a live value at that point (an in-place update counts its buffer once).
    `sum(buffers)` is the arena a runtime needs if it allocates every buffer for the whole call;
    with exact-size reuse it can exceed the peak, since each size needs its own buffers.
    """

    buffers: list[int]
    assignment: dict[Value, int]
    inplace: list[tuple[Operation, int, int]]
    peak_bytes: int


def is_elementwise(op: Operation) -> bool:
    """Whether each element of `op`'s results depends only on the operand elements at the same
    index (after broadcasting): elementwise primitives, and fusion ops made only of them whose
    results all have one shape (so the kernel's index space is that shape)."""
    if op.name == "ember.fusion":
        inner = op.regions[0].blocks[0].operations
        return (all(is_elementwise(nested) for nested in inner[:-1])
                and len({r.type.shape for r in op.results}) == 1)
    prim = PRIMITIVES.get(op.opname) if op.dialect == "ember" else None
    return prim is not None and prim.kind in _ELEMENTWISE_KINDS


def plan_memory(func: Operation) -> MemoryPlan:
    """Assign buffers to the results of `func`'s body in its current order (see the module
    docstring); the function is not changed."""
    block = body(func)
    ranges = live_ranges(block)
    buffers: list[int] = []
    assignment: dict[Value, int] = {}
    inplace: list[tuple[Operation, int, int]] = []
    free: dict[int, list[int]] = {}  # byte size -> ids of free buffers (a heap: lowest first)
    for i, op in enumerate(block.operations):
        # Operands whose last use is this op; arguments are not in `ranges`, so never written.
        dying = [v for v in dict.fromkeys(op.operands) if v in ranges and ranges[v][-1] == i]
        donors = list(dying) if is_elementwise(op) else []
        donated = set()
        for index, result in enumerate(op.results):
            donor = next((v for v in donors if v.type == result.type), None)
            if donor is not None:
                donors.remove(donor)
                donated.add(donor)
                assignment[result] = assignment[donor]
                inplace.append((op, op.operands.index(donor), index))
                continue
            size = result.type.nbytes
            if free.get(size):
                assignment[result] = heapq.heappop(free[size])
            else:
                assignment[result] = len(buffers)
                buffers.append(size)
        # Buffers free up only after the op: it reads its dying operands while writing results.
        released = [v for v in dying if v not in donated]
        released += [r for r in op.results if ranges[r][-1] == i]
        for value in released:
            heapq.heappush(free.setdefault(value.type.nbytes, []), assignment[value])
    return MemoryPlan(buffers, assignment, inplace, _peak_bytes(func, ranges, assignment, buffers))


def _peak_bytes(func: Operation, ranges: dict[Value, range], assignment: dict[Value, int],
                buffers: list[int]) -> int:
    """Arguments plus the largest total of buffers holding live values at one position."""
    held: list[set[int]] = [set() for _ in body(func).operations]
    for value, span in ranges.items():
        for i in span:
            held[i].add(assignment[value])
    busiest = max((sum(buffers[b] for b in ids) for ids in held), default=0)
    return argument_bytes(func) + busiest


def clear_plan(func: Operation) -> None:
    """Remove a recorded plan from `func` (after reordering its body, it no longer holds)."""
    func.attributes.pop(BUFFERS_ATTR, None)
    func.attributes.pop(PEAK_ATTR, None)
    for op in body(func).operations:
        op.attributes.pop(BUFFER_ATTR, None)


@register_pass
class MemoryPlanPass(Pass):
    """Assign every tensor a buffer, reusing dead buffers of equal size and updating in place.

    Records on each op `ember.buffer` (a buffer id per result) and on each function
    `ember.buffers` (buffer byte sizes, by id) and `ember.peak_bytes` (see MemoryPlan).
    Guarantees: two values share a buffer only if their live ranges are disjoint, or one is an
    elementwise op's result written over an operand of the same type whose last use is that op;
    a shared buffer's values all have its byte size; arguments are never written.
    """

    name = "memory-plan"

    def run(self, module: Operation) -> None:
        for func in functions(module):
            plan = plan_memory(func)
            for op in body(func).operations:
                if op.results:
                    op.attributes[BUFFER_ATTR] = tuple(plan.assignment[r] for r in op.results)
            func.attributes[BUFFERS_ATTR] = tuple(plan.buffers)
            func.attributes[PEAK_ATTR] = plan.peak_bytes
