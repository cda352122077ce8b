"""Scalar helpers that LLVM's loop vectorizer widens into vector instructions of our choosing.

Some x86 instructions have no scalar LLVM IR that the vectorizer turns into them. AVX-512's
`vscalefps` computes p * 2**floor(n) for a float n, but `llvm.ldexp` takes an integer exponent
and x86 lowers it by converting that integer back to a float: in `exp`, whose n is a float
already, that is two instructions more per vector than needed.

A helper is a scalar function that stays a declaration through -O3. Its vector-function ABI
attribute (`vector-function-abi-variant`) names variants of 4, 8 and 16 lanes, internal
always-inline functions of one intrinsic each, so the vectorizer calls the variant of the width
it picks. `inline_helpers` then links in the scalar definitions (for loops that stay scalar) and
inlines every call, which the -O3 pipeline no longer does after vectorizing: no call is left.
"""

from __future__ import annotations

import llvmlite.binding as llvm
from llvmlite import ir

from ember.codegen.llvm.intrinsics import declare

F32 = ir.FloatType()
_PREFIX = "ember.scalef."  # the helper and its variants
SCALEF = f"{_PREFIX}f32"
_SCALEF_LANES = {4: "128", 8: "256", 16: "512"}
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
"""


class _HelperAttributes(ir.FunctionAttributes):
    """Function attributes that llvmlite does not know: `memory(none)`, `willreturn`, and the
    string attribute naming the vector variants."""

    _known = ir.FunctionAttributes._known | {"memory(none)", "willreturn"}

    def add(self, name: str) -> None:
        if name.startswith('"vector-function-abi-variant"='):
            set.add(self, name)
        else:
            super().add(name)


def _vector_variant(module: ir.Module, lanes: int) -> str:
    """Define the `lanes`-wide variant of SCALEF in `module`; its name."""
    vector = ir.VectorType(F32, lanes)
    mask = ir.IntType(max(lanes, 8))
    # the 512-bit form alone takes a rounding operand
    rounding = [ir.Constant(ir.IntType(32), _CURRENT_ROUNDING)] if lanes == 16 else []
    intrinsic = declare(module, f"llvm.x86.avx512.mask.scalef.ps.{_SCALEF_LANES[lanes]}",
                        vector, [vector, vector, vector, mask] + [r.type for r in rounding])
    fn = ir.Function(module, ir.FunctionType(vector, [vector, vector]),
                     name=f"{_PREFIX}v{lanes}f32")
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.ret(b.call(intrinsic, [*fn.args, ir.Constant(vector, None), ir.Constant(mask, -1),
                             *rounding]))
    return fn.name


def _keep(module: ir.Module, functions: list[ir.Function]) -> None:
    """List `functions` in llvm.compiler.used: -O3 must not delete the vector variants before
    the vectorizer has looked for them."""
    ptr = ir.PointerType()
    used = ir.GlobalVariable(module, ir.ArrayType(ptr, len(functions)), _USED)
    used.linkage = "appending"
    used.section = "llvm.metadata"
    used.initializer = ir.Constant(used.type.pointee, functions)


def scalef(builder: ir.IRBuilder, p: ir.Value, n: ir.Value) -> ir.Value:
    """p * 2**floor(n) for f32 `p` and `n`, rounded once (`vscalefps`; AVX-512 hosts only)."""
    module = builder.module
    fn = module.globals.get(SCALEF)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(F32, [F32, F32]), name=SCALEF)
        variants = [_vector_variant(module, lanes) for lanes in _SCALEF_LANES]
        mappings = ",".join(f"_ZGV_LLVM_N{lanes}vv_{SCALEF}({name})"
                            for lanes, name in zip(_SCALEF_LANES, variants))
        fn.attributes = _HelperAttributes(
            ["nounwind", "willreturn", "memory(none)",
             f'"vector-function-abi-variant"="{mappings}"'])
        _keep(module, [module.globals[name] for name in variants])
    return builder.call(fn, [p, n])


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
