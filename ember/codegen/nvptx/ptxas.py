"""Checking PTX with NVIDIA's assembler, where the CUDA toolkit is installed (no GPU needed)."""

from __future__ import annotations

import os
import subprocess
import tempfile

from ember.ir.mlir_tools import find_executable

_CANDIDATES = ("ptxas", "/usr/local/cuda/bin/ptxas", "/usr/local/bin/ptxas")


def find_ptxas() -> str | None:
    """The path of a ptxas executable, or None."""
    return find_executable(_CANDIDATES)


def assemble(ptx: str, arch: str, tool: str | None = None) -> bytes:
    """The cubin ptxas makes of `ptx` for `arch`; ValueError with its messages if it fails."""
    tool = tool or find_ptxas()
    if tool is None:
        raise FileNotFoundError("ptxas not found (it comes with the CUDA toolkit)")
    with tempfile.TemporaryDirectory(prefix="ember-ptxas-") as folder:
        source, cubin = os.path.join(folder, "kernels.ptx"), os.path.join(folder, "kernels.cubin")
        with open(source, "w") as f:
            f.write(ptx)
        run = subprocess.run([tool, f"-arch={arch}", source, "-o", cubin], capture_output=True,
                             text=True, timeout=300)
        if run.returncode != 0:
            raise ValueError(f"ptxas rejected the PTX for {arch}:\n{run.stderr}")
        with open(cubin, "rb") as f:
            return f.read()
