"""The cse pass: common subexpression elimination of pure ops."""

from __future__ import annotations

import struct
from collections import ChainMap
from typing import Any, Hashable

import numpy as np

from ember.ir.core import Block, Operation
from ember.passes.pass_manager import Pass, register_pass
from ember.passes.rewrite import PatternRewriter, is_pure


def attribute_key(value: Any) -> Hashable:
    """A hashable key equal for two attribute values exactly when they are the same value.

    Floats compare by their bits (0.0 and -0.0 differ, a NaN equals itself); arrays by dtype,
    shape and bytes; every key carries its Python type, so True and 1 differ.
    """
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, np.ascontiguousarray(value).tobytes())
    if isinstance(value, (float, np.floating)):
        return ("float", struct.pack("<d", float(value)))
    if isinstance(value, (tuple, list)):
        return ("seq",) + tuple(attribute_key(v) for v in value)
    return (type(value).__name__, value)


def op_key(op: Operation) -> Hashable:
    """Ops with equal keys compute the same values."""
    attrs = tuple(sorted((k, attribute_key(v)) for k, v in op.attributes.items()))
    return (op.name, tuple(id(v) for v in op.operands), attrs,
            tuple(r.type for r in op.results))


@register_pass
class CommonSubexpressionElimination(Pass):
    """Merge pure ops with the same name, operands and attributes.

    Guarantees: a pure op is replaced by an earlier, dominating op with the same name, the
    same operand values, equal attributes (arrays by dtype and value, floats by bits) and the
    same result types. `ember.random_uniform` is pure given its seed and offset operands, so
    it merges too. Ops with regions are never merged.
    """

    name = "cse"

    def run(self, module: Operation) -> None:
        rewriter = PatternRewriter(module)
        for region in module.regions:
            for block in region.blocks:
                self._block(block, ChainMap(), rewriter)

    def _block(self, block: Block, seen: ChainMap, rewriter: PatternRewriter) -> None:
        # A block sees what its enclosing blocks defined before it, never its siblings' ops.
        for op in list(block.operations):
            if op in rewriter.erased:
                continue
            for region in op.regions:
                for inner in region.blocks:
                    self._block(inner, seen.new_child(), rewriter)
            if not is_pure(op) or op.regions:
                continue
            key = op_key(op)
            original = seen.get(key)
            if original is None:
                seen[key] = op
            else:
                for old, new in zip(op.results, original.results):
                    rewriter.replace_all_uses(old, new)
                rewriter.erase_op(op)
