"""Timing helper shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

REPEATS = 7


def per_call(fn: Callable[[], object], number: int) -> float:
    """Median over REPEATS runs of the mean seconds per call of ``fn``."""
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number)
    return statistics.median(runs)
