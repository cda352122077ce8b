"""The status words compiled code reports errors in, and the exception they become.

`lower-to-loops` gives every compiled function a 4 x i64 status buffer: word 0 is set when an
index was out of range, word 1 names the op (an index into the function's `ember.error_ops`),
words 2 and 3 are the bad index and the axis size. Every backend raises the same error for it.
"""

from __future__ import annotations

from typing import Sequence


def index_error(status: Sequence[int], error_ops: Sequence[str]) -> IndexError:
    """The IndexError that status words `status` (word 0 set) report."""
    _, op, index, size = (int(s) for s in status)
    name = error_ops[op] if op < len(error_ops) else f"operation {op}"
    return IndexError(f"ember.{name}: index {index} is out of bounds for an axis with "
                      f"size {size}")
