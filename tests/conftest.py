"""Every graph that ember.jit compiles anywhere in the test suite is checked as it is built,
and again after every pass: the verifier accepts it, print -> parse -> print gives identical
text, and (where MLIR's tools are installed) mlir-opt --allow-unregistered-dialect accepts the
traced graph and the final optimised IR.

Helper modules shared across test folders (the model zoo of tests/models, the fake CUDA driver
of tests/runtime) are put on sys.path here, once, so any test imports them by name
(`from model_zoo import build`)."""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from ember.frontend import jit
from ember.ir import parse, print_operation, verify
from ember.ir.core import functions
from ember.ir.mlir_tools import find_mlir_opt, mlir_opt
from ember.passes import PassManager
from ember.runtime.interpreter import run_function

sys.path.insert(0, str(Path(__file__).parent / "models"))  # model_zoo, for tests/passes too
sys.path.insert(0, str(Path(__file__).parent / "runtime"))  # cuda_fake, for tests/frontend too

MLIR_OPT = find_mlir_opt()

# Compiled code is cached on disk: the suite uses an empty cache of its own, so that it neither
# reads nor fills the user's and tests that watch the compiler at work see it run.
os.environ["EMBER_CACHE_DIR"] = tempfile.mkdtemp(prefix="ember-test-cache-")


FINAL_PASS = jit.DEFAULT_PIPELINE.split(",")[-1]


def check_graph(stage: str, module) -> None:
    verify(module)
    text = print_operation(module)
    reparsed = parse(text)
    verify(reparsed)
    assert print_operation(reparsed) == text, "print -> parse -> print changed the IR"
    if MLIR_OPT is not None and stage in ("graph", FINAL_PASS):
        mlir_opt(text, tool=MLIR_OPT)
    if stage == "graph":
        check_pipeline_semantics(reparsed)


def _sample_inputs(func) -> list:
    """Random floats, and zeros for integer and bool inputs (always valid indices)."""
    rng = np.random.default_rng(0)
    return [rng.standard_normal(a.type.shape).astype(a.type.dtype.numpy)
            if a.type.dtype.is_floating_point else np.zeros(a.type.shape, a.type.dtype.numpy)
            for a in func.regions[0].blocks[0].arguments]


def check_pipeline_semantics(module) -> None:
    func = functions(module)[0]
    inputs = _sample_inputs(func)
    with np.errstate(all="ignore"):
        expected = run_function(func, inputs)
        optimised = PassManager(jit.DEFAULT_PIPELINE).run(parse(str(module)))
        actual = run_function(functions(optimised)[0], inputs)
    for e, a in zip(expected, actual):
        assert a.dtype == e.dtype and a.shape == e.shape
        np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), rtol=1e-5,
                                   atol=1e-5, equal_nan=True)


jit.GRAPH_CHECKS.append(check_graph)
