"""A vectorized direct conv2d kernel for float32, substituted for the generic conv2d loop nest.

`lower-to-loops` marks conv2d's outer loop with `ember.kernel = "conv2d"` and
`ember.conv2d = [stride h, stride w, padding h, padding w, dilation h, dilation w, groups]`, and
makes both operands buffers. `emit` replaces the nest with a worker (`noalias` arguments, all
shapes constant) run over blocks of (image, group, output channels), split among threads. It
works in 16-lane vectors with masks instead of scalar tails, in one of two schedules:

- over the output width (the forward and the input gradient): per output row, one vector of
  16 output columns for each of a block of output channels, so that each input vector loaded
  feeds a block of fused multiply-adds with broadcast weights;
- over the kernel width (the weight gradient, whose "kernel" is the output gradient: large
  taps, a tiny output): per output element of a block of channels and of a few adjacent
  columns, a dot product of input and kernel rows, summed across lanes at the end; each weight
  vector loaded feeds the whole block.

The schedule whose vectors have the fewer masked-off lanes is used. Masked lanes never touch
memory, so every access stays in bounds whatever the padding; input rows outside the image are
skipped. Each output element is summed in the same order whatever the thread count.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from dataclasses import dataclass

from llvmlite import ir

from ember.codegen.llvm import parallel
from ember.codegen.llvm.control import I64, for_range, i64
from ember.codegen.llvm.intrinsics import declare
from ember.ir.core import Operation

LANES = 16  # one AVX-512 register of f32; LLVM splits the vectors on narrower hosts
_F32, _I32, _I1, _PTR = ir.FloatType(), ir.IntType(32), ir.IntType(1), ir.PointerType()
_VF32, _VI64, _MASK = (ir.VectorType(_F32, LANES), ir.VectorType(I64, LANES),
                       ir.VectorType(_I1, LANES))
_ZERO = ir.Constant(_VF32, [0.0] * LANES)
_ALIGN = ir.Constant(_I32, 4)
_ids = itertools.count()


@dataclass(frozen=True)
class ConvShape:
    """Static shapes and attributes of one conv2d: x (N, C, H, W), w (O, C/G, KH, KW)."""

    x: tuple[int, ...]
    w: tuple[int, ...]
    out: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int

    @property
    def per_group(self) -> int:
        return self.w[0] // self.groups

    @property
    def out_block(self) -> int:
        """Output channels computed together: the largest of 8, 4, 2, 1 dividing a group's."""
        return next(b for b in (8, 4, 2, 1) if self.per_group % b == 0)

    @property
    def by_width(self) -> bool:
        """Whether to vectorize over output columns (else over kernel columns)."""
        return _fill(self.out[3]) >= _fill(self.w[3])

    @property
    def columns(self) -> int:
        """Output columns computed together over kernel columns (each weight vector loaded
        feeds them all): the most dividing the width with at most 24 accumulators in all."""
        if self.by_width:
            return 1
        return max(q for q in range(1, self.out[3] + 1)
                   if self.out[3] % q == 0 and q * self.out_block <= 24)

    def valid(self) -> bool:
        """Whether the shapes are those of a non-empty conv2d with these attributes."""
        (n, c, h, w), (o, cg, kh, kw), g = self.x, self.w, self.groups
        oh = (h + 2 * self.padding[0] - self.dilation[0] * (kh - 1) - 1) // self.stride[0] + 1
        ow = (w + 2 * self.padding[1] - self.dilation[1] * (kw - 1) - 1) // self.stride[1] + 1
        return (g > 0 and c == cg * g and o % g == 0 and self.out == (n, o, oh, ow)
                and min(self.stride + self.dilation) > 0 and min(self.padding) >= 0
                and 0 not in self.out + self.w)


def _fill(width: int) -> float:
    """The fraction of lanes doing work when `width` elements are covered by 16-lane vectors."""
    return width / (LANES * -(-width // LANES))


def emit(t, loop: Operation, inputs, output) -> bool:
    """Replace the conv2d nest `loop` (inputs x, w) by the kernel; False where it does not
    apply (another dtype, no `ember.conv2d` attribute): the translator emits the loops."""
    attrs = loop.attributes.get("ember.conv2d")
    buffers = (*inputs, output)
    if attrs is None or len(inputs) != 2 or any(
            v.type.element.name != "f32" or len(v.type.shape) != 4 for v in buffers):
        return False
    shape = ConvShape(*(tuple(v.type.shape) for v in buffers), tuple(attrs[0:2]),
                      tuple(attrs[2:4]), tuple(attrs[4:6]), attrs[6])
    if not shape.valid():
        return False
    worker = _worker(t.module, shape)
    blocks = shape.x[0] * shape.groups * (shape.per_group // shape.out_block)
    work = 2 * math.prod(shape.out) * math.prod(shape.w[1:])
    threads = t.threads if work >= parallel.MIN_PARALLEL_WORK else 1
    parallel.launch(t.builder, worker, parallel.chunks(blocks, threads),
                    [t.get(v) for v in buffers])
    return True


def _worker(module: ir.Module, s: ConvShape) -> ir.Function:
    """`void (i64 lo, i64 hi, ptr x, ptr w, ptr out)`: blocks [lo, hi) of the output, a block
    being out_block output channels of one image."""
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [I64, I64, _PTR, _PTR, _PTR]),
                     name=f"ember.conv2d.{next(_ids)}")
    fn.linkage = "internal"
    for arg in fn.args[2:]:
        arg.add_attribute("noalias")
    lo, hi, x, w, out = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    # Accumulators in allocas indexed by constants: SROA turns them into registers.
    accs = [b.alloca(_VF32) for _ in range(s.out_block * s.columns)]
    k = _Kernel(b, s, x, w, out, accs)
    blocks_per_group = s.per_group // s.out_block
    with for_range(b, lo, hi, name="block") as block:
        n = b.udiv(block, i64(s.groups * blocks_per_group))
        g = b.urem(b.udiv(block, i64(blocks_per_group)), i64(s.groups))
        o = k.affine((g, s.per_group), (b.urem(block, i64(blocks_per_group)), s.out_block))
        c0 = k.affine((g, s.w[1]))
        if s.by_width:
            k.over_width(n, o, c0)
        else:
            k.over_taps(n, o, c0)
    b.ret_void()
    return fn


class _Kernel:
    """Emits one worker's body: index arithmetic, vector intrinsics, the two schedules."""

    def __init__(self, b: ir.IRBuilder, shape: ConvShape, x, w, out, accs: list) -> None:
        self.b, self.s, self.x, self.w, self.out, self.accs = b, shape, x, w, out, accs

    def affine(self, *terms) -> ir.Value:
        """The i64 sum of `value * factor` for each (value, factor) term and each int term."""
        total = i64(sum(t for t in terms if isinstance(t, int)))
        for term in terms:
            if not isinstance(term, int):
                total = self.b.add(total, self.b.mul(term[0], i64(term[1])))
        return total

    def splat(self, value: ir.Value, vector: ir.VectorType = _VI64) -> ir.Value:
        b = self.b
        one = b.insert_element(ir.Constant(vector, ir.Undefined), value, ir.Constant(_I32, 0))
        return b.shuffle_vector(one, ir.Constant(vector, ir.Undefined),
                                ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES))

    def lanes(self, first: ir.Value, step: int) -> ir.Value:
        """The vector first + step * [0, 1, ..., 15]."""
        return self.b.add(self.splat(first),
                          ir.Constant(_VI64, [step * lane for lane in range(LANES)]))

    def below(self, vector: ir.Value, bound: int) -> ir.Value:
        """Lanes with 0 <= vector < bound (one unsigned compare)."""
        return self.b.icmp_unsigned("<", vector, ir.Constant(_VI64, [bound] * LANES))

    def at(self, base: ir.Value, offset: ir.Value) -> ir.Value:
        # Not `inbounds`: a masked vector's first lane may lie before the buffer.
        return self.b.gep(base, [offset], source_etype=_F32)

    def load(self, row: ir.Value, first: ir.Value, positions: ir.Value, step: int,
             mask: ir.Value) -> ir.Value:
        """row[positions] (positions = first + step * lane) under `mask`, 0 where masked off:
        a masked load when contiguous, else a masked gather."""
        m, b = self.b.module, self.b
        if step == 1:
            fn = declare(m, "llvm.masked.load.v16f32.p0", _VF32, [_PTR, _I32, _MASK, _VF32])
            return b.call(fn, [self.at(row, first), _ALIGN, mask, _ZERO])
        pointers = ir.VectorType(_PTR, LANES)
        fn = declare(m, "llvm.masked.gather.v16f32.v16p0", _VF32,
                     [pointers, _I32, _MASK, _VF32])
        bytes_ = b.mul(positions, ir.Constant(_VI64, [4] * LANES))
        addresses = b.add(self.splat(b.ptrtoint(row, I64)), bytes_)
        return b.call(fn, [b.inttoptr(addresses, pointers), _ALIGN, mask, _ZERO])

    def accumulate(self, j: int, xs: ir.Value, ws: ir.Value) -> None:
        """accs[j] += xs * ws, fused."""
        b, acc = self.b, self.accs[j]
        fma = declare(b.module, "llvm.fma.v16f32", _VF32, [_VF32] * 3)
        b.store(b.call(fma, [xs, ws, b.load(acc, typ=_VF32)]), acc)

    @contextlib.contextmanager
    def taps(self, n: ir.Value, c0: ir.Value, oh: ir.Value):
        """Zero the accumulators, then loop over the input channels of the group and the kernel
        rows whose input row lies inside the image: the `with` body, given (c, kh, pointer to
        the input row), is emitted inside."""
        s, b = self.s, self.b
        _, _, h, width = s.x
        for acc in self.accs:
            b.store(_ZERO, acc)
        with for_range(b, i64(0), i64(s.w[1]), name="channel") as c:
            with for_range(b, i64(0), i64(s.w[2]), name="kh") as kh:
                ih = self.affine((oh, s.stride[0]), (kh, s.dilation[0]), -s.padding[0])
                with b.if_then(b.icmp_unsigned("<", ih, i64(h))):
                    row = self.at(self.x, self.affine((n, s.x[1] * h * width),
                                                      (c0, h * width), (c, h * width),
                                                      (ih, width)))
                    yield c, kh, row

    def weight(self, o: ir.Value, j: int, c: ir.Value, kh: ir.Value, kw: ir.Value):
        """Pointer to w[o + j, c, kh, kw]."""
        _, cg, kh_size, kw_size = self.s.w
        return self.at(self.w, self.affine((o, cg * kh_size * kw_size),
                                           j * cg * kh_size * kw_size,
                                           (c, kh_size * kw_size), (kh, kw_size), (kw, 1)))

    def output(self, n: ir.Value, o: ir.Value, j: int, oh: ir.Value, ow: ir.Value):
        """Pointer to out[n, o + j, oh, ow]."""
        _, channels, oh_size, ow_size = self.s.out
        plane = oh_size * ow_size
        return self.at(self.out, self.affine((n, channels * plane), (o, plane), j * plane,
                                             (oh, ow_size), (ow, 1)))

    def over_width(self, n: ir.Value, o: ir.Value, c0: ir.Value) -> None:
        """acc[j][lane] += x[row, (ow + lane) * s + kw * d] * w[o + j, c, kh, kw]."""
        s, b = self.s, self.b
        store = declare(b.module, "llvm.masked.store.v16f32.p0", ir.VoidType(),
                        [_VF32, _PTR, _I32, _MASK])
        with for_range(b, i64(0), i64(s.out[2]), name="oh") as oh:
            with for_range(b, i64(0), i64(s.out[3]), LANES, name="ow") as ow:
                columns = self.below(self.lanes(ow, 1), s.out[3])
                with self.taps(n, c0, oh) as (c, kh, row):
                    with for_range(b, i64(0), i64(s.w[3]), name="kw") as kw:
                        first = self.affine((ow, s.stride[1]), (kw, s.dilation[1]),
                                            -s.padding[1])
                        positions = self.lanes(first, s.stride[1])
                        mask = b.and_(columns, self.below(positions, s.x[3]))
                        xs = self.load(row, first, positions, s.stride[1], mask)
                        for j in range(s.out_block):
                            weight = b.load(self.weight(o, j, c, kh, kw), typ=_F32)
                            self.accumulate(j, xs, self.splat(weight, _VF32))
                for j, acc in enumerate(self.accs):
                    b.call(store, [b.load(acc, typ=_VF32), self.output(n, o, j, oh, ow),
                                   _ALIGN, columns])

    def over_taps(self, n: ir.Value, o: ir.Value, c0: ir.Value) -> None:
        """acc[j, q][lane] += x[row, (ow + q) * s + (kw + lane) * d] * w[o + j, c, kh, kw + lane];
        out[n, o + j, oh, ow + q] = the sum of acc[j, q]'s lanes."""
        s, b = self.s, self.b
        kw_size, columns = s.w[3], s.columns
        reduce = declare(b.module, "llvm.vector.reduce.fadd.v16f32", _F32, [_F32, _VF32])
        with for_range(b, i64(0), i64(s.out[2]), name="oh") as oh:
            with for_range(b, i64(0), i64(s.out[3]), columns, name="ow") as ow:
                with self.taps(n, c0, oh) as (c, kh, row):
                    with for_range(b, i64(0), i64(kw_size), LANES, name="kw") as kw:
                        taps = self.lanes(kw, 1)
                        inside = self.below(taps, kw_size)
                        xs = []
                        for q in range(columns):
                            first = self.affine((ow, s.stride[1]), q * s.stride[1],
                                                (kw, s.dilation[1]), -s.padding[1])
                            positions = self.lanes(first, s.dilation[1])
                            mask = b.and_(inside, self.below(positions, s.x[3]))
                            xs.append(self.load(row, first, positions, s.dilation[1], mask))
                        for j in range(s.out_block):
                            row_of_w = self.weight(o, j, c, kh, kw)
                            ws = self.load(row_of_w, i64(0), taps, 1, inside)
                            for q in range(columns):
                                self.accumulate(j * columns + q, xs[q], ws)
                for index, acc in enumerate(self.accs):
                    j, q = divmod(index, columns)
                    total = b.call(reduce, [ir.Constant(_F32, 0.0), b.load(acc, typ=_VF32)])
                    b.store(total, self.output(n, o, j, oh, b.add(ow, i64(q))))
