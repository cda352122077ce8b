"""Pattern rewriting: typed patterns, a rewriter that keeps use lists, and a greedy driver.

A pattern is a small class whose `match_and_rewrite(op, rewriter)` either leaves the IR alone
and returns False, or changes it only through the rewriter and returns True. The driver
(`apply_patterns_greedily`) sweeps the IR, applying the first pattern that matches each op,
until a sweep changes nothing; on the way it erases pure ops whose results are unused.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, ClassVar, Sequence

from ember.ir.core import Operation, Value, insert_before
from ember.ir.primitive import PRIMITIVES
from ember.ir.types import TensorType


def is_pure(op: Operation) -> bool:
    """Ember ops have no side effects: one whose results are all unused can go."""
    return op.dialect == "ember" and bool(op.results)


def defining_op(value: Value, name: str | None = None) -> Operation | None:
    """The op that defines `value` (None for block arguments), if it is called `name`."""
    if value.is_block_argument or (name is not None and value.owner.name != name):
        return None
    return value.owner


class RewritePattern:
    """One local rewrite. `root`, if set, limits the pattern to ops of that name."""

    root: ClassVar[str | None] = None

    def match_and_rewrite(self, op: Operation, rewriter: "PatternRewriter") -> bool:
        """Rewrite `op` through `rewriter` and return True, or return False untouched."""
        raise NotImplementedError


class PatternRewriter:
    """Mutates the IR under `root` on behalf of patterns, keeping an index of each value's users.

    New ops are inserted before `insertion_point` (the op being rewritten), so they dominate
    every use of the op they replace.
    """

    def __init__(self, root: Operation) -> None:
        self.root = root
        self.insertion_point: Operation | None = None
        self.changed = False
        self.erased: set[Operation] = set()
        self._users: dict[Value, list[Operation]] = defaultdict(list)
        for op in root.walk():
            self._add_uses(op)

    def _add_uses(self, op: Operation) -> None:
        for value in op.operands:
            self._users[value].append(op)

    def users(self, value: Value) -> list[Operation]:
        """The live ops that use `value`, each once."""
        live = [op for op in self._users.get(value, ()) if op not in self.erased]
        return list(dict.fromkeys(op for op in live if value in op.operands))

    def has_uses(self, value: Value) -> bool:
        return bool(self.users(value))

    def create(self, name: str, operands: Sequence[Value] = (),
               attributes: dict[str, Any] | None = None,
               result_types: Sequence[TensorType] | None = None) -> Operation:
        """A new op before the insertion point; an ember primitive's result type is inferred."""
        attributes = dict(attributes or {})
        if result_types is None:
            prim = PRIMITIVES[name.removeprefix("ember.")]
            result_types = [prim.infer([v.type for v in operands], attributes)]
        op = insert_before(self.insertion_point,
                           Operation(name, operands, result_types, attributes))
        self._add_uses(op)
        self.changed = True
        return op

    def replace_all_uses(self, old: Value, new: Value) -> None:
        """Every use of `old` becomes a use of `new`."""
        if old is new:
            return
        for user in self.users(old):
            user.operands = [new if v is old else v for v in user.operands]
            self._users[new].append(user)
        self._users.pop(old, None)
        self.changed = True

    def replace_op(self, op: Operation, new_values: Sequence[Value]) -> None:
        """Replace each result of `op` by the matching value of `new_values`, then erase `op`."""
        if len(new_values) != len(op.results):
            raise ValueError(f"{op.name} has {len(op.results)} results, "
                             f"but {len(new_values)} replacements were given")
        for old, new in zip(op.results, new_values):
            if new.type != old.type:
                raise ValueError(f"{op.name}: cannot replace a {old.type} by a {new.type}")
            self.replace_all_uses(old, new)
        self.erase_op(op)

    def erase_op(self, op: Operation) -> None:
        """Remove `op` (whose results must be unused), then any pure op that this leaves dead."""
        for value in op.results:
            if self.has_uses(value):
                raise ValueError(f"cannot erase {op.name}: result {value.index} is still used")
        op.parent.operations.remove(op)
        op.parent = None
        self.erased.update(op.walk())
        self.changed = True
        for value in dict.fromkeys(op.operands):
            producer = defining_op(value)
            if producer is not None and producer not in self.erased:
                self.erase_if_dead(producer)

    def erase_if_dead(self, op: Operation) -> bool:
        """Erase `op` if it is pure and none of its results is used."""
        if not is_pure(op) or any(self.has_uses(v) for v in op.results):
            return False
        self.erase_op(op)
        return True


def apply_patterns_greedily(root: Operation, patterns: Sequence[RewritePattern],
                            max_iterations: int = 10) -> bool:
    """Apply `patterns` under `root` until nothing changes; True if that fixpoint was reached.

    Each sweep visits the ops in pre-order, erases dead pure ops, and applies the first
    matching pattern to each live op. At most `max_iterations` sweeps run.
    """
    by_root: dict[str | None, list[RewritePattern]] = defaultdict(list)
    for pattern in patterns:
        by_root[pattern.root].append(pattern)
    for _ in range(max_iterations):
        rewriter = PatternRewriter(root)
        for op in list(root.walk()):
            if op is root or op in rewriter.erased or rewriter.erase_if_dead(op):
                continue
            for pattern in by_root.get(op.name, []) + by_root.get(None, []):
                rewriter.insertion_point = op
                if pattern.match_and_rewrite(op, rewriter):
                    break
        if not rewriter.changed:
            return True
    return False
