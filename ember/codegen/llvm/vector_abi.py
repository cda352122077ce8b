"""Scalar helpers that LLVM's loop vectorizer widens into vector code of our choosing.

Some vector code has no scalar LLVM IR that the vectorizer turns into it:
- `scalef`: AVX-512's `vscalefps` computes p * 2**floor(n) for a float n, but `llvm.ldexp`
  takes an integer exponent and x86 lowers it by converting that integer back to a float: in
  `exp`, whose n is a float already, that is two instructions more per vector than needed.
- `prefetch`: `llvm.prefetch` in a loop stops it vectorizing; one per vector of consecutive
  addresses (one per cache line of f32) is what a streaming loop wants.

A helper is a scalar function that stays a declaration through -O3. Its vector-function ABI
attribute (`vector-function-abi-variant`) names variants of several widths, internal
always-inline functions of one intrinsic each, so the vectorizer calls the variant of the width
it picks. `inline_helpers` then links in the scalar definitions (for loops that stay scalar) and
inlines every call, which the -O3 pipeline no longer does after vectorizing: no call is left.
"""

from __future__ import annotations

from typing import Callable

import llvmlite.binding as llvm
from llvmlite import ir

from ember.codegen.llvm.intrinsics import declare

F32 = ir.FloatType()
I64 = ir.IntType(64)
_PREFIX = "ember.vabi."  # the helpers and their variants
SCALEF = f"{_PREFIX}scalef.f32"
PREFETCH = f"{_PREFIX}prefetch.i64"
_SCALEF_LANES = {4: "128", 8: "256", 16: "512"}
_PREFETCH_LANES = (2, 4, 8, 16)
_CURRENT_ROUNDING = 4  # the rounding operand of the AVX-512 intrinsics: MXCSR's mode
_USED = "llvm.compiler.used"

# The scalar definitions, linked in after -O3 (linkonce_odr: dropped once inlined).
_SCALAR_DEFINITIONS = f"""
declare <4 x float> @llvm.x86.avx512.mask.scalef.ss(<4 x float>, <4 x float>, <4 x float>, i8,
                                                    i32 immarg)

define linkonce_odr float @{SCALEF}(float %p, float %n) alwaysinline nounwind willreturn
                                                              memory(none) {{
  %pv = insertelement <4 x float> poison, float %p, i64 0
  %nv = insertelement <4 x float> poison, float %n, i64 0
  %r = call <4 x float> @llvm.x86.avx512.mask.scalef.ss(<4 x float> %pv, <4 x float> %nv,
                                                        <4 x float> zeroinitializer, i8 -1,
                                                        i32 {_CURRENT_ROUNDING})
  %s = extractelement <4 x float> %r, i64 0
  ret float %s
}}

declare void @llvm.prefetch.p0(ptr, i32 immarg, i32 immarg, i32 immarg)

define linkonce_odr void @{PREFETCH}(i64 %address) alwaysinline nounwind willreturn
                                                memory(inaccessiblemem: readwrite) {{
  %p = inttoptr i64 %address to ptr
  call void @llvm.prefetch.p0(ptr %p, i32 0, i32 3, i32 1)
  ret void
}}
"""


class _HelperAttributes(ir.FunctionAttributes):
    """Function attributes that llvmlite does not know: the helpers' memory effects,
    `willreturn`, and the string attribute naming the vector variants."""

    _known = ir.FunctionAttributes._known | {"memory(none)", "memory(inaccessiblemem: readwrite)",
                                              "willreturn"}

    def add(self, name: str) -> None:
        if name.startswith('"vector-function-abi-variant"='):
            set.add(self, name)
        else:
            super().add(name)


def _scalef_variant(module: ir.Module, lanes: int) -> str:
    """Define the `lanes`-wide variant of SCALEF in `module`; its name."""
    vector = ir.VectorType(F32, lanes)
    mask = ir.IntType(max(lanes, 8))
    # the 512-bit form alone takes a rounding operand
    rounding = [ir.Constant(ir.IntType(32), _CURRENT_ROUNDING)] if lanes == 16 else []
    intrinsic = declare(module, f"llvm.x86.avx512.mask.scalef.ps.{_SCALEF_LANES[lanes]}",
                        vector, [vector, vector, vector, mask] + [r.type for r in rounding])
    fn = ir.Function(module, ir.FunctionType(vector, [vector, vector]),
                     name=f"{_PREFIX}scalef.v{lanes}f32")
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.ret(b.call(intrinsic, [*fn.args, ir.Constant(vector, None), ir.Constant(mask, -1),
                             *rounding]))
    return fn.name


def _keep(module: ir.Module, functions: list[ir.Function]) -> None:
    """Add `functions` to llvm.compiler.used: -O3 must not delete the vector variants before
    the vectorizer has looked for them."""
    used = module.globals.get(_USED)
    if used is None:
        used = ir.GlobalVariable(module, ir.ArrayType(ir.PointerType(), 0), _USED)
        used.linkage = "appending"
        used.section = "llvm.metadata"
        used.initializer = ir.Constant(used.value_type, [])
    kept = list(used.initializer.constant) + functions
    used.value_type = ir.ArrayType(ir.PointerType(), len(kept))
    used.initializer = ir.Constant(used.value_type, kept)


def _helper(module: ir.Module, name: str, ty: ir.FunctionType,
            define_variant: Callable[[ir.Module, int], str], lanes, memory: str) -> ir.Function:
    """The helper `name` in `module`, declared on first use with its vector variants, one per
    width in `lanes` (made by `define_variant`), every parameter a vector; `memory` is its
    memory effects attribute."""
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ty, name=name)
        variants = [define_variant(module, n) for n in lanes]
        vectors = "v" * len(ty.args)
        mappings = ",".join(f"_ZGV_LLVM_N{n}{vectors}_{name}({variant})"
                            for n, variant in zip(lanes, variants))
        fn.attributes = _HelperAttributes(
            ["nounwind", "willreturn", memory, f'"vector-function-abi-variant"="{mappings}"'])
        _keep(module, [module.globals[variant] for variant in variants])
    return fn


def scalef(builder: ir.IRBuilder, p: ir.Value, n: ir.Value) -> ir.Value:
    """p * 2**floor(n) for f32 `p` and `n`, rounded once (`vscalefps`; AVX-512 hosts only)."""
    fn = _helper(builder.module, SCALEF, ir.FunctionType(F32, [F32, F32]), _scalef_variant,
                 _SCALEF_LANES, "memory(none)")
    return builder.call(fn, [p, n])


def _prefetch_variant(module: ir.Module, lanes: int) -> str:
    """Define the `lanes`-wide variant of PREFETCH in `module`, which fetches the first lane's
    address only (the others are on its cache line, or on the next lane 0's); its name."""
    vector = ir.VectorType(I64, lanes)
    intrinsic = declare(module, "llvm.prefetch.p0", ir.VoidType(), [ir.PointerType()] +
                        [ir.IntType(32)] * 3)
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [vector]),
                     name=f"{_PREFIX}prefetch.v{lanes}i64")
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    first = b.inttoptr(b.extract_element(fn.args[0], ir.Constant(I64, 0)), ir.PointerType())
    # a read (0), kept in every cache level (3), of data (1)
    b.call(intrinsic, [first] + [ir.Constant(ir.IntType(32), k) for k in (0, 3, 1)])
    b.ret_void()
    return fn.name


def prefetch(builder: ir.IRBuilder, address: ir.Value) -> None:
    """Ask the CPU to fetch the cache line of `address` (a pointer) for reading; in a
    vectorized loop, one line per vector of iterations."""
    # An integer, not a pointer: the vectorizer's memory analysis gives up on calls that take
    # pointers and may touch memory.
    fn = _helper(builder.module, PREFETCH, ir.FunctionType(ir.VoidType(), [I64]),
                 _prefetch_variant, _PREFETCH_LANES, "memory(inaccessiblemem: readwrite)")
    builder.call(fn, [builder.ptrtoint(address, I64)])


def inline_helpers(module: llvm.ModuleRef, machine: llvm.TargetMachine) -> None:
    """Inline the helpers' vector variants and scalar definitions into `module` (optimised
    already), in place."""
    if not any(fn.name.startswith(_PREFIX) for fn in module.functions):
        return
    module.link_in(llvm.parse_assembly(_SCALAR_DEFINITIONS))
    passes = llvm.create_new_module_pass_manager()
    passes.add_always_inliner_pass()
    passes.add_instruction_combine_pass()
    passes.add_global_dead_code_eliminate_pass()
    passes.run(module, llvm.create_pass_builder(
        machine, llvm.create_pipeline_tuning_options(speed_level=3)))
