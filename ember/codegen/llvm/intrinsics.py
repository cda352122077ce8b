"""Declaring LLVM intrinsics and external C functions in an llvmlite module, once each."""

from __future__ import annotations

from llvmlite import ir


def type_suffix(ty: ir.Type) -> str:
    """The overload suffix LLVM gives `ty` in intrinsic names: f32, f64, f16, i32, ..."""
    if isinstance(ty, ir.FloatType):
        return "f32"
    if isinstance(ty, ir.DoubleType):
        return "f64"
    if isinstance(ty, ir.HalfType):
        return "f16"
    if isinstance(ty, ir.IntType):
        return f"i{ty.width}"
    raise TypeError(f"no intrinsic suffix for LLVM type {ty}")


def declare(module: ir.Module, name: str, result: ir.Type, args: list[ir.Type]) -> ir.Function:
    """The function `name` of `module`, declared with this signature if it is not there yet."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return ir.Function(module, ir.FunctionType(result, args), name=name)


def intrinsic(module: ir.Module, name: str, ty: ir.Type, arity: int = 1) -> ir.Function:
    """The overloaded intrinsic `name` (e.g. "llvm.fabs") on `ty`, taking `arity` `ty` operands."""
    return declare(module, f"{name}.{type_suffix(ty)}", ty, [ty] * arity)


def call_intrinsic(builder: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    """Call intrinsic `name` overloaded on the type of its (same-typed) operands."""
    fn = intrinsic(builder.module, name, args[0].type, len(args))
    return builder.call(fn, list(args))
