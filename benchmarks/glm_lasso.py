"""One Lasso to relative suboptimality 1e-6: `subopt.linear_model` against scikit-learn's
coordinate descent, celer and skglm, on the problems of issue 15.

Problems (float64, no intercept, P(w) = ||y - Xw||^2 / (2n) + lam ||w||_1):

* synthetic 500x1000 with AR(0.9)-correlated columns at 0.1 and 0.01 lam_max;
* synthetic 2000x10000 (AR(0.9)) at 0.1 lam_max;
* NCI60 gene expression (64x6830, ISLP's bundled copy, columns centered) at 0.1 and 0.01
  lam_max, with a response from 10 random genes plus 10% noise (the data set has no
  numeric response);
* diabetes (scikit-learn's bundled copy) with degree-3 polynomial features (442x285,
  standardized, y centered) at 0.01 lam_max.

Calibration: F* is the smaller objective of `subopt.linear_model` at tol 1e-14 (a duality
gap certificate) and scikit-learn at tol 1e-14. Each solver runs at the LOOSEST tolerance of a
common ladder (1e-1, 3e-2, ..., 1e-14) whose solution is within relative suboptimality 1e-6
of F*, and the contenders are timed side by side (medians of interleaved rounds after a
warm-up that also compiles). Ratios are time / scikit-learn time.

Run: ``python -m benchmarks --only glm_lasso [--quick]``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np

from benchmarks._data import lasso_data
from benchmarks._timing import block, interleaved

LADDER = [c * 10.0**-e for e in range(1, 15) for c in (1.0, 0.3)]
TARGET = 1e-6


def lasso_objective(x, y, lam, w) -> float:
    w = np.asarray(w, float)
    r = y - x @ w
    return float(0.5 * r @ r / len(y) + lam * np.abs(w).sum())


def nci60(seed: int = 0):
    """ISLP's NCI60 expression matrix (64x6830, centered) and a sparse synthetic response."""
    from ISLP import load_data

    x = np.asarray(load_data("NCI60")["data"], float)
    x = x - x.mean(0)
    rng = np.random.default_rng(seed)
    w = np.zeros(x.shape[1])
    w[rng.choice(x.shape[1], 10, replace=False)] = rng.standard_normal(10)
    signal = x @ w
    return x, signal + 0.1 * signal.std() * rng.standard_normal(x.shape[0])


def diabetes_poly():
    """Diabetes with degree-3 polynomial features (442x285), standardized; y centered."""
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    x, y = load_diabetes(return_X_y=True)
    x = StandardScaler().fit_transform(PolynomialFeatures(3, include_bias=False).fit_transform(x))
    return x, y - y.mean()


def problems(quick: bool) -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    """(name, X, y, lam_ratio) for each comparison."""
    if quick:
        a, b, _ = lasso_data(40, 60, rho=0.9)
        return [("synthetic 40x60 AR(0.9), 0.1 lam_max", a, b, 0.1)]
    a, b, _ = lasso_data(500, 1000, rho=0.9)
    big_a, big_b, _ = lasso_data(2000, 10000, rho=0.9)
    nx, ny = nci60()
    dx, dy = diabetes_poly()
    return [
        ("synthetic 500x1000 AR(0.9), 0.1 lam_max", a, b, 0.1),
        ("synthetic 500x1000 AR(0.9), 0.01 lam_max", a, b, 0.01),
        ("synthetic 2000x10000 AR(0.9), 0.1 lam_max", big_a, big_b, 0.1),
        ("NCI60 64x6830, 0.1 lam_max", nx, ny, 0.1),
        ("NCI60 64x6830, 0.01 lam_max", nx, ny, 0.01),
        ("diabetes degree-3 polynomial 442x285, 0.01 lam_max", dx, dy, 0.01),
    ]


def contenders(x, y, lam, quick: bool) -> dict[str, Callable[[float], Callable]]:
    """name -> (tol -> zero-argument callable returning the coefficients)."""
    from sklearn.linear_model import Lasso

    from subopt import linear_model as lm

    xj = jax.device_put(x)  # once, as a user holding a jax array would
    pen = lm.l1(lam)

    def ours(tol):
        return lambda: block(lm.fit(lm.quadratic(), pen, xj, y, tol=tol).coef)

    def sklearn(tol):
        return lambda: (
            Lasso(alpha=lam, fit_intercept=False, tol=tol, max_iter=1_000_000).fit(x, y).coef_
        )

    out = {"subopt.linear_model": ours, "sklearn": sklearn}
    if quick:
        return out
    from celer import Lasso as CelerLasso
    from skglm import Lasso as SkglmLasso

    def celer(tol):
        return lambda: CelerLasso(alpha=lam, fit_intercept=False, tol=tol).fit(x, y).coef_

    def skglm(tol):
        return lambda: (
            SkglmLasso(alpha=lam, fit_intercept=False, tol=tol, max_iter=1000).fit(x, y).coef_
        )

    out.update(celer=celer, skglm=skglm)
    return out


def calibrate(make, objective, f_star, target=TARGET):
    """The loosest ladder tolerance reaching ``target``: (tol, callable, rel. suboptimality)."""
    for tol in LADDER:
        go = make(tol)
        gap = (objective(go()) - f_star) / abs(f_star)
        if gap <= target:
            return tol, go, float(gap)
    raise RuntimeError(f"no ladder tolerance reached relative suboptimality {target}")


def certified_optimum(x, y, lam) -> tuple[float, dict]:
    from sklearn.linear_model import Lasso

    from subopt import linear_model as lm

    res = lm.fit(lm.quadratic(), lm.l1(lam), x, y, tol=1e-14, max_outer=1000)
    ours = lasso_objective(x, y, lam, res.coef)
    sk = Lasso(alpha=lam, fit_intercept=False, tol=1e-14, max_iter=1_000_000).fit(x, y)
    ref = lasso_objective(x, y, lam, sk.coef_)
    return min(ours, ref), {"duality_gap": float(res.gap), "sklearn_minus_ours": ref - ours}


# full runs time each contender for at least this long, so the ms-scale problems get tens of
# rounds (a median over 5 moved by 10-20% with one slow spell of the machine)
FULL_RUN_MIN_SECONDS = 0.5


def timed_comparison(
    name, runs, gaps, tols, reference, rounds, base="sklearn", min_seconds=0.0
) -> dict:
    times = interleaved(runs, rounds=rounds, warmup=1, min_seconds=min_seconds)
    ref = times[base]["median_s"]
    ratios = {k: v["median_s"] / ref for k, v in times.items()}
    fastest_peer = min(v["median_s"] for k, v in times.items() if k != "subopt.linear_model")
    ours = times["subopt.linear_model"]["median_s"]
    return {
        "comparison": f"{name}: time to relative suboptimality {TARGET:g}",
        "times": times,
        "ratios": ratios,
        "ratio_label": f"time / {base} time",
        "ours_over_base": ours / ref,
        "ours_over_fastest_peer": ours / fastest_peer,
        "met_floor": ours <= ref,
        "tolerances": tols,
        "max_rel_gap": gaps,
        "reference": reference,
    }


def compare(name, x, y, lam_ratio, *, quick=False, rounds=7) -> dict:
    lam = lam_ratio * float(np.max(np.abs(x.T @ y)) / len(y))
    f_star, reference = certified_optimum(x, y, lam)

    def objective(w):
        return lasso_objective(x, y, lam, w)

    runs, gaps, tols = {}, {}, {}
    for cname, make in contenders(x, y, lam, quick).items():
        tols[cname], runs[cname], gaps[cname] = calibrate(make, objective, f_star)
    min_seconds = 0.0 if quick else FULL_RUN_MIN_SECONDS
    return timed_comparison(name, runs, gaps, tols, reference, rounds, min_seconds=min_seconds)


def run(quick: bool = False) -> list[dict]:
    """The records for ``python -m benchmarks``: one per problem."""
    rounds = 3 if quick else 5
    return [compare(name, x, y, r, quick=quick, rounds=rounds) for name, x, y, r in problems(quick)]
