"""Loops-IR modules built by hand with ir.core's Builder, per the loops IR contract: buffers
in, buffers out (destination passing), then a memref<4xi64> status buffer."""

from __future__ import annotations

from ember.ir import dtypes
from ember.ir.core import Block, Builder, Operation, Value, func_op, module_op
from ember.ir.types import INDEX, MemRefType, ScalarType

STATUS = MemRefType((4,), dtypes.int64)


def module_with(name: str, args: list[MemRefType]) -> tuple[Operation, Operation, Builder]:
    """A module holding `func.func @name(args..., status)`, and a builder for its body."""
    module = module_op()
    func = func_op(name, args + [STATUS])
    module.regions[0].blocks[0].append(func)
    return module, func, Builder(func.regions[0].blocks[0])


def const(b: Builder, value, type: ScalarType = INDEX) -> Value:
    return b.create("arith.constant", [], [type], {"value": value}).result


def loop(b: Builder, upper: int, inits: list[Value] = ()) -> tuple[Operation, Builder, list]:
    """`scf.for %iv = 0 to upper step 1 iter_args(inits)`; its body builder and block args."""
    operands = [const(b, 0), const(b, upper), const(b, 1), *inits]
    op = b.create("scf.for", operands, [v.type for v in inits], regions=1)
    block = op.regions[0].add_block(Block([INDEX] + [v.type for v in inits]))
    return op, Builder(block), block.arguments


def nest(b: Builder, shape: tuple[int, ...]) -> tuple[Builder, list[Value], list[Builder]]:
    """Perfectly nested loops over `shape`: the innermost body builder, the indices, and every
    level's builder (pass them to `close` once the body is built)."""
    indices, levels = [], []
    for size in shape:
        _, b, (iv,) = loop(b, size)
        indices.append(iv)
        levels.append(b)
    return b, indices, levels


def close(levels: list[Builder]) -> None:
    """Terminate loop bodies with `scf.yield`."""
    for level in levels:
        level.create("scf.yield")


def elementwise(name: str, op_name: str, shape: tuple[int, ...], dtype=dtypes.float32,
                arity: int = 1, attributes: dict | None = None) -> Operation:
    """out[i...] = op(in0[i...], in1[i...], ...)."""
    t = MemRefType(shape, dtype)
    module, func, b = module_with(name, [t] * (arity + 1))
    args = func.regions[0].blocks[0].arguments
    body, indices, levels = nest(b, shape)
    loaded = [body.create("memref.load", [args[k], *indices], [t.element]).result
              for k in range(arity)]
    value = body.create(op_name, loaded, [t.element], attributes).result
    body.create("memref.store", [value, args[arity], *indices])
    close(levels)
    b.create("func.return")
    return module
