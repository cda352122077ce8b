"""The benchmark harness runs end to end on tiny sizes and writes the documented structure."""

import json
import time

import pytest

import ember
from benchmarks import __main__ as cli
from benchmarks import implementations as impl
from benchmarks import report, suite
from benchmarks.case import Sizes
from benchmarks.timing import Skipped, measure

TINY = Sizes(gelu=1024, rows=8, cols=16, matmul=16, batch=4)
COLUMNS = [impl.NUMPY, impl.TORCH, impl.EMBER_EAGER, impl.JIT_PREFIX + "interpreter"]
RECORD_KEYS = {"status", "median_s", "min_s", "max_s", "spread", "repeats", "first_call_s",
               "samples_s"}


def test_suite_results_have_the_documented_structure(tmp_path):
    results = suite.run(TINY, repeat=1, budget_s=5.0, columns=COLUMNS,
                        only={"gelu", "matmul", "mlp_step"}, log=lambda line: None)
    assert results["columns"] == COLUMNS
    assert {"numpy", "torch", "ember_backends", "sizes", "repeat"} <= set(results["meta"])
    assert results["meta"]["device"] == "cpu"
    rows = {row["name"]: row for row in results["benchmarks"]}
    assert set(rows) == {"gelu", "matmul", "mlp_step"}
    assert rows["gelu"]["baseline"] == impl.NUMPY and rows["mlp_step"]["baseline"] == impl.TORCH
    for row in rows.values():
        assert set(row["results"]) == set(COLUMNS)
        for column, record in row["results"].items():
            assert record["status"] == "ok", (row["name"], column, record)
            assert RECORD_KEYS <= set(record) and record["repeats"] == 1
            assert record["median_s"] > 0
        assert row["results"][row["baseline"]]["ratio"] == 1.0
    assert all(r["gflops"] > 0 for r in rows["matmul"]["results"].values())

    report.write_json(results, tmp_path / "results.json")
    assert json.loads((tmp_path / "results.json").read_text()) == json.loads(json.dumps(results))
    table = report.format_table(results)
    assert all(row["description"] in table for row in rows.values()) and "GFLOP/s" in table
    assert table.endswith("device: cpu")


def test_cpu_columns_are_the_cpu_backends_only():
    assert impl.columns() == impl.columns("cpu") == [
        impl.NUMPY, impl.TORCH, impl.TORCH_COMPILE, impl.EMBER_EAGER,
        impl.JIT_PREFIX + "interpreter", impl.JIT_PREFIX + "llvm"]
    assert impl.JIT_PREFIX + "cuda" in impl.columns("cuda")


@pytest.mark.skipif(ember.cuda.is_available(), reason="this machine has CUDA")
def test_device_cuda_without_cuda_exits_2_saying_why(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--device", "cuda", "--quick", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "CUDA is not available: " in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()


def test_measure_takes_the_asked_repeats_and_skips_what_exceeds_the_budget():
    timing = measure(lambda: None, repeat=3, warmup=2, budget_s=5.0)
    assert len(timing.samples) == 3 and timing.median >= 0
    with pytest.raises(Skipped, match="budget"):
        measure(lambda: time.sleep(0.02), repeat=3, warmup=2, budget_s=0.01)
