"""A 32-lambda Lasso grid: one `so.sweep` call against the ways people do it today.

Contenders, on the same data and lambdas, each to the same objective accuracy:

* ``so.sweep``: one compiled, vmapped call of `so.run(so.fista(...))` over the grid;
* ``so.run loop``: 32 sequential `so.run` calls (compiled once: lambda is data);
* ``jaxopt vmap``: jaxopt's ``ProximalGradient(acceleration=True)`` vmapped over lambda;
* ``sklearn fits``: 32 independent scikit-learn ``Lasso`` fits (coordinate descent);
* ``sklearn lasso_path``: scikit-learn's warm-started path over the same lambdas.

Each contender's objectives are compared with a high-accuracy reference per lambda; the
table reports the worst relative gap so a fast but inaccurate contender shows up.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import subopt as so
from benchmarks._data import lasso_data
from benchmarks._timing import TraceCounter, block, interleaved

TOL = 1e-6  # gradient-mapping norm for subopt, fixed-point residual for jaxopt


def _problem(m: int, n: int, grid: int):
    a, b, lam_max = lasso_data(m, n)
    lams = lam_max * np.geomspace(1.0, 1e-2, grid)
    lipschitz = float(np.linalg.norm(a, 2) ** 2 / m)
    A, B = jnp.asarray(a), jnp.asarray(b)

    def f(x):
        r = A @ x - B
        return 0.5 * jnp.dot(r, r) / m

    return a, b, lams, lipschitz, f


def objective(a, b, lam, x):
    r = a @ x - b
    return 0.5 * r @ r / len(b) + lam * np.abs(x).sum()


def contenders(m: int, n: int, grid: int, max_steps: int, *, sklearn: bool = True):
    """name -> zero-argument callable returning an (grid, n) array of solutions."""
    import jaxopt
    from sklearn.linear_model import Lasso, lasso_path

    a, b, lams, lipschitz, f = _problem(m, n, grid)
    counter = TraceCounter(f)
    f = counter.fun
    step = 1.0 / lipschitz
    x0 = jnp.zeros(n)
    lam_arr = jnp.asarray(lams)

    def solve(lam):
        return so.run(so.fista(so.prox.l1(lam), learning_rate=step), f, x0,
                      max_steps=max_steps, tol=TOL)

    pg = jaxopt.ProximalGradient(fun=f, prox=jaxopt.prox.prox_lasso, stepsize=step,
                                 acceleration=True, maxiter=max_steps, tol=TOL)
    jaxopt_grid = jax.jit(jax.vmap(lambda lam: pg.run(x0, hyperparams_prox=lam).params))

    def sk_fits():
        out = []
        for lam in lams:
            est = Lasso(alpha=lam, fit_intercept=False, tol=1e-8, max_iter=100_000)
            out.append(est.fit(a, b).coef_)
        return np.stack(out)

    def sk_path():
        _, coefs, _ = lasso_path(a, b, alphas=lams, tol=1e-8, max_iter=100_000)
        return coefs.T

    out = {
        "so.sweep": lambda: block(so.sweep(solve, lam=lam_arr).params),
        "so.run loop": lambda: np.stack([block(solve(lam).params) for lam in lam_arr]),
        "jaxopt vmap": lambda: block(jaxopt_grid(lam_arr)),
    }
    if sklearn:
        out["sklearn fits"] = sk_fits
        out["sklearn lasso_path"] = sk_path
    return out, (a, b, lams, counter)


def run(quick: bool = False) -> list[dict]:
    m, n, grid = (50, 20, 4) if quick else (500, 1000, 32)
    max_steps = 500 if quick else 20_000
    cons, (a, b, lams, counter) = contenders(m, n, grid, max_steps)
    compile_s, traces = {}, {}
    for name, fn in cons.items():
        before = counter.count
        t0 = time.perf_counter()
        xs = np.asarray(fn())
        compile_s[name] = time.perf_counter() - t0
        traces[name] = counter.count - before
    ref = _reference(a, b, lams)
    gaps = {}
    for name, fn in cons.items():
        xs = np.asarray(fn())
        vals = np.array([objective(a, b, lam, x) for lam, x in zip(lams, xs)])
        gaps[name] = float(np.max((vals - ref) / np.abs(ref)))
    times = interleaved(cons, rounds=1 if quick else 5, warmup=0)
    base = times["so.sweep"]["median_s"]
    return [{
        "comparison": f"Lasso grid of {grid} lambdas, {m}x{n}",
        "times": times,
        "ratios": {k: v["median_s"] / base for k, v in times.items()},
        "ratio_label": "time / so.sweep time",
        "first_call_s": compile_s,
        "objective_traces": traces,
        "max_rel_gap": gaps,
    }]


def _reference(a, b, lams):
    from sklearn.linear_model import lasso_path

    _, coefs, _ = lasso_path(a, b, alphas=lams, tol=1e-14, max_iter=1_000_000)
    return np.array([objective(a, b, lam, x) for lam, x in zip(lams, coefs.T)])
