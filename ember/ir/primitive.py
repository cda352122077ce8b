"""The primitive-operation record and the one table that holds every primitive."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ember.ir.types import TensorType

ShapeRule = Callable[..., TensorType]
NumpyImpl = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Primitive:
    """One primitive operation: schema, shape/dtype rule and NumPy reference semantics.

    `rule(operand_types, **attrs)` returns the result type or raises ShapeError/DTypeError;
    `numpy(*arrays, **attrs)` computes the result. Every primitive has exactly one result.
    """

    name: str
    operands: tuple[str, ...]
    attrs: tuple[str, ...]
    rule: ShapeRule
    numpy: NumpyImpl
    kind: str
    differentiable: bool = True
    variadic: bool = False
    doc: str = field(default="", compare=False)

    def infer(self, types: Sequence[TensorType], attrs: dict[str, Any]) -> TensorType:
        """The result type for operands of `types` with `attrs`, after checking the schema."""
        if self.variadic:
            if not types:
                raise TypeError(f"ember.{self.name}: expected at least one operand")
        elif len(types) != len(self.operands):
            raise TypeError(f"ember.{self.name}: expected {len(self.operands)} operands "
                            f"({', '.join(self.operands)}), got {len(types)}")
        missing = set(self.attrs) - set(attrs)
        unknown = set(attrs) - set(self.attrs)
        if missing or unknown:
            raise TypeError(f"ember.{self.name}: attributes {sorted(attrs)} do not match "
                            f"the schema {list(self.attrs)}")
        return self.rule(list(types), **attrs)

    def evaluate(self, arrays: Sequence[np.ndarray], attrs: dict[str, Any],
                 result: TensorType) -> np.ndarray:
        """Run the NumPy semantics and return an array of exactly the `result` type."""
        out = np.asarray(self.numpy(*arrays, **attrs))
        if out.dtype != result.dtype.numpy:
            out = out.astype(result.dtype.numpy)
        assert out.shape == result.shape, (self.name, out.shape, result.shape)
        return out


PRIMITIVES: dict[str, Primitive] = {}


def primitive(name: str, operands: Sequence[str], attrs: Sequence[str] = (), *, kind: str,
              numpy: NumpyImpl, differentiable: bool = True, variadic: bool = False):
    """Decorator registering the decorated shape rule as primitive `name` in the op table."""

    def register(rule: ShapeRule) -> ShapeRule:
        if name in PRIMITIVES:
            raise ValueError(f"primitive {name!r} defined twice")
        PRIMITIVES[name] = Primitive(name, tuple(operands), tuple(attrs), rule, numpy, kind,
                                     differentiable, variadic, rule.__doc__ or "")
        return rule

    return register


def get_primitive(name: str) -> Primitive:
    """The primitive called `name`; KeyError names the unknown op."""
    try:
        return PRIMITIVES[name]
    except KeyError:
        raise KeyError(f"unknown primitive {name!r}") from None
