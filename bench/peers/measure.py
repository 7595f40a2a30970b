"""Timing and memory measurements, in the process that runs the tool.

* Time: the median of several runs, the counting call and a plain forward pass interleaved
  (forward, count, forward, count, ...) so that a change of load on a shared machine hits both
  sides of the ratio alike. One thread (``torch.set_num_threads(1)``, set by the worker).
* Memory: the peak of Python allocations during one counting call, from ``tracemalloc``
  (measured in a separate call, since tracing slows Python code down). Why tracemalloc: it is
  per call, so all models of a tool share one process (one process per tool × model would spend
  most of the benchmark importing torch and the tool: DeepSpeed alone takes ~15 s to import),
  and it isolates what the tool itself keeps (its records, hooks, traced graphs' Python side)
  from the model's tensors, which every tool allocates alike on a real model. It does not see
  allocations made in C++ (tensor storage, TorchScript graphs): the docs say so next to the
  numbers.
"""

from __future__ import annotations

import contextlib
import signal
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TypeVar

__all__ = [
    "CaseTimeout",
    "interleaved_medians",
    "python_peak_bytes",
    "repeats_for",
    "time_limit",
    "timed",
]


T = TypeVar("T")


class CaseTimeout(Exception):
    """A case ran past its time limit."""


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Seconds of one call, and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def repeats_for(seconds_per_round: float, budget_s: float, low: int = 3, high: int = 5) -> int:
    """How many interleaved rounds fit in ``budget_s`` (at least ``low``, at most ``high``)."""
    if seconds_per_round <= 0:
        return high
    return max(low, min(high, int(budget_s / seconds_per_round)))


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each function over ``repeats`` interleaved rounds (no warm-up here:
    the caller has already run each once)."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(timed(fn)[0])
    return {name: statistics.median(values) for name, values in samples.items()}


def python_peak_bytes(fn: Callable[[], object]) -> int:
    """Peak bytes of Python allocations made during one call of ``fn`` (tracemalloc)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return max(0, tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise :class:`CaseTimeout` in the main thread after ``seconds`` (0: no limit). A call
    stuck in C++ is interrupted when it comes back to Python."""
    def _expire(_signum: int, _frame: FrameType | None) -> None:
        raise CaseTimeout(f"ran past the {seconds} s limit of one case")

    if seconds <= 0:
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
