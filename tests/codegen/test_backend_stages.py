"""The llvm backend's stages of `ember.jit(...).lower(...)`: loops IR that plain mlir-opt
verifies for every test model's forward, backward and training step, LLVM IR and assembly,
and EMBER_DUMP_IR writing them all."""

import pytest

import ember
import ember.optim as optim
from ember.ir.mlir_tools import find_mlir_opt, mlir_opt_plain
from model_zoo import MODELS, batch, build, train_step

MLIR_OPT = find_mlir_opt()
BACKEND_STAGES = ("loops", "llvm", "asm")


def _lowered_forward(name):
    model = build(name)
    x, _ = batch(name, 0)
    return ember.jit(model, backend="llvm").lower(x)


def _lowered_train_step(name):
    model = build(name)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = batch(name, 0)
    step = ember.jit(lambda x, y: train_step(model, optimizer, x, y), backend="llvm")
    return step.lower(x, y)


@pytest.mark.skipif(MLIR_OPT is None, reason="mlir-opt is not installed")
@pytest.mark.parametrize("graphs", ["forward", "train_step"])
@pytest.mark.parametrize("name", list(MODELS))
def test_loops_ir_passes_plain_mlir_opt(name, graphs):
    lowered = _lowered_forward(name) if graphs == "forward" else _lowered_train_step(name)
    # forward graphs come with their derived backward: each compiled graph is checked
    expected = 2 if graphs == "forward" else 1
    assert len(lowered.graphs["loops"]) == expected
    for loops in lowered.graphs["loops"]:
        mlir_opt_plain(str(loops), tool=MLIR_OPT)


def test_llvm_backend_lists_and_prints_its_stages():
    lowered = _lowered_forward("mlp")
    assert lowered.stages == ("graph", "fused") + BACKEND_STAGES
    assert "scf.for" in lowered.as_text("loops")
    assert "define void" in lowered.as_text("llvm")
    assert "MLP_entry:" in lowered.as_text("asm")


def test_interpreter_has_only_graph_stages():
    x, _ = batch("mlp", 0)
    assert ember.jit(build("mlp"), backend="interpreter").lower(x).stages == ("graph", "fused")


def test_dump_ir_writes_backend_stages(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_DUMP_IR", str(tmp_path))
    _lowered_forward("mlp")
    names = {p.name for p in tmp_path.iterdir()}
    for suffix in ("graph.mlir", "fused.mlir", "loops.mlir", "llvm.ll", "asm.s"):
        assert f"MLP.1.{suffix}" in names, sorted(names)
    assert any(".pass" in n for n in names)
