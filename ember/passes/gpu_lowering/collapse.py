"""Nested reductions made one loop, so that a block's threads can split them.

A reduction over several axes (a bias gradient sums over batch, height and width) lowers to a
perfect nest of loops, each carrying the accumulator into the next and yielding its result.
`collapse` rewrites such a nest in place as one loop over the product of the trip counts, the
induction variables recovered from its position (row-major: the innermost axis fastest), so
the elements are combined in the same order and `analysis.reduction` sees one loop to split.
"""

from __future__ import annotations

import math

from ember.ir.core import Operation, replace_all_uses
from ember.passes.gpu_lowering.analysis import bounds, trip_count
from ember.passes.lowering.emitter import Emitter


def reduction_nest(loop: Operation) -> list[Operation] | None:
    """The loops, outermost first, of a perfect nest of at least two single-accumulator loops
    with constant bounds, each level's body being only the next loop, fed the level's
    accumulator, and the yield of its result; None for any other op."""
    nest = [loop]
    while True:
        current = nest[-1]
        if current.name != "scf.for" or len(current.results) != 1 or bounds(current) is None:
            return None
        body = current.regions[0].blocks[0]
        inner, *rest = body.operations
        if not (inner.name == "scf.for" and len(inner.results) == 1 and len(rest) == 1
                and inner.operands[3] is body.arguments[1]
                and rest[0].operands == [inner.results[0]]):
            return nest if len(nest) > 1 else None
        nest.append(inner)


def nest_length(nest: list[Operation]) -> int:
    """How many elements the nest combines."""
    return math.prod(trip_count(loop) for loop in nest)


def collapse(em: Emitter, nest: list[Operation]) -> Operation:
    """Rewrite `nest` (a `reduction_nest`) as its outermost loop running over every element;
    that loop."""
    outer, innermost = nest[0], nest[-1]
    body = outer.regions[0].blocks[0]
    position, accumulator = body.arguments
    inner_body = innermost.regions[0].blocks[0]
    statements = inner_body.operations
    body.operations = []
    with em.inside(body):
        rest, ivs = position, []
        for level, loop in reversed(list(enumerate(nest))):
            lower, _, step = bounds(loop)
            count = em.index(trip_count(loop))
            index = rest if level == 0 else em.rem(rest, count)
            rest = em.div(rest, count)
            ivs.append(em.add(em.index(lower), em.mul(index, em.index(step))))
    for statement in statements:
        for loop, iv in zip(reversed(nest), ivs):
            replace_all_uses(statement, loop.regions[0].blocks[0].arguments[0], iv)
        replace_all_uses(statement, inner_body.arguments[1], accumulator)
        body.append(statement)
    outer.operands[:3] = [em.index(0), em.index(nest_length(nest)), em.index(1)]
    return outer
