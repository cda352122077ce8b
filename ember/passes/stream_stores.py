"""`stream-stores`: mark the final stores of large results `nontemporal` (loops IR).

A result bigger than a good part of the last-level cache is not going to be read from cache by
whoever reads it next, yet a plain store first reads every line it writes (write-allocate): a
streaming kernel such as `x * 2` or layer norm moves three bytes for every two it needs. A
non-temporal store (x86 `movntps`) writes the line straight to memory instead; `x * 2` and
layer norm over (4096, 1024) take 1.5x less time with them on the 2-core machine Ember is tuned
on. MLIR's `memref.store` carries the hint as `nontemporal = true`; the LLVM backend turns it
into `!nontemporal` vector stores where the address is a vector's multiple.

A store into a result memref of at least STREAM_MIN_BYTES is marked when:
- it is the only access to that memref in the function. A line the kernel has read or written
  before is in cache already, and a non-temporal store to it is slow: softmax, which stores its
  exponentials into the output row and then scales them there, took twice as long;
- it sits in the body of an innermost loop and its last index is that loop's induction
  variable (consecutive iterations fill whole cache lines);
- that loop computes no `math` function per element (one of a value outside the loop, such as
  layer norm's rsqrt of the row variance, is hoisted out of it): a kernel computing
  transcendentals per element is limited by arithmetic, and there non-temporal stores
  measured slower (GELU, 30%).

Which memrefs are results comes from the function's `ember.inputs` (the number of leading
input memrefs; the status buffer is last). The hint never changes a result.
"""

from __future__ import annotations

from ember.ir.core import Operation, functions
from ember.passes.loop_analysis import memory_accesses
from ember.passes.pass_manager import Pass, register_pass

STREAM_MIN_BYTES = 8 << 20  # a quarter of the 32 MB last-level cache


def _streams(store: Operation) -> bool:
    """Whether `store` writes consecutive elements from an innermost loop that computes no
    math function per element."""
    loop = store.parent.parent.parent if store.parent.parent is not None else None
    if loop is None or loop.name != "scf.for":
        return False
    body = loop.regions[0].blocks[0]
    indices = store.operands[2:]
    if not indices or indices[-1] is not body.arguments[0]:
        return False
    per_element = {id(body.arguments[0])}
    for op in body.operations:
        if op.regions:
            return False
        if any(id(v) in per_element for v in op.operands):
            if op.dialect == "math":
                return False
            per_element.update(id(r) for r in op.results)
    return True


@register_pass
class StreamStoresPass(Pass):
    """Mark the store of each large result `nontemporal` where it streams."""

    name = "stream-stores"

    def run(self, module: Operation) -> None:
        for func in functions(module):
            inputs = func.attributes.get("ember.inputs")
            if inputs is None:
                continue
            body = func.regions[0].blocks[0]
            large = {id(m) for m in body.arguments[inputs:-1] if m.type.nbytes >= STREAM_MIN_BYTES}
            accesses: dict[int, list[Operation]] = {}
            for op, memref, _ in memory_accesses(func):
                if id(memref) in large:
                    accesses.setdefault(id(memref), []).append(op)
            for (op, *others) in accesses.values():
                if not others and op.name == "memref.store" and _streams(op):
                    op.attributes["nontemporal"] = True
