"""Small control-flow helpers for LLVM code written directly with llvmlite's builder (the
hand-written kernels and the thread launcher), in the loop shape LLVM's passes expect."""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

from llvmlite import ir

I64 = ir.IntType(64)


def i64(n: int) -> ir.Constant:
    return ir.Constant(I64, n)


def minimum(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """The signed minimum of two i64 values."""
    return b.select(b.icmp_signed("<", x, y), x, y)


@contextlib.contextmanager
def for_range(b: ir.IRBuilder, lower: ir.Value, upper: ir.Value, step: int = 1,
              name: str = "loop") -> Iterator[ir.Value]:
    """`for (iv = lower; iv < upper; iv += step)`: the body is what the `with` block emits."""
    with carried_loop(b, lower, upper, step, [], name) as (iv, _, set_next):
        yield iv
        set_next([])


@contextlib.contextmanager
def carried_loop(b: ir.IRBuilder, lower: ir.Value, upper: ir.Value, step: "int | ir.Value",
                 inits: Sequence[ir.Value], name: str = "loop"):
    """A counted loop carrying `inits` in phis. Yields (iv, carried values, set_next): the body
    must call `set_next(next values)` last. After the `with` the carried phis hold the final
    values (the exit block is only reached from the header)."""
    step = i64(step) if isinstance(step, int) else step
    preheader = b.block
    header = b.append_basic_block(f"{name}.header")
    body = b.append_basic_block(f"{name}.body")
    exit_ = b.append_basic_block(f"{name}.exit")
    b.branch(header)
    b.position_at_end(header)
    iv = b.phi(I64, f"{name}.iv")
    iv.add_incoming(lower, preheader)
    phis = []
    for init in inits:
        phi = b.phi(init.type)
        phi.add_incoming(init, preheader)
        phis.append(phi)
    b.cbranch(b.icmp_signed("<", iv, upper), body, exit_)
    b.position_at_end(body)

    def set_next(values: Sequence[ir.Value]) -> None:
        latch = b.block
        # Signed overflow is impossible: iv < upper before the step, and MLIR's loop would be
        # undefined anyway if upper + step overflowed.
        iv.add_incoming(b.add(iv, step, flags=("nsw",)), latch)
        for phi, value in zip(phis, values):
            phi.add_incoming(value, latch)
        b.branch(header)

    yield iv, phis, set_next
    b.position_at_end(exit_)
