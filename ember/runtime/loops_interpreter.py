"""A plain interpreter of loop-level IR (func/scf/arith/math/memref): the oracle for codegen.

It runs a kernel entry of the `lower-to-loops` calling convention one scalar op at a time:
memrefs are NumPy arrays, `index` values Python ints, other scalars NumPy scalars of their
type (so float32 arithmetic rounds as float32, integers wrap). Slow by design; use tiny shapes.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from ember.ir.attributes import ScalarAttr
from ember.ir.core import Block, Operation, functions
from ember.ir.types import MemRefType, ScalarType
from ember.runtime.status import index_error

Handler = Callable[[Operation, list], list]
_UNSIGNED = {np.dtype(np.int64): np.uint64, np.dtype(np.int32): np.uint32,
             np.dtype(np.bool_): np.uint8}


def run_loops(module: Operation, inputs: Sequence[np.ndarray],
              name: str | None = None) -> list[np.ndarray]:
    """Run kernel entry `name` (default: the first function) on `inputs`: its result arrays.
    A result stored in an input's buffer (`donate-buffers`) is a copy of that input, updated.

    Raises IndexError naming the op when the kernel reports an out-of-range index.
    """
    candidates = [f for f in functions(module) if name in (None, f.attributes["sym_name"])]
    if not candidates:
        raise ValueError(f"run_loops: no function @{name}")
    func = candidates[0]
    types = func.attributes["function_type"].inputs
    if len(inputs) > len(types) - 1:
        raise ValueError(f"run_loops: {len(inputs)} inputs for a kernel of {len(types)} buffers")
    donated = func.attributes.get("ember.results_in_arguments", ())
    written = set(donated[1::2])
    buffers = [np.array(x, t.dtype.numpy, order="C", copy=i in written or None)
               for i, (x, t) in enumerate(zip(inputs, types))]
    outputs = [np.zeros(t.shape, t.dtype.numpy) for t in types[len(inputs):-1]]
    status = np.zeros(4, np.int64)
    with np.errstate(all="ignore"):
        _run_block(func.regions[0].blocks[0], buffers + outputs + [status], {})
    if status[0]:
        error_ops = func.attributes.get("ember.error_ops", "")
        raise index_error(status, error_ops.split(",") if error_ops else [])
    for position, argument in sorted(zip(donated[::2], donated[1::2])):
        outputs.insert(position - len(inputs), buffers[argument])
    return outputs


def _run_block(block: Block, arguments: Sequence, env: dict) -> list:
    """Run `block` with `arguments`; the operands of its terminator."""
    env.update(zip(block.arguments, arguments))
    for op in block.operations:
        operands = [env[v] for v in op.operands]
        if op.name in ("scf.yield", "func.return"):
            return operands
        handler = _HANDLERS.get(op.name)
        if handler is None:
            raise NotImplementedError(f"run_loops: no semantics for {op.name}")
        env.update(zip(op.results, handler(op, operands, env)))
    return []


def _cast(value, type: ScalarType):
    """`value` as a scalar of `type` (an int for index)."""
    if type.is_index:
        return int(value)
    return np.array(value).astype(type.dtype.numpy)[()]


def _result(fn) -> Handler:
    """A handler from a function of the operand values to the single result's value."""
    return lambda op, xs, env: [_cast(fn(*xs), op.results[0].type)]


def _op(name: str, attribute_fn) -> Handler:
    """A handler whose function also takes the op's attributes (cmpf, cmpi)."""
    return lambda op, xs, env: [_cast(attribute_fn(op.attributes[name], *xs),
                                      op.results[0].type)]


# --- scf -------------------------------------------------------------------------------------

def _for(op: Operation, operands: list, env: dict) -> list:
    lower, upper, step, *accs = operands
    body = op.regions[0].blocks[0]
    for i in range(lower, upper, step):
        accs = _run_block(body, [i, *accs], env)
    return accs


def _if(op: Operation, operands: list, env: dict) -> list:
    region = op.regions[0 if operands[0] else 1]
    return _run_block(region.blocks[0], [], env) if region.blocks else []


# --- memref ----------------------------------------------------------------------------------

def _alloc(op: Operation, operands: list, env: dict) -> list:
    type: MemRefType = op.results[0].type
    return [np.zeros(type.shape, type.dtype.numpy)]


def _load(op: Operation, operands: list, env: dict) -> list:
    buffer, *indices = operands
    return [buffer[tuple(indices)]]


def _store(op: Operation, operands: list, env: dict) -> list:
    value, buffer, *indices = operands
    buffer[tuple(indices)] = value
    return []


def _prefetch(op: Operation, operands: list, env: dict) -> list:
    """A hint, which changes nothing; its address must still be in bounds, as a load's."""
    _load(op, operands, env)
    return []


# --- arith -----------------------------------------------------------------------------------

def _constant(op: Operation, operands: list, env: dict) -> list:
    value = op.attributes["value"]
    return [_cast(value.value if isinstance(value, ScalarAttr) else value, op.results[0].type)]


def _unsigned(x):
    """The unsigned reading of an integer scalar's bits."""
    return np.array(x).view(_UNSIGNED[np.array(x).dtype])[()]


def _trunc_div(a, b):
    """C-style division, rounding toward zero (Python's // rounds down)."""
    q = abs(int(a)) // abs(int(b))
    return q if (a < 0) == (b < 0) else -q


def _trunc_rem(a, b):
    return int(a) - int(b) * _trunc_div(a, b)


_CMPF = {
    1: lambda a, b: a == b, 2: lambda a, b: a > b, 3: lambda a, b: a >= b,
    4: lambda a, b: a < b, 5: lambda a, b: a <= b,
    6: lambda a, b: a != b and not (np.isnan(a) or np.isnan(b)),
    7: lambda a, b: not (np.isnan(a) or np.isnan(b)), 13: lambda a, b: not a == b,
    14: lambda a, b: bool(np.isnan(a) or np.isnan(b)),
}
_CMPI = {
    0: lambda a, b: a == b, 1: lambda a, b: a != b, 2: lambda a, b: a < b,
    3: lambda a, b: a <= b, 4: lambda a, b: a > b, 5: lambda a, b: a >= b,
    6: lambda a, b: _unsigned(a) < _unsigned(b), 7: lambda a, b: _unsigned(a) <= _unsigned(b),
    8: lambda a, b: _unsigned(a) > _unsigned(b), 9: lambda a, b: _unsigned(a) >= _unsigned(b),
}


def _wrapping(fn) -> Handler:
    """Integer arithmetic that wraps at the type's width (index values are Python ints)."""

    def handler(op: Operation, xs: list, env: dict) -> list:
        type = op.results[0].type
        if type.is_index:
            return [int(fn(*(int(x) for x in xs)))]
        bits = 8 * np.dtype(type.dtype.numpy).itemsize
        value = fn(*(int(x) for x in xs)) % (1 << bits)
        return [np.array(value, np.uint64).astype(type.dtype.numpy)[()]]

    return handler


def _shrui(op: Operation, xs: list, env: dict) -> list:
    x, shift = xs
    return [_cast(np.array(int(_unsigned(x)) >> int(shift)).astype(np.uint64).view(np.int64),
                  op.results[0].type)]


def _extui(op: Operation, xs: list, env: dict) -> list:
    return [_cast(int(_unsigned(xs[0])), op.results[0].type)]


def _fptosi(x):
    return math.trunc(float(x)) if np.isfinite(x) else 0


def _launch(op: Operation, operands: list) -> list:
    from ember.runtime.simt_interpreter import launch  # it reuses this module's handlers

    return launch(op, operands)


_erf = np.vectorize(math.erf, otypes=[np.float64])

_HANDLERS: dict[str, Handler] = {
    "scf.for": _for,
    "scf.if": _if,
    "memref.alloc": _alloc,
    "memref.dealloc": lambda op, xs, env: [],
    "gpu.alloc": _alloc,
    "gpu.dealloc": lambda op, xs, env: [],
    "gpu.launch_func": lambda op, xs, env: _launch(op, xs),
    "memref.load": _load,
    "memref.store": _store,
    "memref.prefetch": _prefetch,
    "arith.constant": _constant,
    "arith.addf": _result(lambda a, b: a + b),
    "arith.subf": _result(lambda a, b: a - b),
    "arith.mulf": _result(lambda a, b: a * b),
    "arith.divf": _result(lambda a, b: np.divide(a, b)),
    "arith.remf": _result(np.fmod),
    "arith.negf": _result(lambda a: -a),
    "arith.maximumf": _result(np.maximum),
    "arith.minimumf": _result(np.minimum),
    "arith.addi": _wrapping(lambda a, b: a + b),
    "arith.subi": _wrapping(lambda a, b: a - b),
    "arith.muli": _wrapping(lambda a, b: a * b),
    "arith.minsi": _wrapping(min),
    "arith.divsi": _wrapping(_trunc_div),
    "arith.remsi": _wrapping(_trunc_rem),
    "arith.andi": _wrapping(lambda a, b: a & b),
    "arith.ori": _wrapping(lambda a, b: a | b),
    "arith.xori": _wrapping(lambda a, b: a ^ b),
    "arith.shrui": _shrui,
    "arith.cmpf": _op("predicate", lambda p, a, b: _CMPF[p](a, b)),
    "arith.cmpi": _op("predicate", lambda p, a, b: _CMPI[p](a, b)),
    "arith.select": lambda op, xs, env: [xs[1] if xs[0] else xs[2]],
    "arith.index_cast": _result(int),
    "arith.sitofp": _result(int),
    "arith.fptosi": _result(_fptosi),
    "arith.extf": _result(lambda a: a),
    "arith.truncf": _result(lambda a: a),
    "arith.extsi": _result(int),
    "arith.trunci": _wrapping(lambda a: a),
    "arith.extui": _extui,
    "math.exp": _result(np.exp),
    "math.log": _result(np.log),
    "math.log1p": _result(np.log1p),
    "math.expm1": _result(np.expm1),
    "math.sqrt": _result(np.sqrt),
    "math.rsqrt": _result(lambda a: 1 / np.sqrt(a)),
    "math.sin": _result(np.sin),
    "math.cos": _result(np.cos),
    "math.tanh": _result(np.tanh),
    "math.erf": _result(lambda a: _erf(np.float64(a))),
    "math.absf": _result(np.abs),
    "math.absi": _wrapping(abs),
    "math.floor": _result(np.floor),
    "math.ceil": _result(np.ceil),
    "math.roundeven": _result(np.round),
    "math.atan2": _result(np.arctan2),
    "math.powf": _result(np.power),
}
