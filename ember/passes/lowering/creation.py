"""Creation ops at the loop level: full, iota, constant and random_uniform.

full and iota are computed where they are read. A constant with distinct elements is written
once into a buffer at the top of its kernel (one store per element). random_uniform computes
Philox-4x32-10 of each element's counter in integer arith, bit for bit the op table's
`philox4x32`: 32x32->64-bit products are `arith.extui` + `arith.muli` on i64, their halves
`arith.shrui` + `arith.trunci`.
"""

from __future__ import annotations

import numpy as np

from ember.ir import dtypes
from ember.ir.core import Operation, Value
from ember.ir.ops.creation import _PHILOX_M, _PHILOX_W, _UNIFORM_BITS
from ember.ir.types import ScalarType, TensorType
from ember.passes.lowering.emitter import I32, I64, Emitter, LoopTensor


def full(em: Emitter, op: Operation) -> LoopTensor:
    out = op.result.type
    return LoopTensor(out, compute=lambda em, ix: em.scalar(op.attributes["value"], out.dtype))


def iota(em: Emitter, op: Operation) -> LoopTensor:
    out, axis = op.result.type, op.attributes["axis"]
    return LoopTensor(out, compute=lambda em, ix: em.convert(
        em.value("arith.index_cast", ix[axis], type=I64), out.dtype))


def constant(em: Emitter, op: Operation) -> LoopTensor:
    array = op.attributes["value"]
    out = op.result.type
    flat = array.reshape(-1)
    if flat.size and (flat.view(np.uint8).reshape(flat.size, -1) == flat[:1].view(np.uint8)).all():
        first = flat[0]
        return LoopTensor(out, compute=lambda em, ix: em.scalar(first, out.dtype))
    buffer = em.alloc(out)
    for position, value in enumerate(flat):
        indices = [em.index(int(i)) for i in np.unravel_index(position, out.shape)]
        em.store(em.scalar(value, out.dtype), buffer, indices)
    return LoopTensor(out, buffer=buffer)


def random_uniform(em: Emitter, op: Operation, seed: LoopTensor,
                   offset: LoopTensor) -> LoopTensor:
    out: TensorType = op.result.type

    def compute(em: Emitter, ix: list[Value]) -> Value:
        position = em.value("arith.index_cast", em.linearize(ix, out.shape), type=I64)
        counter = em.value("arith.addi", em.load(offset, []), position)
        w0, w1 = _philox(em, counter, em.load(seed, []))
        if out.dtype is dtypes.float64:
            high = _shift(em, _widen(em, w0), 5)
            low = _shift(em, _widen(em, w1), 6)
            bits = em.value("arith.addi", em.value("arith.muli", high,
                                                   em.constant(1 << 26, I64)), low)
            return _scaled(em, bits, ScalarType("f64"), 2.0 ** -53)
        b = _UNIFORM_BITS[out.dtype.name]
        # Below 2**24, so the signed conversion of the top b bits is exact.
        top = em.value("arith.shrui", w0, em.constant(32 - b, I32))
        return em.convert(_scaled(em, top, ScalarType("f32"), 2.0 ** -b), out.dtype)

    return LoopTensor(out, compute=compute)


def _philox(em: Emitter, counter: Value, seed: Value) -> tuple[Value, Value]:
    """The first two words of Philox-4x32-10 of an i64 counter under an i64 key."""
    c1, c0 = _split(em, counter)
    k1, k0 = _split(em, seed)
    c2 = c3 = em.constant(0, I32)
    for _ in range(10):
        hi0, lo0 = _split(em, em.value("arith.muli", _widen(em, c0),
                                       em.constant(int(_PHILOX_M[0]), I64)))
        hi1, lo1 = _split(em, em.value("arith.muli", _widen(em, c2),
                                       em.constant(int(_PHILOX_M[1]), I64)))
        c0, c1, c2, c3 = (_xor(em, hi1, c1, k0), lo1, _xor(em, hi0, c3, k1), lo0)
        k0 = em.value("arith.addi", k0, em.constant(_signed32(_PHILOX_W[0]), I32))
        k1 = em.value("arith.addi", k1, em.constant(_signed32(_PHILOX_W[1]), I32))
    return c0, c1


def _signed32(word) -> int:
    """A uint32 constant as the signed value MLIR's i32 attributes hold."""
    return int(np.array(word, np.uint32).view(np.int32))


def _split(em: Emitter, value: Value) -> tuple[Value, Value]:
    """(high, low) 32-bit halves of an i64."""
    high = em.value("arith.trunci", _shift(em, value, 32), type=I32)
    return high, em.value("arith.trunci", value, type=I32)


def _shift(em: Emitter, value: Value, bits: int) -> Value:
    return em.value("arith.shrui", value, em.constant(bits, I64))


def _widen(em: Emitter, word: Value) -> Value:
    """An i32 word zero-extended to i64 (its unsigned value)."""
    return em.value("arith.extui", word, type=I64)


def _xor(em: Emitter, a: Value, b: Value, c: Value) -> Value:
    return em.value("arith.xori", em.value("arith.xori", a, b), c)


def _scaled(em: Emitter, bits: Value, type: ScalarType, scale: float) -> Value:
    value = em.value("arith.sitofp", bits, type=type)
    return em.value("arith.mulf", value, em.constant(scale, type))
