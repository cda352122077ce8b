"""Devices: `ember.device("cpu")`, `ember.device("cuda:0")`."""

from __future__ import annotations


class device:
    """A device a tensor lives on: a type ("cpu" or "cuda") and an optional index."""

    __slots__ = ("type", "index")

    def __init__(self, spec: "str | device", index: int | None = None) -> None:
        if isinstance(spec, device):
            spec, index = spec.type, spec.index if index is None else index
        kind, _, number = str(spec).partition(":")
        if kind not in ("cpu", "cuda"):
            raise RuntimeError(f"ember.device: expected 'cpu' or 'cuda[:N]', got {spec!r}")
        if number:
            if index is not None:
                raise RuntimeError(f"ember.device: index given twice in {spec!r}")
            index = int(number)
        self.type = kind
        self.index = index

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"


CPU = device("cpu")
