"""Loops IR (func/scf/memref plus the scalar ops of `ops.py`) -> an llvmlite module.

The module's `func.func @name` becomes an internal LLVM function `@ember.graph.name` taking one
`noalias` pointer per memref argument and a last one to a scratch arena, and an exported
`@name_entry(ptr)` that reads those pointers from an array and calls it, so a runtime needs one
foreign call per graph. Buffers the function allocates live on the stack when small, else at
fixed offsets in the arena (`Translation.scratch_bytes`), which the runtime allocates once per
compiled graph and passes to every call. A memref is a bare
pointer: its shape is static, so addresses are row-major arithmetic on the indices.

Loops are emitted in the canonical shape LLVM's loop passes and vectorizer expect (a header
with phis for the induction variable and the iter_args, one latch, one exit). A float add,
multiply, max or min that accumulates into an iter_arg is marked `reassoc nsz`, so that the
vectorizer may sum in SIMD lanes: reductions then add in a different order than sequentially,
within float rounding (and may give +0 for -0). A loop whose body is only another loop runs
as one loop over both when their induction variables only index adjacent axes of memrefs, the
inner axis in full (`_coalescible`): short rows (24-wide images) then make long vector loops.

A loop nest marked `ember.kernel = "<name>"` is replaced by the hand-written kernel of that name
(`ember.codegen.llvm.kernels`). A large top-level loop nest whose iterations are independent
(each writes only its own row of every buffer it writes) is outlined into a worker function
whose outer loop range is split across threads (`ember.codegen.llvm.parallel`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import llvmlite.binding as llvm
from llvmlite import ir

from ember.codegen.llvm import parallel, streaming, vector_abi
from ember.codegen.llvm.control import carried_loop
from ember.codegen.llvm.intrinsics import declare
from ember.codegen.llvm.kernels import KERNELS
from ember.codegen.llvm.ops import SCALAR_OPS
from ember.ir.core import Block, Operation, Region, Value, functions
from ember.ir.types import MemRefType, ScalarType
from ember.passes.fuse_rows import owns_slices

_PTR = ir.PointerType()
_I64 = ir.IntType(64)
# LLVM types of MLIR scalar types; `index` is 64-bit on the hosts Ember targets.
_SCALAR = {"index": _I64, "i1": ir.IntType(1), "i32": ir.IntType(32), "i64": _I64,
           "f16": ir.HalfType(), "f32": ir.FloatType(), "f64": ir.DoubleType(),
           # llvmlite has no bfloat type: a bf16 is held as its bits, and only loaded, stored,
           # selected and converted to and from f32 (see ops.py); arithmetic happens in f32.
           "bf16": ir.IntType(16)}
# In memory an i1 is a byte, as NumPy's bool is; loads truncate and stores zero-extend.
_BYTE = ir.IntType(8)
# Intermediate buffers up to this size live on the stack (promotable, free to allocate);
# larger ones are allocated on the heap so deep graphs cannot overflow the stack.
STACK_LIMIT_BYTES = 64 * 1024
ALIGNMENT = 64  # bytes: a cache line, and an AVX-512 vector
PAGE_BYTES = 4096
ROW_BUFFER_BYTES = 1024  # stack vectors from this size are placed away from the rows they hold
# Operations of a typical `math` function's approximation (exp: 15, tanh and erf more), for
# the work estimate that decides whether a loop is worth splitting across threads.
MATH_OPS = 16
_INDEX_FLAGS = ("nsw", "nuw")  # in-bounds row-major offsets are non-negative and small


@dataclass
class Translation:
    """The result of translating one loops module."""

    module: ir.Module
    entry: str  # the exported `void (ptr)` function
    arguments: list[MemRefType]  # the kernel's buffer arguments, in order
    error_ops: list[str]  # the func's `ember.error_ops`: names for status op indices
    scratch_bytes: int  # the size of the scratch arena, the pointer after the arguments
    # (result, argument) positions of the signature before `donate-buffers` removed each
    # result's memref: the result is returned in that argument's buffer
    results_in_arguments: list[tuple[int, int]] = field(default_factory=list)


def llvm_scalar(t: ScalarType) -> ir.Type:
    if t.name not in _SCALAR:
        raise NotImplementedError(f"llvm backend: element type {t} is not supported")
    return _SCALAR[t.name]


def _storage(t: ScalarType) -> ir.Type:
    return _BYTE if t.name == "i1" else llvm_scalar(t)


class Translator:
    """Translates one func.func body; `builder` is the insertion point, `values` the SSA map."""

    def __init__(self, module: ir.Module, function: ir.Function, threads: int = 1,
                 top: Block | None = None) -> None:
        self.module = module
        self.function = function
        self.threads = threads  # threads a top-level loop nest or a kernel may use
        self.top = top  # the function body, whose loops may be split across threads
        self.entry_block = function.append_basic_block("entry")
        self.builder = ir.IRBuilder(self.entry_block)
        self.values: dict[int, ir.Value] = {}
        self.heap: set[int] = set()  # memref.alloc results allocated on the heap
        self.scratch: ir.Value | None = None  # the arena large buffers are carved from
        self.scratch_bytes = 0  # how much of it is carved out
        self.row_buffers = 0  # stack row buffers placed so far (see `_placed`)

    @staticmethod
    def llvm_type(t: ScalarType) -> ir.Type:
        return llvm_scalar(t)

    def get(self, value: Value) -> ir.Value:
        return self.values[id(value)]

    def bind(self, values: list[Value], llvm_values) -> None:
        for value, llvm_value in zip(values, llvm_values):
            self.values[id(value)] = llvm_value

    def region(self, region: Region, arguments: list[ir.Value]) -> list[ir.Value]:
        """Translate a single-block region at the insertion point; the terminator's operands."""
        block = region.blocks[0]
        self.bind(block.arguments, arguments)
        for op in block.operations:
            if op.name in TERMINATORS:
                return [self.get(v) for v in op.operands]
            self.operation(op)
        return []

    def operation(self, op: Operation) -> None:
        rule = STRUCTURAL_OPS.get(op.name) or SCALAR_OPS.get(op.name)
        if rule is None:
            raise NotImplementedError(f"llvm backend: no translation for operation {op.name}")
        result = rule(self, op, [self.get(v) for v in op.operands])
        if op.results:
            self.bind(op.results, result if isinstance(result, list) else [result])

    def address(self, memref: Value, indices: list[ir.Value]) -> ir.Value:
        """`getelementptr inbounds` of element `indices` of a row-major static-shape memref."""
        t: MemRefType = memref.type
        if not indices:
            return self.get(memref)
        offset = indices[0]
        for size, index in zip(t.shape[1:], indices[1:]):
            scaled = self.builder.mul(offset, ir.Constant(_I64, size), flags=_INDEX_FLAGS)
            offset = self.builder.add(scaled, index, flags=_INDEX_FLAGS)
        return self.builder.gep(self.get(memref), [offset], inbounds=True,
                                source_etype=_storage(t.element))


# --- memref -----------------------------------------------------------------------------------

def _load(t: Translator, op: Operation, args) -> ir.Value:
    memref = op.operands[0]
    element = memref.type.element
    value = t.builder.load(t.address(memref, args[1:]), typ=_storage(element))
    return t.builder.trunc(value, llvm_scalar(element)) if element.name == "i1" else value


def _store(t: Translator, op: Operation, args) -> None:
    value, memref = args[0], op.operands[1]
    if memref.type.element.name == "i1":
        value = t.builder.zext(value, _BYTE)
    store = t.builder.store(value, t.address(memref, args[2:]))
    if op.attributes.get("nontemporal"):
        streaming.mark(store)


def _prefetch(t: Translator, op: Operation, args) -> None:
    vector_abi.prefetch(t.builder, t.address(op.operands[0], args[1:]))


def _alloc(t: Translator, op: Operation, args) -> ir.Value:
    memref: MemRefType = op.result.type
    element = _storage(memref.element)
    if memref.nbytes <= STACK_LIMIT_BYTES:
        # In the entry block, so a loop around the alloc does not grow the stack.
        entry = ir.IRBuilder(t.entry_block)
        entry.position_at_start(t.entry_block)
        streamed = _streamed_argument(t, op)
        slack = PAGE_BYTES // memref.dtype.itemsize if streamed is not None else 0
        slot = entry.alloca(ir.ArrayType(element, memref.numel + slack))
        slot.align = 64
        slot.type = _PTR  # llvmlite gives alloca a typed pointer; every memref is an opaque `ptr`
        buffer = slot if streamed is None else _placed(t, entry, slot, streamed)
        # The main builder keeps an insertion index into its block: re-anchor it at the end.
        t.builder.position_at_end(t.builder.block)
        return buffer
    # Cache-line aligned, so that no vector access straddles two lines.
    size = -(-max(memref.nbytes, 1) // ALIGNMENT) * ALIGNMENT
    if t.scratch is not None:
        offset, t.scratch_bytes = t.scratch_bytes, t.scratch_bytes + size
        return t.builder.gep(t.scratch, [ir.Constant(_I64, offset)], inbounds=True,
                             source_etype=_BYTE)
    aligned_alloc = declare(t.module, "aligned_alloc", _PTR, [_I64, _I64])
    pointer = t.builder.call(aligned_alloc, [ir.Constant(_I64, ALIGNMENT),
                                             ir.Constant(_I64, size)])
    t.heap.add(id(op.result))
    return pointer


def _streamed_argument(t: Translator, op: Operation) -> ir.Argument | None:
    """The argument a row buffer allocated by `op` is filled beside: the first buffer argument
    loaded in the block of the alloc, if the alloc is a vector of at least a kilobyte (a row);
    else None."""
    memref: MemRefType = op.result.type
    if len(memref.shape) != 1 or memref.nbytes < ROW_BUFFER_BYTES:
        return None
    loads = (inner for sibling in op.parent.operations for inner in sibling.walk()
             if inner.name == "memref.load")
    for inner in loads:
        if id(inner.operands[0]) in t.values:
            value = t.get(inner.operands[0])
            if isinstance(value, ir.Argument) and value.parent is t.function:
                return value
    return None


def _placed(t: Translator, entry: ir.IRBuilder, slot: ir.Instruction,
            streamed: ir.Argument) -> ir.Value:
    """A cache line of `slot` (which has a page of slack) that lies a quarter of a page (the
    first row buffer of the function) or three quarters (the second) away from `streamed`,
    modulo a page.

    Rows of 4 KiB all share their low 12 address bits, and x86 cores hold a load back behind
    an earlier store whose low 12 bits are the same: softmax over (4096, 1024) ran up to 1.5x
    slower for about one input page offset in sixteen, which one depending on where the stack
    and the output happened to lie. The runtime puts outputs half a page from the first input
    (`ember.runtime.llvm`), so the input, the two buffers and the output all lie a quarter of a
    page or more apart."""
    distance = PAGE_BYTES // 4 + (PAGE_BYTES // 2) * (t.row_buffers % 2)
    t.row_buffers += 1
    entry.position_after(slot)
    base = entry.ptrtoint(slot, _I64)
    target = entry.add(entry.ptrtoint(streamed, _I64), ir.Constant(_I64, distance))
    offset = entry.and_(entry.sub(target, base), ir.Constant(_I64, PAGE_BYTES - ALIGNMENT))
    return entry.gep(slot, [offset], inbounds=True, source_etype=_BYTE)


def _dealloc(t: Translator, op: Operation, args) -> None:
    if id(op.operands[0]) in t.heap:
        t.builder.call(declare(t.module, "free", ir.VoidType(), [_PTR]), args)


# --- scf --------------------------------------------------------------------------------------

def _for(t: Translator, op: Operation, args) -> list[ir.Value]:
    kernel = KERNELS.get(op.attributes.get("ember.kernel"))
    if kernel is not None and kernel(t, op, *_kernel_buffers(op)):
        return []
    if op.parent is t.top and _parallel_nest(t, op):
        return []
    lower, upper, step, *inits = args
    if op.parent is t.top and not inits and _trip_count(t, op) == 1:
        # One iteration (a size-1 axis, as of a keepdim reduction): its body is emitted in
        # place and counts as top level, so a loop nest inside may be split across threads.
        t.top, outer = op.regions[0].blocks[0], t.top
        t.region(op.regions[0], [lower])
        t.top = outer
        return []
    region = op.regions[0]
    coalesced = _coalescible(t, op, args)
    if coalesced is not None:
        # One loop over both: the inner counter runs over the product, the outer one stays 0.
        inner, size = coalesced
        t.bind(region.blocks[0].arguments[:1], [ir.Constant(_I64, 0)])
        region, upper = inner.regions[0], ir.Constant(_I64, upper.constant * size)
    with carried_loop(t.builder, lower, upper, step, inits, "for") as (iv, carried, set_next):
        yielded = t.region(region, [iv, *carried])
        for phi, value in zip(carried, yielded):
            _allow_reassociation(phi, value)
        set_next(yielded)
    return carried


def _counted_from_zero(t: Translator, bounds) -> int | None:
    """The trip count of loop bounds (lower, upper, step) that count from 0 by 1, else None;
    `bounds` are LLVM values or loops-IR values already translated."""
    values = [b if isinstance(b, ir.Value) else t.values.get(id(b)) for b in bounds]
    if not all(isinstance(v, ir.Constant) for v in values):
        return None
    lower, upper, step = (v.constant for v in values)
    return upper if (lower, step) == (0, 1) and upper > 0 else None


def _coalescible(t: Translator, loop: Operation, bounds) -> tuple[Operation, int] | None:
    """The loop nested in `loop` and its trip count when the two can run as one loop over the
    product of their trip counts, else None. They must count from 0 by 1, `loop`'s body must
    be only the inner loop, carrying `loop`'s values through, and their induction variables
    (i, j) may only index adjacent axes of row-major memrefs, as [.., i, j, ..] with axis j of
    the inner trip count: then i * size + j is the one loop's counter, and long loops over
    short rows (a sum over height and width, an elementwise op on 24-wide images) vectorize.
    Of a deeper nest, the innermost pair is the one coalesced."""
    body = loop.regions[0].blocks[0]
    if len(body.operations) != 2 or _counted_from_zero(t, bounds[:3]) is None:
        return None
    inner, done = body.operations
    if (inner.name != "scf.for" or done.operands != list(inner.results)
            or inner.operands[3:] != body.arguments[1:]):
        return None
    size = _counted_from_zero(t, inner.operands[:3])
    inner_body = inner.regions[0].blocks[0]
    if size is None or _coalescible(t, inner, inner.operands) is not None:
        return None
    i, j = body.arguments[0], inner_body.arguments[0]
    for op in inner.walk():
        uses = [k for k, v in enumerate(op.operands) if v is i or v is j]
        if not uses:
            continue
        first_index = {"memref.load": 1, "memref.store": 2}.get(op.name)
        if first_index is None or len(uses) != 2:
            return None
        position = uses[0]
        if (position < first_index or op.operands[position] is not i
                or op.operands[position + 1] is not j
                or op.operands[first_index - 1].type.shape[position + 1 - first_index] != size):
            return None
    return inner, size


def _if(t: Translator, op: Operation, args) -> list[ir.Value]:
    b = t.builder
    then_block = b.append_basic_block("if.then")
    else_block = b.append_basic_block("if.else") if len(op.regions) > 1 else None
    merge = b.append_basic_block("if.end")
    b.cbranch(args[0], then_block, else_block or merge)
    incoming = []
    outer = t.top
    for region, block in zip(op.regions, (then_block, else_block)):
        b.position_at_end(block)
        if op.parent is outer:
            # A branch taken at most once per call (the index checks' guard of in-place
            # updates): a loop nest in it may be split across threads like a top-level one.
            t.top = region.blocks[0]
        values = t.region(region, [])
        t.top = outer
        incoming.append((values, b.block))
        b.branch(merge)
    b.position_at_end(merge)
    results = []
    for i, result in enumerate(op.results):
        phi = b.phi(llvm_scalar(result.type))
        for values, block in incoming:
            phi.add_incoming(values[i], block)
        results.append(phi)
    return results


def _allow_reassociation(accumulator: ir.Value, value: ir.Value) -> None:
    """Mark `value`, the next value of a loop-carried `accumulator`, `reassoc nsz` when it is a
    float add, multiply, maximum or minimum of the accumulator: the vectorizer needs that to
    keep one partial result per SIMD lane."""
    if not isinstance(value, ir.Instruction) or accumulator not in value.operands:
        return
    if isinstance(value, ir.CallInstr):
        if value.callee.name.startswith(("llvm.maximum.", "llvm.minimum.")):
            value.fastmath.update(("reassoc", "nsz"))
    elif value.opname in ("fadd", "fmul"):
        value.flags.extend(("reassoc", "nsz"))


# --- kernels and threads ----------------------------------------------------------------------

def _kernel_buffers(loop: Operation) -> tuple[list[Value], Value]:
    """The memrefs a marked nest loads in its innermost body, in order, and the one it stores
    its result into (the contract of `ember.codegen.llvm.kernels`)."""
    innermost = loop
    while inner := [o for o in innermost.regions[0].blocks[0].operations if o.name == "scf.for"]:
        innermost = inner[0]
    loads = [o.operands[0] for o in innermost.regions[0].blocks[0].operations
             if o.name == "memref.load"]
    stores = [o.operands[1] for o in loop.walk() if o.name == "memref.store"]
    return loads, stores[-1]


def _trip_count(t: Translator, loop: Operation) -> int | None:
    bounds = [t.values.get(id(v)) for v in loop.operands[:3]]
    if not all(isinstance(b, ir.Constant) for b in bounds):
        return None
    lower, upper, step = (b.constant for b in bounds)
    return max(0, -(-(upper - lower) // step))


def _work(t: Translator, ops: list[Operation]) -> int:
    """Roughly the scalar operations `ops` execute (0 if a loop bound is not constant); a math
    function counts as the MATH_OPS operations of its approximation."""
    total = 0
    for op in ops:
        if op.name == "scf.for":
            trip = _trip_count(t, op)
            if trip is None:
                return 0
            total += trip * _work(t, op.regions[0].blocks[0].operations)
        else:
            total += (MATH_OPS if op.dialect == "math" else 1) + sum(
                _work(t, r.blocks[0].operations) for r in op.regions if r.blocks)
    return total


def _independent(loop: Operation) -> bool:
    """Whether the outer iterations of a nest can run at once, in any order: what the nest
    allocates lives on the stack (of the thread running the iteration), and every other buffer
    it writes is read and written only in the slice of the outer induction variable along one
    of its axes (that excludes scatter_add and the index checks' status word)."""
    ops = list(loop.walk())
    local = {id(op.result) for op in ops
             if op.name == "memref.alloc" and op.result.type.nbytes <= STACK_LIMIT_BYTES}
    if any(op.name == "func.call" for op in ops):
        return False
    if any(id(op.result) not in local for op in ops if op.name == "memref.alloc") or \
            any(id(op.operands[0]) not in local for op in ops if op.name == "memref.dealloc"):
        return False
    return owns_slices(loop, {op.operands[1] for op in ops
                              if op.name == "memref.store" and id(op.operands[1]) not in local})


def _parallel_nest(t: Translator, loop: Operation) -> bool:
    """Split a large top-level nest's outer loop across `t.threads` threads (see
    `ember.codegen.llvm.parallel`); False, emitting nothing, where that does not pay or is not
    safe. The nest is outlined whatever the thread count, so that its code, and the order in
    which its reductions add, is the same with one thread as with several."""
    trip = _trip_count(t, loop)
    if (loop.results or not trip or trip < 2
            or [t.get(v).constant for v in loop.operands[0:3:2]] != [0, 1]
            or _work(t, [loop]) < parallel.MIN_PARALLEL_WORK or not _independent(loop)):
        return False
    outside = {id(v): v for op in loop.walk() for v in op.operands if id(v) in t.values}
    captured = [v for v in outside.values() if not isinstance(t.get(v), ir.Constant)]
    params = [t.get(v).type for v in captured]
    worker = ir.Function(t.module, ir.FunctionType(ir.VoidType(), [_I64, _I64, *params]),
                         name=f"{t.function.name}.part{len(t.module.globals)}")
    worker.linkage = "internal"
    worker.attributes.add("noinline")  # the same code for one thread and for several
    inner = Translator(t.module, worker)
    inner.values = {key: t.values[key] for key in outside}
    for value, arg in zip(captured, worker.args[2:]):
        if isinstance(arg.type, ir.PointerType):
            arg.add_attribute("noalias")  # distinct graph buffers, as in the kernel itself
            outer = t.get(value)
            if isinstance(outer, ir.Argument):
                arg.attributes.align = outer.attributes.align
        inner.values[id(value)] = arg
    _for(inner, loop, [worker.args[0], worker.args[1], ir.Constant(_I64, 1)])
    if any(op.attributes.get("nontemporal") for op in loop.walk()):
        streaming.fence(inner.builder)  # the caller reads them once every part is done
    inner.builder.ret_void()
    parallel.launch(t.builder, worker, parallel.claimed_chunks(trip, t.threads),
                    [t.get(v) for v in captured])
    return True


STRUCTURAL_OPS: dict[str, Callable] = {
    "memref.load": _load,
    "memref.store": _store,
    "memref.prefetch": _prefetch,
    "memref.alloc": _alloc,
    "memref.dealloc": _dealloc,
    "scf.for": _for,
    "scf.if": _if,
}
TERMINATORS = ("scf.yield", "func.return")


# --- module -----------------------------------------------------------------------------------

def translate_module(module: Operation, threads: int | None = None) -> Translation:
    """Translate a loops-IR `builtin.module` with one func.func into an llvmlite module whose
    large loop nests use up to `threads` threads (default: the host's cores, at most 2)."""
    (func,) = functions(module)
    name = func.attributes["sym_name"]
    block = func.regions[0].blocks[0]
    memrefs = [arg.type for arg in block.arguments]
    llvm_module = ir.Module(name=name)
    llvm_module.triple = llvm.get_process_triple()  # the approximations specialise on it
    # Named apart from the C library's functions, which a graph may be named after (`tanh`).
    kernel = ir.Function(llvm_module,
                         ir.FunctionType(ir.VoidType(), [_PTR] * (len(memrefs) + 1)),
                         name=f"ember.graph.{name}")
    kernel.linkage = "internal"
    for arg in kernel.args:
        arg.add_attribute("noalias")  # graph buffers never overlap: lets loads be hoisted
    # The caller allocates the results' buffers on cache lines (see `lower-to-loops`).
    for arg in kernel.args[func.attributes.get("ember.inputs", len(memrefs)):len(memrefs) - 1]:
        arg.attributes.align = ALIGNMENT
    threads = parallel.default_threads() if threads is None else threads
    translator = Translator(llvm_module, kernel, threads, top=func.regions[0].blocks[0])
    translator.scratch = kernel.args[-1]
    translator.region(func.regions[0], list(kernel.args[:-1]))
    translator.builder.ret_void()
    entry = _entry_function(llvm_module, kernel, name)
    error_ops = func.attributes.get("ember.error_ops", "")
    donated = func.attributes.get("ember.results_in_arguments", ())
    return Translation(llvm_module, entry.name, memrefs,
                       error_ops.split(",") if error_ops else [], translator.scratch_bytes,
                       list(zip(donated[::2], donated[1::2])))


def _entry_function(module: ir.Module, kernel: ir.Function, name: str) -> ir.Function:
    """`void @<name>_entry(ptr %buffers)`: call the kernel with its pointers from buffers[]."""
    count = len(kernel.args)
    entry = ir.Function(module, ir.FunctionType(ir.VoidType(), [_PTR]), name=f"{name}_entry")
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    buffers = entry.args[0]
    pointers = [b.load(b.gep(buffers, [ir.Constant(_I64, i)], inbounds=True, source_etype=_PTR),
                       typ=_PTR)
                for i in range(count)]
    b.call(kernel, pointers)
    b.ret_void()
    return entry
