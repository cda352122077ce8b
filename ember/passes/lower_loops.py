"""`lower-to-loops`: graph-level functions to loops (func, scf, arith, math, memref).

Every func.func of the module becomes a kernel entry with the loop-level calling convention:

    func.func @f(<one memref per argument>, <one memref per result>, %status: memref<4xi64>)

Results are written into their memrefs (destination passing); the status buffer stays zero, or
gets [1, op index, bad index, axis size] from the first out-of-range gather/scatter_add index,
where the op index counts the names in the function's `ember.error_ops` attribute
("gather,scatter_add,...", one entry per such op in order of appearance). `ember.inputs` is
the number of argument memrefs; a caller allocates the result memrefs after them itself, on
64-byte boundaries (the LLVM backend relies on it). A graph function's
`ember.donate` pairs (result, argument) are carried over as memref argument positions, for
`donate-buffers`.

Each `ember.fusion` (or plain ember op) becomes one kernel: a loop nest per shape its yielded
values have (elementwise and movement ops are computed inside it, at the element being
written, without intermediate buffers), plus a loop nest with accumulators for each reduction,
matmul, conv2d and scatter_add in it. Values that leave a kernel without being results get a
`memref.alloc`, freed at the end of the function; the memory plan's buffer reuse is not used.
Outside fusions, movement and creation ops are views computed in their readers' loops too.

After the pass only ops of builtin, func, scf, arith, math and memref remain: anything else
makes it fail with a LoweringError naming the op. The rules per op kind live in
`ember.passes.lowering`.

Deviations from the loops-IR contract, for codegen to know: memref.alloc's
`operandSegmentSizes` is printed in the attribute dictionary (mlir-opt accepts it there, and
Ember's printer has no separate properties); conv2d's outer loop is marked
`ember.kernel = "conv2d"` (matmul's `"matmul"`, as agreed); a module with several functions
gives several kernel entries.
"""

from __future__ import annotations

from collections import defaultdict

from ember.ir import dtypes
from ember.ir.core import Block, Operation, Value, func_op, functions
from ember.ir.primitive import PRIMITIVES
from ember.ir.types import MemRefType
from ember.passes.lowering import creation, indexing, reduction
from ember.passes.lowering.elementwise import lower_elementwise
from ember.passes.lowering.emitter import Emitter, LoopTensor, LoweringError
from ember.passes.pass_manager import Pass, register_pass

LEGAL_DIALECTS = {"builtin", "func", "scf", "arith", "math", "memref"}

# Ops computed where they are read: op name -> rule(emitter, op, *operands) -> LoopTensor.
_VIEWS = {
    "reshape": indexing.reshape, "permute": indexing.permute,
    "broadcast_to": indexing.broadcast_to, "slice": indexing.slice_, "flip": indexing.flip,
    "pad": indexing.pad, "concat": indexing.concat, "gather": indexing.gather,
    "full": creation.full, "iota": creation.iota, "constant": creation.constant,
    "random_uniform": creation.random_uniform,
}
# Ops with loops of their own: op name -> rule(emitter, op, target buffer, *operands).
_NESTS = {
    "sum": reduction.reduce, "prod": reduction.reduce, "max": reduction.reduce,
    "min": reduction.reduce, "argmax": reduction.arg_reduce, "argmin": reduction.arg_reduce,
    "matmul": reduction.matmul, "conv2d": reduction.conv2d, "scatter_add": indexing.scatter_add,
}
_ELEMENTWISE = {"unary", "binary", "ternary"}
# Outside a fusion these stay views rather than kernels of their own (no copies).
_FREE_KINDS = {"movement", "creation"}


@register_pass
class LowerToLoopsPass(Pass):
    """Lower graph-level functions (ember ops and fusions) to func/scf/arith/math/memref loops."""

    name = "lower-to-loops"

    def run(self, module: Operation) -> None:
        block = module.regions[0].blocks[0]
        lowered = [lower_function(func) for func in functions(module)]
        block.operations = []
        for func in lowered:
            block.append(func)
        for op in module.walk():
            if op.dialect not in LEGAL_DIALECTS:
                raise LoweringError(f"lower-to-loops: {op.name} survived the lowering")


def lower_function(func: Operation) -> Operation:
    """The loop-level kernel entry computing graph function `func`."""
    body = func.regions[0].blocks[0]
    ft = func.attributes["function_type"]
    memrefs = [MemRefType(t.shape, t.dtype) for t in (*ft.inputs, *ft.results)]
    kernel = func_op(func.attributes["sym_name"], memrefs + [MemRefType((4,), dtypes.int64)])
    entry = kernel.regions[0].blocks[0]
    em = Emitter(entry, status=entry.arguments[-1])
    env: dict[Value, LoopTensor] = {arg: LoopTensor(arg.type, buffer=memref)
                                    for arg, memref in zip(body.arguments, entry.arguments)}
    returned = body.operations[-1].operands
    outputs = entry.arguments[len(ft.inputs):-1]
    destination: dict[Value, Value] = {}
    for value, memref in zip(returned, outputs):
        destination.setdefault(value, memref)
    for op in body.operations[:-1]:
        if op.name == "ember.fusion":
            _lower_fusion(em, op, env, destination)
        else:
            _lower_op(em, op, env, destination, in_fusion=False)
    for value, memref in zip(returned, outputs):
        if env[value].buffer is not memref:
            em.materialize([env[value]], [memref])
    for buffer in em.allocs:
        em.op("memref.dealloc", [buffer])
    em.op("func.return")
    em.finish()
    kernel.attributes["ember.inputs"] = len(ft.inputs)
    if em.error_ops:
        kernel.attributes["ember.error_ops"] = ",".join(em.error_ops)
    donate = func.attributes.get("ember.donate", ())
    if donate:
        # (result, argument) of the graph function as positions among the memref arguments
        kernel.attributes["ember.donate"] = tuple(
            n for r, a in zip(donate[::2], donate[1::2]) for n in (len(ft.inputs) + r, a))
    return kernel


def _lower_fusion(em: Emitter, fusion: Operation, env: dict[Value, LoopTensor],
                  destination: dict[Value, Value]) -> None:
    """One fused kernel: its nests, then one loop nest per shape of the values it yields."""
    block: Block = fusion.regions[0].blocks[0]
    inner = {arg: env[v] for arg, v in zip(block.arguments, fusion.operands)}
    yielded = block.operations[-1].operands
    inner_destination: dict[Value, Value] = {}
    for value, result in zip(yielded, fusion.results):
        if result in destination:
            inner_destination.setdefault(value, destination[result])
    for op in block.operations[:-1]:
        _lower_op(em, op, inner, inner_destination, in_fusion=True)
    by_shape: dict[tuple, list[tuple[LoopTensor, Value]]] = defaultdict(list)
    written: dict[Value, Value] = {}
    views = _views_of_yields(yielded, inner)
    for value in dict.fromkeys(yielded):
        tensor = inner[value]
        if tensor.buffer is None:
            written[value] = inner_destination.get(value) or em.alloc(value.type)
            if value not in views:
                by_shape[value.type.shape].append((tensor, written[value]))
        else:
            written[value] = tensor.buffer
    for pairs in by_shape.values():
        em.materialize([t for t, _ in pairs], [b for _, b in pairs])
    for value, view in views.items():
        # Read back from the yield just written, rather than compute it all again through
        # the view (a transposed copy for conv2d's weight gradient, say).
        source = LoopTensor(view.operands[0].type, buffer=written[view.operands[0]])
        em.materialize([_VIEWS[view.opname](em, view, source)], [written[value]])
    for value, result in zip(yielded, fusion.results):
        env[result] = LoopTensor(result.type, buffer=written[value])


def _views_of_yields(yielded: list[Value],
                     inner: dict[Value, LoopTensor]) -> dict[Value, Operation]:
    """Yielded values that are a one-operand view (permute, reshape, ...) of another yielded
    value computed in the kernel, with their view op."""
    views = {}
    for value in yielded:
        op = value.owner
        if (isinstance(op, Operation) and op.opname in _VIEWS and len(op.operands) == 1
                and op.operands[0] in yielded and inner[op.operands[0]].buffer is None
                and inner[value].buffer is None and op.operands[0] not in views):
            views[value] = op
    return views


def _lower_op(em: Emitter, op: Operation, env: dict[Value, LoopTensor],
              destination: dict[Value, Value], in_fusion: bool) -> None:
    """Give `op`'s result a LoopTensor: a view, or a buffer its own loops write."""
    prim = PRIMITIVES.get(op.opname) if op.dialect == "ember" else None
    if prim is None:
        raise LoweringError(f"lower-to-loops: cannot lower {op.name} (not an ember primitive)")
    operands = [env[v] for v in op.operands]
    name, result = op.opname, op.result
    if name in _NESTS:
        target = destination.get(result) or em.alloc(result.type)
        _NESTS[name](em, op, target, *operands)
        env[result] = LoopTensor(result.type, buffer=target)
        return
    if prim.kind in _ELEMENTWISE:
        tensor = lower_elementwise(op, operands)
    elif name in _VIEWS:
        tensor = _VIEWS[name](em, op, *operands)
    else:
        raise LoweringError(f"lower-to-loops: no lowering rule for ember.{name}")
    if not in_fusion and prim.kind not in _FREE_KINDS and tensor.buffer is None:
        # A plain elementwise op (or gather, random_uniform) is a kernel of its own.
        target = destination.get(result) or em.alloc(result.type)
        em.materialize([tensor], [target])
        tensor = LoopTensor(result.type, buffer=target)
    env[result] = tensor
