"""The NVPTX target: architectures, the target machine, the optimiser and PTX emission."""

from __future__ import annotations

import functools
import os
from typing import Callable

import llvmlite.binding as llvm

TRIPLE = "nvptx64-nvidia-cuda"
ARCHS = ("sm_80", "sm_86", "sm_89", "sm_90")
FALLBACK_ARCH = "sm_90"
# PTX ISA 8.0 (CUDA 12.0) covers every architecture of ARCHS.
PTX_FEATURES = "+ptx80"

# Set by the CUDA runtime: the architecture of the current device, or None without one.
device_arch: Callable[[], str | None] | None = None


def default_arch() -> str:
    """The architecture to compile for: $EMBER_CUDA_ARCH, else the device's (through the
    `device_arch` hook the runtime sets), else sm_90."""
    arch = os.environ.get("EMBER_CUDA_ARCH") or (device_arch() if device_arch else None)
    return check_arch(arch or FALLBACK_ARCH)


def arch_for_capability(capability: tuple[int, int]) -> str:
    """The newest architecture of ARCHS a device of compute `capability` runs (PTX for an
    older architecture runs on newer devices); ValueError below the oldest."""
    usable = [a for a in ARCHS if (int(a[3:-1]), int(a[-1])) <= tuple(capability)]
    if not usable:
        raise ValueError(f"cuda backend: compute capability {capability[0]}.{capability[1]} is "
                         f"older than the oldest supported architecture, {ARCHS[0]}")
    return usable[-1]


def check_arch(arch: str) -> str:
    """`arch` if Ember compiles for it, else ValueError naming the supported ones."""
    if arch not in ARCHS:
        raise ValueError(f"cuda backend: unsupported architecture {arch!r}; supported: "
                         f"{', '.join(ARCHS)}")
    return arch


@functools.lru_cache(maxsize=None)
def target_machine(arch: str) -> llvm.TargetMachine:
    """The NVPTX target machine for `arch` at -O3."""
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    target = llvm.Target.from_triple(TRIPLE)
    return target.create_target_machine(cpu=check_arch(arch), features=PTX_FEATURES, opt=3)


def optimize(module: llvm.ModuleRef, arch: str) -> None:
    """LLVM's -O3 pipeline for `arch`, in place (NVPTX's own passes run as part of it)."""
    options = llvm.create_pipeline_tuning_options(speed_level=3)
    builder = llvm.create_pass_builder(target_machine(arch), options)
    builder.getModulePassManager().run(module, builder)


def emit_ptx(module: llvm.ModuleRef, arch: str) -> str:
    """The PTX text of `module` for `arch`."""
    return target_machine(arch).emit_assembly(module)
