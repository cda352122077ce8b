"""The loop-level verifier: structure, SSA scoping and types of func/scf/arith/math/memref IR.

It knows the ops `lower-to-loops` emits, with MLIR's rules for them (plain `mlir-opt` is the
stricter oracle, where installed): `builtin.module` of `func.func`s; `func.func` bodies that end
in `func.return` without operands (kernels write their results into memref arguments);
`scf.for` (index bounds, iter_args matching the results and the body's block arguments, a body
ending in a matching `scf.yield`), `scf.if` (an i1 condition, two regions yielding the
results); `memref.alloc/dealloc/load/store` (one index per dimension, the element type);
`arith` and `math` ops with operand and result types as MLIR requires. Values must be defined
before their use in the same block or an enclosing one, never across a function.

GPU-mapped loops IR (`map-to-gpu`) adds MLIR's `gpu` ops: a `gpu.module` of `gpu.func` kernels
(their entry block holds the arguments, then the workgroup-memory buffers), thread and block
ids, `gpu.barrier`, `gpu.shuffle`, and on the host `gpu.alloc`, `gpu.dealloc` and
`gpu.launch_func`.
"""

from __future__ import annotations

from typing import Callable

from ember.ir.attributes import UNIT, DialectAttr, ScalarAttr, SymbolRef
from ember.ir.core import Operation, Value
from ember.ir.types import INDEX, MemRefType, ScalarType
from ember.ir.verifier import _describe, _fail, verify

_FLOATS = {"f16", "bf16", "f32", "f64"}
_INTEGERS = {"i1", "i32", "i64"}
_FLOAT_BINARY = {"addf", "subf", "mulf", "divf", "remf", "maximumf", "minimumf"}
_INT_BINARY = {"addi", "subi", "muli", "minsi", "divsi", "remsi", "andi", "ori", "xori", "shrui"}
_MATH_FLOAT = {"exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tanh", "erf",
               "absf", "floor", "ceil", "roundeven"}
# cast name: (operand kind, result kind, how the widths compare: "<", ">" or None)
_CASTS = {
    "extf": ("float", "float", "<"), "truncf": ("float", "float", ">"),
    "extsi": ("int", "int", "<"), "extui": ("int", "int", "<"), "trunci": ("int", "int", ">"),
    "sitofp": ("int", "float", None), "fptosi": ("float", "int", None),
    "index_cast": ("intindex", "intindex", None),
}
_WIDTH = {"i1": 1, "i32": 32, "i64": 64, "f16": 16, "bf16": 16, "f32": 32, "f64": 64}


def is_loop_level(module: Operation) -> bool:
    """Whether `module` holds loop-level IR (memref arguments or standard-dialect ops)."""
    return any(op.dialect in ("scf", "arith", "math", "memref") for op in module.walk()) or any(
        isinstance(t, MemRefType) for op in module.walk() if op.name == "func.func"
        for t in op.attributes["function_type"].inputs)


def verify_any(module: Operation) -> None:
    """Verify `module` with the verifier of its level: graph or loops."""
    (verify_loops if is_loop_level(module) else verify)(module)


def verify_loops(op: Operation) -> None:
    """Check loop-level `op` and everything nested in it; VerifyError at the first problem."""
    _verify(op, set())


def _verify(op: Operation, visible: set[Value]) -> None:
    for i, value in enumerate(op.operands):
        if value not in visible:
            raise _fail(op, f"operand {i} ({_describe(value)}) is not in scope")
    rule = _RULES.get(op.name)
    if rule is None:
        raise _fail(op, "unknown operation at the loop level")
    rule(op)
    for region in op.regions:
        for block in region.blocks:
            scope = set() if op.name in _ISOLATED else set(visible)
            scope |= set(block.arguments)
            for i, inner in enumerate(block.operations):
                if inner.name in _TERMINATORS and i != len(block.operations) - 1:
                    raise _fail(inner, "terminator in the middle of a block")
                _verify(inner, scope)
                scope.update(inner.results)


def _kind(t) -> str:
    if not isinstance(t, ScalarType):
        return "memref" if isinstance(t, MemRefType) else "other"
    return "index" if t.is_index else "float" if t.name in _FLOATS else "int"


def _types(op: Operation) -> tuple[list, list]:
    return [v.type for v in op.operands], [v.type for v in op.results]


def _expect(op: Operation, condition: bool, what: str) -> None:
    if not condition:
        operands, results = _types(op)
        raise _fail(op, f"{what} (operands: {', '.join(map(str, operands)) or 'none'}; "
                        f"results: {', '.join(map(str, results)) or 'none'})")


def _terminator(op: Operation, region: int, name: str, types: list) -> None:
    for block in op.regions[region].blocks:
        last = block.operations[-1] if block.operations else None
        _expect(op, last is not None and last.name == name,
                f"region {region} must end with {name}")
        _expect(op, [v.type for v in last.operands] == types,
                f"{name} must give ({', '.join(map(str, types))})")


# --- op rules ----------------------------------------------------------------------------------

def _module(op: Operation) -> None:
    _expect(op, len(op.regions) == 1 and len(op.regions[0].blocks) == 1, "one block")
    for inner in op.regions[0].blocks[0].operations:
        _expect(inner, inner.name in ("func.func", "gpu.module"),
                "a module holds only func.func and gpu.module")


def _func(op: Operation) -> None:
    ft = op.attributes.get("function_type")
    blocks = op.regions[0].blocks if len(op.regions) == 1 else []
    _expect(op, len(blocks) == 1, "the body must be one block")
    _expect(op, [a.type for a in blocks[0].arguments] == list(ft.inputs),
            "block arguments must match the function type")
    _expect(op, not ft.results, "kernels return nothing (results go to memref arguments)")
    _terminator(op, 0, "func.return", [])


def _for(op: Operation) -> None:
    operands, results = _types(op)
    _expect(op, len(operands) >= 3 and operands[:3] == [INDEX] * 3,
            "lower bound, upper bound and step must be index values")
    _expect(op, operands[3:] == results, "iter_args must match the results")
    blocks = op.regions[0].blocks if len(op.regions) == 1 else []
    _expect(op, len(blocks) == 1 and [a.type for a in blocks[0].arguments] == [INDEX] + results,
            "the body must be one block with the induction variable and the iter_args")
    _terminator(op, 0, "scf.yield", results)


def _if(op: Operation) -> None:
    operands, results = _types(op)
    _expect(op, operands == [ScalarType("i1")] and len(op.regions) == 2,
            "an i1 condition and two regions")
    _expect(op, len(op.regions[0].blocks) == 1, "the then region must be one block")
    _expect(op, len(op.regions[1].blocks) == 1 or not results and not op.regions[1].blocks,
            "the else region must be one block (or empty without results)")
    _terminator(op, 0, "scf.yield", results)
    _terminator(op, 1, "scf.yield", results)


def _yield(op: Operation) -> None:
    parent = op.parent.parent.parent if op.parent and op.parent.parent else None
    _expect(op, parent is not None and parent.name in ("scf.for", "scf.if"),
            "must terminate an scf.for or scf.if region")


def _return(op: Operation) -> None:
    _expect(op, not op.operands and not op.results, "kernels return nothing")


def _alloc(op: Operation) -> None:
    operands, results = _types(op)
    _expect(op, not operands and len(results) == 1 and _kind(results[0]) == "memref",
            "no operands (static shapes) and one memref result")


def _dealloc(op: Operation) -> None:
    operands, results = _types(op)
    _expect(op, len(operands) == 1 and _kind(operands[0]) == "memref" and not results,
            "one memref operand, no results")


def _load(op: Operation) -> None:
    operands, results = _types(op)
    ok = operands and _kind(operands[0]) == "memref"
    _expect(op, ok and operands[1:] == [INDEX] * operands[0].rank
            and results == [operands[0].element], "a memref, one index per dimension, "
            "and its element type as the result")


def _store(op: Operation) -> None:
    operands, results = _types(op)
    ok = len(operands) >= 2 and _kind(operands[1]) == "memref"
    _expect(op, ok and not results and operands[0] == operands[1].element
            and operands[2:] == [INDEX] * operands[1].rank,
            "the element, a memref and one index per dimension")


def _locality_hint(attr) -> bool:
    """An i32 from 0 (no temporal locality) to 3 (keep in every cache level)."""
    return isinstance(attr, ScalarAttr) and attr.type == ScalarType("i32") and \
        attr.value in range(4)


def _prefetch(op: Operation) -> None:
    operands, results = _types(op)
    ok = len(operands) >= 1 and _kind(operands[0]) == "memref"
    _expect(op, ok and not results and operands[1:] == [INDEX] * operands[0].rank
            and isinstance(op.attributes.get("isWrite"), bool)
            and isinstance(op.attributes.get("isDataCache"), bool)
            and _locality_hint(op.attributes.get("localityHint")),
            "a memref, one index per dimension, isWrite, isDataCache and localityHint (0-3)")


def _constant(op: Operation) -> None:
    _, results = _types(op)
    _expect(op, not op.operands and len(results) == 1 and "value" in op.attributes,
            "no operands, a value attribute and one result")


def _same(kinds: set[str]) -> Callable[[Operation], None]:
    """Operands and result all of one type of the given kinds."""

    def rule(op: Operation) -> None:
        operands, results = _types(op)
        _expect(op, len(results) == 1 and all(t == results[0] for t in operands)
                and _kind(results[0]) in kinds, f"operands and result of one {'/'.join(kinds)} "
                                               f"type")

    return rule


def _compare(kinds: set[str]) -> Callable[[Operation], None]:
    def rule(op: Operation) -> None:
        operands, results = _types(op)
        _expect(op, len(operands) == 2 and operands[0] == operands[1]
                and _kind(operands[0]) in kinds and results == [ScalarType("i1")]
                and isinstance(op.attributes.get("predicate"), int),
                "two operands of one type, an integer predicate and an i1 result")

    return rule


def _select(op: Operation) -> None:
    operands, results = _types(op)
    _expect(op, len(operands) == 3 and operands[0] == ScalarType("i1")
            and operands[1] == operands[2] == results[0], "(i1, T, T) -> T")


def _cast(name: str) -> Callable[[Operation], None]:
    source, target, width = _CASTS[name]

    def fits(t, kind: str) -> bool:
        return _kind(t) in (("int", "index") if kind == "intindex" else (kind,))

    def rule(op: Operation) -> None:
        operands, results = _types(op)
        ok = len(operands) == len(results) == 1 and fits(operands[0], source) \
            and fits(results[0], target)
        if ok and width:
            a, b = _WIDTH[operands[0].name], _WIDTH[results[0].name]
            ok = a < b if width == "<" else a > b
        _expect(op, ok, f"a {name} from {source} to {target}")

    return rule


# --- gpu -------------------------------------------------------------------------------------

def _gpu_module(op: Operation) -> None:
    _expect(op, isinstance(op.attributes.get("sym_name"), str) and len(op.regions) == 1
            and len(op.regions[0].blocks) == 1, "a name and one block")
    for inner in op.regions[0].blocks[0].operations:
        _expect(inner, inner.name == "gpu.func", "a gpu.module holds only gpu.func")


def _gpu_func(op: Operation) -> None:
    ft = op.attributes.get("function_type")
    workgroup = op.attributes.get("workgroup_attributions", 0)
    blocks = op.regions[0].blocks if len(op.regions) == 1 else []
    _expect(op, len(blocks) == 1 and op.attributes.get("gpu.kernel") is UNIT,
            "a kernel (gpu.kernel) whose body is one block")
    types = [a.type for a in blocks[0].arguments]
    _expect(op, types[:len(types) - workgroup] == list(ft.inputs) and not ft.results,
            "block arguments must be the function's inputs, then its workgroup buffers")
    _expect(op, all(isinstance(t, MemRefType) and t.memory_space == 3
                    for t in types[len(types) - workgroup:]),
            "workgroup buffers must be memrefs in memory space 3")
    _terminator(op, 0, "gpu.return", [])


def _gpu_id(op: Operation) -> None:
    operands, results = _types(op)
    _expect(op, not operands and results == [INDEX]
            and isinstance(op.attributes.get("dimension"), DialectAttr),
            "no operands, a dimension and an index result")


def _shuffle(op: Operation) -> None:
    operands, results = _types(op)
    i32 = ScalarType("i32")
    _expect(op, len(operands) == 3 and operands[1:] == [i32, i32]
            and results == [operands[0], ScalarType("i1")]
            and isinstance(op.attributes.get("mode"), DialectAttr),
            "(value, offset: i32, width: i32) -> (value, i1) and a mode")


def _gpu_alloc(op: Operation) -> None:
    operands, results = _types(op)
    _expect(op, not operands and len(results) == 1 and _kind(results[0]) == "memref",
            "no operands (static shapes) and one memref result")


def _launch(op: Operation) -> None:
    operands, _ = _types(op)
    _expect(op, isinstance(op.attributes.get("kernel"), SymbolRef) and not op.results
            and operands[:6] == [INDEX] * 6
            and all(_kind(t) in ("memref", "index", "int", "float") for t in operands[6:]),
            "a kernel symbol, grid and block sizes (6 index values), then the arguments")


def _no_operands(op: Operation) -> None:
    _expect(op, not op.operands and not op.results, "no operands and no results")


_ISOLATED = ("builtin.module", "func.func", "gpu.module", "gpu.func")
_TERMINATORS = ("scf.yield", "func.return", "gpu.return")

_RULES = {
    "builtin.module": _module, "func.func": _func, "func.return": _return,
    "scf.for": _for, "scf.if": _if, "scf.yield": _yield,
    "memref.alloc": _alloc, "memref.dealloc": _dealloc, "memref.load": _load,
    "memref.store": _store, "memref.prefetch": _prefetch, "arith.constant": _constant,
    "arith.select": _select,
    "arith.negf": _same({"float"}), "arith.cmpf": _compare({"float"}),
    "arith.cmpi": _compare({"int", "index"}), "math.atan2": _same({"float"}),
    "math.powf": _same({"float"}), "math.absi": _same({"int"}),
    **{f"arith.{n}": _same({"float"}) for n in _FLOAT_BINARY},
    **{f"arith.{n}": _same({"int", "index"}) for n in _INT_BINARY},
    **{f"math.{n}": _same({"float"}) for n in _MATH_FLOAT},
    **{f"arith.{n}": _cast(n) for n in _CASTS},
    "gpu.module": _gpu_module, "gpu.func": _gpu_func, "gpu.return": _no_operands,
    "gpu.barrier": _no_operands, "gpu.shuffle": _shuffle, "gpu.alloc": _gpu_alloc,
    "gpu.dealloc": _dealloc, "gpu.launch_func": _launch,
    **{f"gpu.{n}": _gpu_id for n in ("thread_id", "block_id", "block_dim", "grid_dim")},
}
