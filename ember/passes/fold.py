"""The fold pass: constant folding with the op table's NumPy semantics."""

from __future__ import annotations

from ember.ir.core import Operation
from ember.ir.primitive import PRIMITIVES
from ember.passes.pass_manager import Pass, register_pass
from ember.passes.rewrite import PatternRewriter, RewritePattern, apply_patterns_greedily

# Ops whose result is known at compile time without operands.
CONSTANT_OPS = {"ember.constant", "ember.full", "ember.iota"}
# Never evaluated at compile time: random numbers stay visible as random ops in the graph.
NOT_FOLDED = {"ember.random_uniform"}


def constant_value(op: Operation):
    """The array a constant-like op produces."""
    prim = PRIMITIVES[op.opname]
    return prim.evaluate([], op.attributes, op.result.type)


class FoldConstantOperands(RewritePattern):
    """An ember op whose operands are all constants -> `ember.constant` of its value."""

    def __init__(self, max_elements: int) -> None:
        self.max_elements = max_elements

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool:
        if (op.dialect != "ember" or op.opname not in PRIMITIVES or not op.operands
                or op.name in NOT_FOLDED or op.regions):
            return False
        producers = [None if v.is_block_argument else v.owner for v in op.operands]
        if any(p is None or p.name not in CONSTANT_OPS for p in producers):
            return False
        # Bounding the operands too keeps compile time small (say, a sum over a huge full).
        sizes = [v.type.numel for v in op.operands] + [op.result.type.numel]
        if max(sizes) > self.max_elements:
            return False
        try:
            value = PRIMITIVES[op.opname].evaluate([constant_value(p) for p in producers],
                                                   op.attributes, op.result.type)
        except (ArithmeticError, IndexError, ValueError, TypeError):
            # Leave the op (say, an integer division by zero) to fail when the program runs.
            return False
        folded = rewriter.create("ember.constant", [], {"value": value.copy()})
        rewriter.replace_op(op, folded.results)
        return True


@register_pass
class Fold(Pass):
    """Replace ops whose operands are all constants by `ember.constant`s of their values.

    Guarantees: folded values are bit-identical to what the reference interpreter computes;
    nothing with more than `max-elements` elements (result or operand) is folded; ops that
    raise at evaluation and `ember.random_uniform` are left alone. Folds repeat to a fixpoint
    and constants left without uses are erased.
    """

    name = "fold"
    max_elements: int = 1024

    def run(self, module: Operation) -> None:
        apply_patterns_greedily(module, [FoldConstantOperands(self.max_elements)])
