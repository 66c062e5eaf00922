"""A 64-point learning-rate grid for logistic regression: `so.sweep` against optax habits.

Every contender runs exactly ``steps`` gradient steps per learning rate on the same data:

* ``so.sweep``: one compiled, vmapped call over the grid (the step size is data);
* ``optax loop``: a Python loop building ``optax.sgd(lr)`` and a jitted training loop per
  value, which recompiles for every value, as users write it today;
* ``optax inject_hyperparams vmap``: ``optax.inject_hyperparams(optax.sgd)`` vmapped over
  the learning rate (compiled once).

The table also reports how often each traced the objective (each trace is a compile).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import subopt as so
from benchmarks._data import logistic_data
from benchmarks._timing import TraceCounter, block, interleaved


def contenders(m: int, n: int, grid: int, steps: int):
    x, y = logistic_data(m, n)
    X, Y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    lipschitz = float(np.linalg.norm(x, 2) ** 2 / (4 * m))
    lrs = jnp.asarray(np.geomspace(0.1, 4.0, grid) / lipschitz, jnp.float32)

    def loss(w):
        z = X @ w
        return jnp.mean(jax.nn.softplus(z) - Y * z)

    counter = TraceCounter(loss)
    f = counter.fun
    w0 = jnp.zeros(n, jnp.float32)

    def solve(lr):
        return so.run(so.gradient_descent(lr), f, w0, max_steps=steps, tol=0.0).params

    def trainer(opt):
        """A jitted training loop closing over ``opt``: a new one compiles anew."""

        @jax.jit
        def train(w):
            def body(_, carry):
                w, state = carry
                updates, state = opt.update(jax.grad(f)(w), state, w)
                return optax.apply_updates(w, updates), state

            return jax.lax.fori_loop(0, steps, body, (w, opt.init(w)))[0]

        return train

    def optax_loop():
        return block(jnp.stack([trainer(optax.sgd(float(lr)))(w0) for lr in np.asarray(lrs)]))

    injected = optax.inject_hyperparams(optax.sgd)

    @jax.jit
    @jax.vmap
    def inject_vmap(lr):
        return trainer(injected(learning_rate=lr))(w0)

    cons = {
        "so.sweep": lambda: block(so.sweep(solve, lr=lrs)),
        "optax loop (recompiles)": optax_loop,
        "optax inject_hyperparams vmap": lambda: block(inject_vmap(lrs)),
    }
    return cons, counter


def run(quick: bool = False) -> list[dict]:
    m, n, grid, steps = (100, 10, 2, 20) if quick else (2000, 50, 64, 1000)
    cons, counter = contenders(m, n, grid, steps)
    first, traces, results = {}, {}, {}
    for name, fn in cons.items():
        before = counter.count
        t0 = time.perf_counter()
        results[name] = np.asarray(fn())
        first[name] = time.perf_counter() - t0
        traces[name] = counter.count - before
    ref = results["so.sweep"]
    agree = {k: float(np.max(np.abs(v - ref))) for k, v in results.items()}
    # the recompiling loop is timed once per round as users pay it: compiles included
    times = interleaved(cons, rounds=1 if quick else 3, warmup=0)
    base = times["so.sweep"]["median_s"]
    return [{
        "comparison": f"logistic regression, {grid} learning rates x {steps} steps, {m}x{n}",
        "times": times,
        "ratios": {k: v["median_s"] / base for k, v in times.items()},
        "ratio_label": "time / so.sweep time",
        "first_call_s": first,
        "objective_traces": traces,
        "max_abs_param_diff_vs_sweep": agree,
    }]
