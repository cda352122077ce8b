"""Kernel outlining: a function body split into host code and kernels.

The host keeps its buffers (`memref.alloc` becomes `gpu.alloc`: device memory) and launches
one kernel per top-level loop nest, and one per run of other top-level code that writes memory
(scalar results, whole-tensor reductions). A kernel takes the memrefs it uses as arguments;
scalars it uses from outside are recomputed inside it (constants, loads and arithmetic: the
host cannot read device memory)."""

from __future__ import annotations

from ember.ir.attributes import UNIT, I32Array, SymbolRef
from ember.ir.core import Block, FunctionType, Operation, Value, clone, replace_all_uses
from ember.ir.types import MemRefType
from ember.passes.gpu_lowering.analysis import has_effects
from ember.passes.lowering.emitter import LoweringError

_HOST = ("arith.constant", "memref.alloc", "memref.dealloc", "func.return")
_RECOMPUTABLE = ("arith", "math")


def kernel_groups(body: Block) -> list[list[Operation]]:
    """The top-level ops of `body` that become kernels, in order: each loop nest alone, and
    each run of other code between them that writes memory."""
    groups: list[list[Operation]] = []
    run: list[Operation] = []

    def flush() -> None:
        if any(has_effects(op, set()) for op in run):
            groups.append(list(run))
        run.clear()

    for op in body.operations:
        if op.name in _HOST:
            continue
        if op.name == "scf.for" and not op.results:
            flush()
            groups.append([op])
        else:
            run.append(op)
    flush()
    return groups


def outline(name: str, ops: list[Operation],
            body: Block) -> tuple[Operation, list[Value], dict[Value, Value]]:
    """A `gpu.func @name` whose body block holds the clones of the scalars `ops` use from
    `body`; the host memrefs to launch it with, one per argument; and the kernel's value for
    each value `ops` use from outside (see `rewire`). The ops of `body` must all be in place:
    the clones are made from them."""
    inside: set[Value] = set()
    for op in ops:
        for inner in op.walk():
            inside.update(inner.results)
            inside.update(a for r in inner.regions for b in r.blocks for a in b.arguments)
    func = Operation("gpu.func", attributes={"sym_name": name, "gpu.kernel": UNIT}, regions=1)
    block = func.regions[0].add_block()
    host: list[Value] = []
    mapping: dict[Value, Value] = {}

    def capture(value: Value) -> Value:
        if value in mapping:
            return mapping[value]
        if isinstance(value.type, MemRefType):
            host.append(value)
            mapping[value] = block.add_argument(value.type)
            return mapping[value]
        op = value.owner
        if (not isinstance(op, Operation) or op.parent is not body or op.regions
                or not (op.dialect in _RECOMPUTABLE or op.name == "memref.load")):
            raise LoweringError(f"map-to-gpu: the result of {getattr(op, 'name', 'an argument')}"
                                f" is used by another kernel than the one computing it")
        for operand in op.operands:
            capture(operand)
        block.append(clone(op, mapping))
        return mapping[value]

    for op in ops:
        for inner in op.walk():
            for v in inner.operands:
                if v not in inside:
                    capture(v)
    func.attributes["function_type"] = FunctionType([a.type for a in block.arguments], [])
    return func, host, mapping


def rewire(ops: list[Operation], mapping: dict[Value, Value]) -> None:
    """Make `ops` use the kernel's values (`outline`'s mapping) instead of the host's."""
    for op in ops:
        for old, new in mapping.items():
            replace_all_uses(op, old, new)


def launch(name: str, grid: Value, threads: Value, one: Value, arguments: list[Value]) -> Operation:
    """`gpu.launch_func @kernels::@name` on a 1-D grid of 1-D blocks."""
    return Operation("gpu.launch_func", [grid, one, one, threads, one, one, *arguments], (),
                     {"kernel": SymbolRef(("kernels", name)),
                      # async deps, grid x/y/z, block x/y/z, cluster x/y/z, dynamic shared
                      # memory, kernel operands, async object
                      "operandSegmentSizes": I32Array((0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0,
                                                       len(arguments), 0))})
