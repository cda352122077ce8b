"""Flattening nested arguments and results (tuples, lists, dicts) into leaves and back."""

from __future__ import annotations

from typing import Any, Callable


def flatten(tree: Any, is_leaf: Callable[[Any], bool]) -> tuple[list, Any]:
    """The leaves of `tree` in order, and a structure (hashable) that `unflatten` refills."""
    leaves: list = []
    return leaves, _walk(tree, is_leaf, leaves)


def _walk(node, is_leaf: Callable[[Any], bool], leaves: list):
    # Module-level, like _build: a recursive closure would make a reference cycle per call.
    if is_leaf(node):
        leaves.append(node)
        return ("leaf",)
    if isinstance(node, (tuple, list)):
        return ("seq", type(node), tuple(_walk(v, is_leaf, leaves) for v in node))
    if isinstance(node, dict):
        return ("dict", type(node), tuple((k, _walk(v, is_leaf, leaves))
                                          for k, v in node.items()))
    leaves.append(node)
    return ("leaf",)


def unflatten(structure: Any, leaves: list) -> Any:
    """The tree of `structure` with its leaves taken in order from `leaves`."""
    return _build(structure, iter(leaves))


def _build(node, it):
    # A module-level function rather than a recursive closure: a closure that refers to itself
    # is a reference cycle, which would keep every returned leaf alive until the cyclic GC ran.
    if node[0] == "leaf":
        return next(it)
    if node[0] == "seq":
        values = [_build(child, it) for child in node[2]]
        kind = node[1]
        return kind(*values) if hasattr(kind, "_fields") else kind(values)
    return node[1]((k, _build(child, it)) for k, child in node[2])
