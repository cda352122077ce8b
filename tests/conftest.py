"""Every graph that ember.jit compiles anywhere in the test suite is checked as it is built,
and again after every pass: the verifier accepts it, print -> parse -> print gives identical
text, and (where MLIR's tools are installed) mlir-opt --allow-unregistered-dialect accepts the
traced graph and the final optimised IR."""

from ember.frontend import jit
from ember.ir import parse, print_operation, verify
from ember.ir.mlir_tools import find_mlir_opt, mlir_opt

MLIR_OPT = find_mlir_opt()


FINAL_PASS = jit.DEFAULT_PIPELINE.split(",")[-1]


def check_graph(stage: str, module) -> None:
    verify(module)
    text = print_operation(module)
    reparsed = parse(text)
    verify(reparsed)
    assert print_operation(reparsed) == text, "print -> parse -> print changed the IR"
    if MLIR_OPT is not None and stage in ("graph", FINAL_PASS):
        mlir_opt(text, tool=MLIR_OPT)


jit.GRAPH_CHECKS.append(check_graph)
