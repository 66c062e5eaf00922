"""Driver overhead: `so.run` against a hand-written ``lax.fori_loop`` running the same update.

Both run exactly ``steps`` steps of the same optax update on the same least-squares data
(``tol=0`` so `so.run` never stops early); the ratio is `so.run`'s median time over the
loop's. What `so.run` adds per step: the objective value (nearly free with the gradient in
reverse mode), the finiteness checks, the stationarity measure and the stopping test: about
a dozen small kernels, a fixed 1-2 us per step on a CPU, which vanishes against a step that
does real work and dominates one that does almost none (the tiny-problem row shows it).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import subopt as so
from benchmarks._timing import block, interleaved


def _fori(update, fun, x0, state0, steps):
    grad = jax.grad(fun)

    @jax.jit
    def loop(x0, state0):
        def body(_, carry):
            x, state = carry
            updates, state = update(grad(x), state, x, value_fn=fun)
            return optax.apply_updates(x, updates), state

        return jax.lax.fori_loop(0, steps, body, (x0, state0))

    return lambda: block(loop(x0, state0))


def compare(name: str, opt: Any, fun, x0, steps: int, rounds: int) -> dict:
    """Time `so.run` and the fori_loop on one optimizer; check both reach the same point."""
    res = so.run(opt, fun, x0, max_steps=steps, tol=0.0)
    loop = _fori(opt.update, fun, x0, opt.init(x0), steps)
    x_loop, _ = loop()
    same = bool(np.allclose(np.asarray(res.params), np.asarray(x_loop), rtol=1e-5, atol=1e-7))
    times = interleaved(
        {
            "so.run": lambda: block(so.run(opt, fun, x0, max_steps=steps, tol=0.0)),
            "fori_loop": loop,
        },
        rounds=rounds,
    )
    ratio = times["so.run"]["median_s"] / times["fori_loop"]["median_s"]
    return {
        "comparison": f"driver overhead: {name}",
        "steps": steps,
        "same_result": same,
        "num_steps": int(res.num_steps),
        "times": times,
        "ratio": ratio,
        "ratio_label": "so.run / fori_loop",
        "target": 1.05,
    }


def run(quick: bool = False) -> list[dict]:
    m, n = (200, 50) if quick else (2000, 500)
    steps = 50 if quick else 2000
    rounds = 1 if quick else 15
    p = so.problems.least_squares(m, n, dtype=jnp.float32)
    lr = 1.0 / float(p.lipschitz)  # pyright: ignore[reportArgumentType]
    lasso_reg = so.prox.l1(0.01)
    out = [
        compare(f"gradient_descent, least squares {m}x{n}", so.gradient_descent(lr), p.fun,
                p.x0, steps, rounds),
        compare(f"proximal_gradient (ISTA), Lasso {m}x{n}",
                so.proximal_gradient(lasso_reg, learning_rate=lr), p.fun, p.x0, steps, rounds),
    ]
    if not quick:  # a tiny problem shows the fixed per-step cost of the checks (~1-2 us)
        small = so.problems.least_squares(200, 50, dtype=jnp.float32)
        lr_small = 1.0 / float(small.lipschitz)  # pyright: ignore[reportArgumentType]
        out.append(compare("gradient_descent, least squares 200x50 (tiny steps)",
                           so.gradient_descent(lr_small), small.fun, small.x0, 20_000, rounds))
    return out
