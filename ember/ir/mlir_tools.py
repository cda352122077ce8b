"""Cross-checking Ember's IR with MLIR's own tools, where they are installed."""

from __future__ import annotations

import os
import shutil
import subprocess

_CANDIDATES = ("/usr/lib/llvm-22/bin/mlir-opt", "mlir-opt")


def find_executable(candidates: tuple[str, ...]) -> str | None:
    """The first of `candidates` (absolute paths, or names looked up on PATH) that is an
    executable file, or None."""
    for candidate in candidates:
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.access(path, os.X_OK):
            return path
    return None


def find_mlir_opt() -> str | None:
    """The path of an mlir-opt executable (MLIR 22 tools), or None."""
    return find_executable(_CANDIDATES)


def mlir_opt(text: str, *flags: str, tool: str | None = None) -> str:
    """Run mlir-opt --allow-unregistered-dialect on `text`; its output, or ValueError."""
    tool = tool or find_mlir_opt()
    if tool is None:
        raise FileNotFoundError("mlir-opt not found (apt-get install mlir-22-tools)")
    run = subprocess.run([tool, "--allow-unregistered-dialect", *flags], input=text,
                         capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        raise ValueError(f"mlir-opt rejected the IR:\n{run.stderr}")
    return run.stdout


def mlir_opt_plain(text: str, *flags: str, tool: str | None = None) -> str:
    """Run plain mlir-opt (no unregistered dialects) on `text`, as loop-level IR must pass:
    every op must belong to a registered dialect and verify; its output, or ValueError."""
    tool = tool or find_mlir_opt()
    if tool is None:
        raise FileNotFoundError("mlir-opt not found (apt-get install mlir-22-tools)")
    run = subprocess.run([tool, *flags], input=text, capture_output=True, text=True,
                         timeout=120)
    if run.returncode != 0:
        raise ValueError(f"mlir-opt rejected the IR:\n{run.stderr}")
    return run.stdout
