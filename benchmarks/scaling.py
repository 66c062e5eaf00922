"""How cost grows: Lasso time-to-optimum against problem size, and grid time against grid size.

* size: one Lasso (lambda = lambda_max / 10, n = 2m correlated features) for n from 100 to
  4000: `so.run(so.fista)` against jaxopt's accelerated ``ProximalGradient`` and
  scikit-learn's ``Lasso``;
* grid: a Lasso grid of 1 to 256 lambdas: one `so.sweep` call against sequential `so.run`
  calls and scikit-learn fits.

Every point is the median of interleaved runs after warm-up. Writes ``scaling.png``.
"""

from __future__ import annotations

import pathlib
import tempfile

import jax
import jax.numpy as jnp
import numpy as np

import subopt as so
from benchmarks._data import lasso_data, least_squares
from benchmarks._timing import block, interleaved

TOL = 1e-6


def _size_point(n: int, rounds: int) -> dict:
    import jaxopt
    from sklearn.linear_model import Lasso

    m = n // 2
    a, b, lam_max = lasso_data(m, n, seed=1)
    lam = lam_max / 10
    f, lipschitz = least_squares(a, b)
    step = 1.0 / lipschitz

    x0 = jnp.zeros(n)
    opt = so.fista(so.prox.l1(lam), learning_rate=step)
    pg = jaxopt.ProximalGradient(fun=f, prox=jaxopt.prox.prox_lasso, stepsize=step,
                                 acceleration=True, maxiter=50_000, tol=TOL)
    pg_run = jax.jit(lambda: pg.run(x0, hyperparams_prox=lam).params)
    cons = {
        "so.fista": lambda: block(so.run(opt, f, x0, max_steps=50_000, tol=TOL).params),
        "jaxopt": lambda: block(pg_run()),
        "sklearn": lambda: Lasso(alpha=lam, fit_intercept=False, tol=1e-8,
                                 max_iter=100_000).fit(a, b).coef_,
    }
    return {k: v["median_s"] for k, v in interleaved(cons, rounds=rounds).items()}


def _grid_point(size: int, rounds: int) -> dict:
    from sklearn.linear_model import Lasso

    m, n = 100, 200
    a, b, lam_max = lasso_data(m, n, seed=2)
    lams = jnp.asarray(lam_max * np.geomspace(1.0, 1e-2, size))
    f, lipschitz = least_squares(a, b)
    step = 1.0 / lipschitz

    x0 = jnp.zeros(n)

    def solve(lam):
        return so.run(so.fista(so.prox.l1(lam), learning_rate=step), f, x0,
                      max_steps=20_000, tol=TOL).params

    def sk():
        return [Lasso(alpha=float(lam), fit_intercept=False, tol=1e-8, max_iter=100_000)
                .fit(a, b).coef_ for lam in lams]

    cons = {
        "so.sweep": lambda: block(so.sweep(solve, lam=lams)),
        "so.run loop": lambda: [block(solve(lam)) for lam in lams],
        "sklearn fits": sk,
    }
    return {k: v["median_s"] for k, v in interleaved(cons, rounds=rounds).items()}


def _plot(path: pathlib.Path, sizes, size_times, grids, grid_times) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name in size_times[0]:
        axes[0].loglog(sizes, [t[name] for t in size_times], "o-", label=name)
    axes[0].set(xlabel="features n (m = n/2)", ylabel="median seconds",
                title="Lasso time to optimum")
    for name in grid_times[0]:
        axes[1].loglog(grids, [t[name] for t in grid_times], "o-", label=name)
    axes[1].set(xlabel="lambdas in the grid", ylabel="median seconds",
                title="Lasso grid (100 x 200)")
    for ax in axes:
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(quick: bool = False) -> list[dict]:
    sizes = [20] if quick else [100, 300, 1000, 4000]
    grids = [2] if quick else [1, 4, 16, 64, 256]
    rounds = 1 if quick else 3
    size_times = [_size_point(n, rounds) for n in sizes]
    grid_times = [_grid_point(g, rounds) for g in grids]
    # a quick smoke run draws into a temporary folder: it must not leave the tree dirty
    out = pathlib.Path(tempfile.mkdtemp()) if quick else pathlib.Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    png = out / ("scaling_quick.png" if quick else "scaling.png")
    _plot(png, sizes, size_times, grids, grid_times)
    return [
        {"comparison": "scaling: Lasso time to optimum vs n", "sizes": sizes,
         "series": size_times, "png": str(png.name)},
        {"comparison": "scaling: Lasso grid time vs grid size", "sizes": grids,
         "series": grid_times, "png": str(png.name)},
    ]
