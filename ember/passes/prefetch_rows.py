"""`prefetch-rows`: ask for the next row of a large input while the current row computes
(loops IR).

A row kernel such as layer norm reads each row of its input in several passes: the first brings
the row from memory, the later ones find it in cache. While they compute, nothing asks memory
for the next row (the hardware prefetcher runs only a little ahead of the loads that miss), so
each row's first pass waits on memory: layer norm over (4096, 1024) spent 56% of its samples
in its first pass, a sum. This pass fetches a coming row's cache lines during the current
row's last pass, with a `memref.prefetch` at that row and the pass's column, which the LLVM
backend emits once per vector of columns (a cache line of f32 on AVX-512).

In a row loop `for i` (step s) whose innermost loops ("passes") are nested in it only through
loops of one iteration, a pass P that loads an input A of at least PREFETCH_MIN_BYTES and rank
2 or more at [r..., j] (j is P's induction variable, the row indices r are computed outside P
from i, constants and values from outside the row loop) is the first read of row r of A when
no earlier pass of the body loads A at r. Its segment runs to the pass before the next first
read of any row (or to the body's end). When the segment has a later pass T that counts from 0
by 1 over A's last axis, T's body starts with
    memref.prefetch A[min(r'..., last row), j_T]
where r' is r computed ROWS_AHEAD rows on: for i + s, or i + 2s and so on when an iteration
moves r by fewer rows. The minimum keeps the address inside A (on x86 a prefetch
past the end would be harmless, but no generated address leaves its buffer). A prefetch
changes no result.
"""

from __future__ import annotations

from ember.ir.attributes import ScalarAttr
from ember.ir.core import Operation, Value, clone, functions, insert_before
from ember.ir.types import INDEX, ScalarType
from ember.passes.loop_analysis import (ancestor_in, constant_value, defined_outside, index_range,
                                       induction_variable, trip_count)
from ember.passes.pass_manager import Pass, register_pass

# Inputs from this size are taken to come from the last-level cache or memory, not a core's
# own caches (2 MB of L2 on the machine Ember is tuned on).
PREFETCH_MIN_BYTES = 1 << 20
# How far ahead to fetch: over (4096, 1024), layer norm ran faster fetching two rows on than
# one, and no faster three or four on; softmax (whose loop moves two rows an iteration) gained
# about the same one or two iterations on.
ROWS_AHEAD = 2
_INDEX_ARITHMETIC = ("arith.addi", "arith.subi", "arith.muli")


def _passes(loop: Operation) -> list[Operation] | None:
    """The innermost loops inside `loop` in program order, if every other loop inside it
    runs one iteration; else None."""
    passes = []
    for op in loop.walk():
        if op is loop or op.name != "scf.for":
            continue
        if any(inner.name == "scf.for" for inner in op.walk() if inner is not op):
            if trip_count(op) != 1:
                return None
        else:
            passes.append(op)
    return passes


def _row_index(value: Value, loop: Operation) -> bool:
    """Whether `value` is index arithmetic on the row loop's induction variable, constants and
    values from outside the row loop, computed in the row loop's body (not in a pass)."""
    if defined_outside(value, loop) or value is induction_variable(loop):
        return True
    op = value.owner
    return (not value.is_block_argument and op.parent is loop.regions[0].blocks[0]
            and op.name in _INDEX_ARITHMETIC and all(_row_index(v, loop) for v in op.operands))


def _first_reads(pass_loop: Operation, inputs: dict[int, Value], loop: Operation,
                 seen: set) -> list[tuple[Value, list[Value]]]:
    """(A, row indices) of the rows of large inputs that `pass_loop` loads first in `loop`'s
    body; `seen` gains them."""
    j = induction_variable(pass_loop)
    reads = []
    for op in pass_loop.regions[0].blocks[0].operations:
        if op.name != "memref.load" or id(op.operands[0]) not in inputs:
            continue
        memref, *rows, column = op.operands
        if column is not j or not all(_row_index(r, loop) for r in rows):
            continue
        key = (id(memref), tuple(id(r) for r in rows))
        if key not in seen:
            seen.add(key)
            reads.append((memref, rows))
    return reads


def _spans_last_axis(pass_loop: Operation, memref: Value) -> bool:
    """Whether `pass_loop` counts from 0 by 1 over memref's last axis, with no loop inside."""
    lower, upper, step = (constant_value(v) for v in pass_loop.operands[:3])
    return (lower == 0 and step == 1 and upper == memref.type.shape[-1]
            and not any(op.regions for op in pass_loop.regions[0].blocks[0].operations))


def _iterations_ahead(rows: list[Value], iv: Value) -> int:
    """Iterations of the row loop that make up ROWS_AHEAD rows of the first row index that
    moves with `iv` (a loop over pairs of rows moves two rows an iteration); at least 1."""
    for row in rows:
        found = index_range(row, iv)
        if found is not None and found[0] >= 1:
            return max(1, ROWS_AHEAD // found[0])
    return 1


def _next_rows(rows: list[Value], memref: Value, loop: Operation,
               anchor: Operation) -> list[Value]:
    """`rows` computed ROWS_AHEAD rows on, each limited to memref's last index on its axis, by
    ops inserted before `anchor` (an op of the row loop's body)."""

    def insert(name: str, operands: list[Value], attributes=None) -> Value:
        return insert_before(anchor, Operation(name, operands, [INDEX], attributes)).result

    iv = induction_variable(loop)
    step, iterations = loop.operands[2], _iterations_ahead(rows, iv)
    known = constant_value(step)
    if known is not None:
        step = insert("arith.constant", [], {"value": ScalarAttr(known * iterations, INDEX)})
    elif iterations > 1:
        ahead = insert("arith.constant", [], {"value": ScalarAttr(iterations, INDEX)})
        step = insert("arith.muli", [step, ahead])
    mapping = {iv: insert("arith.addi", [iv, step])}

    def advanced(value: Value) -> Value:
        if value in mapping or defined_outside(value, loop):
            return mapping.get(value, value)
        for operand in value.owner.operands:
            advanced(operand)
        insert_before(anchor, clone(value.owner, mapping))
        return mapping[value]

    limited = []
    for size, row in zip(memref.type.shape, rows):
        if not defined_outside(row, loop):
            last = insert("arith.constant", [], {"value": ScalarAttr(size - 1, INDEX)})
            row = insert("arith.minsi", [advanced(row), last])
        limited.append(row)
    return limited


def _prefetch(memref: Value, rows: list[Value], target: Operation) -> None:
    """Put `memref.prefetch memref[rows..., j]` first in the body of `target` (a pass over j)."""
    body = target.regions[0].blocks[0]
    insert_before(body.operations[0], Operation(
        "memref.prefetch", [memref, *rows, induction_variable(target)], [],
        {"isWrite": False, "localityHint": ScalarAttr(3, ScalarType("i32")), "isDataCache": True}))


def _prefetch_rows(loop: Operation, inputs: dict[int, Value]) -> None:
    passes = _passes(loop)
    if not passes:
        return
    seen: set = set()
    reads = [_first_reads(p, inputs, loop, seen) for p in passes]
    starts = [k for k, found in enumerate(reads) if found] + [len(passes)]
    body = loop.regions[0].blocks[0]
    for start, end in zip(starts, starts[1:]):
        for memref, rows in reads[start]:
            target = next((p for p in reversed(passes[start + 1:end])
                           if _spans_last_axis(p, memref)), None)
            if target is not None:
                anchor = ancestor_in(target, body)
                _prefetch(memref, _next_rows(rows, memref, loop, anchor), target)


@register_pass
class PrefetchRowsPass(Pass):
    """Prefetch the next row of a large input in the last pass over the current row (loops
    IR; see module doc)."""

    name = "prefetch-rows"

    def run(self, module: Operation) -> None:
        for func in functions(module):
            count = func.attributes.get("ember.inputs")
            if count is None:
                continue
            arguments = func.regions[0].blocks[0].arguments[:count]
            inputs = {id(a): a for a in arguments
                      if len(a.type.shape) >= 2 and a.type.nbytes >= PREFETCH_MIN_BYTES}
            if not inputs:
                continue
            for loop in [op for op in func.walk() if op.name == "scf.for"]:
                _prefetch_rows(loop, inputs)
