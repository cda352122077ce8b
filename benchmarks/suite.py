"""Run every benchmark row for every column in this process and collect the results as plain
data (the structure written to results.json)."""

from __future__ import annotations

import dataclasses
import gc
import os
import platform
import sys
import time
from typing import Callable

from benchmarks import compile_time, kernels, training
from benchmarks import implementations as impl
from benchmarks.case import Case, Sizes
from benchmarks.timing import Skipped, Timing, measure_side_by_side

Log = Callable[[str], None]
# Seconds to wait before building each implementation, and again between the warm-ups (which
# may compile) and the timed samples: the previous column's thread pools (OpenBLAS's, OpenMP's,
# Ember's) spin for tens of milliseconds after their last call, and on a 2-core machine they
# would take the next column's second core; after a burst of work (a compile) this virtual
# machine runs the next ~0.1 s measurably slower (timings settle after an idle second).
SETTLE_S = 1.0
# Seconds each implementation runs untimed before each of its samples, once the columns take
# turns. It outlasts the spinning threads of the column before (after NumPy's matmul,
# OpenBLAS's spin for about 0.1 s), and keeps the machine busy: a sample taken after an idle
# pause instead ran slower, by 1.4x for softmax after 0.25 s, on this virtual machine.
LEAD_S = 0.2


def _record(outcome: Timing | Exception, flops: float | None) -> dict:
    """The JSON record of one cell: its timing, or why there is none."""
    if isinstance(outcome, Skipped):
        return _failure("skipped", str(outcome))
    if isinstance(outcome, Exception):
        message = str(outcome).strip().splitlines()[0] if str(outcome).strip() else ""
        return _failure("error", f"{type(outcome).__name__}: {message}"[:200])
    record = {"status": "ok", "median_s": outcome.median, "min_s": min(outcome.samples),
              "max_s": max(outcome.samples), "spread": outcome.spread,
              "repeats": len(outcome.samples), "first_call_s": outcome.first_call,
              "samples_s": outcome.samples}
    if flops:
        record["gflops"] = flops / outcome.median / 1e9
    return record


def _failure(status: str, reason: str) -> dict:
    return {"status": status, "reason": reason}


def _attempt(run: Callable[[], Timing]) -> dict:
    """Run one measurement; failures become records that say why, never abort the suite."""
    gc.collect()
    time.sleep(SETTLE_S)
    try:
        outcome: Timing | Exception = run()
    except Exception as e:  # a broken implementation is reported in its cell
        outcome = e
    return _record(outcome, None)


def _row(name: str, description: str, baseline: str, results: dict,
         flops: float | None = None, notes: dict | None = None) -> dict:
    base = results.get(baseline, {})
    for record in results.values():
        if record["status"] == "ok" and base.get("status") == "ok":
            record["ratio"] = record["median_s"] / base["median_s"]
    return {"name": name, "description": description, "baseline": baseline, "flops": flops,
            "notes": notes or {}, "results": results}


def _unavailable(column: str, device: str) -> str | None:
    """Why `column` cannot run on `device` (a PyTorch without CUDA, a broken torch.compile)."""
    if column == impl.TORCH:
        return impl.torch_device_problem(device)
    if column == impl.TORCH_COMPILE:
        return impl.torch_device_problem(device) or impl.torch_compile_problem(device)
    return None


def run_case(case: Case, columns: list[str], repeat: int, budget_s: float, device: str,
             log: Log) -> dict:
    """Time `case` on `device` for every column that has a builder, the columns taking turns
    sample by sample."""
    results, builders = {}, {}
    for column in columns:
        if column not in case.builders:
            continue
        problem = _unavailable(column, device)
        if problem:
            results[column] = _failure("n/a", problem)
        else:
            builders[column] = case.builders[column]
    gc.collect()
    outcomes = measure_side_by_side(builders, repeat, case.warmup, budget_s, SETTLE_S, LEAD_S)
    results.update({column: _record(outcome, case.flops)
                    for column, outcome in outcomes.items()})
    results = {column: results[column] for column in columns if column in results}
    for column, record in results.items():
        log(f"{case.name:12s} {column:22s} {_brief(record)}")
    notes = {c: n for c, n in case.notes.items() if c in results}
    return _row(case.name, case.description, case.baseline, results, case.flops, notes)


def compile_rows(columns: list[str], batch: int, budget_s: float, device: str,
                 log: Log) -> list[dict]:
    """First-call (compile) times of the MLP step on `device`, in this process and in a new
    one."""
    rows = []
    for name, description, measure_one in (
            ("compile_in_process", "compile: MLP step 1st call, this process (cold cache)",
             lambda c: compile_time.in_process(c, batch, device)),
            ("compile_new_process", "compile: MLP step 1st call, new process (warm disk cache)",
             lambda c: compile_time.new_process(c, batch, device, 3 * budget_s))):
        results = {}
        for column in compile_time.compilers(device):
            if column not in columns:
                continue
            problem = _unavailable(column, device)
            results[column] = (_failure("n/a", problem) if problem
                               else _attempt(lambda: measure_one(column)))
            log(f"{name:12s} {column:22s} {_brief(results[column])}")
        notes = {c: compile_time.NOTE for c in results}
        rows.append(_row(name, description, impl.TORCH_COMPILE, results, notes=notes))
    return rows


def _brief(record: dict) -> str:
    if record["status"] == "ok":
        return f"{record['median_s'] * 1e3:.3f} ms (x{record['repeats']})"
    return f"{record['status']}: {record['reason']}"


def _meta(sizes: Sizes, repeat: int, budget_s: float, device: str) -> dict:
    import numpy
    import torch

    return {"python": platform.python_version(), "numpy": numpy.__version__,
            "torch": torch.__version__, "platform": platform.platform(),
            "cpus": os.cpu_count(), "load_average": os.getloadavg(),
            "torch_threads": torch.get_num_threads(),
            "device": device, "ember_backends": impl.jit_backends(device),
            "sizes": dataclasses.asdict(sizes), "repeat": repeat, "budget_s": budget_s,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def run(sizes: Sizes, repeat: int, budget_s: float, columns: list[str] | None = None,
        only: set[str] | None = None, device: str = "cpu",
        log: Log = lambda line: print(line, file=sys.stderr)) -> dict:
    """Every row for every column with tensors on `device` ("cpu" or "cuda"; NumPy always runs
    on the CPU); `only` picks rows by name ("compile" for both compile-time rows), `columns`
    picks columns."""
    columns = columns or impl.columns(device)
    meta = _meta(sizes, repeat, budget_s, device)
    rows = [run_case(case, columns, repeat, budget_s, device, log)
            for case in kernels.cases(sizes, device) + training.cases(sizes, device)
            if only is None or case.name in only]
    if only is None or "compile" in only:
        rows += compile_rows(columns, sizes.batch, budget_s, device, log)
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return {"meta": meta, "columns": columns, "benchmarks": rows}
