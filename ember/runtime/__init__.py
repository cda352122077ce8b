"""Runtimes: executing compiled graphs (the NumPy reference interpreter, native CPU code,
CUDA kernels)."""

from ember.runtime import interpreter, llvm
from ember.runtime.cuda import executable

BACKENDS = {"interpreter": interpreter.compile_module, "llvm": llvm.compile_module,
            "cuda": executable.compile_module}
# The device type whose tensors each backend's compiled graphs take.
BACKEND_DEVICES = {"interpreter": "cpu", "llvm": "cpu", "cuda": "cuda"}
