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
        """Half the interquartile range, relative to the median (0 for a single sample)."""
        if len(self.samples) < 2:
            return 0.0
        q1, _, q3 = statistics.quantiles(self.samples, n=4, method="inclusive")
        return (q3 - q1) / (2 * self.median)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(fn: Callable[[], object], repeat: int, warmup: int, budget_s: float) -> Timing:
    """Time `fn` after `warmup` untimed calls; `repeat` samples, fewer if the budget runs out.

    The budget counts from after the first call, and the first call (which may compile) is not
    used to predict the others; raises Skipped when not even one sample fits in the budget.
    """
    calls = [_timed(fn)]
    deadline = time.perf_counter() + budget_s
    samples: list[float] = []
    while len(samples) < repeat:
        # the latest call predicts the next, except the first call, which may have compiled
        last = (calls[1:] + samples or [0.0])[-1]
        if time.perf_counter() + last > deadline:
            if samples:
                break
            raise Skipped(f"one call takes ~{last:.1f} s; over the {budget_s:.0f} s budget")
        seconds = _timed(fn)
        (calls if len(calls) < warmup else samples).append(seconds)
    return Timing(calls[0], samples)
