"""A 100-alpha Lasso path (alpha_max down to 1e-3 alpha_max) to relative suboptimality 1e-6
at every alpha: `subopt.linear_model.lasso_path` against scikit-learn's ``lasso_path`` (warm
starts) and celer's ``celer_path``.

The design is the synthetic 500x1000 with AR(0.9) columns of `benchmarks.glm_lasso` (a
smaller one with ``--quick``). F*(alpha) comes from a certified path (duality gaps at tol
1e-14), the per-alpha minimum with scikit-learn at tol 1e-14. Each solver runs at the loosest
ladder tolerance whose path is within 1e-6 relative suboptimality at every alpha; the three
are timed side by side (medians of interleaved rounds after warm-up). Ratios are
time / scikit-learn time.
"""

from __future__ import annotations

import numpy as np

from benchmarks._data import lasso_data
from benchmarks.glm_lasso import LADDER, TARGET, lasso_objective, timed_comparison

N_ALPHAS, EPS = 100, 1e-3


def _worst(x, y, alphas, coefs, f_star) -> float:
    objs = np.array([lasso_objective(x, y, a, coefs[:, i]) for i, a in enumerate(alphas)])
    return float(np.max((objs - f_star) / np.abs(f_star)))


def run(quick: bool = False) -> list[dict]:
    from sklearn.linear_model import lasso_path as sk_path

    from subopt import linear_model as lm

    m, n = (40, 60) if quick else (500, 1000)
    n_alphas = 10 if quick else N_ALPHAS
    x, y, _ = lasso_data(m, n, rho=0.9)
    alphas, ref_coefs, gaps = lm.lasso_path(
        x, y, n_alphas=n_alphas, eps=EPS, tol=1e-14, max_iter=1000
    )
    _, sk_coefs, _ = sk_path(x, y, alphas=alphas, tol=1e-14, max_iter=1_000_000)
    f_star = np.minimum(
        [lasso_objective(x, y, a, ref_coefs[:, i]) for i, a in enumerate(alphas)],
        [lasso_objective(x, y, a, sk_coefs[:, i]) for i, a in enumerate(alphas)],
    )
    makers = {
        "subopt.linear_model": lambda tol: lambda: lm.lasso_path(x, y, alphas=alphas, tol=tol)[1],
        "sklearn": lambda tol: lambda: sk_path(x, y, alphas=alphas, tol=tol, max_iter=1_000_000)[1],
    }
    if not quick:
        from celer import celer_path

        makers["celer"] = lambda tol: lambda: celer_path(x, y, "lasso", alphas=alphas, tol=tol)[1]
    runs, worst, tols = {}, {}, {}
    for name, make in makers.items():
        for tol in LADDER:
            go = make(tol)
            gap = _worst(x, y, alphas, go(), f_star)
            if gap <= TARGET:
                runs[name], worst[name], tols[name] = go, gap, tol
                break
        else:
            raise RuntimeError(f"{name}: no ladder tolerance reached {TARGET} on the path")
    record = timed_comparison(
        f"Lasso path, {n_alphas} alphas to {EPS:g} alpha_max, {m}x{n} AR(0.9)",
        runs,
        worst,
        tols,
        {"max_certified_gap": float(np.max(gaps))},
        rounds=3 if quick else 5,
    )
    return [record]
