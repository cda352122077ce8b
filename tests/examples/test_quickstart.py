"""The examples run as a new user runs them and reach their targets."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(name: str) -> str:
    return subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True,
                          check=True, timeout=300).stdout


def test_quickstart_fits_the_line_and_the_digits():
    out = _run("quickstart.py")
    weight, bias = map(float, re.search(r"weight (\S+) .*bias (\S+) ", out).groups())
    assert abs(weight - 2) < 0.05 and abs(bias - 1) < 0.05, out
    assert float(re.search(r"mlp test accuracy (\S+)", out).group(1)) >= 0.95, out


def test_lstm_example_learns_to_remember():
    out = _run("lstm_sequence.py")
    assert float(re.search(r"^accuracy (\S+)", out, re.M).group(1)) >= 0.9, out


@pytest.mark.slow
def test_cnn_example_reaches_97_percent():
    out = _run("cnn_digits.py")
    assert float(re.search(r"test accuracy (\S+)", out).group(1)) >= 0.97, out
