"""Runs the `.mlir` FileCheck tests under tests/passes/lit with lit (text in, text out)."""

import importlib.util
import pathlib
import subprocess
import sys

import pytest

LIT_DIR = pathlib.Path(__file__).parent / "lit"


@pytest.mark.skipif(importlib.util.find_spec("lit") is None
                    or importlib.util.find_spec("filecheck") is None,
                    reason="lit and filecheck are not installed (pip install lit filecheck)")
def test_lit_suite():
    # lit has no `__main__`, so call its entry point the way its console script does.
    run = subprocess.run([sys.executable, "-c", "from lit.main import main; main()", "-v",
                          str(LIT_DIR)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
