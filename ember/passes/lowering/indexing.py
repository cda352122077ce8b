"""Movement ops, gather and scatter_add at the loop level.

Movement ops and gather are index arithmetic in the reader's loop nest: their LoopTensor maps
the indices it is asked for to indices of its operand, so no data is copied. pad and concat
read their operands at clamped indices and choose with `arith.select`, so every load stays in
bounds without branches. scatter_add needs a buffer: a copy of its input, then a loop nest
over the index tensor adding into it.
"""

from __future__ import annotations

from ember.ir import dtypes
from ember.ir.core import Operation, Value
from ember.ir.types import scalar_type
from ember.passes.lowering.elementwise import RULES, compute_dtype
from ember.passes.lowering.emitter import CMPI, I1, Emitter, LoopTensor, broadcast_indices


def _reindex(op: Operation, x: LoopTensor, index_map) -> LoopTensor:
    """A view of `x`: element `indices` is x's element at `index_map(em, indices)`."""
    return LoopTensor(op.result.type,
                      compute=lambda em, indices: em.load(x, index_map(em, indices)))


def reshape(em: Emitter, op: Operation, x: LoopTensor) -> LoopTensor:
    out = op.result.type.shape
    if out == x.type.shape:
        return x
    groups = _reshape_groups(out, x.type.shape)

    def index_map(em, ix):
        source = []
        for (o0, o1), (s0, s1) in groups:
            flat = em.linearize(ix[o0:o1], out[o0:o1])
            source += em.delinearize(flat, x.type.shape[s0:s1])
        return source

    return _reindex(op, x, index_map)


def _reshape_groups(out: tuple, source: tuple) -> list[tuple[tuple, tuple]]:
    """Runs of axes of `out` and `source` ((start, stop) each) holding the same elements: the
    shortest such runs, so that an index maps by division only within its own run (a reshape
    that splits or merges some axes leaves the others' indices as they are)."""
    whole = [((0, len(out)), (0, len(source)))]
    if 0 in out or 0 in source:
        return whole
    groups, o, s = [], 0, 0
    while o < len(out) and s < len(source):
        o1, s1, size_o, size_s = o + 1, s + 1, out[o], source[s]
        while size_o != size_s:  # equal totals: the smaller side always has axes left
            if size_o < size_s:
                size_o, o1 = size_o * out[o1], o1 + 1
            else:
                size_s, s1 = size_s * source[s1], s1 + 1
        groups.append(((o, o1), (s, s1)))
        o, s = o1, s1
    if not groups:
        return whole
    # Size-1 axes left on one side join the last run.
    (o0, _), (s0, _) = groups.pop()
    return groups + [((o0, len(out)), (s0, len(source)))]


def permute(em: Emitter, op: Operation, x: LoopTensor) -> LoopTensor:
    dims = op.attributes["dims"]

    def index_map(em, ix):
        source = [None] * len(dims)
        for axis, d in enumerate(dims):
            source[d] = ix[axis]
        return source

    view = _reindex(op, x, index_map)
    rank = len(dims)
    swaps_last_two = list(dims) == [*range(rank - 2), rank - 1, rank - 2]
    if x.buffer is not None and rank >= 2 and swaps_last_two:
        view.transposes = x.buffer
    return view


def broadcast_to(em: Emitter, op: Operation, x: LoopTensor) -> LoopTensor:
    return _reindex(op, x, lambda em, ix: broadcast_indices(em, ix, x.type.shape))


def slice_(em: Emitter, op: Operation, x: LoopTensor) -> LoopTensor:
    starts, steps = op.attributes["starts"], op.attributes["steps"]
    return _reindex(op, x, lambda em, ix: [
        em.add(em.index(a), em.mul(i, em.index(c))) for i, a, c in zip(ix, starts, steps)])


def flip(em: Emitter, op: Operation, x: LoopTensor) -> LoopTensor:
    axes = set(op.attributes["axes"])
    return _reindex(op, x, lambda em, ix: [
        em.sub(em.index(size - 1), i) if axis in axes else i
        for axis, (i, size) in enumerate(zip(ix, x.type.shape))])


def pad(em: Emitter, op: Operation, x: LoopTensor) -> LoopTensor:
    pads, shape = op.attributes["pads"], x.type.shape
    out = op.result.type

    def compute(em: Emitter, ix: list[Value]) -> Value:
        fill = em.scalar(op.attributes["value"], out.dtype)
        if x.type.numel == 0:
            return fill
        source, inside = [], []
        for axis, (i, size) in enumerate(zip(ix, shape)):
            j = em.sub(i, em.index(pads[2 * axis]))
            if pads[2 * axis] or pads[2 * axis + 1]:
                inside.append(em.in_range(j, 0, size))
                j = em.clamp(j, 0, size - 1)
            source.append(j)
        value = em.load(x, source)
        if not inside:
            return value
        condition = inside[0]
        for c in inside[1:]:
            condition = em.value("arith.andi", condition, c)
        return em.select(condition, value, fill)

    return LoopTensor(out, compute=compute)


def concat(em: Emitter, op: Operation, *xs: LoopTensor) -> LoopTensor:
    axis = op.attributes["axis"]
    parts, offset = [], 0
    for x in xs:
        if x.type.shape[axis]:  # an empty operand contributes nothing
            parts.append((offset, x))
        offset += x.type.shape[axis]

    def compute(em: Emitter, ix: list[Value]) -> Value:
        values = []
        for start, x in parts:
            j = em.clamp(em.sub(ix[axis], em.index(start)), 0, x.type.shape[axis] - 1)
            values.append(em.load(x, ix[:axis] + [j] + ix[axis + 1:]))
        result = values[-1]
        for (start, _), value in zip(reversed(parts[1:]), reversed(values[:-1])):
            before = em.value("arith.cmpi", ix[axis], em.index(start), type=I1,
                              predicate=CMPI["slt"])
            result = em.select(before, value, result)
        return result

    return LoopTensor(op.result.type, compute=compute)


def gather(em: Emitter, op: Operation, x: LoopTensor, index: LoopTensor) -> LoopTensor:
    axis = op.attributes["axis"]
    if _in_range(op.operands[1], axis, x.type.shape[axis]):
        # No check to make: a loop without possible error reports runs in parallel.
        return _reindex(op, x, lambda em, ix: ix[:axis] + [
            em.to_index(em.convert(em.load(index, ix), dtypes.int64))] + ix[axis + 1:])
    op_index = em.error_op("gather")

    def index_map(em: Emitter, ix: list[Value]) -> list[Value]:
        j = em.checked_index(op_index, em.load(index, ix), x.type.shape[axis])
        return ix[:axis] + [j] + ix[axis + 1:]

    return _reindex(op, x, index_map)


def _in_range(index: Value, axis: int, size: int) -> bool:
    """Whether indices along `axis` are in [0, size) by construction: an argmax or argmin
    (keepdim) along that axis of a tensor of that length, as `max(dim)` gathers with."""
    finder = index.owner
    return (isinstance(finder, Operation) and finder.name in ("ember.argmax", "ember.argmin")
            and finder.attributes["axis"] == axis and finder.attributes["keepdim"]
            and finder.operands[0].type.shape[axis] == size)


def scatter_add(em: Emitter, op: Operation, target: Value, x: LoopTensor, index: LoopTensor,
                src: LoopTensor) -> None:
    """Write x into `target`, then add src at the indices along the axis."""
    axis, size = op.attributes["axis"], x.type.shape[op.attributes["axis"]]
    em.materialize([x], [target])
    op_index = em.error_op("scatter_add")
    element = scalar_type(x.type.dtype)

    def body(ix: list[Value], accs: list[Value]) -> list[Value]:
        j = em.checked_index(op_index, em.load(index, ix), size)
        where = ix[:axis] + [j] + ix[axis + 1:]
        # Read the target afresh every time: earlier iterations may have added to it.
        current = em.op("memref.load", [target, *where], [element]).result
        dtype = compute_dtype("add", [x.type.dtype])
        total = RULES["add"](em, [em.convert(current, dtype),
                                  em.convert(em.load(src, ix), dtype)])
        em.store(em.convert(total, x.type.dtype), target, where)
        return []

    em.loops(index.type.shape, body)
