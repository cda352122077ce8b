"""Tracing: eager code runs on real tensors while every primitive it applies is recorded.

A Trace records into a `func.func` of the `ember` dialect. Tensors passed as arguments become
function arguments; tensors that existed before the trace and are used inside it (parameters,
buffers, optimizer state) are lifted to further arguments, never baked in; tensors created inside
the trace without a primitive (index arrays, masks) become `ember.constant` ops. In-place writes
rebind a tensor to its new value, so the graph is functional, and the trace remembers which
pre-existing tensors it changed so the runtime can write them back.

Reading a traced tensor's values (`.item()`, `bool()`, `.numpy()`) cannot be recorded: the trace
is then abandoned with the reason and the user's source line, and the call finishes eagerly,
with the same results, because tracing ran the real computation all along.
"""

from __future__ import annotations

import itertools
import os
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ember.frontend import cuda_eager
from ember.frontend.device import CPU
from ember.ir.core import Block, Builder, Operation, Value, func_op, module_op

if TYPE_CHECKING:
    from ember.frontend.tensor import Tensor

ACTIVE: "Trace | None" = None
_EMBER_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ids = itertools.count(1)


def user_location() -> str:
    """'file:line' of the innermost stack frame outside the ember package."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_EMBER_ROOT):
            return f"{frame.filename}:{frame.lineno}"
    return "<unknown>"


def peek(t: "Tensor") -> np.ndarray:
    """t's current values for a validation check, without making a trace depend on them.

    Use it only to raise errors on bad input (bounds, ranges); under tracing it sees the values
    of the traced call only, so it must never decide what a result is. A CUDA tensor's values
    are copied to the host.
    """
    return t._array if isinstance(t._array, np.ndarray) else t._array.to_host()


def _copy(array):
    """A copy of a tensor's array on its device."""
    return np.array(array) if isinstance(array, np.ndarray) else cuda_eager.copy(array)


@dataclass
class Binding:
    """The SSA value a tensor currently stands for, and the storage version it was bound at."""

    tensor: "Tensor"
    value: Value
    version: int


@dataclass
class Trace:
    """One recording in progress: the function being built and how tensors map into it."""

    name: str
    id: int = field(default_factory=lambda: next(_ids))
    module: Operation = field(default_factory=module_op)
    bindings: dict[int, Binding] = field(default_factory=dict)
    sources: list[tuple] = field(default_factory=list)
    argument_values: dict[int, Value] = field(default_factory=dict)
    entry_arrays: list[np.ndarray] = field(default_factory=list)
    grad_writes: dict[int, tuple["Tensor", Any]] = field(default_factory=dict)
    generators: dict[int, list] = field(default_factory=dict)
    abandoned: str | None = None
    made_on_cuda: bool = False  # whether a tensor created in the trace was moved to CUDA

    def __post_init__(self) -> None:
        self.func = func_op(self.name, [])
        self.module.regions[0].blocks[0].append(self.func)
        self.block: Block = self.func.regions[0].blocks[0]
        self.builder = Builder(self.block)

    # --- binding tensors to values --------------------------------------------------------

    def bind(self, t: "Tensor", value: Value) -> None:
        self.bindings[id(t)] = Binding(t, value, t._storage.version)

    def add_argument(self, t: "Tensor", source: tuple) -> Value:
        """Make `t` a function argument; `source` says where its value comes from at run time:
        ("arg", i) the i-th flattened argument, ("tensor", t) a captured tensor, or
        ("seed", generator) / ("offset", generator)."""
        value = self.block.add_argument(t.type)
        self.bind(t, value)
        self.sources.append(source)
        self.argument_values[id(t)] = value
        # Arguments are lifted before any write to them, so this is the value on entry.
        self.entry_arrays.append(_copy(t._array))
        return value

    @property
    def lifted(self) -> list["Tensor"]:
        """The captured tensors made arguments, in argument order."""
        return [what for kind, what in self.sources if kind == "tensor"]

    def changed(self, t: "Tensor") -> bool:
        """Whether argument tensor `t` now stands for a value other than its argument."""
        return self.bindings[id(t)].value is not self.argument_values[id(t)]

    def value_of(self, t: "Tensor") -> Value:
        """The SSA value standing for tensor `t` now, lifting or materialising it as needed."""
        binding = self.bindings.get(id(t))
        if binding is not None and binding.tensor is t:
            if binding.version == t._storage.version or t._base is None:
                return binding.value
            return self._refresh_view(t)
        if t._base is not None and id(t._base) in self.bindings:
            return self._refresh_view(t)
        if getattr(t, "_trace_id", None) == self.id:
            return self._constant(t)
        return self.add_argument(t, ("tensor", t))

    def _refresh_view(self, t: "Tensor") -> Value:
        """A view's value, recomputed from its base after the base was written in place."""
        value = self.value_of(t._base)
        for op, attrs in t._view_ops:
            prim_type = self._infer(op, [value.type], attrs)
            value = self.builder.create(f"ember.{op}", [value], [prim_type], attrs).result
        self.bind(t, value)
        return value

    def _constant(self, t: "Tensor") -> Value:
        value = self.builder.create("ember.constant", [], [t.type],
                                    {"value": np.array(cuda_eager.move(t._array, CPU))}).result
        self.bind(t, value)
        return value

    @staticmethod
    def _infer(op: str, types, attrs):
        from ember.ir.primitive import PRIMITIVES

        return PRIMITIVES[op].infer(types, attrs)

    # --- recording ------------------------------------------------------------------------

    def record(self, op: str, operands, attrs: dict, out: "Tensor") -> None:
        """Append `ember.<op>` for an applied primitive whose eager result is `out`."""
        values = [self.value_of(t) for t in operands]
        self.bind(out, self.builder.create(f"ember.{op}", values, [out.type], attrs).result)

    def alias(self, new: "Tensor", old: "Tensor") -> None:
        """`new` shares `old`'s storage and value (detach, snapshots, parameters)."""
        self.bind(new, self.value_of(old))

    def rebind(self, t: "Tensor", new: "Tensor") -> None:
        """After an in-place write, `t` stands for the value of `new`."""
        self.value_of(t)  # lift t first, so a changed pre-existing tensor is written back
        self.bind(t, self.value_of(new))

    def transfer(self, source: "Tensor", out: "Tensor") -> bool:
        """Let `out`, a copy of `source` on a CUDA device, stand for `source`'s value if that
        is a scalar (a random draw's counters, an optimizer's step count) or depends on no input
        (a tensor created in the call): graph values have no device, such a graph runs on CUDA
        and host inputs are uploaded. False, recording nothing, for any other transfer."""
        if not out.is_cuda or source.ndim and not self._input_free(source):
            return False
        self.bind(out, self.value_of(source))
        self.made_on_cuda = True
        return True

    def _input_free(self, t: "Tensor") -> bool:
        """Whether `t`'s value depends on no input of the trace (a tensor made in the call)."""
        binding = self.bindings.get(id(t))
        if binding is None:
            return getattr(t, "_trace_id", None) == self.id
        owner = binding.value.owner
        return isinstance(owner, Operation) and not owner.operands

    def record_grad(self, t: "Tensor", grad) -> None:
        """Remember the last `.grad` assigned to `t` during the trace."""
        self.grad_writes[id(t)] = (t, grad)

    def random_counters(self, generator, count: int) -> tuple["Tensor", "Tensor"]:
        """Seed and offset tensors for a draw of `count` numbers, as graph inputs."""
        from ember.frontend.ops.elementwise import add
        from ember.frontend.tensor import Tensor
        from ember.ir import dtypes

        entry = self.generators.get(id(generator))
        if entry is None:
            seed = Tensor._wrap(np.array(generator.signed_seed(), dtype=np.int64))
            base = Tensor._wrap(np.array(generator._offset, dtype=np.int64))
            self.add_argument(seed, ("seed", generator))
            self.add_argument(base, ("offset", generator))
            entry = self.generators[id(generator)] = [generator, seed, base, 0]
        _, seed, base, used = entry
        entry[3] += count
        if used == 0:
            return seed, base
        return seed, add(base, Tensor._wrap(np.array(used, dtype=dtypes.int64.numpy)))

    def abandon(self, reason: str) -> None:
        """Stop recording: this call cannot be compiled, and finishes eagerly."""
        global ACTIVE
        if self.abandoned is None:
            self.abandoned = f"{reason} at {user_location()}"
        if ACTIVE is self:
            ACTIVE = None

    def on_value_read(self, t: "Tensor") -> None:
        """A tensor's values are being read by Python code: abandon if they depend on inputs."""
        if id(t) in self.bindings or getattr(t, "_trace_id", None) != self.id:
            self.abandon(f"the values of a traced tensor {list(t.shape)} ({t.dtype.name}) are "
                         f"read by Python code")


class tracing:
    """Context manager making `trace` the active recording."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    def __enter__(self) -> Trace:
        global ACTIVE
        if ACTIVE is not None:
            raise RuntimeError("ember.jit: nested tracing is not supported")
        ACTIVE = self.trace
        return self.trace

    def __exit__(self, *exc) -> None:
        global ACTIVE
        ACTIVE = None


def current() -> Trace | None:
    """The active trace, if any."""
    return ACTIVE

