"""Devices: `ember.device("cpu")`, `ember.device("cuda:0")`, `ember.device("cuda", 1)`."""

from __future__ import annotations


class device:
    """A device a tensor lives on: a type ("cpu" or "cuda") and an optional index.

    As in PyTorch, `device("cuda")` has no index and means the current CUDA device; it is not
    equal to `device("cuda:0")`. A tensor's `.device` always carries the index.
    """

    __slots__ = ("type", "index")

    def __init__(self, spec: "str | int | device", index: int | None = None) -> None:
        if isinstance(spec, device):
            spec, index = spec.type, spec.index if index is None else index
        elif isinstance(spec, int) and not isinstance(spec, bool):
            spec, index = "cuda", _checked_index(spec, spec) if index is None else index
        if not isinstance(spec, str):
            raise TypeError(f"ember.device: expected a string, an int or a device, got "
                            f"{type(spec).__name__}")
        kind, colon, number = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise RuntimeError(f"ember.device: expected a device type 'cpu' or 'cuda' "
                               f"(optionally ':N'), got {spec!r}")
        if colon:
            if index is not None:
                raise RuntimeError(f"ember.device: index given twice, in {spec!r} and as "
                                   f"{index}")
            if not number.isdigit():
                raise RuntimeError(f"ember.device: invalid device string {spec!r}")
            index = int(number)
        self.type = kind
        self.index = None if index is None else _checked_index(index, spec)

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


def _checked_index(index, spec) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"ember.device: the index must be an int, got {type(index).__name__}")
    if index < 0:
        raise RuntimeError(f"ember.device: the device index must not be negative, got {index} "
                           f"(in {spec!r})")
    return index


CPU = device("cpu")
