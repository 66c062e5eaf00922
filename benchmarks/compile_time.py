"""Compile time: `so.run` on a pytree of many small leaves against a hand-written while_loop.

Both loops run the same update (`so.gradient_descent`) on the same objective, a sum of
squares over a dict of (1,)-leaves, stopping on the gradient norm. The time measured is a
fresh trace and compile (first call minus a cached call), for a new objective each repeat so
that nothing is cached; the ratio is `so.run`'s median over the loop's. Target: <= 3x at 100
leaves (issue 11; it was ~250x before the commit became one `lax.cond`).
"""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp
import optax

import subopt as so
from benchmarks._timing import block


def _objective():
    def f(x):
        return sum(jnp.sum((v - 1.0) ** 2) for v in x.values())

    return f


def _hand_loop(opt, f, max_steps, tol):
    """The loop a user would write: f and its gradient at x0, then update, apply, evaluate,
    stop on the gradient norm (no finiteness checks, no statuses, no commit)."""
    vg = jax.value_and_grad(f)

    @jax.jit
    def loop(x0, s0):
        _, g0 = vg(x0)

        def cond(c):
            k, _, _, s, _ = c
            return (k < max_steps) & (s > tol)

        def body(c):
            k, x, state, _, g = c
            u, state = opt.update(g, state, x)
            x = optax.apply_updates(x, u)
            _, g = vg(x)
            return k + 1, x, state, optax.tree_utils.tree_norm(g), g

        return jax.lax.while_loop(cond, body, (0, x0, s0, jnp.inf, g0))

    return loop


def _compile_seconds(call) -> float:
    t0 = time.perf_counter()
    block(call())
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    block(call())
    return first - (time.perf_counter() - t0)


def run(quick: bool = False) -> list[dict]:
    leaves = 20 if quick else 100
    repeats = 1 if quick else 3
    x0 = {f"k{i:03d}": jnp.full((1,), float(i)) for i in range(leaves)}
    opt = so.gradient_descent(0.1)
    runs, hands = [], []
    for _ in range(repeats):  # a new objective each time: a fresh compile for both
        f = _objective()
        runs.append(_compile_seconds(lambda f=f: so.run(opt, f, x0, max_steps=100)))
        loop = _hand_loop(opt, _objective(), 100, 1e-6)
        hands.append(_compile_seconds(lambda loop=loop: loop(x0, opt.init(x0))))
    t_run, t_hand = statistics.median(runs), statistics.median(hands)
    return [
        {
            "comparison": f"compile time: so.run vs hand-written while_loop, {leaves} (1,)-leaves",
            "leaves": leaves,
            "times": {
                "so.run": {
                    "median_s": t_run,
                    "min_s": min(runs),
                    "max_s": max(runs),
                    "first_s": t_run,
                },
                "while_loop": {
                    "median_s": t_hand,
                    "min_s": min(hands),
                    "max_s": max(hands),
                    "first_s": t_hand,
                },
            },
            "ratio": t_run / t_hand,
            "ratio_label": "so.run / while_loop (compile)",
            "target": 3.0,
        }
    ]
