"""Flatten and Unflatten layers."""

from __future__ import annotations

import math
from typing import Sequence

from ember.frontend.tensor import Tensor
from ember.nn.modules.module import Module


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension `dim` into `unflattened_size`."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if not isinstance(dim, int):
            raise TypeError(f"invalid argument: dim should be an int, got {type(dim).__name__}")
        if not isinstance(unflattened_size, (tuple, list)) or \
                not all(isinstance(s, int) for s in unflattened_size):
            raise TypeError(f"unflattened_size must be a tuple or list of ints, got "
                            f"{unflattened_size!r}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, x: Tensor) -> Tensor:
        sizes = list(self.unflattened_size)
        size = x.shape[self.dim]
        known = math.prod(s for s in sizes if s != -1)
        if (-1 not in sizes and known != size) or (-1 in sizes and (known == 0 or size % known)):
            raise RuntimeError(f"unflatten: provided sizes {sizes} don't multiply up to the size "
                               f"of dim {self.dim} ({size}) in the input tensor of shape "
                               f"{tuple(x.shape)}")
        return x.unflatten(self.dim, sizes)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
