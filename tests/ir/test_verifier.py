"""The verifier rejects malformed graph IR with a message naming the op and its line:column."""

import pytest

from ir_samples import all_modules, emit, t

from ember.ir import Builder, Operation, VerifyError, func_op, module_op, parse, verify
from ember.ir import dtypes


@pytest.mark.parametrize("module", all_modules().values())
def test_built_modules_verify(module):
    verify(module)


HEADER = "func.func @f(%arg0: tensor<2xf32>) -> tensor<2xf32> {\n"


@pytest.mark.parametrize("body, location, message", [
    # unknown op
    ('  %0 = "ember.frobnicate"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>\n'
     "  func.return %0 : tensor<2xf32>\n}", "2:3", "ember.frobnicate in @f: unknown operation"),
    # unknown attribute
    ('  %0 = "ember.neg"(%arg0) {alpha = 1 : i64} : (tensor<2xf32>) -> tensor<2xf32>\n'
     "  func.return %0 : tensor<2xf32>\n}", "2:3", "unknown ['alpha']"),
    # missing attribute
    ('  %0 = "ember.sum"(%arg0) {axes = array<i64: 0>} : (tensor<2xf32>) -> tensor<f32>\n'
     '  %1 = "ember.broadcast_to"(%0) {shape = array<i64: 2>} : (tensor<f32>) -> tensor<2xf32>\n'
     "  func.return %1 : tensor<2xf32>\n}", "2:3", "missing ['keepdim']"),
    # wrong result type
    ('  %0 = "ember.add"(%arg0, %arg0) : (tensor<2xf32>, tensor<2xf32>) -> tensor<3xf32>\n'
     '  %1 = "ember.slice"(%0) {starts = array<i64: 0>, stops = array<i64: 2>, '
     "steps = array<i64: 1>} : (tensor<3xf32>) -> tensor<2xf32>\n"
     "  func.return %1 : tensor<2xf32>\n}", "2:3",
     "ember.add in @f: result type tensor<3xf32> does not match the type tensor<2xf32>"),
    # shape rule failure reported as a VerifyError
    ('  %0 = "ember.sum"(%arg0) {axes = array<i64: 3>, keepdim = false} '
     ": (tensor<2xf32>) -> tensor<f32>\n"
     '  %1 = "ember.broadcast_to"(%0) {shape = array<i64: 2>} : (tensor<f32>) -> tensor<2xf32>\n'
     "  func.return %1 : tensor<2xf32>\n}", "2:3", "ShapeError: ember.sum: axis 3 out of range"),
    # missing terminator
    ('  %0 = "ember.neg"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>\n}', "1:1",
     "func.func: missing terminator"),
    # return types differ from the function type
    ('  %0 = "ember.sum"(%arg0) {axes = array<i64: 0>, keepdim = false} '
     ": (tensor<2xf32>) -> tensor<f32>\n  func.return %0 : tensor<f32>\n}", "3:3",
     "func.return in @f: returns (tensor<f32>)"),
    # terminator in the middle
    ("  func.return %arg0 : tensor<2xf32>\n  func.return %arg0 : tensor<2xf32>\n}", "2:3",
     "terminator in the middle"),
])
def test_verify_errors_in_parsed_text(body, location, message):
    module = parse(HEADER + body)
    with pytest.raises(VerifyError) as info:
        verify(module)
    assert str(info.value).startswith(location + ": "), str(info.value)
    assert message in str(info.value)


def test_module_holds_only_functions():
    module = parse('%0 = "ember.full"() {dtype = "float32", shape = array<i64>, value = 1.0 : f64} '
                   ": () -> tensor<f32>")
    with pytest.raises(VerifyError, match=r"^1:1: ember.full: a module holds only func.func"):
        verify(module)


def test_dominance_in_built_ir():
    # A use before its definition and a use of another function's argument.
    func = func_op("f", [t(2)])
    (x,) = func.regions[0].blocks[0].arguments
    b = Builder(func.regions[0].blocks[0])
    late = Operation("ember.neg", [x], [t(2)])
    b.create("ember.neg", [late.result], [t(2)])
    b.block.append(late)
    b.ret([late.result])
    with pytest.raises(VerifyError, match=r"^ember.neg in @f: operand 0 \(result 0 of ember.neg"):
        verify(func)

    other = func_op("g", [t(2)])
    b = Builder(other.regions[0].blocks[0])
    b.ret([emit(b, "neg", [x])])
    with pytest.raises(VerifyError, match="argument 0 of a block that does not enclose"):
        verify(other)


def test_duplicate_symbols_and_bad_attribute_values():
    module = module_op()
    for _ in range(2):
        f = func_op("same", [])
        module.regions[0].blocks[0].append(f)
        Builder(f.regions[0].blocks[0]).ret([])
    with pytest.raises(VerifyError, match="redefinition of symbol @same"):
        verify(module)

    f = func_op("f", [])
    b = Builder(f.regions[0].blocks[0])
    bad = b.create("ember.full", [], [t(2)], {"shape": (2,), "value": 0.0, "dtype": "float99"})
    b.ret([bad.result])
    with pytest.raises(VerifyError, match="ember.full in @f: KeyError"):
        verify(f)


def test_variadic_and_operand_counts():
    f = func_op("f", [t(2), t(2, dtype=dtypes.int64)])
    x, i = f.regions[0].blocks[0].arguments
    b = Builder(f.regions[0].blocks[0])
    b.create("ember.concat", [], [t(2)], {"axis": 0})
    b.ret([x])
    with pytest.raises(VerifyError, match="at least one operand"):
        verify(f)
    f = func_op("f", [t(2)])
    x, = f.regions[0].blocks[0].arguments
    b = Builder(f.regions[0].blocks[0])
    b.create("ember.add", [x], [t(2)])
    b.ret([x])
    with pytest.raises(VerifyError, match="expected 2 operands, got 1"):
        verify(f)
