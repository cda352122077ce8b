"""The benchmark harness runs end to end on tiny sizes and writes the documented structure."""

import json
import time

import pytest

import ember
from benchmarks import __main__ as cli
from benchmarks import implementations as impl
from benchmarks import report, suite
from benchmarks.case import Sizes
from benchmarks.timing import Skipped, measure_side_by_side

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
    timings = measure_side_by_side({"fast": lambda: lambda: None,
                                    "slow": lambda: lambda: time.sleep(0.03)},
                                   repeat=3, warmup=2, budget_s=0.075)
    assert len(timings["fast"].samples) == 3 and timings["fast"].median >= 0
    assert len(timings["slow"].samples) == 1 and timings["slow"].median >= 0.03
    timings = measure_side_by_side({"slow": lambda: lambda: time.sleep(0.02)},
                                   repeat=3, warmup=2, budget_s=0.01)
    assert isinstance(timings["slow"], Skipped) and "budget" in str(timings["slow"])


def test_columns_take_turns_and_a_failing_one_leaves_the_others_timed():
    calls = []

    def builder(name):
        def build():
            if name == "broken":
                raise RuntimeError("cannot build")
            return lambda: calls.append(name)
        return build

    timings = measure_side_by_side({n: builder(n) for n in ("a", "broken", "b", "c")},
                                   repeat=4, warmup=1, budget_s=5.0)
    assert isinstance(timings["broken"], RuntimeError)
    assert list(timings) == ["a", "broken", "b", "c"]
    assert all(len(timings[n].samples) == 4 for n in "abc")
    # after the first calls, samples (runs of back-to-back calls) rotate their order per round
    runs = [name for i, name in enumerate(calls) if i < 3 or calls[i - 1] != name]
    assert runs == list("abc" "abc" "bca" "cab" "abc")
