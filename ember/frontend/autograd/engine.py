"""The backward pass over the dynamic tape: `Tensor.backward` and `ember.autograd.grad`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from ember.frontend.autograd.node import AccumulateGrad, Node
from ember.frontend.grad_mode import set_grad_enabled

if TYPE_CHECKING:
    from ember.frontend.tensor import Tensor


def _topological_order(roots: list) -> list:
    """Nodes reachable from `roots`, every node before the nodes its gradient flows into."""
    order, state = [], {}
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, done = stack.pop()
            if done:
                state[node] = 2
                order.append(node)
                continue
            if state.get(node):
                continue
            state[node] = 1
            stack.append((node, True))
            stack.extend((n, False) for n in node.next_edges if n is not None and not state.get(n))
    order.reverse()
    return order


def _leading_to(order: list, targets: "Sequence") -> set:
    """The nodes of `order` from which some node in `targets` is reachable (targets included)."""
    targets = {t for t in targets if t is not None}
    needed = set()
    for node in reversed(order):
        if node in targets or any(n in needed for n in node.next_edges if n is not None):
            needed.add(node)
    return needed


def _accumulate(grads: dict, node, g: "Tensor") -> None:
    grads[node] = g if node not in grads else grads[node] + g


def run_backward(roots: "Sequence[Tensor]", grad_roots: "Sequence[Tensor]", *,
                 retain_graph: bool, create_graph: bool,
                 capture: "Sequence | None" = None) -> "list[Tensor | None] | None":
    """Propagate `grad_roots` from `roots` to every leaf, or only to `capture` nodes if given.

    With `capture`, the gradients reaching those nodes are returned and no `.grad` changes.
    """
    grads: dict = {}
    for root, g in zip(roots, grad_roots):
        _accumulate(grads, root._gradient_edge(), g)
    start = [n for n in grads if n is not None]
    order = _topological_order(start)
    needed = None if capture is None else _leading_to(order, capture)
    captured = {}
    with set_grad_enabled(create_graph):
        for node in order:
            g = grads.pop(node, None)
            if g is None or (needed is not None and node not in needed):
                continue
            for hook in node.pre_hooks:
                result = hook(g)
                if result is not None:
                    g = result
            if capture is not None and node in capture:
                captured[node] = g
            if isinstance(node, AccumulateGrad):
                if capture is None:
                    _into_leaf(node.variable, g, create_graph)
                continue
            if node.retained is not None:
                node.retained._set_retained_grad(g, create_graph)
            input_grads = node.apply_vjp(g)
            for edge, ig in zip(node.next_edges, input_grads):
                if edge is not None and ig is not None:
                    _accumulate(grads, edge, ig)
            if not retain_graph:
                node.release()
    if capture is not None:
        return [captured.get(n) for n in capture]
    return None


def _into_leaf(leaf: "Tensor", g: "Tensor", create_graph: bool) -> None:
    if not create_graph:
        g = g.detach()
    if leaf.grad is None:
        # A new .grad is row-major, as PyTorch's gradient layout contract makes it match its
        # (row-major) parameter: a transposed gradient would make every optimizer state cloned
        # from it transposed too, and every compiled step copy it to row-major and back.
        leaf.grad = g if create_graph else g.clone() if g.is_contiguous() else g.contiguous()
    elif create_graph:
        leaf.grad = leaf.grad + g
    else:
        leaf.grad.add_(g)
