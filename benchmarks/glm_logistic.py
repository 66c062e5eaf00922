"""L1-penalized logistic regression to relative suboptimality 1e-6:
`subopt.linear_model` against scikit-learn's ``liblinear`` (and celer's prox-Newton
``LogisticRegression`` when installed).

Problem: P(w) = mean(log(1 + exp(-y x.w))) + alpha ||w||_1 on the synthetic logistic data of
`benchmarks._data` (100x200, labels +-1, no intercept: liblinear penalizes its intercept)
at alpha = 0.1 alpha_max (alpha_max = ||X^T y||_inf / (2n)); liblinear's C = 1 / (alpha n).
F* is the smaller objective of a certified solve (duality gap, tol 1e-13) and, in the full
run, liblinear at tol 1e-12 (seconds to minutes: liblinear's run time at tight tolerances
varies with its random coordinate order, so ``--quick`` relies on the certificate alone).
Each solver runs at the loosest ladder tolerance reaching 1e-6; timed side by side.
Ratios are time / liblinear time.
"""

from __future__ import annotations

import jax
import numpy as np

from benchmarks._data import logistic_data
from benchmarks._timing import block
from benchmarks.glm_lasso import FULL_RUN_MIN_SECONDS, calibrate, timed_comparison


def run(quick: bool = False) -> list[dict]:
    from sklearn.linear_model import LogisticRegression

    from subopt import linear_model as lm

    # 200x400 and 500x1000 did not finish in 400 s (liblinear at tol 1e-12 for F*)
    m, n = (40, 80) if quick else (100, 200)
    x, y01 = logistic_data(m, n)
    y = np.where(y01 > 0, 1.0, -1.0)
    alpha = 0.1 * float(np.max(np.abs(x.T @ y)) / (2 * m))
    c = 1 / (alpha * m)

    def objective(w):
        w = np.asarray(w, float).ravel()
        return float(np.mean(np.logaddexp(0, -y * (x @ w))) + alpha * np.abs(w).sum())

    def liblinear(tol):
        return lambda: (
            LogisticRegression(
                C=c,
                l1_ratio=1.0,
                solver="liblinear",
                fit_intercept=False,
                tol=tol,
                max_iter=1_000_000,
                random_state=0,
            )
            .fit(x, y)
            .coef_
        )

    xj = jax.device_put(x)
    pen = lm.l1(alpha)

    def ours(tol):
        return lambda: block(lm.fit(lm.logistic(), pen, xj, y, tol=tol).coef)

    cert = lm.fit(lm.logistic(), pen, x, y, tol=1e-13, max_outer=200)
    f_star = objective(cert.coef)
    if not quick:
        f_star = min(f_star, objective(liblinear(1e-12)()))
    makers = {"subopt.linear_model": ours, "liblinear": liblinear}
    if not quick:
        try:
            from celer import LogisticRegression as CelerLogReg

            makers["celer"] = lambda tol: (
                lambda: CelerLogReg(C=c, fit_intercept=False, tol=tol).fit(x, y).coef_
            )
        except ImportError:  # pragma: no cover
            pass
    runs, gaps, tols = {}, {}, {}
    for name, make in makers.items():
        tols[name], runs[name], gaps[name] = calibrate(make, objective, f_star)
    return [
        timed_comparison(
            f"L1-logistic {m}x{n}, 0.1 alpha_max",
            runs,
            gaps,
            tols,
            {"duality_gap": float(cert.gap)},
            rounds=3 if quick else 5,
            base="liblinear",
            min_seconds=0.0 if quick else FULL_RUN_MIN_SECONDS,
        )
    ]
