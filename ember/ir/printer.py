"""MLIR text for operations: custom forms for module/func, the generic form for the rest.

    module {
      func.func @f(%arg0: tensor<2x3xf32>) -> tensor<3xf32> {
        %0 = "ember.sum"(%arg0) {axes = array<i64: 0>, keepdim = false} : (tensor<2x3xf32>) -> ...
        func.return %0 : tensor<3xf32>
      }
    }

Values are named per function: its arguments %arg0, %arg1, ..., results %0, %1, ... in order
(`%3:2` defines `%3#0` and `%3#1`), and nested region arguments continue the %arg count, as
mlir-opt does. An operation whose structure does not fit its custom form (while being built or
debugged) prints in the generic form, so that the printer never fails on invalid IR.
`ember.ir.parser` reads all of it back; its functions mirror the ones here.
"""

from __future__ import annotations

import contextlib
import re

from ember.ir.attributes import (print_attr_dict, print_function_type, print_string, print_type,
                                 print_type_list)
from ember.ir.core import Block, FunctionType, Operation, Region, Value

_INDENT = "  "
_BARE_SYMBOL = re.compile(r"[A-Za-z_][\w$.]*")


def print_operation(op: Operation) -> str:
    """The MLIR text of `op` and everything nested in it (no trailing newline)."""
    printer = _Printer()
    printer.op(op, 0)
    return "\n".join(printer.lines)


class _Printer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[Value, str] = {}
        self.next_arg = 0
        self.next_result = 0

    def emit(self, indent: int, text: str) -> None:
        self.lines.append(_INDENT * indent + text)

    def op(self, op: Operation, indent: int) -> None:
        custom = _CUSTOM.get(op.name)
        if custom is not None and custom[0](op):
            custom[1](self, op, indent)
        else:
            print_generic(self, op, indent)

    # --- value names -------------------------------------------------------------------------

    def use(self, value: Value) -> str:
        # Invalid IR (a use outside its definition's scope) still prints, as MLIR does.
        return self.names.get(value, "%<<UNKNOWN SSA VALUE>>")

    def define_arg(self, value: Value) -> str:
        self.names[value] = f"%arg{self.next_arg}"
        self.next_arg += 1
        return self.names[value]

    def define_results(self, op: Operation) -> str:
        """`%3 = `, `%3:2 = ` or nothing, naming the results."""
        if not op.results:
            return ""
        base = f"%{self.next_result}"
        self.next_result += 1
        if len(op.results) == 1:
            self.names[op.results[0]] = base
            return f"{base} = "
        for i, value in enumerate(op.results):
            self.names[value] = f"{base}#{i}"
        return f"{base}:{len(op.results)} = "

    @contextlib.contextmanager
    def isolated(self):
        """Restart the numbering for an isolated-from-above body (a function), then restore."""
        saved = (self.next_arg, self.next_result)
        self.next_arg = self.next_result = 0
        try:
            yield
        finally:
            self.next_arg, self.next_result = saved

    def region(self, region: Region, indent: int, label_entry: bool) -> None:
        """The blocks of `region`, ops at `indent`; labels one level out."""
        for i, block in enumerate(region.blocks):
            if i > 0 or (label_entry and block.arguments):
                print_block_label(self, block, i, indent - 1)
            for op in block.operations:
                self.op(op, indent)


def print_block_label(p: _Printer, block: Block, index: int, indent: int) -> None:
    """`^bb1(%arg3: tensor<f32>):`."""
    args = ", ".join(f"{p.define_arg(a)}: {print_type(a.type)}" for a in block.arguments)
    p.emit(indent, f"^bb{index}({args}):" if args else f"^bb{index}:")


def print_symbol(name: str) -> str:
    """`@name`, quoted when it is not a bare identifier."""
    return "@" + (name if _BARE_SYMBOL.fullmatch(name) else print_string(name))


# --- generic form ----------------------------------------------------------------------------

def print_generic(p: _Printer, op: Operation, indent: int) -> None:
    """`%0 = "ember.add"(%a, %b) ({...}) {attrs} : (t, t) -> t`."""
    head = (f"{p.define_results(op)}{print_string(op.name)}"
            f"({', '.join(p.use(v) for v in op.operands)})")
    attrs = print_attr_dict(op.attributes)
    signature = print_function_type(FunctionType([v.type for v in op.operands],
                                                 [v.type for v in op.results]))
    tail = f"{' ' + attrs if attrs else ''} : {signature}"
    if not op.regions:
        p.emit(indent, head + tail)
        return
    p.emit(indent, head + " ({")
    for k, region in enumerate(op.regions):
        if k:
            p.emit(indent, "}, {")
        p.region(region, indent + 1, label_entry=True)
    p.emit(indent, "})" + tail)


# --- builtin.module --------------------------------------------------------------------------

def _module_fits(op: Operation) -> bool:
    return (not op.operands and not op.results and len(op.regions) == 1
            and len(op.regions[0].blocks) <= 1
            and all(not b.arguments for b in op.regions[0].blocks)
            and isinstance(op.attributes.get("sym_name", ""), str))


def print_module(p: _Printer, op: Operation, indent: int) -> None:
    """`module @name attributes {...} {` ops `}`."""
    attrs = dict(op.attributes)
    header = "module"
    if "sym_name" in attrs:
        header += " " + print_symbol(attrs.pop("sym_name"))
    if attrs:
        header += " attributes " + print_attr_dict(attrs)
    p.emit(indent, header + " {")
    p.region(op.regions[0], indent + 1, label_entry=False)
    p.emit(indent, "}")


# --- func.func -------------------------------------------------------------------------------

def _func_fits(op: Operation) -> bool:
    ft = op.attributes.get("function_type")
    return (not op.operands and not op.results and len(op.regions) == 1
            and len(op.regions[0].blocks) >= 1 and isinstance(ft, FunctionType)
            and isinstance(op.attributes.get("sym_name"), str)
            and tuple(a.type for a in op.regions[0].blocks[0].arguments) == ft.inputs)


def print_func(p: _Printer, op: Operation, indent: int) -> None:
    """`func.func @f(%arg0: t) -> (t, t) attributes {...} {` body `}`."""
    attrs = dict(op.attributes)
    name, ft = attrs.pop("sym_name"), attrs.pop("function_type")
    with p.isolated():
        entry = op.regions[0].blocks[0]
        args = ", ".join(f"{p.define_arg(a)}: {print_type(a.type)}" for a in entry.arguments)
        header = f"func.func {print_symbol(name)}({args})"
        if len(ft.results) == 1:
            header += f" -> {print_type(ft.results[0])}"
        elif ft.results:
            header += f" -> ({print_type_list(ft.results)})"
        if attrs:
            header += " attributes " + print_attr_dict(attrs)
        p.emit(indent, header + " {")
        p.region(op.regions[0], indent + 1, label_entry=False)
        p.emit(indent, "}")


# --- func.return -----------------------------------------------------------------------------

def _return_fits(op: Operation) -> bool:
    return not op.results and not op.regions and not op.attributes


def print_return(p: _Printer, op: Operation, indent: int) -> None:
    """`func.return %0, %1 : t, t` or `func.return`."""
    if not op.operands:
        p.emit(indent, "func.return")
        return
    uses = ", ".join(p.use(v) for v in op.operands)
    p.emit(indent, f"func.return {uses} : {print_type_list(v.type for v in op.operands)}")


# Op name -> (does the op fit its custom form, custom printer).
_CUSTOM = {
    "builtin.module": (_module_fits, print_module),
    "func.func": (_func_fits, print_func),
    "func.return": (_return_fits, print_return),
}
