"""`fuse-rows`: merge consecutive top-level loop nests of loops IR over the same rows.

`lower-to-loops` gives each reduction of a fused kernel a nest of its own, so softmax is three
passes over its input (row max, row sum of exponentials, the quotient), each streaming the
whole tensor through memory. Where consecutive top-level `scf.for` loops have the same bounds
and every buffer that one of them writes and the other touches is accessed only at the row of
the loop's own induction variable (its first index), the second body runs right after the first
in one loop: a row is then read while it is still in cache, and iteration i of the merged loop
does what iterations i of both did, in the same order.

Then, inside each loop, consecutive loops merge the same way along any one axis that they both
index with their induction variable: a softmax over (batch, rows, columns) is a batch loop
around one nest over the rows per reduction, and becomes a batch loop around one loop over the
rows, whose body is the 2-D softmax's (it then gets the same row buffer and streamed stores).
At the top, a batch of one is a loop of one iteration whose induction variable lowering wrote
as the constant 0: that counts as the induction variable.

Loops with results or a discardable attribute (a `ember.kernel` nest keeps its shape) are left
alone; `memref.alloc`s between two fused loops move above them (allocating is independent of
the loops). A weaker test, `owns_slices` (any one axis instead of the first), tells the CPU
backend that a loop's iterations can run on different threads.
"""

from __future__ import annotations

from ember.ir.core import Operation, Value, erase, insert_before, replace_all_uses
from ember.passes.loop_analysis import constant_value, memory_accesses, own_slice, trip_count
from ember.passes.pass_manager import Pass, register_pass


def _accesses(loop: Operation) -> tuple[set[Value], set[Value]]:
    """The memrefs `loop` loads from and stores into."""
    loaded, stored = set(), set()
    for op, memref, _ in memory_accesses(loop):
        (stored if op.name == "memref.store" else loaded).add(memref)
    return loaded, stored


def _row_axes(loop: Operation, memrefs: set[Value], chunked: bool,
              batch_of_one: bool = False) -> dict[Value, dict[int, int]] | None:
    """For each of `memrefs` accessed inside `loop`, the axes that every load and store of it
    indexes with the loop's induction variable, or with `chunked`, within the slice of the
    induction variable (`own_slice`) of one size for all of them, mapped to that size;
    None when some memref has no such axis. With `batch_of_one`, in a loop of one iteration
    from 0, the constant 0 that lowering writes for a size-1 axis is the induction variable."""
    iv = loop.regions[0].blocks[0].arguments[0]
    single = batch_of_one and trip_count(loop) == 1 and constant_value(loop.operands[0]) == 0

    def slice_size(index: Value) -> int | None:
        """The rows per iteration of the slice `index` keeps to, or None."""
        if index is iv or single and constant_value(index) == 0:
            return 1
        return own_slice(index, iv) if chunked else None

    axes: dict[Value, dict[int, int]] = {}
    for _, memref, indices in memory_accesses(loop):
        if memref in memrefs:
            sizes = {axis: slice_size(index) for axis, index in enumerate(indices)}
            here = {axis: size for axis, size in sizes.items() if size is not None}
            common = {axis: size for axis, size in here.items()
                      if axes.get(memref, here).get(axis) == size}
            if not common:
                return None
            axes[memref] = common
    return axes


def owns_rows(loop: Operation, memrefs: set[Value]) -> bool:
    """Whether every load and store of `memrefs` inside `loop` indexes its first axis with the
    loop's induction variable (so iteration i touches only row i of them)."""
    axes = _row_axes(loop, memrefs, chunked=False, batch_of_one=True)
    return axes is not None and all(0 in found for found in axes.values())


def owns_slices(loop: Operation, memrefs: set[Value]) -> bool:
    """Whether each of `memrefs` has an axis that every load and store of it inside `loop`
    indexes within one slice per iteration: with the loop's induction variable (a transposed
    output written by a loop over its second axis qualifies), or at rows of a chunk
    (`own_slice`, `pipeline-rows`); different iterations then touch disjoint slices."""
    return _row_axes(loop, memrefs, chunked=True) is not None


def _fusible(first: Operation, second: Operation, top_level: bool) -> bool:
    if any(op.results or op.attributes for op in (first, second)):
        return False
    if first.operands != second.operands:  # same constant bounds (constants are shared)
        return False
    if any(op.name in ("memref.alloc", "memref.dealloc", "func.call")
           for loop in (first, second) for op in loop.walk()):
        return False
    (loaded1, stored1), (loaded2, stored2) = _accesses(first), _accesses(second)
    shared = (stored1 & (loaded2 | stored2)) | (stored2 & loaded1)
    if top_level:
        return owns_rows(first, shared) and owns_rows(second, shared)
    # A nest inside a row: its loops own slices along a later axis (the second of a
    # (batch, row, column) tensor), the same one in both loops.
    axes1, axes2 = (_row_axes(loop, shared, chunked=False) for loop in (first, second))
    return axes1 is not None and axes2 is not None and \
        all(axes1[memref].keys() & axes2[memref].keys() for memref in shared)


def _merge(first: Operation, second: Operation) -> None:
    """Append `second`'s body to `first`'s (before its yield) and erase `second`."""
    block, moved = first.regions[0].blocks[0], second.regions[0].blocks[0]
    replace_all_uses(second, moved.arguments[0], block.arguments[0])
    terminator = block.operations.pop()
    for op in moved.operations[:-1]:
        op.parent = block
        block.operations.append(op)
    block.operations.append(terminator)
    erase(second)


@register_pass
class FuseRowsPass(Pass):
    """Merge consecutive loop nests over the same rows, top-level ones and then those inside
    them (loops IR; see module doc)."""

    name = "fuse-rows"

    def run(self, module: Operation) -> None:
        for func in module.regions[0].blocks[0].operations:
            if func.name == "func.func":
                self._fuse_block(func.regions[0].blocks[0], top_level=True)

    @classmethod
    def _fuse_block(cls, block, top_level: bool) -> None:
        current: Operation | None = None
        pending_allocs: list[Operation] = []
        for op in list(block.operations):
            if op.name == "memref.alloc" and current is not None:
                pending_allocs.append(op)
            elif op.name == "scf.for" and current is not None and \
                    _fusible(current, op, top_level):
                for alloc in pending_allocs:
                    erase(alloc)
                    insert_before(current, alloc)
                pending_allocs = []
                _merge(current, op)
            else:
                current = op if op.name == "scf.for" else None
                pending_allocs = []
        # Then the nests inside each row: a softmax over (batch, rows, columns) is a loop over
        # the batch around one nest per reduction.
        for op in block.operations:
            if op.name == "scf.for" and not op.results and not op.attributes:
                cls._fuse_block(op.regions[0].blocks[0], top_level=False)
