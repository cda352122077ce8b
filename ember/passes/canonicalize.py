"""The canonicalize pass: local algebraic and movement simplifications, to a fixpoint."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ember.ir import dtypes
from ember.ir.core import Operation, Value
from ember.passes.pass_manager import Pass, register_pass
from ember.passes.rewrite import (PatternRewriter, RewritePattern, apply_patterns_greedily,
                                  defining_op)


def splat_value(value: Value):
    """The one element of a splat constant (`ember.full`, or a uniform `ember.constant`)."""
    full = defining_op(value, "ember.full")
    if full is not None:
        return full.attributes["value"]
    const = defining_op(value, "ember.constant")
    if const is not None:
        array = const.attributes["value"]
        if array.size and np.all(array == array.flat[0]):
            return array.flat[0]
    return None


def _is(value, identity: int) -> bool:
    # `1.0 == 1` and `True == 1` hold; NaN matches nothing.
    return value is not None and bool(value == identity)


class BinaryIdentity(RewritePattern):
    """x + 0, 0 + x, x - 0, x * 1, 1 * x, x / 1 -> x.

    Only when the result type is exactly x's type, so that neither broadcasting nor type
    promotion is lost. Like XLA, `x + 0 -> x` ignores the sign of zero (-0.0 + 0.0 is +0.0).
    """

    # op -> (identity element, may it be the left operand too)
    IDENTITIES: ClassVar[dict[str, tuple[int, bool]]] = {
        "ember.add": (0, True), "ember.mul": (1, True), "ember.sub": (0, False),
        "ember.div": (1, False)}

    def __init__(self, name: str) -> None:
        self.root = name
        self.identity, self.commutative = self.IDENTITIES[name]

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool:
        x, y = op.operands
        if _is(splat_value(y), self.identity) and x.type == op.result.type:
            rewriter.replace_op(op, [x])
            return True
        if self.commutative and _is(splat_value(x), self.identity) and y.type == op.result.type:
            rewriter.replace_op(op, [y])
            return True
        return False


class IntegerSubSelf(RewritePattern):
    """x - x -> zeros, for integer x only: for floats inf - inf and NaN - NaN are NaN."""

    root = "ember.sub"

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool:
        x, y = op.operands
        result = op.result.type
        if x is not y or result.dtype.kind != "int":
            return False
        zeros = rewriter.create("ember.full", [], {"shape": result.shape, "value": 0,
                                                   "dtype": result.dtype.name})
        rewriter.replace_op(op, zeros.results)
        return True


class NegNeg(RewritePattern):
    """neg(neg(x)) -> x."""

    root = "ember.neg"

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool:
        inner = defining_op(op.operands[0], "ember.neg")
        if inner is None:
            return False
        rewriter.replace_op(op, inner.operands)
        return True


class SameTypeIsIdentity(RewritePattern):
    """reshape, broadcast_to, slice, pad or cast whose result type is its operand's -> x.

    For these ops an unchanged type means an unchanged tensor: a slice keeping every size
    takes everything, a pad keeping every size pads nothing, a cast to the same dtype copies.
    """

    def __init__(self, name: str) -> None:
        self.root = name

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool:
        if op.operands[0].type != op.result.type:
            return False
        rewriter.replace_op(op, op.operands)
        return True


class TrivialFlip(RewritePattern):
    """flip over no axis, or only over axes of size <= 1 -> x."""

    root = "ember.flip"

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool:
        shape = op.operands[0].type.shape
        if any(shape[axis] > 1 for axis in op.attributes["axes"]):
            return False
        rewriter.replace_op(op, op.operands)
        return True


class ComposeChain(RewritePattern):
    """reshape(reshape(x)) and broadcast_to(broadcast_to(x)) -> one op with the outer shape.

    Both compose because only the final shape matters: a reshape keeps row-major order, and
    broadcasting to an intermediate shape and then on repeats the same elements.
    """

    def __init__(self, name: str) -> None:
        self.root = name

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool:
        inner = defining_op(op.operands[0], op.name)
        if inner is None:
            return False
        merged = rewriter.create(op.name, inner.operands, op.attributes)
        rewriter.replace_op(op, merged.results)
        return True


class ComposePermutes(RewritePattern):
    """permute(permute(x, p), q) -> permute(x, [p[i] for i in q]); the identity -> x."""

    root = "ember.permute"

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool:
        dims = tuple(op.attributes["dims"])
        if dims == tuple(range(len(dims))):
            rewriter.replace_op(op, op.operands)
            return True
        inner = defining_op(op.operands[0], "ember.permute")
        if inner is None:
            return False
        composed = tuple(inner.attributes["dims"][d] for d in dims)
        merged = rewriter.create("ember.permute", inner.operands, {"dims": composed})
        rewriter.replace_op(op, merged.results)
        return True


class TransposedProduct(RewritePattern):
    """permute(matmul(a, b)) swapping the last two axes -> matmul(bT, aT), when the product has
    no other use: (a @ b)^T = b^T @ a^T, and the CPU kernel reads transposed operands in place,
    so the transpose of the result (a weight gradient) costs no copy."""

    root = "ember.permute"

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool:
        dims = tuple(op.attributes["dims"])
        rank = len(dims)
        swap = (*range(rank - 2), rank - 1, rank - 2)
        product = defining_op(op.operands[0], "ember.matmul")
        if (rank < 2 or dims != swap or product is None
                or len(rewriter.users(product.result)) != 1
                or any(len(v.type.shape) != rank for v in product.operands)):
            return False
        a, b = product.operands
        b_t = rewriter.create("ember.permute", [b], {"dims": swap})
        a_t = rewriter.create("ember.permute", [a], {"dims": swap})
        swapped = rewriter.create("ember.matmul", [b_t.result, a_t.result], {})
        rewriter.replace_op(op, swapped.results)
        return True


_ARG_REDUCTIONS = ("ember.argmax", "ember.argmin")


class ScatterAtExtreme(RewritePattern):
    """scatter_add(zeros, argmax(y, axis, keepdim), src, axis) -> where(iota == index, src, 0),
    when y is as long as the zeros along `axis` (so every index is in range): the gradient of
    max(dim), and of max pooling, as an elementwise select that needs no bounds checks and runs
    in parallel, instead of a scatter."""

    root = "ember.scatter_add"

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool:
        base, index, src = op.operands
        axis = op.attributes["axis"]
        finder = defining_op(index)
        shape = base.type.shape
        if (finder is None or finder.name not in _ARG_REDUCTIONS
                or splat_value(base) != 0 or finder.attributes["axis"] != axis
                or not finder.attributes["keepdim"]
                or finder.operands[0].type.shape[axis] != shape[axis]
                or src.type.shape != index.type.shape or src.type.dtype != base.type.dtype):
            return False
        positions = rewriter.create("ember.iota", [], {"shape": tuple(shape), "axis": axis,
                                                       "dtype": index.type.dtype.name})
        chosen = rewriter.create("ember.eq", [positions.result, index])
        zero = rewriter.create("ember.full", [], {"shape": (), "value": 0.0,
                                                  "dtype": base.type.dtype.name})
        selected = rewriter.create("ember.where", [chosen.result, src, zero.result])
        rewriter.replace_op(op, selected.results)
        return True


# Conversions that represent every value of the source dtype exactly (bool to anything).
_EXACT = {
    dtypes.int32: {dtypes.int64, dtypes.float64},
    dtypes.float16: {dtypes.float32, dtypes.float64},
    dtypes.bfloat16: {dtypes.float32, dtypes.float64},
    dtypes.float32: {dtypes.float64},
}


def is_exact_conversion(source: dtypes.DType, target: dtypes.DType) -> bool:
    """Does casting `source` to `target` keep every value?"""
    return source is target or source is dtypes.bool_ or target in _EXACT.get(source, ())


class CastOfWideningCast(RewritePattern):
    """cast(cast(x, mid), out) -> cast(x, out) when x -> mid is exact.

    The outer cast then sees x's own values, so one conversion rounds exactly as two did.
    """

    root = "ember.cast"

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool:
        inner = defining_op(op.operands[0], "ember.cast")
        if inner is None:
            return False
        (x,) = inner.operands
        if not is_exact_conversion(x.type.dtype, inner.result.type.dtype):
            return False
        merged = rewriter.create("ember.cast", [x], op.attributes)
        rewriter.replace_op(op, merged.results)
        return True


def canonicalization_patterns() -> list[RewritePattern]:
    """Every pattern of the canonicalize pass."""
    same_type = ["ember.reshape", "ember.broadcast_to", "ember.slice", "ember.pad", "ember.cast"]
    return ([BinaryIdentity(name) for name in BinaryIdentity.IDENTITIES]
            + [IntegerSubSelf(), NegNeg(), TrivialFlip(), ComposePermutes(),
               CastOfWideningCast(), TransposedProduct(), ScatterAtExtreme()]
            + [SameTypeIsIdentity(name) for name in same_type]
            + [ComposeChain(name) for name in ["ember.reshape", "ember.broadcast_to"]])


@register_pass
class Canonicalize(Pass):
    """Simplify identities (x*1, x+0, neg(neg(x)), no-op movement) and merge op chains.

    Guarantees: every function computes the same values as before (up to the sign of a zero
    from x + 0), with no more ops; dead ops are erased. Rewrites never change a value's type.
    Patterns are applied greedily until none matches or `max-iterations` sweeps have run.
    """

    name = "canonicalize"
    max_iterations: int = 10

    def run(self, module: Operation) -> None:
        apply_patterns_greedily(module, canonicalization_patterns(), self.max_iterations)
