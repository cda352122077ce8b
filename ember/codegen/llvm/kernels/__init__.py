"""Hand-tuned kernels that replace marked loop nests during translation to LLVM.

`lower-to-loops` marks the outermost `scf.for` of some nests with the discardable attribute
`ember.kernel = "<name>"` (matmul's `"matmul"`, conv2d's `"conv2d"`). The marked nest is the
reference implementation; when `KERNELS` has a row for the name, the translator calls

    emit(translator, loop, inputs, output) -> bool

instead of translating the nest, where `inputs` are the memrefs the nest's innermost body loads,
in the order of its loads (matmul: A, B; conv2d: x, w; the lowering copies operands that are
not buffers into ones first, so these are always memrefs; a matmul operand may be a buffer
loaded transposed, which the kernel tells from the loads' index order), and `output` is the
memref the nest stores its result into. Shapes are the memrefs' static types. The emitter appends its code at
`translator.builder` (`translator.get(memref)` is the LLVM pointer, `translator.module` the
module, `translator.threads` the threads it may use) and returns True; returning False (a dtype
or shape it does not handle) makes the translator emit the reference loops.
"""

from __future__ import annotations

from typing import Callable

from ember.codegen.llvm.kernels import conv, matmul

Emitter = Callable[..., bool]

KERNELS: dict[str, Emitter] = {
    "matmul": matmul.emit,
    "conv2d": conv.emit,
}
