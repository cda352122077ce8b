"""Every module the printer tests build is valid MLIR for mlir-opt, and its output reads back."""

import pytest

from ir_samples import all_modules

from ember.ir import parse, print_operation, verify
from ember.ir.mlir_tools import find_mlir_opt, mlir_opt

MLIR_OPT = find_mlir_opt()

pytestmark = pytest.mark.skipif(
    MLIR_OPT is None, reason="mlir-opt not found (install mlir-22-tools, as .ci/run does)")


@pytest.mark.parametrize("name, module", all_modules().items())
def test_mlir_opt_accepts_and_round_trips(name, module):
    text = print_operation(module)
    # mlir-opt's output (custom func syntax, `return`, its own float spellings) reads back
    # into the same IR.
    parsed = parse(mlir_opt(text))
    verify(parsed)
    assert print_operation(parsed) == text


def test_mlir_opt_generic_form_reads_back():
    text = print_operation(all_modules()["mlp"])
    parsed = parse(mlir_opt(text, "--mlir-print-op-generic"))
    verify(parsed)
    assert print_operation(parsed) == text
