"""The pass manager: pipeline text, options, IR dumps, timing and verification after passes."""

import dataclasses
import io

import pytest

from ember.ir import TensorType, VerifyError, parse
from ember.ir.core import functions
from ember.passes import PASSES, Pass, PassManager, parse_pipeline
from ember.passes.cli import main

SOURCE = """module {
  func.func @f(%arg0: tensor<4xf32>) -> tensor<4xf32> {
    %0 = "ember.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
    %1 = "ember.neg"(%0) : (tensor<4xf32>) -> tensor<4xf32>
    %2 = "ember.exp"(%1) : (tensor<4xf32>) -> tensor<4xf32>
    func.return %2 : tensor<4xf32>
  }
}"""


def test_core_passes_are_registered_with_descriptions():
    for name in ["canonicalize", "fold", "cse", "dce"]:
        assert name in PASSES
        assert PASSES[name].description()
        assert PASSES[name].__doc__.count("\n") > 1, "docstring should say what it guarantees"


def test_pipeline_with_options():
    passes = parse_pipeline("canonicalize{max-iterations=3}, cse,fold{max-elements=64},dce")
    assert [p.name for p in passes] == ["canonicalize", "cse", "fold", "dce"]
    assert passes[0].max_iterations == 3 and passes[2].max_elements == 64
    assert parse_pipeline("fold")[0].max_elements == 1024
    assert passes[2].pipeline_text() == "fold{max-elements=64}"


@pytest.mark.parametrize("text, message", [
    ("canonicalize,nope", "unknown pass 'nope'"),
    ("fold{max-nodes=3}", "unknown option 'max-nodes'"),
    ("fold{max-elements=many}", "is not a valid int"),
    ("fold{max-elements=3", "unterminated options"),
])
def test_pipeline_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_pipeline(text)


def test_print_ir_flags():
    out = io.StringIO()
    PassManager("dce,canonicalize,cse", print_ir_before=("cse",), print_ir_after=("dce",),
                out=out).run(parse(SOURCE))
    text = out.getvalue()
    assert "IR Dump Before cse" in text and "IR Dump After dce" in text
    assert "After canonicalize" not in text

    out = io.StringIO()
    PassManager("dce,canonicalize,cse", print_ir_after_change=True, out=out).run(parse(SOURCE))
    # dce and cse find nothing to do here; only canonicalize changes the IR.
    assert out.getvalue().count("IR Dump After") == 1 and "After canonicalize" in out.getvalue()

    out = io.StringIO()
    PassManager("dce,cse", print_ir_after_all=True, out=out).run(parse(SOURCE))
    assert out.getvalue().count("IR Dump After") == 2


def test_timing_report():
    out = io.StringIO()
    manager = PassManager("canonicalize,cse", timing=True, out=out)
    manager.run(parse(SOURCE))
    assert [name for name, _ in manager.timings] == ["canonicalize", "cse"]
    assert "Execution time report" in out.getvalue() and "canonicalize" in out.getvalue()


@dataclasses.dataclass
class BreakTypes(Pass):
    """Test pass: gives the first op a wrong result type."""

    name = "test-break-types"

    def run(self, module):
        op = functions(module)[0].regions[0].blocks[0].operations[0]
        op.results[0].type = TensorType((5,), op.results[0].type.dtype)


def test_verify_after_each_pass_catches_a_broken_pass():
    with pytest.raises(VerifyError, match="ember.neg"):
        PassManager([BreakTypes()]).run(parse(SOURCE))
    PassManager([BreakTypes()], verify=False).run(parse(SOURCE))


def test_cli_list_passes_and_errors(tmp_path, capsys):
    assert main(["--list-passes"]) == 0
    listing = capsys.readouterr().out
    assert "canonicalize  - " in listing and "max-elements=1024" in listing

    bad = tmp_path / "bad.mlir"
    bad.write_text(SOURCE.replace("(%0)", "(%9)"))
    assert main([str(bad), "-p", "cse"]) == 1
    assert f"{bad}:4:22: error: use of undefined value '%9'" in capsys.readouterr().err

    assert main([str(bad), "-p", "nope"]) == 1
    assert "unknown pass 'nope'" in capsys.readouterr().err


def test_cli_output_file(tmp_path, capsys):
    src, dst = tmp_path / "in.mlir", tmp_path / "out.mlir"
    src.write_text(SOURCE)
    assert main([str(src), "-p", "canonicalize", "-o", str(dst)]) == 0
    assert capsys.readouterr().out == ""
    assert '"ember.neg"' not in dst.read_text() and '"ember.exp"(%arg0)' in dst.read_text()
