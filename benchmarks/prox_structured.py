"""Structured proxes at n = 10^6: total variation (1-D) and sorted-L1 (SLOPE).

* ``total_variation_1d(0.5).prox`` against 10 vector passes over the same array (a
  ``fori_loop`` of 10 elementwise updates, which XLA cannot fuse into one); target: within
  that budget (ratio <= 1).
* ``sorted_l1(lams).prox`` against ``jnp.sort`` of the same array; target: ratio <= 3.

Both proxes are exact: TV1D by an O(n) dynamic program, SLOPE by one sort and an O(n)
pool-adjacent-violators pass. Their sequential parts are ``lax.while_loop`` s, whose
per-iteration cost on a CPU (a few hundred ns) is far above a vectorized pass's per-element
cost (about 1 ns); the TV target is not met on CPU, and the ratio is reported as measured.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import subopt as so
from benchmarks._timing import block, interleaved


def _record(name, times, num, den, label, target):
    ratio = times[num]["median_s"] / times[den]["median_s"]
    return {
        "comparison": name,
        "times": times,
        "ratio": ratio,
        "ratio_label": label,
        "target": target,
        "met": bool(ratio <= target),
    }


def run(quick: bool = False) -> list[dict]:
    n = 10_000 if quick else 1_000_000
    rounds = 1 if quick else 7
    rng = np.random.default_rng(0)
    # a piecewise-constant signal plus noise: the TV prox's use case
    steps = np.repeat(rng.standard_normal(max(n // 1000, 1)) * 3, 1000)[:n]
    y = jnp.asarray(np.pad(steps, (0, n - steps.size)) + rng.standard_normal(n), jnp.float32)
    lams = jnp.asarray(np.linspace(1.0, 0.0, n), jnp.float32)  # the BH-like decreasing weights

    tv = jax.jit(lambda y: so.prox.total_variation_1d(0.5).prox(y, 1.0))
    slope = jax.jit(lambda y, lams: so.prox.sorted_l1(lams).prox(y, 1.0))
    passes = jax.jit(lambda y: jax.lax.fori_loop(0, 10, lambda i, v: v * 0.999 + 1e-3, y))
    sort = jax.jit(jnp.sort)

    times = interleaved(
        {
            "total_variation_1d prox": lambda: block(tv(y)),
            "10 vector passes": lambda: block(passes(y)),
            "sorted_l1 prox": lambda: block(slope(y, lams)),
            "jnp.sort": lambda: block(sort(y)),
        },
        rounds=rounds,
    )
    tv_times = {k: times[k] for k in ("total_variation_1d prox", "10 vector passes")}
    slope_times = {k: times[k] for k in ("sorted_l1 prox", "jnp.sort")}
    return [
        _record(
            f"TV1D prox, n = {n}, float32",
            tv_times,
            "total_variation_1d prox",
            "10 vector passes",
            "TV prox / 10 passes",
            1.0,
        ),
        _record(
            f"SLOPE prox, n = {n}, float32",
            slope_times,
            "sorted_l1 prox",
            "jnp.sort",
            "SLOPE prox / sort",
            3.0,
        ),
    ]
