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


# A sample times as many back-to-back calls as fill this long (the mean per call), as timeit
# does: a single sub-millisecond call is mostly timer, scheduler and wake-up jitter.
MIN_SAMPLE_S = 0.02


def _timed(fn: Callable[[], object], number: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def measure(fn: Callable[[], object], repeat: int, warmup: int, budget_s: float,
            settle_s: float = 0.0) -> Timing:
    """Time `fn` after `warmup` untimed calls and a pause of `settle_s`; `repeat` samples,
    fewer if the budget runs out. Each sample is the mean of enough back-to-back calls to take
    MIN_SAMPLE_S.

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
        if len(calls) < warmup:
            calls.append(_timed(fn))
            if len(calls) == warmup:
                time.sleep(settle_s)
        else:
            number = max(1, min(int(MIN_SAMPLE_S / last) if last else 1,
                                int((deadline - time.perf_counter()) / max(last, 1e-9))))
            samples.append(_timed(fn, number))
    return Timing(calls[0], samples)
