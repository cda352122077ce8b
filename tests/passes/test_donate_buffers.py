"""`donate-buffers`: a result is stored into the argument buffer `ember.donate` offers only
where the loops make it safe, and the loops interpreter and the compiled kernel give the same
results either way; a call that reports an index error leaves a donated buffer untouched."""

import numpy as np
import pytest

from ember.codegen.llvm_cpu import LOOPS_PIPELINE, compile_loops
from ember.ir import parse
from ember.ir.core import functions
from ember.passes import PassManager
from ember.runtime.llvm import LlvmExecutable
from ember.runtime.loops_interpreter import run_loops

F = "tensor<4x4xf32>"
HEADER = "module {{\n  func.func @f({args}) -> ({results}) attributes {{ember.donate = " \
         "array<i64: 0, 0>}} {{\n"
SCALE = f'    %c = "ember.full"() {{dtype = "float32", shape = array<i64>, value = 0.5 : f64}} ' \
        f': () -> tensor<f32>\n'
STEP = f'    %u = "ember.mul"(%g, %c) : ({F}, tensor<f32>) -> {F}\n' \
       f'    %r = "ember.sub"(%w, %u) : ({F}, {F}) -> {F}\n'
SUM = f'    %s = "ember.sum"(%w) {{axes = array<i64: 0, 1>, keepdim = false}} ' \
      f': ({F}) -> tensor<f32>\n'
GATHER = '    %x = "ember.gather"(%g, %i) {axis = 0 : i64} : ' \
         f'({F}, tensor<2x4xi64>) -> tensor<2x4xf32>\n'


def _graph(args: str, results: str, body: str, returned: str) -> str:
    return (HEADER.format(args=args, results=results) + body +
            f"    func.return {returned} : {results}\n  }}\n}}\n")


CASES = {
    # an elementwise update: the result goes into w's buffer
    "update": (_graph(f"%w: {F}, %g: {F}", F, SCALE + STEP, "%r"), True),
    # w is read after the update: it must keep its value until then
    "read_after": (_graph(f"%w: {F}, %g: {F}", f"{F}, tensor<f32>", SCALE + STEP + SUM,
                          "%r, %s"), False),
    # the update reads w transposed: an element would be read after it was overwritten
    "transposed": (_graph(f"%w: {F}, %g: {F}", F, SCALE + (
        f'    %t = "ember.permute"(%w) {{dims = array<i64: 1, 0>}} : ({F}) -> {F}\n'
        f'    %u = "ember.mul"(%g, %c) : ({F}, tensor<f32>) -> {F}\n'
        f'    %r = "ember.sub"(%t, %u) : ({F}, {F}) -> {F}\n'), "%r"), False),
    # an index check before the update: donated, and run only if it passed
    "checked_before": (_graph(f"%w: {F}, %g: {F}, %i: tensor<2x4xi64>",
                              f"{F}, tensor<2x4xf32>", GATHER + SCALE + STEP, "%r, %x"), True),
    # an index check after the update: not donated (a failing call must leave w as it was)
    "checked_after": (_graph(f"%w: {F}, %g: {F}, %i: tensor<2x4xi64>",
                             f"{F}, tensor<2x4xf32>", SCALE + STEP + GATHER, "%r, %x"), False),
}


def _loops(text: str):
    module = parse(text)
    PassManager(LOOPS_PIPELINE).run(module)
    return module


def _inputs(name: str, index=(0, 3)):
    rng = np.random.default_rng(0)
    w, g = rng.standard_normal((2, 4, 4), dtype=np.float32)
    arrays = [w, g]
    if "checked" in name:
        arrays.append(np.array([index] * 4, np.int64).T.copy())
    return arrays


def _expected(name: str, arrays):
    w, g = arrays[:2]
    expected = [(w.T if name == "transposed" else w) - g * np.float32(0.5)]
    if name == "read_after":
        expected.append(w.sum(dtype=np.float32))
    if "checked" in name:
        expected.append(np.take_along_axis(g, arrays[2], axis=0))
    return expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_results_go_into_offered_buffers_only_where_safe(name):
    text, donated = CASES[name]
    func = functions(_loops(text))[0]
    n_inputs = 3 if "checked" in name else 2
    n_results = 2 if name in ("read_after", "checked_before", "checked_after") else 1
    assert "ember.donate" not in func.attributes
    if donated:
        assert func.attributes["ember.results_in_arguments"] == (n_inputs, 0)
        assert len(func.regions[0].blocks[0].arguments) == n_inputs + n_results
    else:
        assert "ember.results_in_arguments" not in func.attributes
        assert len(func.regions[0].blocks[0].arguments) == n_inputs + n_results + 1
    body = func.regions[0].blocks[0]
    guarded = [op for op in body.operations if op.name == "scf.if" and any(
        inner.name == "memref.store" and inner.operands[1] is body.arguments[0]
        for inner in op.walk())]
    assert len(guarded) == (name == "checked_before")


@pytest.mark.parametrize("name", sorted(CASES))
def test_interpreted_and_compiled_results_are_unchanged(name):
    text, donated = CASES[name]
    module = _loops(text)
    arrays = _inputs(name)
    expected = _expected(name, arrays)
    for got, want in zip(run_loops(module, arrays), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    w = arrays[0].copy()
    run = LlvmExecutable(compile_loops(module), len(arrays))
    results = run([w, *arrays[1:]])
    for got, want in zip(results, expected):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    # a donated result is the argument's own buffer, updated in place
    assert (results[0] is w) == donated


def test_a_failing_index_check_leaves_the_donated_buffer_untouched():
    module = _loops(CASES["checked_before"][0])
    arrays = _inputs("checked_before", index=(0, 7))
    w = arrays[0].copy()
    run = LlvmExecutable(compile_loops(module), len(arrays))
    with pytest.raises(IndexError, match="gather"):
        run([w, *arrays[1:]])
    np.testing.assert_array_equal(w, arrays[0])


def test_a_shared_or_read_only_input_is_copied_before_it_is_written():
    module = _loops(CASES["update"][0])
    w, g = _inputs("update")
    run = LlvmExecutable(compile_loops(module), 2)
    frozen = w.copy()
    frozen.flags.writeable = False
    result = run([frozen, g])[0]
    assert result is not frozen
    np.testing.assert_allclose(result, w - g * np.float32(0.5), rtol=1e-6)
    # w passed as both arguments: the update must not be seen through the other one
    result = run([w, w])[0]
    np.testing.assert_allclose(result, w - w * np.float32(0.5), rtol=1e-6)


REPEATED = """module {
  func.func @f(%arg0: memref<4xf32>, %arg1: memref<4xf32>, %arg2: memref<4xi64>)
      attributes {ember.donate = array<i64: 1, 0>} {
    %0 = "arith.constant"() {value = 0 : index} : () -> index
    %1 = "arith.constant"() {value = 4 : index} : () -> index
    %2 = "arith.constant"() {value = 1 : index} : () -> index
    %3 = "arith.constant"() {value = TRIPS : index} : () -> index
    %4 = "arith.constant"() {value = 1.0 : f32} : () -> f32
    "scf.for"(%0, %1, %2) ({
    ^bb0(%arg3: index):
      "scf.for"(%0, %3, %2) ({
      ^bb0(%arg4: index):
        %5 = "memref.load"(%arg0, %arg3) : (memref<4xf32>, index) -> f32
        %6 = "arith.addf"(%5, %4) : (f32, f32) -> f32
        "memref.store"(%6, %arg1, %arg3) : (f32, memref<4xf32>, index) -> ()
        "scf.yield"() : () -> ()
      }) : (index, index, index) -> ()
      "scf.yield"() : () -> ()
    }) : (index, index, index) -> ()
    func.return
  }
}
"""


@pytest.mark.parametrize("trips", [1, 2])
def test_an_element_stored_on_several_iterations_is_not_donated(trips):
    """r[i] = w[i] + 1, stored on each iteration of a loop that does not index it: in place,
    a second iteration would read the first one's result (w + 2). One iteration is safe."""
    module = parse(REPEATED.replace("TRIPS", str(trips)))
    PassManager("donate-buffers").run(module)
    donated = "ember.results_in_arguments" in functions(module)[0].attributes
    assert donated == (trips == 1)
    w = np.arange(4, dtype=np.float32)
    result = LlvmExecutable(compile_loops(module), 1)([w.copy()])[0]
    np.testing.assert_array_equal(result, w + 1)
