"""Types of SSA values: tensors for the graph level; memrefs, index and scalars for loops."""

from __future__ import annotations

from dataclasses import dataclass

from ember.ir.dtypes import DType


@dataclass(frozen=True)
class ShapedType:
    """A static shape and element dtype, printed as MLIR's `<kind><2x3xf32>`."""

    shape: tuple[int, ...]
    dtype: DType

    kind = ""

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        """The bytes its elements take."""
        return self.numel * self.dtype.itemsize

    def __str__(self) -> str:
        dims = "".join(f"{d}x" for d in self.shape)
        return f"{self.kind}<{dims}{self.dtype.mlir}>"


@dataclass(frozen=True)
class TensorType(ShapedType):
    """A ranked tensor type with a static shape, printed as MLIR's `tensor<2x3xf32>`."""

    kind = "tensor"


@dataclass(frozen=True)
class ScalarType:
    """A builtin scalar type of the loop level: `index`, or an element type such as `f32`."""

    name: str  # "index" or an MLIR element type spelling: f16, bf16, f32, f64, i1, i32, i64

    @property
    def is_index(self) -> bool:
        return self.name == "index"

    @property
    def dtype(self) -> DType | None:
        """The element dtype, or None for `index`."""
        from ember.ir.dtypes import from_mlir

        return None if self.is_index else from_mlir(self.name)

    def __str__(self) -> str:
        return self.name


INDEX = ScalarType("index")


def scalar_type(dtype: DType) -> ScalarType:
    """The scalar type of `dtype`'s elements."""
    return ScalarType(dtype.mlir)


@dataclass(frozen=True)
class MemRefType(ShapedType):
    """A ranked, statically shaped buffer of the loop level, printed `memref<2x3xf32>`; one in
    a numbered memory space other than the default 0 prints it: `memref<32xf32, 3>` (3 is the
    GPU's workgroup, i.e. shared, memory)."""

    memory_space: int = 0

    kind = "memref"

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text[:-1]}, {self.memory_space}>" if self.memory_space else text

    @property
    def element(self) -> ScalarType:
        return scalar_type(self.dtype)
