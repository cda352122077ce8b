"""Reductions, matmul and conv2d: loop nests with accumulators, written into a buffer.

Each has an outer nest over its result and an inner nest over the reduced axes whose `scf.for`
iter_args carry the accumulator. Accumulators have the dtype NumPy accumulates in: int64 for
integer sums and products, float32 for float16/bfloat16; the result converts on the store.
matmul's outer loop carries `ember.kernel = "matmul"` (conv2d's `"conv2d"`), so that codegen
can recognise the nest and substitute a fast kernel (`ember.codegen.llvm.kernels`): their
operands are buffers, copied into one first if they are computed views (except a matmul operand
that is a buffer with its last two axes swapped, which is loaded with swapped indices), and the
innermost body loads the operands in order (x then y; x then w). conv2d's loop also carries
`ember.conv2d = [stride h, w, padding h, w, dilation h, w, groups]` for its kernel.
"""

from __future__ import annotations

import numpy as np

from ember.ir import dtypes
from ember.ir.core import Operation, Value
from ember.ir.dtypes import DType
from ember.passes.lowering.elementwise import RULES, compute_dtype
from ember.passes.lowering.emitter import (CMPF, CMPI, I1, I64, Emitter, LoopTensor,
                                           broadcast_indices)

# name: (combining elementwise op, initial value for floats, for ints, for bools)
_REDUCTIONS = {
    "sum": ("add", 0.0, 0, False),
    "prod": ("mul", 1.0, 1, True),
    "max": ("maximum", float("-inf"), -(1 << 63), False),
    "min": ("minimum", float("inf"), (1 << 63) - 1, True),
}


def _init(em: Emitter, name: str, dtype: DType) -> Value:
    _, for_float, for_int, for_bool = _REDUCTIONS[name]
    if dtype is dtypes.bool_:
        return em.scalar(for_bool, dtype)
    if dtype.is_floating_point:
        return em.scalar(for_float, dtype)
    bound = np.iinfo(dtype.numpy)
    return em.scalar(min(max(for_int, bound.min), bound.max), dtype)


def _source_indices(out_ix: list[Value], reduced_ix: list[Value], rank: int, axes,
                    keepdim: bool) -> list[Value]:
    """Indices into the reduced operand from the result's and the reduced axes' indices."""
    kept = iter(out_ix if not keepdim else [i for a, i in enumerate(out_ix) if a not in axes])
    reduced = iter(reduced_ix)
    return [next(reduced) if a in axes else next(kept) for a in range(rank)]


def reduce(em: Emitter, op: Operation, target: Value, x: LoopTensor) -> None:
    """sum, prod, max, min over `axes`."""
    axes, keepdim = tuple(op.attributes["axes"]), op.attributes["keepdim"]
    out = op.result.type
    combine = _REDUCTIONS[op.opname][0]
    acc_dtype = compute_dtype(combine, [out.dtype])

    def outer(out_ix: list[Value], _) -> list:
        def inner(reduced_ix: list[Value], accs: list[Value]) -> list[Value]:
            source = _source_indices(out_ix, reduced_ix, x.type.rank, axes, keepdim)
            value = em.convert(em.load(x, source), acc_dtype)
            return [RULES[combine](em, [accs[0], value])]

        (total,) = em.loops([x.type.shape[a] for a in axes], inner,
                            [_init(em, op.opname, acc_dtype)])
        em.store(em.convert(total, out.dtype), target, out_ix)
        return []

    em.loops(out.shape, outer)


def arg_reduce(em: Emitter, op: Operation, target: Value, x: LoopTensor) -> None:
    """argmax, argmin: the first position of the extremum (NaN counts as the extremum)."""
    axis, keepdim = op.attributes["axis"], op.attributes["keepdim"]
    out = op.result.type
    dtype = compute_dtype("maximum", [x.type.dtype])
    strict = "ogt" if op.opname == "argmax" else "olt"

    def outer(out_ix: list[Value], _) -> list:
        def at(i: Value) -> Value:
            source = _source_indices(out_ix, [i], x.type.rank, (axis,), keepdim)
            return em.convert(em.load(x, source), dtype)

        def inner(ix: list[Value], accs: list[Value]) -> list[Value]:
            best, best_index = accs
            value = at(ix[0])
            if dtype.is_floating_point:
                better = em.value("arith.cmpf", value, best, type=I1, predicate=CMPF[strict])
                nan = em.value("arith.cmpf", value, value, type=I1, predicate=CMPF["uno"])
                best_ordered = em.value("arith.cmpf", best, best, type=I1,
                                        predicate=CMPF["ord"])
                better = em.value("arith.ori", better,
                                  em.value("arith.andi", nan, best_ordered))
            else:
                better = em.value("arith.cmpi", value, best, type=I1,
                                  predicate=CMPI["s" + strict[1:]])
            position = em.value("arith.index_cast", ix[0], type=I64)
            return [em.select(better, value, best),
                    em.select(better, position, best_index)]

        _, index = em.loops([x.type.shape[axis]], inner,
                            [at(em.index(0)), em.constant(0, I64)])
        em.store(index, target, out_ix)
        return []

    em.loops(out.shape, outer)


def _buffered(em: Emitter, tensor: LoopTensor) -> LoopTensor:
    """`tensor` in a buffer: a kernel substituted for a marked nest reads memrefs."""
    if tensor.buffer is not None:
        return tensor
    buffer = em.alloc(tensor.type)
    em.materialize([tensor], [buffer])
    return LoopTensor(tensor.type, buffer=buffer)


def matmul(em: Emitter, op: Operation, target: Value, x: LoopTensor, y: LoopTensor) -> None:
    # The kernel reads a transposed buffer directly: `x @ w.T` copies nothing.
    x, y = (t if t.transposes is not None else _buffered(em, t) for t in (x, y))
    out = op.result.type
    acc_dtype = compute_dtype("mul", [out.dtype])
    multiply, add = RULES["mul"], RULES["add"]

    def outer(ix: list[Value], _) -> list:
        batch, (i, j) = ix[:-2], ix[-2:]

        def inner(k: list[Value], accs: list[Value]) -> list[Value]:
            a = em.load(x, broadcast_indices(em, batch, x.type.shape[:-2]) + [i, k[0]])
            b = em.load(y, broadcast_indices(em, batch, y.type.shape[:-2]) + [k[0], j])
            product = multiply(em, [em.convert(a, acc_dtype), em.convert(b, acc_dtype)])
            return [add(em, [accs[0], product])]

        (total,) = em.loops([x.type.shape[-1]], inner, [em.scalar(0, acc_dtype)])
        em.store(em.convert(total, out.dtype), target, ix)
        return []

    em.loops(out.shape, outer, attributes={"ember.kernel": "matmul"})


def conv2d(em: Emitter, op: Operation, target: Value, x: LoopTensor, w: LoopTensor) -> None:
    x, w = _buffered(em, x), _buffered(em, w)
    out = op.result.type
    stride, padding = op.attributes["stride"], op.attributes["padding"]
    dilation, groups = op.attributes["dilation"], op.attributes["groups"]
    channels_per_group, kernel = w.type.shape[1], w.type.shape[2:]
    outputs_per_group = w.type.shape[0] // groups
    acc_dtype = compute_dtype("mul", [out.dtype])
    zero = em.scalar(0, x.type.dtype)

    def outer(ix: list[Value], _) -> list:
        n, o, oh, ow = ix
        group = em.div(o, em.index(outputs_per_group))

        def inner(r: list[Value], accs: list[Value]) -> list[Value]:
            c, kh, kw = r
            channel = em.add(em.mul(group, em.index(channels_per_group)), c)
            spatial, inside = [], []
            for axis, (o_i, k_i) in enumerate(((oh, kh), (ow, kw))):
                position = em.add(em.sub(em.mul(o_i, em.index(stride[axis])),
                                         em.index(padding[axis])),
                                  em.mul(k_i, em.index(dilation[axis])))
                size = x.type.shape[2 + axis]
                if padding[axis]:  # without padding every window lies inside the input
                    inside.append(em.in_range(position, 0, size))
                    position = em.clamp(position, 0, size - 1)
                spatial.append(position)
            value = em.load(x, [n, channel, *spatial])
            for condition in inside:
                value = em.select(condition, value, zero)
            weight = em.load(w, [o, c, kh, kw])
            product = RULES["mul"](em, [em.convert(value, acc_dtype),
                                        em.convert(weight, acc_dtype)])
            return [RULES["add"](em, [accs[0], product])]

        (total,) = em.loops([channels_per_group, *kernel], inner, [em.scalar(0, acc_dtype)])
        em.store(em.convert(total, out.dtype), target, ix)
        return []

    # The attributes a kernel substituted for the nest needs (the nest itself implies them).
    params = (*stride, *padding, *dilation, groups)
    em.loops(out.shape, outer, attributes={"ember.kernel": "conv2d", "ember.conv2d": params})
