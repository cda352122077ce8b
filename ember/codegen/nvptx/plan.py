"""The launch plan of a GPU-mapped function: what a runtime does to run it, step by step.

It is read off the host function `map-to-gpu` leaves: its arguments (the graph's inputs, then
its outputs, then the status buffer: `lower-to-loops`' calling convention), its `gpu.alloc`s
(device temporaries) and its `gpu.launch_func`s in order (kernel, grid, block, buffers).
"""

from __future__ import annotations

from dataclasses import dataclass

from ember.ir.core import Operation
from ember.ir.types import MemRefType


@dataclass(frozen=True)
class Buffer:
    """A kernel argument: `kind` "argument" (index into the function's memref arguments:
    inputs, outputs, status) or "temporary" (index into the plan's temporaries)."""

    kind: str
    index: int


@dataclass
class Launch:
    """One kernel launch: `kernel` is the PTX entry's name; grid and block are (x, y, z)."""

    kernel: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    buffers: list[Buffer]
    shared_bytes: int  # static shared memory the kernel declares (informative)


@dataclass
class LaunchPlan:
    """How to run one compiled function: allocate `temporaries` (zero-filled is not needed:
    every kernel writes before it reads), run `launches` in order on one stream, then read
    `arguments[-1]` (the status words) as `lower-to-loops` describes."""

    entry: str
    arguments: list[MemRefType]
    temporaries: list[MemRefType]
    launches: list[Launch]
    error_ops: list[str]

    def temporary_bytes(self) -> list[int]:
        """The size in bytes of each temporary."""
        return [t.nbytes for t in self.temporaries]


def launch_plan(module: Operation, func: Operation) -> LaunchPlan:
    """The plan of host function `func` of GPU-mapped `module`."""
    body = func.regions[0].blocks[0]
    where = {arg: Buffer("argument", i) for i, arg in enumerate(body.arguments)}
    temporaries: list[MemRefType] = []
    launches = []
    shared = _shared_bytes(module)
    for op in body.operations:
        if op.name == "gpu.alloc":
            where[op.result] = Buffer("temporary", len(temporaries))
            temporaries.append(op.result.type)
        elif op.name == "gpu.launch_func":
            sizes = [int(v.owner.attributes["value"].value) for v in op.operands[:6]]
            kernel = op.attributes["kernel"][-1]
            launches.append(Launch(kernel, tuple(sizes[:3]), tuple(sizes[3:]),
                                   [where[v] for v in op.operands[6:]], shared.get(kernel, 0)))
    error_ops = func.attributes.get("ember.error_ops", "")
    return LaunchPlan(func.attributes["sym_name"], [a.type for a in body.arguments],
                      temporaries, launches, error_ops.split(",") if error_ops else [])


def _shared_bytes(module: Operation) -> dict[str, int]:
    sizes = {}
    for op in module.walk():
        if op.name == "gpu.func":
            block = op.regions[0].blocks[0]
            inputs = len(op.attributes["function_type"].inputs)
            sizes[op.attributes["sym_name"]] = sum(a.type.nbytes for a in block.arguments[inputs:])
    return sizes
