"""Element types shared by the IR and the front end, and PyTorch's type-promotion lattice."""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np


@dataclass(frozen=True, eq=False)
class DType:
    """One element type: its PyTorch-style name, MLIR spelling and NumPy storage type."""

    name: str
    mlir: str
    numpy: np.dtype
    kind: str  # "bool", "int" or "float": PyTorch's type categories
    rank: int  # position in the promotion lattice within and across categories

    @property
    def is_floating_point(self) -> bool:
        return self.kind == "float"

    @property
    def itemsize(self) -> int:
        return self.numpy.itemsize

    def __repr__(self) -> str:
        return f"ember.{self.name}"

    def __reduce__(self):
        return (from_name, (self.name,))


bool_ = DType("bool", "i1", np.dtype(np.bool_), "bool", 0)
int32 = DType("int32", "i32", np.dtype(np.int32), "int", 1)
int64 = DType("int64", "i64", np.dtype(np.int64), "int", 2)
float16 = DType("float16", "f16", np.dtype(np.float16), "float", 3)
bfloat16 = DType("bfloat16", "bf16", np.dtype(ml_dtypes.bfloat16), "float", 3)
float32 = DType("float32", "f32", np.dtype(np.float32), "float", 4)
float64 = DType("float64", "f64", np.dtype(np.float64), "float", 5)

ALL_DTYPES = (bool_, int32, int64, float16, bfloat16, float32, float64)
FLOAT_DTYPES = (float16, bfloat16, float32, float64)
_BY_NAME = {d.name: d for d in ALL_DTYPES}
_BY_NUMPY = {d.numpy: d for d in ALL_DTYPES}
_BY_MLIR = {d.mlir: d for d in ALL_DTYPES}


def from_name(name: str) -> DType:
    """The dtype called `name` ("float32", "int64", ...)."""
    return _BY_NAME[name]


def from_mlir(spelling: str) -> DType:
    """The dtype whose MLIR element type is `spelling` ("f32", "i1", ...)."""
    return _BY_MLIR[spelling]


def from_numpy(dtype) -> DType:
    """The Ember dtype storing the NumPy dtype `dtype`; narrower NumPy types widen as PyTorch would."""
    dtype = np.dtype(dtype)
    if dtype in _BY_NUMPY:
        return _BY_NUMPY[dtype]
    if dtype.kind in "iu":
        return int64 if dtype.itemsize > 4 or dtype == np.uint32 else int32
    if dtype.kind == "f":
        return float64
    raise TypeError(f"ember: NumPy dtype {dtype} has no Ember equivalent")


def promote_types(a: DType, b: DType) -> DType:
    """The smallest dtype both `a` and `b` convert to without losing their category (torch.promote_types)."""
    if a is b:
        return a
    if {a, b} == {float16, bfloat16}:
        return float32
    return a if a.rank > b.rank else b


def combine_categories(higher: DType | None, lower: DType | None) -> DType | None:
    """Merge a stronger participant's type with a weaker one's, as c10's result_type does."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.kind == "float":
        return higher
    if higher is bool_ or lower.kind == "float":
        return promote_types(higher, lower)
    return higher
