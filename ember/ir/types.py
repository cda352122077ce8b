"""Types of SSA values: ranked tensor types for the graph level."""

from __future__ import annotations

from dataclasses import dataclass

from ember.ir.dtypes import DType


@dataclass(frozen=True)
class TensorType:
    """A ranked tensor type with a static shape, printed as MLIR's `tensor<2x3xf32>`."""

    shape: tuple[int, ...]
    dtype: DType

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __str__(self) -> str:
        dims = "".join(f"{d}x" for d in self.shape)
        return f"tensor<{dims}{self.dtype.mlir}>"
