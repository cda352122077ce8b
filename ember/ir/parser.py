"""Read MLIR text back into operations: everything `ember.ir.printer` writes, and mlir-opt's
output for the same IR (`return` for `func.return`, `<{...}>` properties, generic forms).

Grammar (attributes and types: see `ember.ir.attributes`):

    top-level    ::= op*                        (one builtin.module, or ops wrapped in a new one)
    op           ::= (results `=`)? (generic-op | module-op | func-op | return-op)
    results      ::= value-def (`,` value-def)*
    value-def    ::= `%` id (`:` int)?           (`%0:2` defines `%0#0` and `%0#1`)
    value-use    ::= `%` id (`#` int)?
    generic-op   ::= string `(` (value-use (`,` value-use)*)? `)` (`<` attr-dict `>`)?
                     (`(` region (`,` region)* `)`)? attr-dict? `:` function-type
    module-op    ::= `module` symbol? (`attributes` attr-dict)? region
    func-op      ::= `func.func` symbol `(` (value-use `:` type (`,` ...)*)? `)`
                     (`->` (type | `(` type-list? `)`))? (`attributes` attr-dict)? region
    return-op    ::= (`func.return` | `return`) (value-use (`,` value-use)* `:` type-list)?
    region       ::= `{` op* block* `}`
    block        ::= `^` id (`(` value-def `:` type (`,` value-def `:` type)* `)`)? `:` op*
    symbol       ::= `@` id | `@` string

`//` comments and blank lines may appear anywhere between tokens. Values must be defined before
they are used (no forward references); names are scoped to their region, and a function body
sees no outer values. Errors raise ParseError with the `line:column` of the offending token.
"""

from __future__ import annotations

import re

from ember.ir.attributes import (parse_attr_dict, parse_function_type, parse_string, parse_type,
                                 parse_type_list)
from ember.ir.core import Block, FunctionType, Operation, Region, Value, module_op
from ember.ir.syntax import Cursor, ParseError

__all__ = ["ParseError", "parse"]

_VALUE_DEF = re.compile(r"%([\w$.-]+)(?::(\d+))?")
_VALUE_USE = re.compile(r"%[\w$.-]+(?:#\d+)?")
_BLOCK_LABEL = re.compile(r"\^[\w$.-]+")
_BARE_ID = re.compile(r"[A-Za-z_][\w$.]*")


def parse(text: str) -> Operation:
    """The `builtin.module` written in `text`; other top-level ops are wrapped in a new module."""
    p = _Parser(text)
    ops = []
    while not p.cur.at_end():
        ops.append(p.op())
    if len(ops) == 1 and ops[0].name == "builtin.module":
        return ops[0]
    module = module_op()
    for op in ops:
        module.regions[0].blocks[0].append(op)
    return module


class _Parser:
    def __init__(self, text: str) -> None:
        self.cur = Cursor(text)
        self.scopes: list[dict[str, Value]] = [{}]

    def op(self) -> Operation:
        start = self.cur.skip()
        defs = self.result_defs()
        if self.cur.peek('"'):
            op = parse_generic(self)
        else:
            word = self.cur.match(_BARE_ID)
            custom = _CUSTOM.get(word.group()) if word else None
            if custom is None:
                raise self.cur.error(f"expected an operation, found "
                                     f"{repr(word.group()) if word else self.cur.next_token()}",
                                     start if word is None else word.start())
            op = custom(self)
        self.define_results(defs, op, start)
        op.location = self.cur.location(start)
        return op

    # --- value names -------------------------------------------------------------------------

    def result_defs(self) -> list[tuple[str, int, int]]:
        """`%a, %b:2 =` as (name, count, position); empty if the op has no results."""
        defs = []
        if not self.cur.peek("%"):
            return defs
        while True:
            pos = self.cur.skip()
            m = self.cur.expect_match(_VALUE_DEF, "a value name")
            defs.append((f"%{m.group(1)}", int(m.group(2) or 1), pos))
            if not self.cur.accept(","):
                break
        self.cur.expect("=")
        return defs

    def define_results(self, defs, op: Operation, start: int) -> None:
        if sum(count for _, count, _ in defs) != len(op.results):
            raise self.cur.error(f"{op.name} defines {len(op.results)} results, but "
                                 f"{sum(c for _, c, _ in defs)} names are given", start)
        results = iter(op.results)
        for name, count, pos in defs:
            for i in range(count):
                self.define(name if count == 1 else f"{name}#{i}", next(results), pos)

    def define(self, name: str, value: Value, pos: int) -> None:
        if any(name in scope for scope in self.scopes):
            raise self.cur.error(f"redefinition of value '{name}'", pos)
        self.scopes[-1][name] = value

    def use(self) -> tuple[Value, int]:
        """A value use and where it was written."""
        pos = self.cur.skip()
        name = self.cur.expect_match(_VALUE_USE, "a value such as %0").group()
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name], pos
        raise self.cur.error(f"use of undefined value '{name}'", pos)

    def uses(self, close: str) -> list[tuple[Value, int]]:
        """Value uses separated by commas, up to (not including) `close`; possibly none."""
        found = []
        if self.cur.peek("%"):
            found.append(self.use())
            while self.cur.accept(","):
                found.append(self.use())
        if close and not self.cur.peek(close):
            raise self.cur.error(f"expected ',' or {close!r}, found {self.cur.next_token()}")
        return found

    def check_types(self, uses, types, what: str, pos: int) -> None:
        """The written `types` must match the uses' values one for one."""
        if len(uses) != len(types):
            raise self.cur.error(f"{what} has {len(uses)} operands but {len(types)} types", pos)
        for (value, use_pos), declared in zip(uses, types):
            if value.type != declared:
                raise self.cur.error(f"operand type mismatch: the value has type {value.type}, "
                                     f"but {declared} is written", use_pos)

    # --- regions and blocks ------------------------------------------------------------------

    def region(self, entry_args=None, isolated: bool = False) -> Region:
        """`{ ... }`; `entry_args` [(name, type, pos)] makes the entry block (func bodies)."""
        open_pos = self.cur.expect("{", "'{' starting a region")
        saved = self.scopes
        self.scopes = [{}] if isolated else self.scopes + [{}]
        region = Region()
        block = None
        if entry_args is not None:
            block = region.add_block(Block([t for _, t, _ in entry_args]))
            for (name, _, pos), value in zip(entry_args, block.arguments):
                self.define(name, value, pos)
        while not self.cur.accept("}"):
            if self.cur.at_end():
                line, column = self.cur.location(open_pos)
                raise self.cur.error(f"unterminated region: '{{' at {line}:{column} is never "
                                     f"closed by '}}'", open_pos)
            if self.cur.peek("^"):
                block = region.add_block(parse_block_label(self))
            else:
                block = block or region.add_block()
                block.append(self.op())
        self.scopes = saved
        return region


def parse_block_label(p: _Parser) -> Block:
    """`^bb1(%x: tensor<f32>):` -> a new block with its arguments defined."""
    p.cur.expect_match(_BLOCK_LABEL, "a block label")
    args = []
    if p.cur.accept("("):
        while not p.cur.peek(")"):
            pos = p.cur.skip()
            name = "%" + p.cur.expect_match(_VALUE_DEF, "a block argument").group(1)
            p.cur.expect(":")
            args.append((name, parse_type(p.cur), pos))
            if not p.cur.accept(","):
                break
        p.cur.expect(")", "',' or ')' after block arguments")
    p.cur.expect(":", "':' after the block label")
    block = Block([t for _, t, _ in args])
    for (name, _, pos), value in zip(args, block.arguments):
        p.define(name, value, pos)
    return block


def parse_symbol(p: _Parser) -> str:
    p.cur.expect("@", "a symbol such as @main")
    if p.cur.peek('"'):
        return parse_string(p.cur)
    return p.cur.expect_match(_BARE_ID, "a symbol name").group()


# --- generic form ----------------------------------------------------------------------------

def parse_generic(p: _Parser) -> Operation:
    name = parse_string(p.cur)
    p.cur.expect("(", "'(' before the operands")
    operands = p.uses(")")
    p.cur.expect(")")
    attrs = {}
    if p.cur.accept("<"):  # properties, which mlir-opt prints for registered ops
        attrs.update(parse_attr_dict(p.cur))
        p.cur.expect(">")
    regions = []
    if p.cur.accept("("):
        regions.append(p.region())
        while p.cur.accept(","):
            regions.append(p.region())
        p.cur.expect(")", "',' or ')' after the regions")
    if p.cur.peek("{"):
        attrs.update(parse_attr_dict(p.cur))
    p.cur.expect(":", "':' and the op's function type")
    sig_pos = p.cur.skip()
    signature = parse_function_type(p.cur)
    p.check_types(operands, signature.inputs, f'"{name}"', sig_pos)
    return Operation(name, [v for v, _ in operands], signature.results, attrs, regions)


# --- builtin.module --------------------------------------------------------------------------

def parse_module(p: _Parser) -> Operation:
    attrs = {}
    if p.cur.peek("@"):
        attrs["sym_name"] = parse_symbol(p)
    if p.cur.accept_word("attributes"):
        attrs.update(parse_attr_dict(p.cur))
    region = p.region(isolated=True)
    if not region.blocks:
        region.add_block()
    return Operation("builtin.module", attributes=attrs, regions=[region])


# --- func.func -------------------------------------------------------------------------------

def parse_func(p: _Parser) -> Operation:
    name = parse_symbol(p)
    p.cur.expect("(", "'(' before the function arguments")
    args = []
    while not p.cur.peek(")"):
        pos = p.cur.skip()
        arg = "%" + p.cur.expect_match(_VALUE_DEF, "a function argument such as %arg0").group(1)
        p.cur.expect(":")
        args.append((arg, parse_type(p.cur), pos))
        if not p.cur.accept(","):
            break
    p.cur.expect(")", "',' or ')' after the function arguments")
    results = []
    if p.cur.accept("->"):
        if p.cur.accept("("):
            results = parse_type_list(p.cur, ")")
            p.cur.expect(")")
        else:
            results = [parse_type(p.cur)]
    attrs = {"sym_name": name, "function_type": FunctionType([t for _, t, _ in args], results)}
    if p.cur.accept_word("attributes"):
        attrs.update(parse_attr_dict(p.cur))
    region = p.region(entry_args=args, isolated=True)
    return Operation("func.func", attributes=attrs, regions=[region])


# --- func.return -----------------------------------------------------------------------------

def parse_return(p: _Parser) -> Operation:
    operands = p.uses("")
    if operands:
        p.cur.expect(":", "':' and the returned types")
        pos = p.cur.skip()
        types = [parse_type(p.cur)]
        while p.cur.accept(","):
            types.append(parse_type(p.cur))
        p.check_types(operands, types, "func.return", pos)
    return Operation("func.return", [v for v, _ in operands])


# Keyword -> custom-form parser (mirrors the printer's table).
_CUSTOM = {
    "module": parse_module,
    "func.func": parse_func,
    "func.return": parse_return,
    "return": parse_return,  # mlir-opt's spelling inside func.func
}
