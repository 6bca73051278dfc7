"""What the benchmarks that time two callables in turn share: a warm-up of each, then
``repeat`` rounds alternating them (so a change in the machine's load hits both alike),
the medians, and the report whose last line is the ratio ours/baseline."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def medians(ours: Callable[[], object], bare: Callable[[], object], repeat: int) -> tuple[float, float]:
    """The medians of ``ours`` and ``bare`` over ``repeat`` alternating rounds, after one untimed call of each."""
    ours()
    bare()
    mine, theirs = [], []
    for _ in range(repeat):
        mine.append(timed(ours))
        theirs.append(timed(bare))
    return statistics.median(mine), statistics.median(theirs)


def report(bare_label: str, ours_label: str, ours_s: float, bare_s: float, repeat: int, digits: int = 2) -> None:
    print(f"{bare_label}: median {bare_s * 1000:.{digits}f} ms of {repeat}")
    print(f"{ours_label}: median {ours_s * 1000:.{digits}f} ms of {repeat}")
    print(f"ratio ours/baseline = {ours_s / bare_s:.3f}")
