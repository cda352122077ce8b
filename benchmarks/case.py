"""What one benchmark row is: a workload, its baseline column, and a builder per column."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

# A builder sets up inputs and state, and returns the zero-argument call that gets timed.
Builder = Callable[[], Callable[[], object]]


@dataclass(frozen=True)
class Sizes:
    """Problem sizes; the defaults are the full suite's."""

    gelu: int = 16 * 2**20
    rows: int = 4096
    cols: int = 1024
    matmul: int = 1024
    batch: int = 64


QUICK = Sizes(gelu=2**20, rows=512, matmul=256)


@dataclass
class Case:
    """One benchmark: `builders` maps column names to builders; ratios are against `baseline`."""

    name: str
    description: str
    baseline: str
    builders: dict[str, Builder]
    warmup: int = 2
    flops: float | None = None
    notes: dict[str, str] = field(default_factory=dict)
