"""Flattening nested arguments and results (tuples, lists, dicts) into leaves and back."""

from __future__ import annotations

from typing import Any, Callable


def flatten(tree: Any, is_leaf: Callable[[Any], bool]) -> tuple[list, Any]:
    """The leaves of `tree` in order, and a structure that `unflatten` refills."""
    leaves: list = []

    def walk(node):
        if is_leaf(node):
            leaves.append(node)
            return ("leaf",)
        if isinstance(node, (tuple, list)):
            return ("seq", type(node), [walk(v) for v in node])
        if isinstance(node, dict):
            return ("dict", type(node), [(k, walk(v)) for k, v in node.items()])
        leaves.append(node)
        return ("leaf",)

    return leaves, walk(tree)


def unflatten(structure: Any, leaves: list) -> Any:
    """The tree of `structure` with its leaves taken in order from `leaves`."""
    it = iter(leaves)

    def build(node):
        if node[0] == "leaf":
            return next(it)
        if node[0] == "seq":
            values = [build(child) for child in node[2]]
            kind = node[1]
            return kind(*values) if hasattr(kind, "_fields") else kind(values)
        return node[1]((k, build(child)) for k, child in node[2])

    return build(structure)
