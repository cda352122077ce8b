"""The loop-level IR builder shared by the lowering rules of `lower-to-loops`.

An Emitter appends `func`/`scf`/`arith`/`math`/`memref` ops to a current block and keeps what
makes the output small and readable: constants are created once at the top of the function,
index arithmetic on known constants folds, and a graph tensor's element at given loop indices
is computed once per loop body (a scoped cache, so that a value computed in a loop body is
never reused outside it).

A graph tensor at the loop level is a `LoopTensor`: either a buffer (a memref) or a rule that
computes an element from its indices inside whatever loop nest asks for it (fused elementwise
and movement ops: no buffer, no copy).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ember.ir import dtypes
from ember.ir.attributes import I32Array, ScalarAttr
from ember.ir.core import Block, Operation, Value
from ember.ir.dtypes import DType
from ember.ir.types import INDEX, MemRefType, ScalarType, TensorType, scalar_type

# arith.cmpf / arith.cmpi predicates (their integer encodings in MLIR).
CMPF = {"oeq": 1, "ogt": 2, "oge": 3, "olt": 4, "ole": 5, "one": 6, "ord": 7, "une": 13,
        "uno": 14}
CMPI = {"eq": 0, "ne": 1, "slt": 2, "sle": 3, "sgt": 4, "sge": 5, "ult": 6, "ule": 7,
        "ugt": 8, "uge": 9}
I1, I32, I64, F32 = (ScalarType(n) for n in ("i1", "i32", "i64", "f32"))


class LoweringError(ValueError):
    """A graph op that `lower-to-loops` cannot lower; the message names it."""


@dataclass(eq=False)
class LoopTensor:
    """A graph tensor at the loop level: a `buffer` (memref value), or `compute(emitter,
    indices)` giving the element at `indices` (index values) in the tensor's element type.
    `transposes` is set when the tensor is exactly a buffer with its last two axes swapped
    (a kernel can read that layout directly)."""

    type: TensorType
    buffer: Value | None = None
    compute: Callable[["Emitter", list[Value]], Value] | None = None
    transposes: Value | None = None


class Emitter:
    """Appends loop-level ops to the current block of one function being built."""

    def __init__(self, entry: Block, status: Value) -> None:
        self.entry = entry
        self.block = entry
        self.status = status  # memref<4xi64>: [1, op index, bad index, axis size] on error
        self.error_ops: list[str] = []  # names of the ops that report errors, by op index
        self.allocs: list[Value] = []
        self._constants: list[Operation] = []
        self._constant_values: dict[tuple, Value] = {}
        self._known: dict[Value, int] = {}  # index values that are constants
        self._cache: list[dict] = [{}]  # element cache per enclosing block, innermost last

    # --- ops ---------------------------------------------------------------------------------

    def op(self, name: str, operands: Sequence[Value] = (), results: Sequence = (),
           attributes: dict | None = None, regions: int = 0) -> Operation:
        """Append an op to the current block."""
        return self.block.append(Operation(name, operands, results, attributes, regions))

    def value(self, name: str, *operands: Value, type: ScalarType | None = None,
              **attributes) -> Value:
        """Append a one-result op (result type: `type`, else the first operand's)."""
        return self.op(name, operands, [type or operands[0].type], attributes).result

    def select(self, condition: Value, if_true: Value, if_false: Value) -> Value:
        return self.value("arith.select", condition, if_true, if_false, type=if_true.type)

    def constant(self, value, type: ScalarType) -> Value:
        """An `arith.constant`, created once per function at the top of its body."""
        key = (type, repr(value))
        if key not in self._constant_values:
            if type.name == "i1":
                attr = bool(value)
            elif type.name == "i64":
                attr = int(value)
            elif type.name == "f64":
                attr = float(value)
            else:
                attr = ScalarAttr(float(value) if type.dtype and type.dtype.is_floating_point
                                  else int(value), type)
            op = Operation("arith.constant", [], [type], {"value": attr})
            self._constants.append(op)
            self._constant_values[key] = op.result
            if type == INDEX:
                self._known[op.result] = int(value)
        return self._constant_values[key]

    def scalar(self, value, dtype: DType) -> Value:
        """A constant of `dtype` holding `value` converted as NumPy converts it."""
        converted = np.array(value).astype(dtype.numpy)
        python = (bool(converted) if dtype is dtypes.bool_ else float(converted)
                  if dtype.is_floating_point else int(converted))
        return self.constant(python, scalar_type(dtype))

    def index(self, n: int) -> Value:
        return self.constant(n, INDEX)

    def finish(self) -> None:
        """Put the constants at the top of the function body."""
        for op in self._constants:
            op.parent = self.entry
        self.entry.operations[0:0] = self._constants

    @contextlib.contextmanager
    def inside(self, block: Block):
        """Emit into `block` (nested in the current one), with its own element cache."""
        saved = self.block
        self.block = block
        self._cache.append({})
        try:
            yield block
        finally:
            self.block = saved
            self._cache.pop()

    def cached(self, key, make: Callable[[], Value]) -> Value:
        """The value for `key` computed in this block or an enclosing one, else `make()`."""
        for scope in reversed(self._cache):
            if key in scope:
                return scope[key]
        value = self._cache[-1][key] = make()
        return value

    # --- loops -------------------------------------------------------------------------------

    def loops(self, shape: Sequence[int], body: Callable[[list[Value], list[Value]], list],
              inits: Sequence[Value] = (), attributes: dict | None = None) -> list[Value]:
        """A nest of `scf.for` over `shape` carrying `inits` as iter_args; `body(ivs, accs)`
        returns the next accumulators. The final accumulators are returned; `attributes` go
        on the outermost loop. An empty shape runs `body` once, in the current block."""

        def nest(depth: int, ivs: list[Value], accs: list[Value]) -> list[Value]:
            if depth == len(shape):
                return list(body(ivs, accs))
            bounds = [self.index(0), self.index(shape[depth]), self.index(1)]
            loop = self.op("scf.for", bounds + accs, [a.type for a in accs],
                           attributes if depth == 0 else None, regions=1)
            block = loop.regions[0].add_block(Block([INDEX] + [a.type for a in accs]))
            with self.inside(block):
                out = nest(depth + 1, ivs + [block.arguments[0]], block.arguments[1:])
                self.op("scf.yield", out)
            return loop.results

        return nest(0, [], list(inits))

    def if_then(self, condition: Value, then: Callable[[], None]) -> None:
        """`scf.if` without results: `then()` emits the guarded ops."""
        op = self.op("scf.if", [condition], regions=2)
        for region, fill in zip(op.regions, (then, lambda: None)):
            with self.inside(region.add_block()):
                fill()
                self.op("scf.yield")

    # --- buffers -----------------------------------------------------------------------------

    def alloc(self, type: TensorType) -> Value:
        """A new buffer for a tensor of `type`, freed at the end of the function."""
        memref = MemRefType(type.shape, type.dtype)
        # memref.alloc has two operand groups (dynamic sizes, symbols), both empty here.
        buffer = self.op("memref.alloc", [], [memref],
                         {"operandSegmentSizes": I32Array((0, 0))}).result
        self.allocs.append(buffer)
        return buffer

    def load(self, tensor: LoopTensor, indices: Sequence[Value]) -> Value:
        """The element of `tensor` at `indices`, computed once per loop body."""
        indices = list(indices)
        if tensor.buffer is not None:
            return self.cached((tensor, *indices), lambda: self.op(
                "memref.load", [tensor.buffer, *indices], [scalar_type(tensor.type.dtype)]).result)
        return self.cached((tensor, *indices), lambda: tensor.compute(self, indices))

    def store(self, value: Value, buffer: Value, indices: Sequence[Value]) -> None:
        self.op("memref.store", [value, buffer, *indices])

    def materialize(self, tensors: Sequence[LoopTensor], buffers: Sequence[Value]) -> None:
        """One loop nest writing each of `tensors` (all of one shape) into its buffer."""

        def body(ivs, accs):
            for tensor, buffer in zip(tensors, buffers):
                self.store(self.load(tensor, ivs), buffer, ivs)
            return []

        self.loops(tensors[0].type.shape, body)

    # --- index arithmetic (folds constants) ----------------------------------------------------

    def _fold(self, name: str, a: Value, b: Value, fn) -> Value:
        ka, kb = self._known.get(a), self._known.get(b)
        if ka is not None and kb is not None:
            return self.index(fn(ka, kb))
        return self.value(name, a, b)

    def add(self, a: Value, b: Value) -> Value:
        if self._known.get(a) == 0:
            return b
        return a if self._known.get(b) == 0 else self._fold("arith.addi", a, b, int.__add__)

    def sub(self, a: Value, b: Value) -> Value:
        return a if self._known.get(b) == 0 else self._fold("arith.subi", a, b, int.__sub__)

    def mul(self, a: Value, b: Value) -> Value:
        if self._known.get(a) == 1:
            return b
        if 0 in (self._known.get(a), self._known.get(b)):
            return self.index(0)
        return a if self._known.get(b) == 1 else self._fold("arith.muli", a, b, int.__mul__)

    def div(self, a: Value, b: Value) -> Value:
        """Division of non-negative indices."""
        return a if self._known.get(b) == 1 else self._fold("arith.divsi", a, b, int.__floordiv__)

    def rem(self, a: Value, b: Value) -> Value:
        """Remainder of non-negative indices."""
        if self._known.get(b) == 1:
            return self.index(0)
        return self._fold("arith.remsi", a, b, int.__mod__)

    def linearize(self, indices: Sequence[Value], shape: Sequence[int]) -> Value:
        """The row-major position of `indices` in `shape`."""
        flat = self.index(0)
        for i, size in zip(indices, shape):
            flat = self.add(self.mul(flat, self.index(size)), i)
        return flat

    def delinearize(self, flat: Value, shape: Sequence[int]) -> list[Value]:
        """The indices of row-major position `flat` in `shape`."""
        out = []
        for axis in range(len(shape)):
            index = self.div(flat, self.index(math.prod(shape[axis + 1:])))
            # flat is below the element count, so the first axis needs no remainder.
            out.append(self.rem(index, self.index(shape[axis])) if axis else index)
        return out

    def in_range(self, i: Value, low: int, high: int) -> Value:
        """i1: low <= i < high (index i)."""
        above = self.value("arith.cmpi", i, self.index(low), type=I1, predicate=CMPI["sge"])
        below = self.value("arith.cmpi", i, self.index(high), type=I1, predicate=CMPI["slt"])
        return self.value("arith.andi", above, below)

    def clamp(self, i: Value, low: int, high: int) -> Value:
        """i clamped to [low, high] (index), so that a guarded-off load stays in bounds."""
        lo, hi = self.index(low), self.index(high)
        i = self.select(self.value("arith.cmpi", i, lo, type=I1,
                                                  predicate=CMPI["slt"]), lo, i)
        return self.select(self.value("arith.cmpi", i, hi, type=I1,
                                                     predicate=CMPI["sgt"]), hi, i)

    # --- scalar conversions ------------------------------------------------------------------

    def convert(self, value: Value, dtype: DType) -> Value:
        """`value` (a scalar of some dtype) converted as NumPy's astype(dtype) does."""
        src, dst = value.type.dtype, dtype
        if src.mlir == dst.mlir:
            return value
        target = scalar_type(dst)
        if src is dtypes.bool_:
            return self.select(value, self.constant(1, target),
                              self.constant(0, target))
        if dtypes.bfloat16 in (src, dst) and dtypes.float32 not in (src, dst):
            # bfloat16 converts through float32, as ml_dtypes (NumPy's bfloat16) converts it,
            # so that code generators only need bf16 <-> f32.
            return self.convert(self.convert(value, dtypes.float32), dst)
        if dst is dtypes.bool_:
            zero = self.constant(0, value.type)
            if src.is_floating_point:
                return self.value("arith.cmpf", value, zero, type=I1, predicate=CMPF["une"])
            return self.value("arith.cmpi", value, zero, type=I1, predicate=CMPI["ne"])
        if src.is_floating_point and dst.is_floating_point:
            name = "arith.extf" if dst.itemsize > src.itemsize else "arith.truncf"
        elif src.is_floating_point:
            name = "arith.fptosi"
        elif dst.is_floating_point:
            name = "arith.sitofp"
        else:
            name = "arith.extsi" if dst.itemsize > src.itemsize else "arith.trunci"
        return self.value(name, value, type=target)

    def to_index(self, value: Value) -> Value:
        """An integer scalar as an index."""
        return self.value("arith.index_cast", value, type=INDEX)

    # --- errors --------------------------------------------------------------------------------

    def error_op(self, name: str) -> int:
        """Register an op that can report an error; its op index in `ember.error_ops`."""
        self.error_ops.append(name)
        return len(self.error_ops) - 1

    def checked_index(self, op_index: int, value: Value, size: int) -> Value:
        """`value` (an integer scalar) as an index checked against [0, size): when it is out of
        range and no error is recorded yet, the status buffer gets [1, op_index, value, size];
        the index returned is then 0, so that the kernel never reads or writes out of bounds."""
        value = self.convert(value, dtypes.int64)
        bad = self.value("arith.ori",
                         self.value("arith.cmpi", value, self.constant(0, I64), type=I1,
                                    predicate=CMPI["slt"]),
                         self.value("arith.cmpi", value, self.constant(size, I64), type=I1,
                                    predicate=CMPI["sge"]))
        status = self.op("memref.load", [self.status, self.index(0)], [I64]).result
        first = self.value("arith.cmpi", status, self.constant(0, I64), type=I1,
                           predicate=CMPI["eq"])

        def report():
            for slot, word in enumerate([self.constant(1, I64), self.constant(op_index, I64),
                                         value, self.constant(size, I64)]):
                self.store(word, self.status, [self.index(slot)])

        self.if_then(self.value("arith.andi", bad, first), report)
        safe = self.select(bad, self.constant(0, I64), value)
        return self.to_index(safe)


def broadcast_indices(em: Emitter, indices: Sequence[Value], shape: Sequence[int]) -> list[Value]:
    """The indices into an operand of `shape` that broadcasts to the shape `indices` index:
    leading axes dropped, size-1 axes read at 0 (NumPy broadcasting)."""
    tail = list(indices)[len(indices) - len(shape):] if shape else []
    return [em.index(0) if size == 1 else i for i, size in zip(tail, shape)]
