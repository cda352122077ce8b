"""nn.Parameter: a tensor that a Module registers as a learnable parameter."""

from __future__ import annotations

from ember.frontend import tracing
from ember.frontend.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and is registered by Module attributes."""

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> "Parameter":
        if data is None:
            from ember.frontend.ops.creation import empty

            data = empty(0)
        p = cls._wrap(data._array)
        p._storage = data._storage
        if tracing.ACTIVE is not None:
            tracing.ACTIVE.alias(p, data)
        p.requires_grad_(requires_grad)
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        """Construction happens in __new__."""

    def __deepcopy__(self, memo: dict) -> "Parameter":
        """A Parameter with a copy of the values and the same requires_grad (not the grad, as in
        PyTorch)."""
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.detach().clone(), self.requires_grad)
        return memo[id(self)]

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

