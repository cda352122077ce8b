"""The `matmul` kernel: a cache-blocked, register-tiled float32 GEMM in explicit SIMD vectors.

The layout is the classic BLIS one, specialised at compile time on the (static) shapes:

    for each batch:                    C[b] = A[b'] @ B[b'']  (broadcast batch axes)
      for jc in N by NC:               a block of B's columns ...
        for pc in K by KC:             ... and rows, packed into NR-wide panels (L2-sized)
          for ic in rows by MC:        a block of A's rows, packed into MR-tall panels (L2)
            for jr, ir:                an MR x NR tile of C kept in registers across kc
              C tile (+)= A panel @ B panel   (one FMA per vector and row for each k)

Packing pads the panels with zeros, so the register kernel never sees an edge; the tile store
writes only the rows and columns that exist. Either operand may be stored transposed (the loads
of the marked nest say so: `A[k, i]` instead of `A[i, k]`): packing reads it with swapped
strides, so `x @ w.T` needs no copy of `w`. Threads split the rows (whole batches when there
are several), each packing its own copies of B, or, for a single product with fewer rows than
columns, the columns, each packing its own copy of A: the operand that is packed twice is the
smaller. There is no synchronisation, and every element of C is summed in the same order
whatever the thread count. Anything other than a
float32 product of at least MIN_KERNEL_WORK multiply-adds returns False: the translator then
emits the reference loops (which LLVM compiles several times faster, and which are as fast on
small products).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import llvmlite.binding as llvm
from llvmlite import ir

from ember.codegen.llvm import parallel
from ember.codegen.llvm.control import I64, carried_loop, for_range, i64, minimum
from ember.codegen.llvm.intrinsics import declare
from ember.ir import dtypes
from ember.ir.core import Operation

_F32 = ir.FloatType()
_PTR = ir.PointerType()
_I32 = ir.IntType(32)
MR = 6  # rows of the register tile: MR * NR / W accumulators plus NR / W B vectors fit
KC = 256  # depth of a packed block: an A panel (MR x KC) and a B panel (KC x NR) stay in L1/L2
MC = 96  # rows of A per packed block (a multiple of MR)
NC = 1024  # columns of B per packed block
PACK_A_PANELS = 4  # B panels per thread above which A is packed
MIN_KERNEL_WORK = 32**3  # multiply-adds per batch below which the kernel's compile time dominates


@functools.cache
def vector_width() -> int:
    """float32 lanes in the widest SIMD registers of this host."""
    features = llvm.get_host_cpu_features()
    return 16 if features.get("avx512f") else 8


@dataclass(frozen=True)
class _Layout:
    """Where element (r, c) of a logical rows x cols matrix is: row-major, or transposed (the
    buffer holds the cols x rows matrix)."""

    rows: int
    cols: int
    transposed: bool

    def offset(self, b: ir.IRBuilder, r: ir.Value, c: ir.Value) -> ir.Value:
        if self.transposed:
            return b.add(b.mul(c, i64(self.rows)), r)
        return b.add(b.mul(r, i64(self.cols)), c)

    def strides(self) -> tuple[int, int]:
        """(row stride, column stride) in elements."""
        return (1, self.rows) if self.transposed else (self.cols, 1)


def _transposed(loop: Operation) -> tuple[bool, bool] | None:
    """Whether the nest loads A and B transposed (from the index order of its innermost
    loads: A[.., i, k] or A[.., k, i]; B[.., k, j] or B[.., j, k]); None if neither order."""
    innermost = loop
    while inner := [o for o in innermost.regions[0].blocks[0].operations if o.name == "scf.for"]:
        innermost = inner[0]
    k = innermost.regions[0].blocks[0].arguments[0]
    loads = [o for o in innermost.regions[0].blocks[0].operations if o.name == "memref.load"]
    if len(loads) != 2 or any(len(load.operands) < 3 for load in loads):
        return None
    (*_, a_row, a_last), (*_, b_row, b_last) = (load.operands for load in loads)
    a = {a_last: False, a_row: True}.get(k) if k in (a_last, a_row) else None
    b = {b_row: False, b_last: True}.get(k) if k in (b_last, b_row) else None
    return None if a is None or b is None else (a, b)


def emit(t, loop, inputs, output) -> bool:
    """Replace the matmul nest `loop` by a call of the blocked kernel (see module docstring)."""
    a, b = (v.type for v in inputs)
    c = output.type
    layouts = _transposed(loop)
    if layouts is None:
        return False
    m, n = c.shape[-2:]
    k = a.shape[-2] if layouts[0] else a.shape[-1]
    if any(x.dtype is not dtypes.float32 for x in (a, b, c)) or m * n * k < MIN_KERNEL_WORK:
        return False
    batches = math.prod(c.shape[:-2])
    split_columns = batches == 1 and n > m
    threads = t.threads if 2 * batches * m * n * k >= parallel.MIN_PARALLEL_WORK else 1
    nr = 2 * vector_width()
    if split_columns:
        ranges = parallel.chunks(n, threads, grain=nr)
    elif batches > 1:
        ranges = parallel.chunks(batches * m, threads, grain=m)
    else:
        ranges = parallel.chunks(m, threads, grain=MR)
    # Packing A pays when each packed block feeds many B panels; a thread with few columns
    # reads A in place (a register tile's MR rows stream from cache either way).
    columns = max(hi - lo for lo, hi in ranges) if split_columns else n
    worker = _worker(t.module, m, n, k, c.shape[:-2], a.shape[:-2], b.shape[:-2],
                     _Layout(m, k, layouts[0]), _Layout(k, n, layouts[1]), split_columns,
                     pack_a=columns > PACK_A_PANELS * nr)
    parallel.launch(t.builder, worker, ranges, [t.get(v) for v in (*inputs, output)])
    return True


def _at(b: ir.IRBuilder, base: ir.Value, offset: ir.Value) -> ir.Value:
    return b.gep(base, [offset], inbounds=True, source_etype=_F32)


def _batch_offset(b: ir.IRBuilder, batch: ir.Value, shape, operand_shape) -> ir.Value:
    """The batch index of an operand whose batch axes `operand_shape` broadcast to `shape`,
    for the row-major batch number `batch` of the result."""
    offset, stride = i64(0), 1
    lead = len(shape) - len(operand_shape)
    operand_stride = 1
    for axis in reversed(range(len(shape))):
        index = b.urem(b.udiv(batch, i64(stride)), i64(shape[axis]))
        stride *= shape[axis]
        size = operand_shape[axis - lead] if axis >= lead else 1
        if size > 1:
            offset = b.add(offset, b.mul(index, i64(operand_stride)))
        operand_stride *= size
    return offset


def _worker(module: ir.Module, m: int, n: int, k: int, batch_shape, a_batch, b_batch,
            a_layout: _Layout, b_layout: _Layout, split_columns: bool, pack_a: bool):
    """`void (i64 lo, i64 hi, ptr A, ptr B, ptr C)`: rows [lo, hi) of C viewed as
    (batches * m, n), where a range never splits a batch unless there is only one; with
    `split_columns` (one batch), columns [lo, hi) of C instead. Without `pack_a` the register
    tiles read A where it is."""
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [I64, I64, _PTR, _PTR, _PTR]),
                     name=f"ember.sgemm.{len(module.globals)}")
    fn.linkage = "internal"
    fn.attributes.add("noinline")  # the same code for one thread and for several
    for arg in fn.args[2:]:
        arg.add_attribute("noalias")
    lo, hi, a, bm, c = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    w = vector_width()
    nr = 2 * w
    alloc = declare(module, "aligned_alloc", _PTR, [I64, I64])
    free = declare(module, "free", ir.VoidType(), [_PTR])
    kc_max, nc_max = min(KC, k), -(-min(NC, n) // nr) * nr
    mc_max = -(-min(MC, m) // MR) * MR
    a_pack = (b.call(alloc, [i64(64), i64(-(-mc_max * kc_max * 4 // 64) * 64)]) if pack_a
              else None)
    b_pack = b.call(alloc, [i64(64), i64(-(-nc_max * kc_max * 4 // 64) * 64)])
    tile = parallel.entry_alloca(b, ir.ArrayType(_F32, MR * nr))
    if split_columns:
        first_batch, end_batch, columns = i64(0), i64(1), (lo, hi)
    else:
        first_batch = b.udiv(lo, i64(m))
        end_batch = b.udiv(b.add(hi, i64(m - 1)), i64(m))
        columns = (i64(0), i64(n))
    with for_range(b, first_batch, end_batch, name="batch") as batch:
        if split_columns:
            r0, r1 = i64(0), i64(m)
        else:
            start = b.mul(batch, i64(m))
            r0 = b.sub(lo, start)
            r0 = b.select(b.icmp_signed("<", r0, i64(0)), i64(0), r0)
            r1 = minimum(b, b.sub(hi, start), i64(m))
        a_b = _at(b, a, b.mul(_batch_offset(b, batch, batch_shape, a_batch), i64(m * k)))
        b_b = _at(b, bm, b.mul(_batch_offset(b, batch, batch_shape, b_batch), i64(k * n)))
        c_b = _at(b, c, b.mul(batch, i64(m * n)))
        with for_range(b, columns[0], columns[1], NC, name="jc") as jc:
            nc = minimum(b, i64(NC), b.sub(columns[1], jc))
            with for_range(b, i64(0), i64(k), KC, name="pc") as pc:
                kc = minimum(b, i64(KC), b.sub(i64(k), pc))
                _pack_b(b, _at(b, b_b, b_layout.offset(b, pc, jc)), b_pack, b_layout, kc, nc, w)
                with for_range(b, r0, r1, MC, name="ic") as ic:
                    mc = minimum(b, i64(MC), b.sub(r1, ic))
                    a_block = _at(b, a_b, a_layout.offset(b, ic, pc))
                    if pack_a:
                        _pack_a(b, a_block, a_pack, a_layout, kc, mc)
                    c_block = _at(b, c_b, b.add(b.mul(ic, i64(n)), jc))
                    first = b.icmp_signed("==", pc, i64(0))
                    with for_range(b, i64(0), nc, nr, name="jr") as jr:
                        with for_range(b, i64(0), mc, MR, name="ir") as ir_:
                            if pack_a:
                                panel = _at(b, a_pack, b.mul(ir_, kc))
                                a_rows = [_at(b, panel, i64(r)) for r in range(MR)]
                                a_step = MR
                            else:  # rows past mc repeat the last one; they are not stored
                                last = b.sub(mc, i64(1))
                                a_rows = [_at(b, a_block, b.mul(
                                    minimum(b, b.add(ir_, i64(r)), last),
                                    i64(a_layout.strides()[0]))) for r in range(MR)]
                                a_step = a_layout.strides()[1]
                            accs = _tile_product(b, a_rows, a_step,
                                                 _at(b, b_pack, b.mul(jr, kc)), kc, w)
                            c_tile = _at(b, c_block, b.add(b.mul(ir_, i64(n)), jr))
                            _store_tile(b, accs, c_tile, tile, n, b.sub(mc, ir_),
                                        b.sub(nc, jr), first, w)
    if pack_a:
        b.call(free, [a_pack])
    b.call(free, [b_pack])
    b.ret_void()
    return fn


def _pack_b(b: ir.IRBuilder, src: ir.Value, dst: ir.Value, layout: _Layout, kc, nc,
            w: int) -> None:
    """B[0:kc, 0:nc] (from `src`, in `layout`) into NR-wide panels: dst[jr * kc + p * NR + j],
    zero past column nc."""
    nr = 2 * w
    with for_range(b, i64(0), nc, nr, name="packb") as jr:
        panel = _at(b, dst, b.mul(jr, kc))
        if layout.transposed:
            _pack_b_transposed(b, _at(b, src, b.mul(jr, i64(layout.rows))), panel,
                               layout.rows, kc, b.sub(nc, jr), nr)
        else:
            _pack_b_rows(b, _at(b, src, jr), panel, layout.cols, kc, b.sub(nc, jr), w)


def _pack_b_rows(b: ir.IRBuilder, src: ir.Value, panel: ir.Value, n: int, kc, cols,
                 w: int) -> None:
    """One NR-wide panel of row-major B (row stride n): panel[p * NR + j] = B[p, j], zero for
    j >= cols; whole rows of the panel are copied as vectors."""
    nr = 2 * w
    vector = ir.VectorType(_F32, w)
    full = b.icmp_signed(">=", cols, i64(nr))
    with b.if_else(full) as (then, otherwise):
        with then, for_range(b, i64(0), kc, name="packb.full") as p:
            row = _at(b, src, b.mul(p, i64(n)))
            for v in range(0, nr, w):
                value = b.load(_at(b, row, i64(v)), typ=vector, align=4)
                b.store(value, _at(b, panel, b.add(b.mul(p, i64(nr)), i64(v))), align=4)
        with otherwise, for_range(b, i64(0), kc, name="packb.edge") as p:
            with for_range(b, i64(0), i64(nr), name="packb.col") as j:
                inside = b.icmp_signed("<", j, cols)
                clamped = minimum(b, j, b.sub(cols, i64(1)))
                value = b.load(_at(b, src, b.add(b.mul(p, i64(n)), clamped)), typ=_F32)
                value = b.select(inside, value, ir.Constant(_F32, 0.0))
                b.store(value, _at(b, panel, b.add(b.mul(p, i64(nr)), j)))


def _pack_b_transposed(b: ir.IRBuilder, src: ir.Value, panel: ir.Value, stride: int, kc,
                       cols, nr: int) -> None:
    """One NR-wide panel of B from its transpose (column j of B is the row at src + j * stride):
    panel[p * NR + j] = B[p, j], zero for j >= cols. Reads go along B's columns, contiguous."""
    with for_range(b, i64(0), i64(nr), name="packbt.col") as j:
        inside = b.icmp_signed("<", j, cols)
        column = _at(b, src, b.mul(minimum(b, j, b.sub(cols, i64(1))), i64(stride)))
        with for_range(b, i64(0), kc, name="packbt.k") as p:
            value = b.select(inside, b.load(_at(b, column, p), typ=_F32), ir.Constant(_F32, 0.0))
            b.store(value, _at(b, panel, b.add(b.mul(p, i64(nr)), j)))


def _pack_a(b: ir.IRBuilder, src: ir.Value, dst: ir.Value, layout: _Layout, kc, mc) -> None:
    """A[0:mc, 0:kc] (from `src`, in `layout`) into MR-tall panels: dst[ir * kc + p * MR + r],
    zero past row mc."""
    row_stride, col_stride = layout.strides()
    with for_range(b, i64(0), mc, MR, name="packa") as ir_:
        panel = _at(b, dst, b.mul(ir_, kc))
        rows = []
        for r in range(MR):
            row = b.add(ir_, i64(r))
            rows.append((b.icmp_signed("<", row, mc),
                         _at(b, src, b.mul(minimum(b, row, b.sub(mc, i64(1))),
                                           i64(row_stride)))))
        with for_range(b, i64(0), kc, name="packa.k") as p:
            at = b.mul(p, i64(col_stride))
            for r, (inside, row) in enumerate(rows):
                value = b.select(inside, b.load(_at(b, row, at), typ=_F32),
                                 ir.Constant(_F32, 0.0))
                b.store(value, _at(b, panel, b.add(b.mul(p, i64(MR)), i64(r))))


def _tile_product(b: ir.IRBuilder, a_rows: list[ir.Value], a_step: int, b_panel, kc,
                  w: int) -> list[ir.Value]:
    """The MR x NR product of MR rows of A (row r's element p at a_rows[r] + p * a_step) and a
    packed B panel, as MR * NR / w vector accumulators."""
    nr = 2 * w
    vector = ir.VectorType(_F32, w)
    fma = declare(b.module, f"llvm.fma.v{w}f32", vector, [vector] * 3)
    zeros = [ir.Constant(vector, [0.0] * w)] * (MR * nr // w)
    splat = ir.Constant(ir.VectorType(_I32, w), [0] * w)
    with carried_loop(b, i64(0), kc, 1, zeros, name="kernel") as (p, accs, set_next):
        b_row = _at(b, b_panel, b.mul(p, i64(nr)))
        b_vectors = [b.load(_at(b, b_row, i64(v)), typ=vector, align=4)
                     for v in range(0, nr, w)]
        offset = b.mul(p, i64(a_step))
        out = []
        for r in range(MR):
            scalar = b.load(_at(b, a_rows[r], offset), typ=_F32)
            lane = b.insert_element(ir.Constant(vector, ir.Undefined), scalar, ir.Constant(_I32, 0))
            a_vector = b.shuffle_vector(lane, ir.Constant(vector, ir.Undefined), splat)
            for v, b_vector in enumerate(b_vectors):
                out.append(b.call(fma, [a_vector, b_vector, accs[r * len(b_vectors) + v]]))
        set_next(out)
    return accs


def _store_tile(b: ir.IRBuilder, accs, c_tile, tile, n: int, rows, cols, first, w: int):
    """C tile (row stride n) = accs where `first` (the first K block), else += accs; only the
    `rows` x `cols` elements that exist are touched."""
    nr = 2 * w
    vector = ir.VectorType(_F32, w)
    per_row = nr // w
    full = b.and_(b.icmp_signed(">=", rows, i64(MR)), b.icmp_signed(">=", cols, i64(nr)))
    with b.if_else(full) as (then, otherwise):
        with then:
            for index, acc in enumerate(accs):
                r, v = divmod(index, per_row)
                at = _at(b, c_tile, i64(r * n + v * w))
                old = b.load(at, typ=vector, align=4)
                b.store(b.select(first, acc, b.fadd(old, acc)), at, align=4)
        with otherwise:
            for index, acc in enumerate(accs):
                b.store(acc, _at(b, tile, i64(index * w)), align=4)
            with for_range(b, i64(0), minimum(b, rows, i64(MR)), name="edge.row") as r:
                with for_range(b, i64(0), minimum(b, cols, i64(nr)), name="edge.col") as j:
                    value = b.load(_at(b, tile, b.add(b.mul(r, i64(nr)), j)), typ=_F32)
                    at = _at(b, c_tile, b.add(b.mul(r, i64(n)), j))
                    old = b.load(at, typ=_F32)
                    b.store(b.select(first, value, b.fadd(old, value)), at)
