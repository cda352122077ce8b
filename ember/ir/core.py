"""IR structure in MLIR's model: values, operations, blocks, regions, and a builder.

An Operation has a name ("ember.add", "func.func", ...), operands (Values), results (typed
Values it defines), attributes (name -> Python value, see `ember.ir.attributes`) and regions;
a Region holds Blocks; a Block holds block arguments and an ordered list of operations.
`builtin.module` and `func.func` are ordinary operations with one region each.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from ember.ir.types import TensorType


class Value:
    """An SSA value: an operation result or a block argument, with a type."""

    __slots__ = ("type", "owner", "index", "name_hint")

    def __init__(self, type: TensorType, owner: "Operation | Block", index: int) -> None:
        self.type = type
        self.owner = owner
        self.index = index
        self.name_hint: str | None = None

    @property
    def is_block_argument(self) -> bool:
        return isinstance(self.owner, Block)

    def __repr__(self) -> str:
        kind = "arg" if self.is_block_argument else "result"
        return f"<Value {kind} {self.index}: {self.type}>"


def is_discardable(attribute: str) -> bool:
    """Whether an attribute name is discardable, as in MLIR: `ember.`-prefixed names (analysis
    results such as a memory plan's `ember.buffer`) may sit on any op, and dropping them never
    changes what the op computes."""
    return attribute.startswith("ember.")


class Operation:
    """One operation: name, operands, typed results, attributes and regions."""

    def __init__(self, name: str, operands: Sequence[Value] = (),
                 result_types: Sequence[TensorType] = (), attributes: dict[str, Any] | None = None,
                 regions: int | Sequence["Region"] = 0) -> None:
        self.name = name
        self.operands = list(operands)
        self.results = [Value(t, self, i) for i, t in enumerate(result_types)]
        self.attributes = dict(attributes or {})
        self.regions = ([Region(self) for _ in range(regions)] if isinstance(regions, int)
                        else list(regions))
        for region in self.regions:
            region.parent = self
        self.parent: Block | None = None
        # (line, column) where a parsed operation was written, for diagnostics; None if built.
        self.location: tuple[int, int] | None = None

    @property
    def result(self) -> Value:
        """The single result (for single-result operations)."""
        if len(self.results) != 1:
            raise ValueError(f"{self.name} has {len(self.results)} results, not one")
        return self.results[0]

    @property
    def inherent_attributes(self) -> dict[str, Any]:
        """The attributes the op's definition gives meaning to: all but the discardable ones."""
        return {k: v for k, v in self.attributes.items() if not is_discardable(k)}

    @property
    def dialect(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def opname(self) -> str:
        """The name without its dialect prefix ("add" for "ember.add")."""
        return self.name.split(".", 1)[1] if "." in self.name else self.name

    def walk(self) -> Iterator["Operation"]:
        """This operation and every operation nested in its regions, in pre-order."""
        yield self
        for region in self.regions:
            for block in region.blocks:
                for op in block.operations:
                    yield from op.walk()

    def __str__(self) -> str:
        from ember.ir.printer import print_operation

        return print_operation(self)

    def __repr__(self) -> str:
        return f"<Operation {self.name}>"


class Block:
    """A list of operations with typed block arguments; the last op is its terminator."""

    def __init__(self, arg_types: Sequence[TensorType] = ()) -> None:
        self.arguments = [Value(t, self, i) for i, t in enumerate(arg_types)]
        self.operations: list[Operation] = []
        self.parent: Region | None = None

    def add_argument(self, type: TensorType) -> Value:
        """Append a block argument of `type`."""
        value = Value(type, self, len(self.arguments))
        self.arguments.append(value)
        return value

    def append(self, op: Operation) -> Operation:
        """Append `op` at the end of the block."""
        op.parent = self
        self.operations.append(op)
        return op


class Region:
    """A list of blocks owned by an operation."""

    def __init__(self, parent: Operation | None = None) -> None:
        self.blocks: list[Block] = []
        self.parent = parent

    def add_block(self, block: Block | None = None) -> Block:
        """Append `block` (or a new empty one) and return it."""
        block = block or Block()
        block.parent = self
        self.blocks.append(block)
        return block


class FunctionType:
    """The type of a function: input types -> result types."""

    __slots__ = ("inputs", "results")

    def __init__(self, inputs: Sequence[TensorType], results: Sequence[TensorType]) -> None:
        self.inputs = tuple(inputs)
        self.results = tuple(results)

    def __eq__(self, other) -> bool:
        return (isinstance(other, FunctionType) and self.inputs == other.inputs
                and self.results == other.results)

    def __hash__(self) -> int:
        return hash((self.inputs, self.results))

    def __str__(self) -> str:
        inputs = ", ".join(str(t) for t in self.inputs)
        results = ", ".join(str(t) for t in self.results)
        return f"({inputs}) -> ({results})" if len(self.results) != 1 else f"({inputs}) -> {results}"


def module_op() -> Operation:
    """A new, empty `builtin.module` with one block."""
    module = Operation("builtin.module", regions=1)
    module.regions[0].add_block()
    return module


def func_op(name: str, arg_types: Sequence[TensorType]) -> Operation:
    """A new `func.func @name` whose body block has arguments of `arg_types` (no results yet)."""
    func = Operation("func.func", attributes={"sym_name": name,
                                              "function_type": FunctionType(arg_types, ())},
                     regions=1)
    func.regions[0].add_block(Block(arg_types))
    return func


class Builder:
    """Appends operations at the end of a block (the insertion point)."""

    def __init__(self, block: Block) -> None:
        self.block = block

    def create(self, name: str, operands: Sequence[Value] = (),
               result_types: Sequence[TensorType] = (), attributes: dict[str, Any] | None = None,
               regions: int = 0) -> Operation:
        """Create an operation and insert it at the insertion point."""
        return self.block.append(Operation(name, operands, result_types, attributes, regions))

    def ret(self, values: Sequence[Value]) -> Operation:
        """Terminate a function body with `func.return`, fixing the function's result types."""
        op = self.create("func.return", values)
        func = self.block.parent.parent if self.block.parent else None
        if func is not None and func.name == "func.func":
            # Arguments may have been added while building (lifted tensors), so read them here.
            inputs = [a.type for a in self.block.arguments]
            func.attributes["function_type"] = FunctionType(inputs, [v.type for v in values])
        return op


# --- mutation: what passes use to rewrite the IR -------------------------------------------

def erase(op: Operation) -> None:
    """Remove `op` from its block (its results must have no remaining uses)."""
    op.parent.operations.remove(op)
    op.parent = None


def insert_before(anchor: Operation, op: Operation) -> Operation:
    """Insert `op` into anchor's block just before `anchor`."""
    block = anchor.parent
    block.operations.insert(block.operations.index(anchor), op)
    op.parent = block
    return op


def replace_all_uses(root: Operation, old: Value, new: Value) -> None:
    """Make every operand that is `old`, anywhere inside `root`, be `new` instead."""
    for op in root.walk():
        op.operands = [new if v is old else v for v in op.operands]


def uses(root: Operation, value: Value) -> list[tuple[Operation, int]]:
    """(operation, operand index) of every use of `value` inside `root`."""
    return [(op, i) for op in root.walk() for i, v in enumerate(op.operands) if v is value]


def functions(module: Operation) -> list[Operation]:
    """The func.func operations of a builtin.module."""
    return [op for op in module.regions[0].blocks[0].operations if op.name == "func.func"]


def clone(op: Operation, mapping: dict[Value, Value]) -> Operation:
    """A deep copy of `op` (not inserted anywhere): operands found in `mapping` are replaced,
    and `mapping` gains the copies of op's results and of its nested block arguments."""
    copy = Operation(op.name, [mapping.get(v, v) for v in op.operands],
                     [v.type for v in op.results], dict(op.attributes))
    mapping.update(zip(op.results, copy.results))
    for region in op.regions:
        new_region = Region(copy)
        copy.regions.append(new_region)
        for block in region.blocks:
            new_block = new_region.add_block(Block([a.type for a in block.arguments]))
            mapping.update(zip(block.arguments, new_block.arguments))
            for inner in block.operations:
                new_block.append(clone(inner, mapping))
    return copy
