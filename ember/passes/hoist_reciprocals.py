"""`hoist-reciprocals`: divide by a loop-invariant value as one reciprocal and a multiply per
element.

A vector division costs several times a multiplication, and softmax, layer norm and mean
divide every element of a row by one number. For `arith.divf %a, %b` in an `scf.for` whose
divisor does not change across the loop (defined outside it, or loaded at indices defined
outside it from a buffer the loop never stores to), the pass computes `1 / b` once before the
loop and multiplies by it inside. The result may differ from the quotient by one rounding
(a relative 2**-23 in float32), as in PyTorch's own softmax.
"""

from __future__ import annotations

from ember.ir.attributes import ScalarAttr
from ember.ir.core import Operation, Value, insert_before, replace_all_uses
from ember.passes.loop_analysis import defined_outside, trip_count
from ember.passes.pass_manager import Pass, register_pass

_FLOATS = ("f32", "f64")


def _stored_in(loop: Operation, memref: Value) -> bool:
    return any(op.name == "memref.store" and op.operands[1] is memref for op in loop.walk())


def _invariant_load(divisor: Value, loop: Operation) -> bool:
    """Whether `divisor` is loaded in `loop`'s body at indices defined outside it, from a
    buffer the loop never stores to (so the load can move before the loop)."""
    owner = divisor.owner
    return (not divisor.is_block_argument and owner.name == "memref.load"
            and owner.parent is loop.regions[0].blocks[0]
            and all(defined_outside(v, loop) for v in owner.operands)
            and not _stored_in(loop, owner.operands[0]))


def _hoist(loop: Operation, division: Operation) -> None:
    divisor = division.operands[1]
    if divisor.type.name not in _FLOATS:
        return
    if not defined_outside(divisor, loop):
        if not _invariant_load(divisor, loop):
            return
        load = divisor.owner
        load.parent.operations.remove(load)
        insert_before(loop, load)
    one_attr = 1.0 if divisor.type.name == "f64" else ScalarAttr(1.0, divisor.type)
    one = insert_before(loop, Operation("arith.constant", [], [divisor.type],
                                        {"value": one_attr}))
    reciprocal = insert_before(loop, Operation("arith.divf", [one.result, divisor],
                                               [divisor.type]))
    product = insert_before(division, Operation("arith.mulf",
                                                [division.operands[0], reciprocal.result],
                                                [division.result.type]))
    replace_all_uses(loop, division.result, product.result)
    division.parent.operations.remove(division)


@register_pass
class HoistReciprocalsPass(Pass):
    """Replace divisions by loop-invariant floats with multiplications by a reciprocal computed
    before the loop (loops IR; see module doc)."""

    name = "hoist-reciprocals"

    def run(self, module: Operation) -> None:
        for loop in [op for op in module.walk() if op.name == "scf.for"]:
            if trip_count(loop) in (0, 1):
                continue
            body = loop.regions[0].blocks[0]
            for op in list(body.operations):
                if op.name == "arith.divf" and op.parent is body:
                    _hoist(loop, op)
