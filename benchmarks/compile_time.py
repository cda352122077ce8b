"""Compile-time rows: the first call of a freshly compiled MLP training step, in this process
and in a new process (after another new process has warmed any on-disk cache)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks import implementations as impl
from benchmarks.compile_probe import first_call
from benchmarks.timing import Skipped, Timing

ROOT = Path(__file__).resolve().parents[1]
NOTE = "time of the first call: tracing/compiling plus one run"


def compilers() -> list[str]:
    """The columns that compile: every ember.jit backend, and torch.compile if it works."""
    return [impl.JIT_PREFIX + b for b in impl.jit_backends()] + [impl.TORCH_COMPILE]


def in_process(column: str, batch: int) -> Timing:
    """First call of a fresh jitted MLP step in this (already warmed-up) process."""
    seconds = first_call(column, batch)
    return Timing(seconds, [seconds])


def new_process(column: str, batch: int, timeout_s: float) -> Timing:
    """First call in a new process; a first child runs the same step to warm disk caches."""
    seconds = 0.0
    for _ in range(2):
        try:
            done = subprocess.run([sys.executable, "-m", "benchmarks.compile_probe", column,
                                   str(batch)], cwd=ROOT, capture_output=True, text=True,
                                  timeout=timeout_s, check=True)
        except subprocess.TimeoutExpired:
            raise Skipped(f"child process ran over {timeout_s:.0f} s") from None
        except subprocess.CalledProcessError as e:
            tail = e.stderr.strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"child process failed: {tail[0]}") from None
        seconds = json.loads(done.stdout.strip().splitlines()[-1])["first_call_s"]
    return Timing(seconds, [seconds])
