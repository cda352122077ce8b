"""Graph modules of a single primitive, for the lowering tests."""

from ember.ir import PRIMITIVES, TensorType, dtypes
from ember.ir.core import Builder, func_op, module_op


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
