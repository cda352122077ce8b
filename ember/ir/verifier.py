"""The graph-level verifier: structure, SSA dominance, types and the op table's shape rules.

Known ops: `builtin.module` (a single block of `func.func`s, no terminator), `func.func` (one
block whose arguments match `function_type` and which ends in `func.return`), `func.return`
(its operand types are the function's result types) and `ember.<primitive>` for every entry of
PRIMITIVES (the schema's attributes, exactly; the result type `Primitive.infer` gives), and
`ember.fusion` (one fused kernel: a single-block region isolated from above, whose arguments take
the operands' types and whose `ember.yield` gives the results; a string `kernel` attribute).
Discardable attributes (names starting with `ember.`, as in MLIR) are allowed on any op; the
rules above check the others.
"""

from __future__ import annotations

from ember.ir.core import FunctionType, Operation, Value
from ember.ir.primitive import PRIMITIVES

TERMINATORS = {"func.return", "ember.yield"}
# Ops whose regions see no values from outside (their bodies use only block arguments).
ISOLATED = {"builtin.module", "func.func", "ember.fusion"}


class VerifyError(ValueError):
    """IR that breaks a rule; the message names the op (and its `line:column` if parsed)."""


def verify(op: Operation) -> None:
    """Check `op` and everything nested in it; raise VerifyError at the first problem."""
    _verify_op(op, set())


def _fail(op: Operation, message: str) -> VerifyError:
    where = "{}:{}: ".format(*op.location) if op.location else ""
    func = _enclosing_func(op)
    context = f" in @{func.attributes.get('sym_name')}" if func is not None and func is not op \
        else ""
    return VerifyError(f"{where}{op.name}{context}: {message}")


def _enclosing_func(op: Operation) -> Operation | None:
    while op is not None and op.name != "func.func":
        block = op.parent
        op = block.parent.parent if block is not None and block.parent is not None else None
    return op


def _describe(value: Value) -> str:
    if value.is_block_argument:
        return f"argument {value.index} of a block that does not enclose this use"
    owner = value.owner
    where = " at {}:{}".format(*owner.location) if owner.location else ""
    return f"result {value.index} of {owner.name}{where}, which does not come before this use"


def _verify_op(op: Operation, visible: set[Value]) -> None:
    """`visible`: the values defined before `op` in its block and in the enclosing blocks."""
    for i, value in enumerate(op.operands):
        if value not in visible:
            raise _fail(op, f"operand {i} ({_describe(value)}) is not in scope")
    rule = _RULES.get(op.name)
    if rule is None and op.dialect == "ember" and op.opname in PRIMITIVES:
        rule = _verify_primitive
    if rule is None:
        raise _fail(op, "unknown operation (graph-level IR knows builtin.module, func.func, "
                        "func.return, ember.fusion, ember.yield and ember.<primitive>)")
    rule(op)
    isolated = op.name in ISOLATED
    for region in op.regions:
        for block in region.blocks:
            scope = (set() if isolated else set(visible)) | set(block.arguments)
            for i, inner in enumerate(block.operations):
                if inner.name in TERMINATORS and i != len(block.operations) - 1:
                    raise _fail(inner, "terminator in the middle of a block")
                _verify_op(inner, scope)
                scope.update(inner.results)


def _verify_shape(op: Operation, operands: int | None, results: int, regions: int) -> None:
    if operands is not None and len(op.operands) != operands:
        raise _fail(op, f"expected {operands} operands, got {len(op.operands)}")
    if len(op.results) != results:
        raise _fail(op, f"expected {results} results, got {len(op.results)}")
    if len(op.regions) != regions:
        raise _fail(op, f"expected {regions} regions, got {len(op.regions)}")


def _verify_module(op: Operation) -> None:
    _verify_shape(op, 0, 0, 1)
    blocks = op.regions[0].blocks
    if len(blocks) != 1 or blocks[0].arguments:
        raise _fail(op, "the body must be one block without arguments")
    names = set()
    for inner in blocks[0].operations:
        if inner.name != "func.func":
            raise _fail(inner, "a module holds only func.func operations")
        name = inner.attributes.get("sym_name")
        if name in names:
            raise _fail(inner, f"redefinition of symbol @{name}")
        names.add(name)


def _verify_func(op: Operation) -> None:
    _verify_shape(op, 0, 0, 1)
    ft = op.attributes.get("function_type")
    if not isinstance(op.attributes.get("sym_name"), str) or not isinstance(ft, FunctionType):
        raise _fail(op, "needs a string sym_name and a FunctionType function_type attribute")
    blocks = op.regions[0].blocks
    if len(blocks) != 1:
        raise _fail(op, f"the body must be exactly one block, got {len(blocks)}")
    arg_types = tuple(a.type for a in blocks[0].arguments)
    if arg_types != ft.inputs:
        raise _fail(op, f"entry block arguments ({', '.join(map(str, arg_types))}) do not match "
                        f"the function type {ft}")
    ops = blocks[0].operations
    if not ops or ops[-1].name != "func.return":
        last = f" (it ends with {ops[-1].name})" if ops else " (it is empty)"
        raise _fail(op, f"missing terminator: the body must end with func.return{last}")


def _verify_return(op: Operation) -> None:
    _verify_shape(op, None, 0, 0)
    func = _enclosing_func(op)
    if func is None or op.parent is None or op.parent.parent is None \
            or op.parent.parent.parent is not func:
        raise _fail(op, "must be directly inside a func.func body")
    ft = func.attributes.get("function_type")
    types = tuple(v.type for v in op.operands)
    if isinstance(ft, FunctionType) and types != ft.results:
        raise _fail(op, f"returns ({', '.join(map(str, types))}) but the function type is {ft}")
    if op.inherent_attributes:
        raise _fail(op, f"takes no attributes, got {sorted(op.inherent_attributes)}")


def _verify_primitive(op: Operation) -> None:
    prim = PRIMITIVES[op.opname]
    _verify_shape(op, None if prim.variadic else len(prim.operands), 1, 0)
    if prim.variadic and not op.operands:
        raise _fail(op, "expected at least one operand")
    attrs = op.inherent_attributes
    missing = [a for a in prim.attrs if a not in attrs]
    unknown = sorted(a for a in attrs if a not in prim.attrs)
    if missing or unknown:
        raise _fail(op, f"attributes do not match the schema {list(prim.attrs)}"
                        + (f"; missing {missing}" if missing else "")
                        + (f"; unknown {unknown}" if unknown else ""))
    types = [v.type for v in op.operands]
    try:
        expected = prim.infer(types, attrs)
    except Exception as e:  # any rule failure (ShapeError, DTypeError, bad attribute values)
        raise _fail(op, f"{type(e).__name__}: {e}") from e
    if op.result.type != expected:
        raise _fail(op, f"result type {op.result.type} does not match the type {expected} "
                        f"inferred from the operands ({', '.join(map(str, types))}) and "
                        f"attributes")


def _verify_fusion(op: Operation) -> None:
    _verify_shape(op, None, len(op.results), 1)
    attrs = op.inherent_attributes
    if not isinstance(attrs.get("kernel"), str) or set(attrs) != {"kernel"}:
        raise _fail(op, f"needs exactly a string `kernel` attribute, got {sorted(attrs)}")
    blocks = op.regions[0].blocks
    if len(blocks) != 1:
        raise _fail(op, f"the body must be exactly one block, got {len(blocks)}")
    arg_types = [a.type for a in blocks[0].arguments]
    operand_types = [v.type for v in op.operands]
    if arg_types != operand_types:
        raise _fail(op, f"block arguments ({', '.join(map(str, arg_types))}) do not match the "
                        f"operand types ({', '.join(map(str, operand_types))})")
    ops = blocks[0].operations
    if not ops or ops[-1].name != "ember.yield":
        raise _fail(op, "missing terminator: the body must end with ember.yield")


def _verify_yield(op: Operation) -> None:
    _verify_shape(op, None, 0, 0)
    fusion = op.parent.parent.parent if op.parent is not None and op.parent.parent else None
    if fusion is None or fusion.name != "ember.fusion":
        raise _fail(op, "must be directly inside an ember.fusion body")
    types = [v.type for v in op.operands]
    result_types = [v.type for v in fusion.results]
    if types != result_types:
        raise _fail(op, f"yields ({', '.join(map(str, types))}) but the ember.fusion results "
                        f"are ({', '.join(map(str, result_types))})")
    if op.inherent_attributes:
        raise _fail(op, f"takes no attributes, got {sorted(op.inherent_attributes)}")


_RULES = {
    "builtin.module": _verify_module,
    "func.func": _verify_func,
    "func.return": _verify_return,
    "ember.fusion": _verify_fusion,
    "ember.yield": _verify_yield,
}
