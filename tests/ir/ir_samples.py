"""Graph-level modules built with the Builder, shared by the printer/parser and mlir-opt tests."""

import ml_dtypes
import numpy as np

from ember.ir import Builder, PRIMITIVES, TensorType, func_op, module_op
from ember.ir import dtypes

f32, i64 = dtypes.float32, dtypes.int64


def t(*shape, dtype=f32):
    return TensorType(tuple(shape), dtype)


def emit(b: Builder, name, operands, **attrs):
    """Append ember.<name> with its result type from the op table."""
    result = PRIMITIVES[name].infer([v.type for v in operands], attrs)
    return b.create(f"ember.{name}", operands, [result], attrs).result


def mlp_module():
    """A small MLP forward pass with a softmax cross-entropy style loss."""
    module = module_op()
    func = func_op("mlp_forward", [t(8, 4), t(4, 16), t(16), t(8, 16)])
    module.regions[0].blocks[0].append(func)
    b = Builder(func.regions[0].blocks[0])
    x, w, bias, target = func.regions[0].blocks[0].arguments
    h = emit(b, "matmul", [x, w])
    h = emit(b, "add", [h, emit(b, "broadcast_to", [bias], shape=(8, 16))])
    zero = emit(b, "full", [], shape=(8, 16), value=0.0, dtype="float32")
    h = emit(b, "maximum", [h, zero])
    m = emit(b, "max", [h], axes=(1,), keepdim=True)
    e = emit(b, "exp", [emit(b, "sub", [h, emit(b, "broadcast_to", [m], shape=[8, 16])])])
    s = emit(b, "sum", [e], axes=[1], keepdim=True)
    p = emit(b, "div", [e, s])
    loss = emit(b, "sum", [emit(b, "mul", [p, target])], axes=(0, 1), keepdim=False)
    b.ret([p, loss])
    return module


def zoo_module():
    """Two functions using many primitives with real attributes and constants of every kind."""
    module = module_op()
    body = module.regions[0].blocks[0]
    func = func_op("zoo", [t(2, 3, 4), t(1, 3, 5, 5), t(4, 3, 3, 3), t(2, 3, 4, dtype=i64)])
    body.append(func)
    b = Builder(func.regions[0].blocks[0])
    x, img, kernel, idx = func.regions[0].blocks[0].arguments
    r = emit(b, "reshape", [x], shape=(6, 4))
    pm = emit(b, "permute", [x], dims=(2, 0, 1))
    sl = emit(b, "slice", [x], starts=(0, 1, 0), stops=(2, 3, 4), steps=(1, 1, 2))
    pd = emit(b, "pad", [sl], pads=(0, 0, 1, 1, 0, 0), value=-1.5)
    cat = emit(b, "concat", [x, x, x], axis=1)
    conv = emit(b, "conv2d", [img, kernel], stride=(1, 1), padding=(1, 1), dilation=(1, 1),
                groups=1)
    g = emit(b, "gather", [x, idx], axis=2)
    cond = emit(b, "gt", [x, emit(b, "full", [], shape=(2, 3, 4), value=0.0, dtype="float32")])
    wh = emit(b, "where", [cond, x, g])
    c = emit(b, "cast", [wh], dtype="bfloat16")
    io = emit(b, "iota", [], shape=(2, 3), axis=1, dtype="int64")
    seed = emit(b, "constant", [], value=np.array(42, np.int64))
    offset = emit(b, "full", [], shape=(), value=7, dtype="int64")
    ru = emit(b, "random_uniform", [seed, offset], shape=(3, 2), dtype="float32")
    consts = [np.array([[1.5, -2.0], [0.1, np.inf]], np.float32),
              np.array([1, 2, 3], dtype=ml_dtypes.bfloat16), np.zeros((0, 2), np.float64),
              np.array([True, False, True]), np.full((2, 2), 3, np.int32),
              np.arange(150, dtype=np.float32), np.array(-0.0, np.float16)]
    cs = [emit(b, "constant", [], value=v) for v in consts]
    fl = emit(b, "flip", [emit(b, "neg", [r])], axes=())
    am = emit(b, "argmax", [pm], axis=0, keepdim=False)
    ok = emit(b, "full", [], shape=(2,), value=True, dtype="bool")
    nan = emit(b, "full", [], shape=(2,), value=float("nan"), dtype="float32")
    b.ret([r, pd, cat, conv, c, io, ru, fl, am, ok, nan] + cs)

    func2 = func_op("no_results", [t()])
    body.append(func2)
    Builder(func2.regions[0].blocks[0]).ret([])
    return module


def all_modules():
    return {"mlp": mlp_module(), "zoo": zoo_module()}
