"""The `fuse` pass on graphs traced from real models: same values, valid IR, few kernels.

Every graph is traced with `ember.jit(...).lower(...)`, parsed, and checked before and after
fusion with the reference interpreter on the same random inputs.
"""

import numpy as np
import pytest

from ember.ir import VerifyError, parse, print_operation, verify
from ember.ir.core import functions
from ember.passes import PassManager
from ember.passes.fusion import kernel_count
from ember.runtime.interpreter import run_function
from model_zoo import CLASSES
from traced_graphs import GRAPHS, MODELS


def _ember_ops(module):
    return [op for op in module.walk() if op.dialect == "ember"]


def _inputs(func, seed=0):
    rng = np.random.default_rng(seed)
    arrays = []
    for arg in func.regions[0].blocks[0].arguments:
        dtype = arg.type.dtype.numpy
        if np.issubdtype(dtype, np.integer):
            arrays.append(rng.integers(0, CLASSES, arg.type.shape).astype(dtype))
        else:
            arrays.append(rng.standard_normal(arg.type.shape).astype(dtype))
    return arrays


def _fuse(module, pipeline="fuse"):
    PassManager(pipeline).run(module)  # verifies after the pass
    return module


@pytest.fixture(scope="module", params=list(GRAPHS))
def fused(request):
    """(name, graph before fusion, the same graph fused)."""
    before = GRAPHS[request.param]()
    return request.param, before, _fuse(parse(print_operation(before)))


def test_fusion_preserves_values(fused):
    name, before, after = fused
    for f_before, f_after in zip(functions(before), functions(after)):
        inputs = _inputs(f_before)
        for got, expected in zip(run_function(f_after, inputs), run_function(f_before, inputs)):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=name)


def test_fused_graph_verifies_and_round_trips(fused):
    _, _, after = fused
    verify(after)
    text = print_operation(after)
    assert print_operation(parse(text)) == text
    assert any(op.name == "ember.fusion" for op in after.walk())


def test_kernels_hold_at_most_one_matmul_and_unique_names(fused):
    _, _, after = fused
    kernels = [op for op in after.walk() if op.name == "ember.fusion"]
    for kernel in kernels:
        heavy = [op for op in kernel.walk() if op.name in ("ember.matmul", "ember.conv2d")]
        assert len(heavy) <= 1, kernel.attributes["kernel"]
    names = [k.attributes["kernel"] for k in kernels]
    assert len(set(names)) == len(names) and all(n.startswith("fused_") for n in names)


@pytest.mark.parametrize("name", ["softmax", "layer_norm", "cross_entropy"])
def test_composites_become_at_most_two_kernels(name):
    assert kernel_count(_fuse(GRAPHS[name]())) <= 2


@pytest.mark.parametrize("name", MODELS)
def test_model_kernel_counts_at_most_40_percent_of_primitives(name):
    module = GRAPHS[name]()
    primitives = len(_ember_ops(module))
    kernels = kernel_count(_fuse(module))
    print(f"{name}: {primitives} primitive ops -> {kernels} kernels "
          f"({100 * kernels / primitives:.0f}%)")
    assert kernels <= 0.4 * primitives


def test_max_ops_bounds_kernel_size():
    module = _fuse(GRAPHS["mlp_step"](), "fuse{max-ops=4}")
    for kernel in (op for op in module.walk() if op.name == "ember.fusion"):
        body = kernel.regions[0].blocks[0].operations
        assert sum(op.opname not in ("full", "constant", "iota", "yield") for op in body) <= 4


TWO_MATMULS = """
func.func @f(%arg0: tensor<4x4xf32>, %arg1: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %0 = "ember.matmul"(%arg0, %arg1) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %1 = "ember.tanh"(%0) : (tensor<4x4xf32>) -> tensor<4x4xf32>
  %2 = "ember.matmul"(%1, %arg1) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %3 = "ember.add"(%2, %0) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  func.return %3 : tensor<4x4xf32>
}
"""


def test_two_matmuls_never_share_a_kernel():
    module = _fuse(parse(TWO_MATMULS))
    kernels = [op for op in module.walk() if op.name == "ember.fusion"]
    assert len(kernels) == 2
    for kernel in kernels:
        assert sum(op.name == "ember.matmul" for op in kernel.walk()) == 1


# %2 (a matmul: its own kernel) reads %1 and feeds %3; putting the reduction %3 into the
# kernel of its producer %1 would make that kernel both feed and wait for the matmul.
CYCLE = """
func.func @f(%arg0: tensor<4x4xf32>, %arg1: tensor<4x4xf32>) -> tensor<4xf32> {
  %0 = "ember.sum"(%arg0) {axes = array<i64: 1>, keepdim = true}
    : (tensor<4x4xf32>) -> tensor<4x1xf32>
  %1 = "ember.sub"(%arg0, %0) : (tensor<4x4xf32>, tensor<4x1xf32>) -> tensor<4x4xf32>
  %2 = "ember.matmul"(%1, %arg1) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %3 = "ember.add"(%1, %2) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %4 = "ember.sum"(%3) {axes = array<i64: 1>, keepdim = false} : (tensor<4x4xf32>) -> tensor<4xf32>
  func.return %4 : tensor<4xf32>
}
"""


def test_fusion_that_would_close_a_cycle_is_refused():
    module = _fuse(parse(CYCLE))
    body = functions(module)[0].regions[0].blocks[0].operations
    first = next(op for op in body if op.name == "ember.fusion")
    assert [op.opname for op in first.regions[0].blocks[0].operations] == ["sum", "sub", "yield"]
    (func,) = functions(module)
    inputs = _inputs(func)
    expected = run_function(functions(parse(CYCLE))[0], inputs)
    np.testing.assert_allclose(run_function(func, inputs)[0], expected[0], rtol=1e-6)


def test_fusing_twice_changes_nothing():
    module = _fuse(GRAPHS["softmax"]())
    text = print_operation(module)
    assert print_operation(_fuse(module)) == text


FUSION = """
func.func @f(%arg0: tensor<4xf32>) -> tensor<4xf32> {{
  %0 = "ember.fusion"(%arg0) ({{
  ^bb0(%arg1: {arg}):
    %1 = "ember.exp"({use}) : ({arg}) -> {arg}
    "ember.yield"(%1) : ({arg}) -> ()
  }}) {{kernel = "k"}} : (tensor<4xf32>) -> {result}
  func.return %0 : {result}
}}
"""


@pytest.mark.parametrize("arg, use, result, message", [
    ("tensor<4xf32>", "%arg0", "tensor<4xf32>", "operand 0 (argument 0 of a block"),
    ("tensor<2xf32>", "%arg1", "tensor<2xf32>", "block arguments (tensor<2xf32>) do not match"),
    ("tensor<4xf32>", "%arg1", "tensor<4xi64>", "yields (tensor<4xf32>) but the ember.fusion"),
])
def test_verifier_rejects_malformed_fusion(arg, use, result, message):
    module = parse(FUSION.format(arg=arg, use=use, result=result))
    with pytest.raises(VerifyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        verify(module)
