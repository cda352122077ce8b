"""The kernels of GPU-mapped loops IR -> an llvmlite module for nvptx64.

Each `gpu.func` becomes a `ptx_kernel` function (the entry-point calling convention of LLVM's
NVPTX backend) taking one `noalias ptr` per memref argument; memrefs are bare pointers to
row-major data, as on the CPU, and the CPU's `Translator` translates the loops and scalar ops.
Added here: thread and block ids (`llvm.nvvm.read.ptx.sreg.*`), `gpu.barrier`
(`llvm.nvvm.barrier0`), `gpu.shuffle xor` (`llvm.nvvm.shfl.sync.bfly.i32p`, twice for 64-bit
values) and workgroup buffers as `addrspace(3)` globals (shared memory).

Transcendentals are the CPU's branch-free approximations (`ember.codegen.math_approx`). In f64
the CPU calls the C library, which a GPU does not have: exp, log, log1p and powf use the f64
approximations instead, and the other f64 transcendentals are rejected with an error naming
the op.
"""

from __future__ import annotations

from typing import Callable

from llvmlite import ir

from ember.codegen.llvm.intrinsics import declare
from ember.codegen.llvm.translate import Translator, llvm_scalar
from ember.codegen.math_approx import F64_ACCURATE, math_function
from ember.codegen.nvptx.target import TRIPLE, target_machine
from ember.ir.core import Operation
from ember.ir.types import MemRefType

_I1, _I32, _I64 = ir.IntType(1), ir.IntType(32), ir.IntType(64)
_PTR = ir.PointerType()
_SHARED = 3  # NVVM's shared-memory address space
# Ops translated through math_approx, which has no GPU code for f64.
_LIBM_F64 = {"math.exp", "math.log", "math.log1p", "math.expm1", "math.sin", "math.cos",
             "math.tanh", "math.erf", "math.atan2", "math.powf"}
_SPECIAL_REGISTERS = {"gpu.thread_id": "tid", "gpu.block_id": "ctaid",
                      "gpu.block_dim": "ntid", "gpu.grid_dim": "nctaid"}


class UnsupportedOnCuda(NotImplementedError):
    """An op or type the CUDA backend cannot compile; the message names both."""


class NvptxTranslator(Translator):
    """The CPU translator with the `gpu` dialect's ops, for one kernel body."""

    def operation(self, op: Operation) -> None:
        rule = GPU_OPS.get(op.name)
        if rule is None and op.name in _LIBM_F64 and op.results[0].type.name == "f64":
            rule = _math_f64
        if rule is None:
            super().operation(op)
            return
        result = rule(self, op, [self.get(v) for v in op.operands])
        if op.results:
            self.bind(op.results, result if isinstance(result, list) else [result])


def _special_register(t: NvptxTranslator, op: Operation, args) -> ir.Value:
    register = _SPECIAL_REGISTERS[op.name]
    read = declare(t.module, f"llvm.nvvm.read.ptx.sreg.{register}.x", _I32, [])
    return t.builder.zext(t.builder.call(read, []), _I64)


def _barrier(t: NvptxTranslator, op: Operation, args) -> None:
    t.builder.call(declare(t.module, "llvm.nvvm.barrier0", ir.VoidType(), []), [])


def _shuffle(t: NvptxTranslator, op: Operation, args) -> list[ir.Value]:
    """`gpu.shuffle xor`: the value of lane (lane ^ offset) within segments of `width` lanes,
    and whether that lane exists. 64-bit values move as two 32-bit halves."""
    if op.attributes["mode"].text != "#gpu<shuffle_mode xor>":
        raise UnsupportedOnCuda(f"cuda backend: gpu.shuffle {op.attributes['mode'].text}")
    b = t.builder
    value, offset, width = args
    bits = value.type.width if isinstance(value.type, ir.IntType) else (
        64 if isinstance(value.type, ir.DoubleType) else 32)
    if bits not in (32, 64):
        raise UnsupportedOnCuda(f"cuda backend: gpu.shuffle of {op.operands[0].type}")
    word = ir.IntType(bits)
    raw = value if value.type == word else b.bitcast(value, word)
    # shfl's c operand: the segment mask in bits 8-12, the highest lane (31) in bits 0-4.
    clamp = b.or_(b.shl(b.sub(ir.Constant(_I32, 32), width), ir.Constant(_I32, 8)),
                  ir.Constant(_I32, 31))
    shfl = declare(t.module, "llvm.nvvm.shfl.sync.bfly.i32p",
                   ir.LiteralStructType([_I32, _I1]), [_I32, _I32, _I32, _I32])
    halves, valid = [], None
    for shift in range(0, bits, 32):
        half = b.trunc(b.lshr(raw, ir.Constant(word, shift)) if shift else raw, _I32)
        pair = b.call(shfl, [ir.Constant(_I32, -1), half, offset, clamp])
        halves.append(b.extract_value(pair, 0))
        valid = b.extract_value(pair, 1)
    result = b.zext(halves[0], word) if bits == 64 else halves[0]
    if bits == 64:
        result = b.or_(result, b.shl(b.zext(halves[1], word), ir.Constant(word, 32)))
    if value.type != word:
        result = b.bitcast(result, value.type)
    return [result, valid]


def _math_f64(t: NvptxTranslator, op: Operation, args) -> ir.Value:
    """An f64 transcendental without the C library: math_approx's f64-accurate ones."""
    name = op.opname
    if name not in F64_ACCURATE:
        raise UnsupportedOnCuda(f"cuda backend: {op.name} on f64 is not supported (no "
                                f"double-precision {name} on the GPU yet); compute it in "
                                f"float32")
    return t.builder.call(math_function(t.module, name, args[0].type, libm=False), args)


def _return(t: NvptxTranslator, op: Operation, args) -> None:
    """The kernel's `ret void` is added after its body."""


GPU_OPS: dict[str, Callable] = {
    **{name: _special_register for name in _SPECIAL_REGISTERS},
    "gpu.barrier": _barrier,
    "gpu.shuffle": _shuffle,
    "gpu.return": _return,
}


def translate_kernels(module: Operation, arch: str) -> ir.Module:
    """The llvmlite module holding every kernel of `module`'s gpu.modules, for `arch`."""
    llvm_module = ir.Module(name="kernels")
    llvm_module.triple = TRIPLE  # before translating: math_approx reads it
    llvm_module.data_layout = str(target_machine(arch).target_data)
    for gpu_module in module.regions[0].blocks[0].operations:
        if gpu_module.name == "gpu.module":
            for func in gpu_module.regions[0].blocks[0].operations:
                _kernel(llvm_module, func)
    return llvm_module


def _kernel(module: ir.Module, func: Operation) -> None:
    block = func.regions[0].blocks[0]
    inputs = func.attributes["function_type"].inputs
    kernel = ir.Function(module, ir.FunctionType(ir.VoidType(), [_PTR] * len(inputs)),
                         name=func.attributes["sym_name"])
    kernel.calling_convention = "ptx_kernel"
    for arg in kernel.args:
        arg.add_attribute("noalias")  # distinct graph buffers, as on the CPU
    shared = [_shared_buffer(module, f"{kernel.name}.shared{i}", arg.type)
              for i, arg in enumerate(block.arguments[len(inputs):])]
    translator = NvptxTranslator(module, kernel)
    translator.region(func.regions[0], list(kernel.args) + shared)
    translator.builder.ret_void()


def _shared_buffer(module: ir.Module, name: str, memref: MemRefType) -> ir.Value:
    element = llvm_scalar(memref.element)
    array = ir.ArrayType(element, memref.numel)
    buffer = ir.GlobalVariable(module, array, name, addrspace=_SHARED)
    buffer.linkage = "internal"
    buffer.initializer = ir.Constant(array, ir.Undefined)
    buffer.align = 16
    zero = ir.Constant(_I32, 0)
    return buffer.gep([zero, zero])  # its first element: addressed like any memref
