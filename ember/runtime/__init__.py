"""Runtimes: executing compiled graphs (the NumPy reference interpreter, native CPU code)."""

from ember.runtime import interpreter, llvm

BACKENDS = {"interpreter": interpreter.compile_module, "llvm": llvm.compile_module}
