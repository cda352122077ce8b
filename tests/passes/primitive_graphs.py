"""Graph modules of a single primitive, and loop pipelines checked at every step, for the
lowering tests."""

from ember.ir import PRIMITIVES, TensorType, dtypes, parse
from ember.ir.core import Builder, func_op, module_op
from ember.ir.loops_verifier import verify_loops
from ember.ir.mlir_tools import find_mlir_opt, mlir_opt_plain
from ember.passes import PassManager


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
