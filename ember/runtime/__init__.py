"""Runtimes: executing compiled graphs (the NumPy reference interpreter for now)."""

from ember.runtime import interpreter

BACKENDS = {"interpreter": interpreter.compile_module}
