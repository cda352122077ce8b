"""Wall-clock timing of a row's implementations side by side: each is called once (which may
compile) and warmed up, then they take turns, one sample each per round, within a time budget
each."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Callable


class Skipped(Exception):
    """An implementation that was not timed; the message says why."""


@dataclass
class Timing:
    """Wall times in seconds: the first call (compilation included) and the timed repeats."""

    first_call: float
    samples: list[float] = field(default_factory=list)

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


def _run_for(fn: Callable[[], object], seconds: float) -> None:
    """Call `fn` until `seconds` have passed, once at least."""
    end = time.perf_counter() + seconds
    fn()
    while time.perf_counter() < end:
        fn()


@dataclass
class _Turn:
    """One implementation's progress: its latest per-call time predicts its next call."""

    fn: Callable[[], object]
    timing: Timing
    latest: float
    spent: float = 0.0


def _warm_up(fn: Callable[[], object], warmup: int, budget_s: float) -> _Turn:
    """The first call and the untimed warm-up calls, within `budget_s` from the first call's
    end; raises Skipped when a call would not fit."""
    turn = _Turn(fn, Timing(_timed(fn)), latest=0.0)
    for _ in range(warmup - 1):
        if turn.spent + turn.latest > budget_s:
            break
        turn.latest = _timed(fn)
        turn.spent += turn.latest
    if turn.spent + turn.latest > budget_s:
        raise Skipped(f"one call takes ~{turn.latest:.1f} s; over the {budget_s:.0f} s budget")
    return turn


def measure_side_by_side(fns: dict[str, Callable[[], Callable[[], object]]], repeat: int,
                         warmup: int, budget_s: float, settle_s: float = 0.0,
                         lead_s: float = 0.0) -> dict[str, Timing | Exception]:
    """Time each implementation that `fns` builds: build it, call it once (the first call may
    compile) and `warmup - 1` more times untimed; after a pause of `settle_s`, take up to
    `repeat` samples of each in turns, in an order that rotates every round. Before each sample
    the implementation runs untimed for `lead_s` (one call at least), while the thread pools of
    the one before it spin down. A sample is the mean of enough back-to-back calls to take
    MIN_SAMPLE_S.

    Interleaving makes every implementation see the same phases of a shared, noisy machine, so
    their ratios hold even when its speed drifts. Each has `budget_s` of calls after its first
    one, and stops at fewer samples when that runs out. The result maps each name to its
    Timing, or to the exception that stopped it: Skipped when not even one call after the first
    fits in the budget, or whatever building or calling it raised.
    """
    turns: dict[str, _Turn] = {}
    results: dict[str, Timing | Exception] = {}
    for name, build in fns.items():
        time.sleep(settle_s)  # the previous implementation's thread pools spin down
        try:
            turns[name] = _warm_up(build(), warmup, budget_s)
        except Exception as e:  # a broken implementation is reported, the others still run
            results[name] = e
    time.sleep(settle_s)
    names = list(turns)
    for round_ in range(repeat if names else 0):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            turn = turns[name]
            left = budget_s - turn.spent
            if name in results or (turn.timing.samples and turn.latest > left):
                continue
            number = max(1, min(int(MIN_SAMPLE_S / turn.latest) if turn.latest else 1,
                                int(left / max(turn.latest, 1e-9))))
            try:
                _run_for(turn.fn, lead_s)
                turn.latest = _timed(turn.fn, number)
            except Exception as e:
                results[name] = e
                continue
            turn.spent += turn.latest * number
            turn.timing.samples.append(turn.latest)
    for name, turn in turns.items():
        results.setdefault(name, turn.timing)
    return {name: results[name] for name in fns}
