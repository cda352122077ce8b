"""Nodes of the autograd tape: one per recorded primitive, plus one accumulator per leaf."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ember.frontend.tensor import Tensor
    from ember.ir.types import TensorType

FREED = ("Trying to backward through the graph a second time (or directly access saved tensors "
         "after they have already been freed). Saved intermediate values of the graph are freed "
         "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
         "backward through the graph a second time or if you need to access saved tensors after "
         "calling backward.")


class SavedTensor:
    """A tensor kept for backward with the version it had, so in-place changes are caught."""

    __slots__ = ("tensor", "version", "op")

    def __init__(self, tensor: "Tensor", op: str) -> None:
        self.tensor = tensor
        self.version = tensor._storage.version
        self.op = op

    def unpack(self) -> "Tensor":
        if self.tensor._storage.version != self.version:
            t = self.tensor
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{t.dtype.name} {list(t.shape)}], which is saved by "
                f"ember.{self.op}, is at version {t._storage.version}; expected version "
                f"{self.version} instead.")
        return self.tensor


class Node:
    """A recorded primitive application: where its operands' gradients go, and what it saved.

    `next_edges[i]` is the node that receives operand i's gradient (None when that operand
    does not require grad).
    """

    __slots__ = ("op", "attrs", "next_edges", "input_types", "_inputs", "_output", "pre_hooks",
                 "retained", "__weakref__")

    def __init__(self, op: str, attrs: dict[str, Any], inputs: "list[Tensor]",
                 output: "Tensor") -> None:
        self.op = op
        self.attrs = attrs
        self.next_edges = [t._gradient_edge() for t in inputs]
        self.input_types: list[TensorType] = [t.type for t in inputs]
        self._inputs: list[SavedTensor] | None = [SavedTensor(t, op) for t in inputs]
        self._output: SavedTensor | None = None
        self.pre_hooks: list[Callable] = []
        self.retained = None

    def needs_input_grad(self, i: int) -> bool:
        """Whether operand i's gradient is used (rules may skip reading what only it needs)."""
        return self.next_edges[i] is not None

    def apply_vjp(self, g: "Tensor") -> tuple:
        """The gradients of the operands, by the primitive's VJP rule."""
        from ember.frontend.autograd.vjp_rules import VJP_RULES

        return VJP_RULES[self.op](self, g)

    def save_output(self, output: "Tensor") -> None:
        self._output = SavedTensor(output, self.op)

    def input(self, i: int) -> "Tensor":
        """Operand i as it was when the op ran (raises if freed or modified in place)."""
        if self._inputs is None:
            raise RuntimeError(FREED)
        return self._inputs[i].unpack()

    @property
    def output(self) -> "Tensor":
        """The op's result as it was when the op ran."""
        if self._inputs is None:
            raise RuntimeError(FREED)
        return self._output.unpack()

    def release(self) -> None:
        """Free saved tensors after a backward pass without retain_graph."""
        self._inputs = None
        self._output = None

    def name(self) -> str:
        """PyTorch-style node name, e.g. MulBackward0."""
        return f"{self.op.title().replace('_', '')}Backward0"

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


class AccumulateGrad:
    """Sink of a leaf tensor's gradient: adds it into the leaf's `.grad`."""

    __slots__ = ("variable", "pre_hooks", "__weakref__")

    next_edges: list = []

    def __init__(self, variable: "Tensor") -> None:
        self.variable = variable
        self.pre_hooks: list[Callable] = []

    def name(self) -> str:
        """The node's name, as PyTorch's."""
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"
