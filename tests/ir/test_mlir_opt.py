"""Every module the printer tests build is valid MLIR for mlir-opt, and its output reads back."""

import os
import shutil
import subprocess

import pytest

from ir_samples import all_modules

from ember.ir import parse, print_operation, verify

MLIR_OPT = next((p for p in ("/usr/lib/llvm-22/bin/mlir-opt", shutil.which("mlir-opt"))
                 if p and os.access(p, os.X_OK)), None)

pytestmark = pytest.mark.skipif(
    MLIR_OPT is None, reason="mlir-opt not found (install mlir-22-tools, as .ci/run does)")


@pytest.mark.parametrize("name, module", all_modules().items())
def test_mlir_opt_accepts_and_round_trips(name, module):
    text = print_operation(module)
    run = subprocess.run([MLIR_OPT, "--allow-unregistered-dialect"], input=text,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    # mlir-opt's output (custom func syntax, `return`, its own float spellings) reads back
    # into the same IR.
    parsed = parse(run.stdout)
    verify(parsed)
    assert print_operation(parsed) == text


def test_mlir_opt_generic_form_reads_back():
    text = print_operation(all_modules()["mlp"])
    run = subprocess.run([MLIR_OPT, "--allow-unregistered-dialect", "--mlir-print-op-generic"],
                         input=text, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    parsed = parse(run.stdout)
    verify(parsed)
    assert print_operation(parsed) == text
