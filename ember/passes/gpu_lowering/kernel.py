"""The kernel being built: its gpu.func, an Emitter for its body, thread and block ids, and its
workgroup (shared) memory; shared by the grid, row and tile mappings."""

from __future__ import annotations

from ember.ir.attributes import DialectAttr, I32Array
from ember.ir.core import Block, Operation, Value, replace_all_uses
from ember.ir.types import INDEX, MemRefType, ScalarType
from ember.passes.lowering.emitter import Emitter

WARP = 32
WORKGROUP = 3  # the memory space of workgroup (shared) memory, as in NVVM and MLIR's gpu


class Kernel:
    """A `gpu.func` under construction, with the memref that is the status word (`ignored`
    by the independence analysis: racing error reports all set its flag)."""

    def __init__(self, func: Operation, status: Value | None) -> None:
        self.func = func
        self.block: Block = func.regions[0].blocks[0]
        self.status = status
        self.em = Emitter(self.block, status=status)
        self.grid = 1
        self.threads = 1
        self._ids: dict[str, Value] = {}
        self._shared: dict[str, Value] = {}

    @property
    def ignored(self) -> set[Value]:
        return {self.status} if self.status is not None else set()

    def gpu_id(self, name: str) -> Value:
        """`gpu.thread_id x` / `gpu.block_id x`, emitted once at the current insertion point
        (callers ask for them first thing in the kernel body)."""
        if name not in self._ids:
            self._ids[name] = self.em.op(f"gpu.{name}", [], [INDEX],
                                         {"dimension": DialectAttr("#gpu<dim x>")}).result
        return self._ids[name]

    def shared(self, element: ScalarType) -> Value:
        """A workgroup buffer of one slot per warp for `element` values (block reductions)."""
        return self.workgroup(f"slots.{element.name}", (WARP,), element)

    def workgroup(self, name: str, shape: tuple[int, ...], element: ScalarType) -> Value:
        """The workgroup (shared) buffer `name` of `shape`, made on first use."""
        if name not in self._shared:
            memref = MemRefType(shape, element.dtype, WORKGROUP)
            self._shared[name] = self.block.add_argument(memref)
            self.func.attributes["workgroup_attributions"] = len(self._shared)
        return self._shared[name]

    def barrier(self) -> None:
        """`gpu.barrier`, unless the previous op is one."""
        ops = self.em.block.operations
        if not ops or ops[-1].name != "gpu.barrier":
            self.em.op("gpu.barrier")

    def finish(self, mapping: str) -> None:
        """Close the body (`gpu.return`, constants on top) and record the launch shape."""
        self.em.op("gpu.return")
        self.em.finish()
        _merge_constants(self.block)
        self.func.attributes["known_block_size"] = I32Array((self.threads, 1, 1))
        self.func.attributes["ember.mapping"] = mapping


def _merge_constants(block: Block) -> None:
    """One `arith.constant` per value and type at the top of the kernel body (the outlined
    clones and the mapping's own constants overlap)."""
    first: dict[tuple, Value] = {}
    kept = []
    for op in block.operations:
        if op.name == "arith.constant":
            key = (str(op.result.type), repr(op.attributes["value"]))
            if key in first:
                for user in block.operations:
                    replace_all_uses(user, op.result, first[key])
                continue
            first[key] = op.result
        kept.append(op)
    block.operations = kept
