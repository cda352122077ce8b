"""The dce pass: dead code elimination."""

from __future__ import annotations

from ember.ir.core import Operation
from ember.passes.pass_manager import Pass, register_pass
from ember.passes.rewrite import apply_patterns_greedily


@register_pass
class DeadCodeElimination(Pass):
    """Erase ops whose results are unused.

    Guarantees: every ember op is pure, so an op none of whose results is used (directly or
    through other dead ops) is removed; func.return and everything it reaches stay unchanged.
    """

    name = "dce"

    def run(self, module: Operation) -> None:
        # With no patterns the greedy driver only erases dead pure ops, as a producer's
        # last use goes away: one sweep removes whole dead chains.
        apply_patterns_greedily(module, [])
