"""Compile-time rows: the first call of a freshly compiled MLP training step, in this process
with an empty on-disk cache (a cold compile), and in a new process after another new process
has warmed that cache."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from benchmarks import implementations as impl
from benchmarks.compile_probe import first_call
from benchmarks.timing import Skipped, Timing

ROOT = Path(__file__).resolve().parents[1]
NOTE = "time of the first call: tracing/compiling plus one run"


def compilers(device: str) -> list[str]:
    """The columns that compile for `device`: its ember.jit backends, and torch.compile."""
    return [impl.JIT_PREFIX + b for b in impl.jit_backends(device)] + [impl.TORCH_COMPILE]


@contextlib.contextmanager
def _empty_ember_cache() -> Iterator[dict[str, str]]:
    """Point Ember's object cache at a new empty directory for the duration; yields the
    environment for child processes."""
    old = os.environ.get("EMBER_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="ember-bench-cache-") as folder:
        os.environ["EMBER_CACHE_DIR"] = folder
        try:
            yield dict(os.environ)
        finally:
            if old is None:
                del os.environ["EMBER_CACHE_DIR"]
            else:
                os.environ["EMBER_CACHE_DIR"] = old


def in_process(column: str, batch: int, device: str) -> Timing:
    """First call of a fresh jitted MLP step on `device` in this (already warmed-up) process,
    compiled from scratch: Ember's disk cache is empty (earlier rows compiled the same step)."""
    with _empty_ember_cache():
        seconds = first_call(column, batch, device)
    return Timing(seconds, [seconds])


def new_process(column: str, batch: int, device: str, timeout_s: float) -> Timing:
    """First call on `device` in a new process; a first child runs the same step to warm the
    disk cache."""
    seconds = 0.0
    with _empty_ember_cache() as environment:
        for _ in range(2):
            seconds = _probe(column, batch, device, timeout_s, environment)
    return Timing(seconds, [seconds])


def _probe(column: str, batch: int, device: str, timeout_s: float,
           environment: dict[str, str]) -> float:
    """The first-call seconds a child process reports."""
    try:
        done = subprocess.run([sys.executable, "-m", "benchmarks.compile_probe", column,
                               str(batch), device], cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout_s, check=True, env=environment)
    except subprocess.TimeoutExpired:
        raise Skipped(f"child process ran over {timeout_s:.0f} s") from None
    except subprocess.CalledProcessError as e:
        tail = e.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"child process failed: {tail[0]}") from None
    return json.loads(done.stdout.strip().splitlines()[-1])["first_call_s"]
