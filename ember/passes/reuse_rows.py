"""`reuse-row-values`: compute an expensive value once per row instead of once per loop.

Lowering inlines elementwise producers into each consumer, so softmax's `exp(x - max)` is
computed twice per element: in the loop that sums it and again in the loop that divides it
by the sum. Where a later inner loop L3 recomputes a subtree E that an earlier inner loop L2
over the same range also computes, and L3 stores into an output row at the indices of its own
induction variable, L2 now stores E as it goes and L3 loads it back. E goes into a buffer of
one row, allocated just around the two loops, when the row takes at most
ROW_BUFFER_MAX_BYTES: it is in L1 when L3 reads it, and the output is then written once (a
stream `stream-stores` can make non-temporal). A longer row goes into the output row itself,
which L3 overwrites, so the buffer ends up as before.

E qualifies when it calls a `math` op (recomputing cheap arithmetic beats a store and a load)
and is the same expression in both loops: the same ops on the loops' induction variables and
on values defined outside both. The rewrite is made only when it cannot change a result:
- L2 runs exactly once for every time L3 runs: between their common block and L2 there are only
  `scf.for` loops of one iteration (the shape `lower-to-loops` gives a keep-dim reduction);
- nothing that E loads is stored from the start of L2 to the end of L3, and nothing there reads
  or writes the output buffer except L3's single store;
- E's type is the buffer's element type, and every store index other than L3's induction
  variable is defined before L2.
"""

from __future__ import annotations

from typing import Any

from ember.ir.attributes import I32Array
from ember.ir.core import Block, Operation, Value, erase, insert_before, replace_all_uses
from ember.ir.types import MemRefType
from ember.passes.loop_analysis import ancestor_in, constant_value, induction_variable, trip_count
from ember.passes.pass_manager import Pass, register_pass

# A row of at most this many bytes gets a buffer of its own (it stays in L1, and on the stack
# of the thread running the row); a longer one is kept in the output row.
ROW_BUFFER_MAX_BYTES = 16 * 1024


class _Keys:
    """Structural keys of the values computed in one loop body: equal keys in two loops mean the
    same computation, given the mapping of the loops' induction variables onto each other."""

    def __init__(self, loop: Operation) -> None:
        self.loop = loop
        self.inside = {id(op) for op in loop.walk()}
        self.memo: dict[int, Any] = {}

    def key(self, value: Value) -> Any:
        if value is induction_variable(self.loop):
            return ("iv",)
        owner = value.owner
        if isinstance(owner, Block) or id(owner) not in self.inside:
            if isinstance(owner, Block) and owner is self.loop.regions[0].blocks[0]:
                return ("carried", id(value))  # an iter_arg: never the same in another loop
            return ("outside", id(value))
        if id(value) not in self.memo:
            if owner.regions or owner.name.startswith("scf."):
                self.memo[id(value)] = ("unique", id(value))
            else:
                self.memo[id(value)] = (owner.name, repr(sorted(owner.attributes.items())),
                                        str(value.type), value.index,
                                        tuple(self.key(v) for v in owner.operands))
        return self.memo[id(value)]


def _tree(value: Value, loop: Operation) -> list[Operation]:
    """The ops inside `loop` that compute `value`, in program order."""
    inside = {id(op) for op in loop.walk()}
    seen: dict[int, Operation] = {}
    stack = [value]
    while stack:
        owner = stack.pop().owner
        if isinstance(owner, Operation) and id(owner) in inside and id(owner) not in seen:
            seen[id(owner)] = owner
            stack.extend(owner.operands)
    return [op for op in loop.walk() if id(op) in seen]


def _defined_before(value: Value, anchor: Operation) -> bool:
    """Whether `value` is available at `anchor`: a block argument or an op result of a block
    enclosing `anchor`, defined before it."""
    if value.is_block_argument:
        return ancestor_in(anchor, value.owner) is not None
    owner = value.owner
    holder = ancestor_in(anchor, owner.parent) if owner.parent is not None else None
    return holder is not None and owner.parent.operations.index(owner) < \
        owner.parent.operations.index(holder)


def _touches(op: Operation, memrefs: set[int], stores_only: bool) -> bool:
    for inner in op.walk():
        if inner.name == "memref.store" and id(inner.operands[1]) in memrefs:
            return True
        if not stores_only and inner.name == "memref.load" and id(inner.operands[0]) in memrefs:
            return True
    return False


def _candidate(first: Operation, later: Operation):
    """(E in `first`, E in `later`, the store of `later` to reuse) or None."""
    stores = [op for op in later.regions[0].blocks[0].operations if op.name == "memref.store"]
    first_keys, later_keys = _Keys(first), _Keys(later)
    known = {}
    for op in first.walk():
        for result in op.results:
            known.setdefault(first_keys.key(result), result)
    for store in stores:
        buffer = store.operands[1]
        if sum(1 for op in later.walk() if op.name == "memref.store"
               and op.operands[1] is buffer) != 1:
            continue
        for op in reversed(_tree(store.operands[0], later)):
            if not (op.results and any(o.name.startswith("math.") for o in
                                       _tree(op.results[0], later))):
                continue
            match = known.get(later_keys.key(op.results[0]))
            if match is not None and match.type == buffer.type.element:
                return match, op.results[0], store
    return None


def _reuse(block: Block, first: Operation, later: Operation) -> bool:
    found = _candidate(first, later)
    if found is None:
        return False
    computed, recomputed, store = found
    if computed.owner.parent is not first.regions[0].blocks[0]:
        return False  # computed under a condition or in a nested loop of `first`
    buffer, indices = store.operands[1], store.operands[2:]
    later_iv, first_iv = induction_variable(later), induction_variable(first)
    if not all(i is later_iv or _defined_before(i, first) for i in indices):
        return False
    start, end = ancestor_in(first, block), ancestor_in(later, block)
    span = block.operations[block.operations.index(start):block.operations.index(end) + 1]
    loaded = {id(op.operands[0]) for op in _tree(recomputed, later) if op.name == "memref.load"}
    if any(_touches(op, loaded, stores_only=True) for op in span):
        return False
    others = [op for op in span if op is not end] + [
        op for op in later.regions[0].blocks[0].operations if op is not store]
    if any(_touches(op, {id(buffer)}, stores_only=False) for op in others):
        return False
    row = _row_buffer(block, start, end, later, buffer.type.dtype)
    if row is not None:
        buffer, indices = row, [later_iv]
    first_indices = [first_iv if i is later_iv else i for i in indices]
    stash = Operation("memref.store", [computed, buffer, *first_indices])
    body = first.regions[0].blocks[0]
    owner = computed.owner
    body.operations.insert(body.operations.index(owner) + 1, stash)
    stash.parent = body
    load = Operation("memref.load", [buffer, *indices], [recomputed.type])
    insert_before(recomputed.owner, load)
    replace_all_uses(later, recomputed, load.result)
    _erase_dead(later)
    return True


def _row_buffer(block: Block, start: Operation, end: Operation, later: Operation,
                dtype) -> Value | None:
    """A buffer of `later`'s iterations, allocated in `block` before `start` and freed after
    `end`, if `later` counts from 0 by 1 to at most ROW_BUFFER_MAX_BYTES of `dtype`."""
    lower, upper, step = (constant_value(v) for v in later.operands[:3])
    if lower != 0 or step != 1 or upper is None or upper * dtype.itemsize > ROW_BUFFER_MAX_BYTES:
        return None
    alloc = Operation("memref.alloc", [], [MemRefType((upper,), dtype)],
                      {"operandSegmentSizes": I32Array((0, 0))})
    insert_before(start, alloc)
    free = Operation("memref.dealloc", [alloc.result])
    block.operations.insert(block.operations.index(end) + 1, free)
    free.parent = block
    return alloc.result


def _erase_dead(loop: Operation) -> None:
    """Drop ops of `loop`'s body whose results are unused (the recomputation just replaced)."""
    body = loop.regions[0].blocks[0]
    changed = True
    while changed:
        used = {id(v) for op in loop.walk() for v in op.operands}
        dead = [op for op in body.operations if op.results and not op.regions
                and not any(id(r) in used for r in op.results)]
        for op in dead:
            erase(op)
        changed = bool(dead)


def _inner_loops(block: Block) -> list[Operation]:
    return [op for top in block.operations for op in top.walk() if op.name == "scf.for"]


def _rewrite_block(block: Block) -> None:
    """Try every (earlier value loop, later top-level loop) pair of `block`'s loops."""
    for later in [op for op in block.operations if op.name == "scf.for" and not op.results]:
        for first in _inner_loops(block):
            if first is later or ancestor_in(first, block) is later:
                continue
            if block.operations.index(ancestor_in(first, block)) >= \
                    block.operations.index(later):
                continue
            if first.operands[:3] != later.operands[:3] or not _runs_once(block, first):
                continue
            if _reuse(block, first, later):
                break


def _runs_once(block: Block, loop: Operation) -> bool:
    """Whether `loop` runs exactly once each time `block` runs: every op between them is an
    `scf.for` of one iteration."""
    while loop.parent is not block:
        loop = loop.parent.parent.parent
        if loop is None or loop.name != "scf.for" or trip_count(loop) != 1:
            return False
    return True


@register_pass
class ReuseRowValuesPass(Pass):
    """Store a math-heavy value an inner loop computes into the output row a later loop of the
    same range recomputes it for, and load it there (loops IR; see module doc)."""

    name = "reuse-row-values"

    def run(self, module: Operation) -> None:
        for op in module.walk():
            if op.name in ("func.func", "scf.for"):
                for region in op.regions:
                    for block in region.blocks:
                        _rewrite_block(block)
