"""Timing helpers shared by the benchmarks: interleaved medians after warm-up, compile counts.

Every comparison times its contenders side by side in one process: each contender is called
once to warm up (compile), then the contenders run in turns, round after round, so that a
slow spell of the machine hits all of them alike; the reported time is each one's median.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import jax


def block(x: Any) -> Any:
    """Wait for every array in ``x`` (results of async dispatch) to be ready."""
    return jax.block_until_ready(x)


def interleaved(
    contenders: dict[str, Callable[[], Any]],
    *,
    rounds: int = 7,
    warmup: int = 1,
    min_seconds: float = 0.0,
    max_rounds: int = 101,
) -> dict[str, dict[str, float]]:
    """Median and spread of each contender's wall time, timed in interleaved rounds.

    Args:
      contenders: name -> a zero-argument callable that runs the work to completion (it must
        block on its result itself, e.g. with `block`).
      rounds: timed rounds; each round calls every contender once, in turn, starting from a
        different contender each round.
      warmup: untimed calls of each contender first (compilation, caches). The first warm-up
        call's time is reported as ``first_s`` (compile plus one run).
      min_seconds: more rounds (up to ``max_rounds``) until every contender has run this
        long in all: a millisecond-scale comparison then takes its median over tens of
        rounds instead of a handful, which a single slow spell of the machine can move.
      max_rounds: the cap on rounds added for ``min_seconds``.

    Returns:
      name -> {"median_s", "min_s", "max_s", "first_s"}.
    """
    first: dict[str, float] = {}
    for name, fn in contenders.items():
        for i in range(warmup):
            t0 = time.perf_counter()
            fn()
            if i == 0:
                first[name] = time.perf_counter() - t0
    times: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders)
    r = 0
    while r < rounds or (
        r < max_rounds and min(sum(ts) for ts in times.values()) < min_seconds
    ):
        # rotate who goes first each round, so no contender always follows the same one
        for name in order[r % len(order):] + order[: r % len(order)]:
            t0 = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - t0)
        r += 1
    return {
        name: {
            "median_s": statistics.median(ts),
            "min_s": min(ts),
            "max_s": max(ts),
            "first_s": first.get(name, float("nan")),
        }
        for name, ts in times.items()
    }


class TraceCounter:
    """Wraps an objective of one argument and counts how often JAX traces it.

    Each trace is a compile of whatever calls it. The wrapper is a plain function of one
    positional argument (jaxopt inspects its signature), reached as ``counter.fun``.
    """

    def __init__(self, fun: Callable):
        self.count = 0

        def counted(x):
            self.count += 1
            return fun(x)

        self.fun = counted
