"""The quickstart example runs and learns y = 2x + 1."""

import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_quickstart_learns_the_line():
    out = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py")], capture_output=True,
                         text=True, check=True, timeout=120).stdout
    weight, bias = map(float, re.search(r"weight (\S+) .*bias (\S+) ", out).groups())
    assert abs(weight - 2) < 0.05 and abs(bias - 1) < 0.05, out
