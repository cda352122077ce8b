"""PTX codegen: `ember.jit(...).lower(..., target="cuda")` gives every CUDA stage on a machine
without a GPU, ptxas assembles every kernel of the model zoo (forward, derived backward, whole
training step) for sm_90 and sm_80 and the tiled matmul for sm_90, the launch plan describes
the host code, and what the GPU cannot do fails with an error naming the op and dtype."""

import ctypes
import functools

import llvmlite.binding as llvm
import numpy as np
import pytest
from llvmlite import ir

import ember
import ember.nn.functional as F
import ember.optim as optim
from ember.codegen import math_approx
from ember.codegen.llvm import target as cpu_target
from ember.codegen.nvptx import target
from ember.codegen.nvptx.compile import compile_graph
from ember.codegen.nvptx.plan import Buffer
from ember.codegen.nvptx.ptxas import assemble, find_ptxas
from ember.codegen.nvptx.translate import UnsupportedOnCuda
from ember.ir import parse
from model_zoo import MODELS, batch, build, train_step

PTXAS = find_ptxas()
needs_ptxas = pytest.mark.skipif(PTXAS is None, reason="ptxas (CUDA toolkit) is not installed")


@functools.lru_cache(maxsize=None)
def _model_ptx(name, arch):
    """PTX of model `name`: its forward with derived backward, and an Adam training step (its
    bias correction takes powers in float64)."""
    model = build(name)
    x, y = batch(name, 0)
    forward = ember.jit(model, backend="interpreter")
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    step = ember.jit(lambda x, y: train_step(model, optimizer, x, y), backend="interpreter")
    step(x, y)  # the second specialisation, lowered below, holds the optimizer state
    lowered = {"forward and backward": forward.lower(x, target="cuda", arch=arch),
               "training step": step.lower(x, y, target="cuda", arch=arch)}
    # one PTX module per compiled graph
    return {f"{what} {i}": str(ptx) for what, low in lowered.items()
            for i, ptx in enumerate(low.graphs["ptx"])}


@needs_ptxas
@pytest.mark.parametrize("name", list(MODELS))
def test_model_zoo_ptx_assembles_for_sm_90(name):
    for what, ptx in _model_ptx(name, "sm_90").items():
        assert ".target sm_90" in ptx and ".visible .entry" in ptx, what
        assert assemble(ptx, "sm_90", PTXAS), what


@needs_ptxas
def test_ptx_assembles_for_sm_80():
    for what, ptx in _model_ptx("transformer", "sm_80").items():
        assert ".target sm_80" in ptx
        assert assemble(ptx, "sm_80", PTXAS), what


@needs_ptxas
@pytest.mark.parametrize("shape", [(128, 128, 128), (33, 65, 17)])
def test_tiled_matmul_assembles_for_sm_90(shape):
    """The tiled matmul (x @ w.T: B read transposed), with and without edge guards, stages
    its tiles in shared memory between barriers."""
    m, n, k = shape
    x, w = ember.randn(m, k), ember.randn(n, k)
    lowered = ember.jit(lambda a, b: a @ b.transpose(0, 1)).lower(x, w, target="cuda",
                                                                   arch="sm_90")
    assert 'ember.mapping = "tiles"' in lowered.as_text("loops")
    (ptx,) = (str(p) for p in lowered.graphs["ptx"])
    assert ".shared" in ptx and "bar.sync" in ptx
    assert assemble(ptx, "sm_90", PTXAS)


def test_cuda_stages_from_cpu_tensors():
    x = ember.randn(4, 100)
    lowered = ember.jit(lambda t: F.softmax(t, dim=-1)).lower(x, target="cuda")
    assert lowered.stages == ("graph", "fused", "loops", "llvm", "ptx")
    loops, llvm_ir, ptx = (lowered.as_text(s) for s in ("loops", "llvm", "ptx"))
    assert "gpu.container_module" in loops and '"gpu.launch_func"' in loops
    assert 'ember.mapping = "rows"' in loops
    assert 'target triple = "nvptx64-nvidia-cuda"' in llvm_ir
    assert "define ptx_kernel void" in llvm_ir and "llvm.nvvm.barrier" in llvm_ir
    assert "shfl.sync.bfly" in ptx and "bar.sync" in ptx and ".shared" in ptx
    # the CPU stages of the same function are unchanged
    assert "asm" in ember.jit(lambda t: F.softmax(t, dim=-1)).lower(x).stages


def test_launch_plan_lists_kernels_buffers_and_temporaries():
    x = ember.randn(3, 100)
    graph = parse(ember.jit(lambda t: F.softmax(t, dim=-1) * 2.0).lower(x).as_text("fused"))
    kernel = compile_graph(graph, "sm_80")
    plan = kernel.plan
    assert plan.entry == "lambda" and kernel.arch == "sm_80"
    assert [t.shape for t in plan.arguments] == [(3, 100), (3, 100), (4,)]
    (launch,) = plan.launches
    assert launch.grid == (3, 1, 1) and launch.block == (128, 1, 1)
    assert launch.shared_bytes == 128  # one float per warp
    assert Buffer("argument", 0) in launch.buffers and Buffer("argument", 1) in launch.buffers
    assert all(b.kind == "argument" or b.index < len(plan.temporaries) for b in launch.buffers)
    assert plan.temporary_bytes() == [t.numel * 4 for t in plan.temporaries]
    assert f".entry {launch.kernel}(" in kernel.ptx


def test_architectures():
    assert target.default_arch() == "sm_90"  # no device here
    with pytest.raises(ValueError, match="unsupported architecture 'sm_52'"):
        ember.jit(lambda t: t + 1).lower(ember.randn(2), target="cuda", arch="sm_52")
    with pytest.raises(ValueError, match="unknown target 'tpu'"):
        ember.jit(lambda t: t + 1).lower(ember.randn(2), target="tpu")


def test_f64_transcendental_without_gpu_code_names_the_op_and_dtype():
    x = ember.randn(5, dtype=ember.float64)
    lowered = ember.jit(lambda t: ember.tanh(t)).lower(x, target="cuda")
    with pytest.raises(UnsupportedOnCuda, match=r"math\.tanh on f64"):
        lowered.as_text("ptx")


@needs_ptxas
def test_f64_exp_log_pow_compile_for_the_gpu():
    x = ember.rand(6, dtype=ember.float64) + 0.5
    lowered = ember.jit(lambda t: ember.exp(t) + ember.log(t) + t ** 1.5).lower(x, target="cuda")
    ptx = lowered.as_text("ptx")
    assert "call" not in ptx.split(".entry")[1]  # no library calls
    assemble(ptx, "sm_90", PTXAS)


def test_f64_approximations_used_on_the_gpu_are_f64_accurate():
    """Checked on the CPU (the same LLVM IR): relative error below 1e-13."""
    module = ir.Module()
    module.triple = llvm.get_process_triple()
    f64 = ir.DoubleType()
    for name in sorted(math_approx.F64_ACCURATE):
        arity = 2 if name == "powf" else 1
        fn = ir.Function(module, ir.FunctionType(f64, [f64] * arity), name=f"test_{name}")
        b = ir.IRBuilder(fn.append_basic_block())
        b.ret(b.call(math_approx.math_function(module, name, f64, libm=False), fn.args))
    compiled = cpu_target.parse(str(module))
    engine = llvm.create_mcjit_compiler(compiled, cpu_target._create_host_machine())
    engine.finalize_object()
    rng = np.random.default_rng(0)
    reference = {"exp": np.exp, "log": np.log, "log1p": np.log1p, "powf": np.power}
    for name, fn in reference.items():
        arity = 2 if name == "powf" else 1
        call = ctypes.CFUNCTYPE(ctypes.c_double, *[ctypes.c_double] * arity)(
            engine.get_function_address(f"test_{name}"))
        xs = rng.uniform(-0.9 if name == "log1p" else 0.01, 30.0, (500, arity))
        got = np.array([call(*x) for x in xs])
        np.testing.assert_allclose(got, fn(*xs.T), rtol=1e-13, err_msg=name)
