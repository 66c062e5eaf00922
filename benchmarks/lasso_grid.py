"""A 32-lambda Lasso grid: one `so.sweep` call against the ways people do it today.

Contenders, on the same data and lambdas, each to the same objective accuracy:

* ``so.sweep``: one compiled, vmapped call of `so.run(so.fista(...))` over the grid;
* ``so.run loop``: 32 sequential `so.run` calls (compiled once: lambda is data);
* ``jaxopt vmap``: jaxopt's ``ProximalGradient(acceleration=True)`` vmapped over lambda;
* ``sklearn fits``: 32 independent scikit-learn ``Lasso`` fits (coordinate descent);
* ``sklearn lasso_path``: scikit-learn's warm-started path over the same lambdas.

The stopping tests differ (subopt: the gradient mapping; jaxopt: the distance between
iterates; scikit-learn: the duality gap), so each contender gets the loosest tolerance of a
common ladder whose solutions are within the target relative objective gap of a
high-accuracy reference at every lambda: each does the least work that reaches the same
accuracy. The record lists the chosen tolerances and the gaps reached.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import subopt as so
from benchmarks._data import lasso_data, least_squares
from benchmarks._timing import TraceCounter, block, interleaved


def _problem(m: int, n: int, grid: int):
    a, b, lam_max = lasso_data(m, n)
    lams = lam_max * np.geomspace(1.0, 1e-2, grid)
    f, lipschitz = least_squares(a, b)
    return a, b, lams, lipschitz, f


def objective(a, b, lam, x):
    r = a @ x - b
    return 0.5 * r @ r / len(b) + lam * np.abs(x).sum()


LADDER = [c * 10.0**-e for e in range(2, 12) for c in (1.0, 0.3)]


def contenders(m: int, n: int, grid: int, max_steps: int):
    """name -> (tol -> zero-argument callable returning a (grid, n) array of solutions)."""
    import jaxopt
    from sklearn.linear_model import Lasso, lasso_path

    a, b, lams, lipschitz, f = _problem(m, n, grid)
    counter = TraceCounter(f)
    f = counter.fun
    step = 1.0 / lipschitz
    x0 = jnp.zeros(n)
    lam_arr = jnp.asarray(lams)

    def solve_grid(lam, tol):  # one fn for every tolerance: so.sweep compiles it once
        opt = so.fista(so.prox.l1(lam), learning_rate=step)
        return so.run(opt, f, x0, max_steps=max_steps, tol=tol)

    def sweep_at(tol):
        tols = jnp.asarray([tol])  # a length-1 axis: the tolerance is a value, not code
        return lambda: block(so.sweep(solve_grid, lam=lam_arr, tol=tols).params[:, 0])

    def loop_at(tol):
        def solve(lam):
            opt = so.fista(so.prox.l1(lam), learning_rate=step)
            return so.run(opt, f, x0, max_steps=max_steps, tol=tol).params

        return lambda: np.stack([block(solve(lam)) for lam in lam_arr])

    def jaxopt_at(tol):
        pg = jaxopt.ProximalGradient(fun=f, prox=jaxopt.prox.prox_lasso, stepsize=step,
                                     acceleration=True, maxiter=max_steps, tol=tol)
        grid_fn = jax.jit(jax.vmap(lambda lam: pg.run(x0, hyperparams_prox=lam).params))
        return lambda: block(grid_fn(lam_arr))

    def fits_at(tol):
        def go():
            out = []
            for lam in lams:
                est = Lasso(alpha=lam, fit_intercept=False, tol=tol, max_iter=100_000)
                out.append(est.fit(a, b).coef_)
            return np.stack(out)

        return go

    def path_at(tol):
        return lambda: lasso_path(a, b, alphas=lams, tol=tol, max_iter=100_000)[1].T

    makers = {
        "so.sweep": sweep_at,
        "so.run loop": loop_at,
        "jaxopt vmap": jaxopt_at,
        "sklearn fits": fits_at,
        "sklearn lasso_path": path_at,
    }
    return makers, (a, b, lams, counter)


def run(quick: bool = False) -> list[dict]:
    m, n, grid = (50, 20, 4) if quick else (500, 1000, 32)
    max_steps = 500 if quick else 20_000
    target = 1e-6 if quick else 1e-9
    makers, (a, b, lams, counter) = contenders(m, n, grid, max_steps)
    ref = _reference(a, b, lams)
    runs, chosen, gaps, compile_s, traces = {}, {}, {}, {}, {}
    for name, make in makers.items():
        for tol in LADDER:  # the loosest tolerance that reaches the target gap everywhere
            go = make(tol)
            before = counter.count
            t0 = time.perf_counter()
            xs = np.asarray(go())
            first = time.perf_counter() - t0
            vals = np.array([objective(a, b, lam, x) for lam, x in zip(lams, xs)])
            gap = float(np.max((vals - ref) / np.abs(ref)))
            if gap <= target:
                runs[name], chosen[name], gaps[name] = go, tol, gap
                compile_s[name], traces[name] = first, counter.count - before
                break
        else:
            raise RuntimeError(f"{name}: no tolerance reached a relative gap of {target}")
    times = interleaved(runs, rounds=1 if quick else 5, warmup=0)
    base = times["so.sweep"]["median_s"]
    return [{
        "comparison": f"Lasso grid of {grid} lambdas, {m}x{n}, time to relative gap "
        f"<= {target:g} at every lambda",
        "times": times,
        "ratios": {k: v["median_s"] / base for k, v in times.items()},
        "ratio_label": "time / so.sweep time",
        "first_call_s": compile_s,
        "objective_traces": traces,
        "tolerances": chosen,
        "max_rel_gap": gaps,
    }]


def _reference(a, b, lams):
    from sklearn.linear_model import lasso_path

    _, coefs, _ = lasso_path(a, b, alphas=lams, tol=1e-14, max_iter=1_000_000)
    return np.array([objective(a, b, lam, x) for lam, x in zip(lams, coefs.T)])
