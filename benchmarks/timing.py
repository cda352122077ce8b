"""Wall-clock timing of one implementation: warm-up calls, then repeats within a time budget."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable


class Skipped(Exception):
    """An implementation that was not timed; the message says why."""


@dataclass
class Timing:
    """Wall times in seconds: the first call (compilation included) and the timed repeats."""

    first_call: float
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """Half the min-to-max range, relative to the median."""
        return (max(self.samples) - min(self.samples)) / (2 * self.median)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(fn: Callable[[], object], repeat: int, warmup: int, budget_s: float) -> Timing:
    """Time `fn` after `warmup` untimed calls; `repeat` samples, fewer if the budget runs out.

    The budget counts from after the first call, so a slow compilation does not cause a skip;
    raises Skipped when not even one sample fits in it.
    """
    calls = [_timed(fn)]
    deadline = time.perf_counter() + budget_s
    for _ in range(warmup - 1):
        if time.perf_counter() + calls[-1] > deadline:
            raise Skipped(f"one call takes ~{calls[-1]:.1f} s; warm-up exceeds the "
                          f"{budget_s:.0f} s budget")
        calls.append(_timed(fn))
    samples: list[float] = []
    while len(samples) < repeat:
        if time.perf_counter() + (samples or calls)[-1] > deadline:
            if samples:
                break
            raise Skipped(f"one call takes ~{calls[-1]:.1f} s; over the {budget_s:.0f} s budget")
        samples.append(_timed(fn))
    return Timing(calls[0], samples)
