"""`map-to-gpu`: loops IR mapped onto the GPU verifies (Ember's loops verifier, print/parse
round trip, plain mlir-opt) and, run thread by thread by the SIMT interpreter, gives the graph
interpreter's values: per primitive, for each mapping (grid, rows with block reductions,
tiled matmul, single thread), and for the forward, derived backward and training step of the
model zoo."""

import functools

import numpy as np
import pytest

import ember
import ember.nn.functional as F
import ember.optim as optim
from ember.frontend.compiled import Specialization
from ember.ir import parse
from ember.ir.core import functions
from ember.passes import PassManager
from ember.passes.lowering.emitter import LoweringError
from ember.runtime.loops_interpreter import run_loops
from model_zoo import MODELS, batch, build, train_step
from primitive_graphs import check_against_graph, primitive_graph, run_checked  # noqa: E402

RNG = np.random.default_rng(0)


def _map(graph_module):
    """The GPU-mapped loops IR of a graph module, checked to verify and round-trip."""
    return run_checked(parse(str(graph_module)), "lower-to-loops,fuse-rows,map-to-gpu")


def _mappings(module):
    return [op.attributes["ember.mapping"] for op in module.walk() if op.name == "gpu.func"]


def _check(graph_module, arrays, rtol=1e-5, atol=1e-6):
    """Map, run on the SIMT interpreter, compare with the graph interpreter; the mapped IR."""
    return check_against_graph(graph_module, "lower-to-loops,fuse-rows,map-to-gpu", arrays,
                               rtol, atol)


def _fused(fn, *args):
    with ember.no_grad():
        return parse(ember.jit(fn).lower(*args).as_text("fused"))


# --- the mappings, one primitive or function at a time -----------------------------------------

def test_elementwise_is_a_grid_with_a_bounds_guard():
    x, y = RNG.standard_normal((3, 50)).astype(np.float32), RNG.standard_normal(50).astype(
        np.float32)
    mapped = _check(primitive_graph("add", [x, y]), [x, y])
    assert _mappings(mapped) == ["grid"]
    text = str(mapped)
    assert "gpu.container_module" in text and '"gpu.launch_func"' in text
    assert "known_block_size = array<i32: 160, 1, 1>" in text  # 150 threads, in whole warps


@pytest.mark.parametrize("shape", [(4, 10), (3, 100), (2, 700)])
def test_softmax_rows_reduce_in_blocks(shape):
    """One block per row; 100 and 700 columns take several warps, combined through
    workgroup memory (and 700 > 256 threads: several columns per thread)."""
    x = ember.randn(*shape)
    module = _fused(lambda t: F.softmax(t, dim=-1), x)
    mapped = _check(module, [x.numpy()], rtol=1e-5, atol=1e-6)
    assert _mappings(mapped) == ["rows"]
    text = str(mapped)
    assert "#gpu<shuffle_mode xor>" in text and '"gpu.barrier"' in text
    assert ("memref<32xf32, 3>" in text) == (shape[1] > 32)


def test_layer_norm_rows():
    x, w, b = ember.randn(6, 40), ember.randn(40), ember.randn(40)
    module = _fused(lambda t, w, b: F.layer_norm(t, (40,), w, b), x, w, b)
    mapped = _check(module, [x.numpy(), w.numpy(), b.numpy()], rtol=1e-4, atol=1e-5)
    assert "rows" in _mappings(mapped)


@pytest.mark.parametrize("name", ["sum", "max", "prod"])
@pytest.mark.parametrize("axes", [(0,), (1,), (0, 1)])
def test_reductions(name, axes):
    x = RNG.uniform(0.5, 1.5, (5, 40)).astype(np.float32)
    _check(primitive_graph(name, [x], axes=axes, keepdim=False), [x], rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float64])
def test_sums_of_other_types_shuffle_their_width(dtype):
    x = RNG.integers(-50, 50, (3, 70)).astype(dtype)
    _check(primitive_graph("sum", [x], axes=(1,), keepdim=False), [x])


def test_a_sum_over_several_axes_is_collapsed_and_split_over_a_block():
    """A bias gradient's shape: few outputs, each a sum over batch, height and width (a nest
    of three loops): one block per output, the nest made one loop its threads split."""
    x = RNG.standard_normal((4, 3, 20, 20)).astype(np.float32)
    mapped = _check(primitive_graph("sum", [x], axes=(0, 2, 3), keepdim=False), [x],
                    rtol=1e-5, atol=1e-4)
    assert _mappings(mapped) == ["rows"]
    assert "known_block_size = array<i32: 256, 1, 1>" in str(mapped)


def test_many_short_sums_keep_a_thread_each():
    x = RNG.standard_normal((300, 40, 2, 3)).astype(np.float32)
    mapped = _check(primitive_graph("sum", [x], axes=(2, 3), keepdim=False), [x])
    assert _mappings(mapped) == ["grid"]


def test_argmax_runs_in_every_thread():
    x = RNG.standard_normal((4, 9)).astype(np.float32)
    _check(primitive_graph("argmax", [x], axis=1, keepdim=False), [x])


# --- tiled matmul -------------------------------------------------------------------------------

def _matmul(a_shape, b_shape, transpose_a, transpose_b, dtype=np.float32):
    """(graph module, inputs) of A @ B where A and B are given as buffers holding their
    transposes (the nest then loads A[.., k, i] / B[.., j, k]) when asked."""
    arrays = [RNG.standard_normal(shape[:-2] + (shape[-1], shape[-2]) if flip else shape)
              .astype(dtype) for shape, flip in ((a_shape, transpose_a), (b_shape, transpose_b))]

    def product(a, b):
        a = a.transpose(-1, -2) if transpose_a else a
        b = b.transpose(-1, -2) if transpose_b else b
        return a @ b

    return _fused(product, *(ember.tensor(x) for x in arrays)), arrays


@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("a_shape, b_shape", [
    ((1, 1), (1, 1)),
    ((7, 37), (37, 13)),
    ((33, 17), (17, 65)),  # an edge on every side of the 64 x 64 tiles and 16-deep steps
    ((3, 4, 9), (3, 9, 70)),  # batched: two tiles per batch along N
    ((2, 1, 5, 20), (3, 20, 6)),  # broadcast batch axes on both sides
])
def test_float32_matmul_is_tiled(a_shape, b_shape, transpose_a, transpose_b):
    module, arrays = _matmul(a_shape, b_shape, transpose_a, transpose_b)
    mapped = _check(module, arrays, rtol=1e-5, atol=1e-5)
    assert _mappings(mapped) == ["tiles"]
    assert "ember.kernel" not in str(mapped)  # the CPU's hand-written kernel is not used


def test_large_matmul_stages_tiles_in_workgroup_memory():
    """128 x 128 x 128: 2 x 2 blocks of 256 threads, A and B tiles in workgroup memory
    between barriers, and no bounds guards (every size is a multiple of the tile)."""
    mapped = _map(_matmul((128, 128), (128, 128), False, False)[0])
    (kernel,) = [op for op in mapped.walk() if op.name == "gpu.func"]
    assert kernel.attributes["ember.mapping"] == "tiles"
    text = str(mapped)
    assert "memref<64x16xf32, 3>" in text and "memref<16x64xf32, 3>" in text
    assert "known_block_size = array<i32: 256, 1, 1>" in text
    assert sum(op.name == "gpu.barrier" for op in kernel.walk()) == 2
    assert not any(op.name in ("scf.if", "arith.cmpi") for op in kernel.walk())


def test_a_small_product_with_a_long_k_splits_k_over_a_block():
    """Too few 64 x 64 tiles to fill the GPU and a long K: a block per element of C."""
    module, arrays = _matmul((4, 600), (600, 5), False, True)
    mapped = _check(module, arrays, rtol=1e-5, atol=1e-4)
    assert _mappings(mapped) == ["rows"]


def test_other_matmuls_are_a_grid_over_the_output():
    module, arrays = _matmul((2, 5, 7), (7, 3), False, True, dtype=np.float64)
    assert _mappings(_check(module, arrays)) == ["grid"]


def test_conv2d():
    x, w = RNG.standard_normal((2, 4, 5, 5)).astype(np.float32), RNG.standard_normal(
        (4, 2, 3, 2)).astype(np.float32)
    attrs = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    _check(primitive_graph("conv2d", [x, w], **attrs), [x, w], rtol=1e-4, atol=1e-5)


def test_gather_in_parallel_and_scatter_add_on_one_thread():
    x, index = RNG.standard_normal((4, 3)).astype(np.float32), RNG.integers(0, 4, (2, 3))
    _check(primitive_graph("gather", [x, index], axis=0), [x, index])
    src = RNG.standard_normal((2, 3)).astype(np.float32)
    mapped = _check(primitive_graph("scatter_add", [x, index, src], axis=0), [x, index, src])
    assert "single" in _mappings(mapped)


@pytest.mark.parametrize("name", ["gather", "scatter_add"])
def test_out_of_range_index_still_raises_naming_the_op(name):
    x, index = RNG.standard_normal((4, 3)).astype(np.float32), np.array([[0, 5, 1]])
    arrays = [x, index] + ([RNG.standard_normal((1, 3)).astype(np.float32)]
                           if name == "scatter_add" else [])
    mapped = _map(primitive_graph(name, arrays, axis=0))
    with pytest.raises(IndexError, match=rf"ember\.{name}: index 5 .* size 4"):
        run_loops(mapped, arrays)


def test_scalar_code_outside_loops_becomes_a_kernel():
    x = ember.randn(4, 3)
    labels = ember.randint(0, 3, (4,))
    module = _fused(F.cross_entropy, x, labels)
    _check(module, [x.numpy(), labels.numpy()], rtol=1e-5, atol=1e-6)


def test_mapping_twice_is_an_error():
    x = RNG.standard_normal(4).astype(np.float32)
    mapped = _map(primitive_graph("exp", [x]))
    with pytest.raises(LoweringError, match="already"):
        PassManager("map-to-gpu").run(mapped)


# --- the model zoo ------------------------------------------------------------------------------

def _graphs(jitted):
    """The optimised forward (and backward) graph modules of a jitted call's specialisation."""
    spec = [s for s in jitted.cache.values() if isinstance(s, Specialization)][-1]
    return [g.module for g in (spec.forward, spec.backward) if g is not None]


@functools.lru_cache(maxsize=None)
def _model_graphs(name):
    """{"forward", "backward", "step"}: the graphs of model `name`'s compiled forward, its
    derived backward, and a whole Adam training step."""
    model = build(name)
    x, y = batch(name, 0)
    forward = ember.jit(model, backend="interpreter")  # only its graphs are used
    forward(x)
    graphs = dict(zip(("forward", "backward"), _graphs(forward._jit)))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    step = ember.jit(lambda x, y: train_step(model, optimizer, x, y), backend="interpreter")
    step(x, y)
    step(x, y)  # the second specialisation holds the optimizer state
    graphs["step"] = _graphs(step)[0]
    return graphs


def _inputs(func):
    """Random floats, and zeros for integers (valid indices, labels and seeds)."""
    rng = np.random.default_rng(1)
    return [rng.standard_normal(a.type.shape).astype(a.type.dtype.numpy)
            if a.type.dtype.is_floating_point else np.zeros(a.type.shape, a.type.dtype.numpy)
            for a in func.regions[0].blocks[0].arguments]


@pytest.mark.parametrize("graph", ["forward", "backward", "step"])
@pytest.mark.parametrize("name", list(MODELS))
def test_model_zoo_mapped_loops_give_the_graph_values(name, graph):
    module = _model_graphs(name)[graph]
    # Random unit-scale parameters give activations near 10: float32 sums in another order
    # (threads' partial sums) differ by a few 1e-5 there.
    mapped = _check(module, _inputs(functions(module)[0]), rtol=2e-4, atol=1e-4)
    assert set(_mappings(mapped)) <= {"grid", "rows", "single", "tiles"}
