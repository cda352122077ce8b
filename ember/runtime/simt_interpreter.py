"""The threads of a `gpu.launch_func`, run by NumPy: the oracle for GPU-mapped loops IR.

Every thread of the grid is a lane of NumPy arrays: a value is an array with one entry per
thread (or a plain scalar where it is the same in all), and each operation runs once for all
threads, in program order (lock-step, so `gpu.barrier` needs no work: everything before it
has happened in every thread). `scf.if` on a per-thread condition runs each branch with the
threads it selects (stores and shuffles of the others are masked off, their loads read
element 0); `scf.for` bounds must be the same in every thread. `gpu.shuffle` reads the value
of the partner lane; workgroup memory has one copy per block. Scalar semantics are those of
`loops_interpreter` (float ops reuse its handlers; integer ops wrap in NumPy's fixed-width
types as its do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ember.ir.core import Block, Operation
from ember.ir.types import ScalarType
from ember.runtime import loops_interpreter


@dataclass
class _Threads:
    thread: np.ndarray  # per lane: thread id in its block
    block: np.ndarray  # per lane: block id
    threads: int  # per block
    grid: int  # blocks


@dataclass
class _Shared:
    """A workgroup buffer: one array per block, stacked on a leading axis."""

    array: np.ndarray


def launch(op: Operation, operands: list) -> list:
    """Run the kernel `gpu.launch_func` op names on its grid with `operands` (host values)."""
    grid, _, _, threads, _, _, *arguments = (
        [int(x) for x in operands[:6]] + list(operands[6:]))
    run_kernel(_kernel(op), grid, threads, arguments)
    return []


def run_kernel(func: Operation, grid: int, threads: int, arguments: list) -> None:
    """Run `gpu.func` `func` on `grid` blocks of `threads` threads (x only: the kernels
    `map-to-gpu` makes are one-dimensional) with `arguments`, host arrays it may write."""
    block = func.regions[0].blocks[0]
    lanes = np.arange(grid * threads)
    ctx = _Threads(lanes % threads, lanes // threads, threads, grid)
    workgroup = [_Shared(np.zeros((grid, *a.type.shape), a.type.dtype.numpy))
                 for a in block.arguments[len(arguments):]]
    env = dict(zip(block.arguments, list(arguments) + workgroup))
    with np.errstate(all="ignore"):
        _run(block, env, np.ones(len(lanes), bool), ctx)


def _kernel(op: Operation) -> Operation:
    """The gpu.func that launch op `op` refers to (`@module::@func`)."""
    module_name, func_name = op.attributes["kernel"]
    module = op
    while module.name != "builtin.module":
        module = module.parent.parent.parent
    for gpu_module in module.regions[0].blocks[0].operations:
        if gpu_module.name == "gpu.module" and gpu_module.attributes["sym_name"] == module_name:
            for func in gpu_module.regions[0].blocks[0].operations:
                if func.attributes.get("sym_name") == func_name:
                    return func
    raise ValueError(f"gpu.launch_func: no kernel @{module_name}::@{func_name}")


def _run(block: Block, env: dict, mask: np.ndarray, ctx: _Threads) -> list:
    """Run `block` for the lanes in `mask`; the operands of its terminator."""
    for op in block.operations:
        operands = [env[v] for v in op.operands]
        if op.name in ("scf.yield", "gpu.return"):
            return operands
        handler = _HANDLERS.get(op.name)
        if handler is None:
            raise NotImplementedError(f"simt interpreter: no semantics for {op.name}")
        env.update(zip(op.results, handler(op, operands, env, mask, ctx)))
    return []


def _uniform(value, mask: np.ndarray, what: str) -> int:
    if np.ndim(value) == 0:
        return int(value)
    active = np.asarray(value)[mask]
    if active.size and (active != active[0]).any():
        raise NotImplementedError(f"simt interpreter: {what} differs between threads")
    return int(active[0]) if active.size else 0


# --- scf -------------------------------------------------------------------------------------

def _for(op: Operation, operands: list, env: dict, mask, ctx) -> list:
    lower, upper, step = (_uniform(x, mask, "an scf.for bound") for x in operands[:3])
    accs = operands[3:]
    body = op.regions[0].blocks[0]
    for i in range(lower, upper, step):
        env[body.arguments[0]] = i
        env.update(zip(body.arguments[1:], accs))
        accs = _run(body, env, mask, ctx)
    return accs


def _if(op: Operation, operands: list, env: dict, mask, ctx) -> list:
    condition = operands[0]
    regions = [r for r in op.regions]
    if np.ndim(condition) == 0:
        region = regions[0 if condition else 1]
        return _run(region.blocks[0], env, mask, ctx) if region.blocks else []
    condition = np.asarray(condition, bool)
    results = []
    for region, selected in zip(regions, (mask & condition, mask & ~condition)):
        if region.blocks and selected.any():
            results.append(_run(region.blocks[0], env, selected, ctx))
        else:
            results.append(None)
    then, other = results
    if not op.results:
        return []
    if then is None or other is None:
        return then if other is None else other
    return [np.where(condition, a, b).astype(np.result_type(a, b)) for a, b in zip(then, other)]


# --- memory ----------------------------------------------------------------------------------

def _indices(buffer, indices: list, mask, ctx) -> tuple:
    """Index arrays for `buffer` (masked-off lanes at element 0), block ids first for
    workgroup memory."""
    indices = [np.where(mask, i, 0) if np.ndim(i) else i for i in indices]
    if isinstance(buffer, _Shared):
        indices = [ctx.block] + indices
    return tuple(indices)


def _load(op: Operation, operands: list, env, mask, ctx) -> list:
    buffer, *indices = operands
    array = buffer.array if isinstance(buffer, _Shared) else buffer
    return [array[_indices(buffer, indices, mask, ctx)]]


def _store(op: Operation, operands: list, env, mask, ctx) -> list:
    value, buffer, *indices = operands
    array = buffer.array if isinstance(buffer, _Shared) else buffer
    index = _indices(buffer, indices, mask, ctx)
    if all(np.ndim(i) == 0 for i in index) and np.ndim(value) == 0:
        if mask.any():
            array[index] = value
        return []
    lanes = len(mask)
    values = np.broadcast_to(value, lanes)[mask]
    if not index:  # a rank-0 buffer: of racing writers, the last lane's value stays
        if values.size:
            array[()] = values[-1]
        return []
    array[tuple(np.broadcast_to(i, lanes)[mask] for i in index)] = values
    return []


# --- gpu -------------------------------------------------------------------------------------

def _shuffle(op: Operation, operands: list, env, mask, ctx) -> list:
    value, offset, width = operands
    if op.attributes["mode"].text != "#gpu<shuffle_mode xor>":
        raise NotImplementedError(f"simt interpreter: {op.attributes['mode'].text} shuffles")
    offset, width = int(offset), int(width)
    partner = ctx.thread ^ offset
    valid = (partner < ctx.threads) & (partner // width == ctx.thread // width)
    source = np.where(valid, ctx.block * ctx.threads + partner, np.arange(len(mask)))
    return [np.broadcast_to(value, len(mask))[source], valid]


def _barrier(op: Operation, operands: list, env, mask, ctx) -> list:
    if not mask.all():
        raise NotImplementedError("simt interpreter: gpu.barrier in divergent code")
    return []


_IDS: dict[str, Callable[[_Threads], object]] = {
    "gpu.thread_id": lambda ctx: ctx.thread, "gpu.block_id": lambda ctx: ctx.block,
    "gpu.block_dim": lambda ctx: ctx.threads, "gpu.grid_dim": lambda ctx: ctx.grid,
}


# --- arith -----------------------------------------------------------------------------------

def _numpy(t: ScalarType) -> np.dtype:
    return np.dtype(np.int64) if t.is_index else np.dtype(t.dtype.numpy)


def _typed(fn) -> Callable:
    """A handler applying `fn` to the operands as arrays of the result's NumPy type."""
    def handler(op, xs, env, mask, ctx) -> list:
        dtype = _numpy(op.results[0].type)
        return [np.asarray(fn(*(np.asarray(x, dtype) for x in xs))).astype(dtype)]
    return handler


def _converted(fn) -> Callable:
    """A handler whose result is `fn(operand)` converted to the result's type."""
    return lambda op, xs, env, mask, ctx: [
        np.asarray(fn(np.asarray(xs[0]))).astype(_numpy(op.results[0].type))]


def _divide(a, b, remainder: bool):
    """C division (toward zero) of integer arrays; a zero divisor gives 0, as NumPy does."""
    zero = b == 0
    safe = np.where(zero, 1, b)
    q = a // safe
    q = q + ((a - q * safe != 0) & ((a < 0) != (safe < 0)))
    out = a - q * safe if remainder else q
    return np.where(zero, 0, out)


def _unsigned(x):
    x = np.asarray(x)
    return x.view(np.dtype(f"u{x.dtype.itemsize}")) if x.dtype != bool else x


_CMPF = {
    0: lambda a, b: np.zeros(np.broadcast(a, b).shape, bool),
    1: np.equal, 2: np.greater, 3: np.greater_equal, 4: np.less, 5: np.less_equal,
    6: lambda a, b: (a != b) & ~(np.isnan(a) | np.isnan(b)),
    7: lambda a, b: ~(np.isnan(a) | np.isnan(b)),
    8: lambda a, b: (a == b) | np.isnan(a) | np.isnan(b),
    9: lambda a, b: ~(a <= b), 10: lambda a, b: ~(a < b), 11: lambda a, b: ~(a >= b),
    12: lambda a, b: ~(a > b), 13: lambda a, b: ~(a == b),
    14: lambda a, b: np.isnan(a) | np.isnan(b),
    15: lambda a, b: np.ones(np.broadcast(a, b).shape, bool),
}
_CMPI = {
    0: np.equal, 1: np.not_equal, 2: np.less, 3: np.less_equal, 4: np.greater,
    5: np.greater_equal, 6: lambda a, b: _unsigned(a) < _unsigned(b),
    7: lambda a, b: _unsigned(a) <= _unsigned(b), 8: lambda a, b: _unsigned(a) > _unsigned(b),
    9: lambda a, b: _unsigned(a) >= _unsigned(b),
}


def _compare(table: dict) -> Callable:
    def handler(op, xs, env, mask, ctx) -> list:
        a, b = (np.asarray(x) for x in xs)
        if op.name == "arith.cmpi" and a.dtype != b.dtype:
            a, b = a.astype(np.int64), b.astype(np.int64)  # index values: ints and int64
        return [np.asarray(table[op.attributes["predicate"]](a, b), bool)]
    return handler


def _select(op, xs, env, mask, ctx) -> list:
    dtype = _numpy(op.results[0].type)
    return [np.where(xs[0], np.asarray(xs[1], dtype), np.asarray(xs[2], dtype))]


def _fptosi(x):
    return np.trunc(np.where(np.isfinite(x), x, 0))


def _extui(op, xs, env, mask, ctx) -> list:
    return [_unsigned(xs[0]).astype(_numpy(op.results[0].type))]


def _shrui(op, xs, env, mask, ctx) -> list:
    dtype = _numpy(op.results[0].type)
    x = _unsigned(np.asarray(xs[0], dtype))
    return [(x >> np.asarray(xs[1]).astype(x.dtype)).view(dtype)]


def _scalar(name: str) -> Callable:
    """A float handler of the loops interpreter (NumPy ufuncs: they take arrays as well)."""
    handler = loops_interpreter._HANDLERS[name]
    return lambda op, xs, env, mask, ctx: handler(op, xs, env)


_FLOAT_OPS = ["arith.constant", "arith.addf", "arith.subf", "arith.mulf", "arith.divf",
              "arith.remf", "arith.negf", "arith.maximumf", "arith.minimumf", "arith.extf",
              "arith.truncf", "math.exp", "math.log", "math.log1p", "math.expm1", "math.sqrt",
              "math.rsqrt", "math.sin", "math.cos", "math.tanh", "math.erf", "math.absf",
              "math.floor", "math.ceil", "math.roundeven", "math.atan2", "math.powf"]

_HANDLERS: dict[str, Callable] = {
    "scf.for": _for,
    "scf.if": _if,
    "memref.load": _load,
    "memref.store": _store,
    "gpu.shuffle": _shuffle,
    "gpu.barrier": _barrier,
    **{name: (lambda fn: lambda op, xs, env, mask, ctx: [fn(ctx)])(fn)
       for name, fn in _IDS.items()},
    **{name: _scalar(name) for name in _FLOAT_OPS},
    "arith.addi": _typed(np.add),
    "arith.subi": _typed(np.subtract),
    "arith.muli": _typed(np.multiply),
    "arith.divsi": _typed(lambda a, b: _divide(a, b, False)),
    "arith.remsi": _typed(lambda a, b: _divide(a, b, True)),
    "arith.andi": _typed(np.bitwise_and),
    "arith.ori": _typed(np.bitwise_or),
    "arith.xori": _typed(np.bitwise_xor),
    "arith.shrui": _shrui,
    "arith.cmpf": _compare(_CMPF),
    "arith.cmpi": _compare(_CMPI),
    "arith.select": _select,
    "arith.index_cast": _converted(lambda x: x),
    "arith.sitofp": _converted(lambda x: x),
    "arith.fptosi": _converted(_fptosi),
    "arith.extsi": _converted(lambda x: x),
    "arith.trunci": _converted(lambda x: x),
    "arith.extui": _extui,
    "math.absi": _typed(np.abs),
}
