"""Graph modules of a single primitive, loop pipelines checked at every step, and loops IR run
against the graph interpreter, for the lowering tests."""

import numpy as np

from ember.ir import PRIMITIVES, TensorType, dtypes, parse
from ember.ir.core import Builder, func_op, functions, module_op
from ember.ir.loops_verifier import verify_loops
from ember.ir.mlir_tools import find_mlir_opt, mlir_opt_plain
from ember.passes import PassManager
from ember.runtime.interpreter import run_function
from ember.runtime.loops_interpreter import run_loops


def primitive_graph(name, arrays, **attrs):
    """A module whose function applies primitive `name` to arguments like `arrays`."""
    types = [TensorType(a.shape, dtypes.from_numpy(a.dtype)) for a in arrays]
    func = func_op("f", types)
    builder = Builder(func.regions[0].blocks[0])
    result = PRIMITIVES[name].infer(types, attrs)
    op = builder.create(f"ember.{name}", func.regions[0].blocks[0].arguments, [result], attrs)
    builder.ret([op.result])
    module = module_op()
    module.regions[0].blocks[0].append(func)
    return module


def run_checked(module, pipeline: str):
    """`module` after `pipeline`, checked to round-trip, to pass Ember's loops verifier and
    (where it is installed) plain mlir-opt."""
    PassManager(pipeline).run(module)
    text = str(module)
    assert str(parse(text)) == text
    verify_loops(parse(text))
    if find_mlir_opt() is not None:  # else only Ember's own verifier checks it
        mlir_opt_plain(text)
    return module


def check_against_graph(graph_module, pipeline: str, arrays, rtol=1e-5, atol=1e-6):
    """`graph_module` after `pipeline` (checked as by run_checked), run by the loops (and SIMT)
    interpreter on `arrays`, gives the graph interpreter's values: floats within tolerance,
    the rest exactly. The lowered module."""
    expected = run_function(functions(graph_module)[0], arrays)
    lowered = run_checked(parse(str(graph_module)), pipeline)
    got = run_loops(lowered, arrays)
    for e, g in zip(expected, got):
        assert g.dtype == e.dtype and g.shape == e.shape
        if e.dtype.kind == "f" or e.dtype == dtypes.bfloat16.numpy:
            np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), rtol=rtol,
                                       atol=atol)
        else:
            np.testing.assert_array_equal(g, e)
    return lowered
