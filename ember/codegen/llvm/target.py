"""The host CPU as an LLVM target: its target machine, the -O3 pipeline, MCJIT, assembly.

Code is compiled for the machine it runs on (`get_host_cpu_name` and its features), so the
vectorizer uses the widest SIMD registers there are.
"""

from __future__ import annotations

import functools

import llvmlite.binding as llvm

from ember.codegen.llvm import vector_abi


def _create_host_machine() -> llvm.TargetMachine:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                        features=llvm.get_host_cpu_features().flatten(),
                                        opt=3, jit=True)


@functools.lru_cache(maxsize=None)
def host_target_machine() -> llvm.TargetMachine:
    """The target machine of this CPU, at optimisation level 3, shared for optimising and
    printing assembly (a JIT engine gets its own: it takes ownership of the one it is given)."""
    return _create_host_machine()


def parse(text: str) -> llvm.ModuleRef:
    """Parse and verify LLVM IR text."""
    module = llvm.parse_assembly(text)
    module.verify()
    return module


# The -O3 pipeline's settings; part of every cache key, since they change the machine code.
SPEED_LEVEL = 3
SETTINGS = f"O{SPEED_LEVEL} loop-vectorize slp-vectorize loop-unroll; mcjit object"


def optimize(module: llvm.ModuleRef, speed_level: int = SPEED_LEVEL) -> None:
    """Run LLVM's default -O<speed_level> pipeline (new pass manager) on `module` in place,
    then inline the vector-function ABI helpers it vectorized (`vector_abi`)."""
    options = llvm.create_pipeline_tuning_options(speed_level=speed_level)
    options.loop_vectorization = True
    options.slp_vectorization = True
    options.loop_unrolling = True
    builder = llvm.create_pass_builder(host_target_machine(), options)
    builder.getModulePassManager().run(module, builder)
    vector_abi.inline_helpers(module, host_target_machine())


def emit_object(module: llvm.ModuleRef) -> bytes:
    """The object code of `module` for this CPU (the JIT code model: it is loaded anywhere in
    the address space, far from the C library it calls)."""
    return host_target_machine().emit_object(module)


def load_object(obj: bytes) -> llvm.ExecutionEngine:
    """Load object code into this process; keep the engine alive while the code is used.
    C library symbols (malloc, the f64 math functions) resolve in the process."""
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _create_host_machine())
    engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    return engine


def assembly(module: llvm.ModuleRef) -> str:
    """The host assembly of `module`."""
    return host_target_machine().emit_assembly(module)
