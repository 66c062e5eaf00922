"""Time to the same Lasso optimum: `so.fista` against jaxopt's FISTA and scikit-learn.

Contenders, on the same data (float64), each compiled/warmed up first and timed as medians of
interleaved rounds (`benchmarks._timing.interleaved`):

* ``so.fista``: ``so.run(so.fista(so.prox.l1(lam), learning_rate=1/L), f, x0, tol=...)``,
  gradient restart on, stopping on the gradient mapping the step computes anyway;
* ``jaxopt``: ``jaxopt.ProximalGradient(fun=f, prox=jaxopt.prox.prox_lasso, stepsize=1/L,
  acceleration=True, tol=...)``, jitted (same step, no restart);
* ``sklearn``: ``sklearn.linear_model.Lasso(alpha=lam, fit_intercept=False, tol=...)``
  (coordinate descent, compiled Cython).

The three stopping tests measure different things (subopt: the gradient-mapping norm
||y - prox(y - t grad f(y))|| / t; jaxopt: ||x_{k+1} - x_k|| / t, its fixed-point residual;
scikit-learn: the duality gap). So each contender's tolerance is calibrated, not copied: for
each one we take the LOOSEST tolerance of a common ladder (1e-1, 3e-2, 1e-2, ...) whose
solution is within ``target`` relative objective gap of F*, i.e. each contender does the
least work that reaches the same accuracy. F* comes from a FISTA run to a gradient mapping of
1e-13, certified by the exact minimum-norm subgradient of f + h and cross-checked against a
scikit-learn fit at tol=1e-14. The records report the chosen tolerances, the step counts and
every contender's final relative gap.

Run: ``python -m benchmarks.lasso_jaxopt [--quick]`` (or through ``python -m benchmarks``).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import subopt as so
from benchmarks._data import lasso_data, least_squares
from benchmarks._timing import block, interleaved

LADDER = [c * 10.0**-e for e in range(1, 12) for c in (1.0, 0.3)]
MAX_STEPS = 200_000


def _problem(m: int, n: int, rho: float, lam_ratio: float, seed: int = 0):
    a, b, lam_max = lasso_data(m, n, rho=rho, seed=seed)
    lam = lam_ratio * lam_max
    f, lipschitz = least_squares(a, b)
    return a, b, lam, lipschitz, f


def _objective(a, b, lam, x):
    x = np.asarray(x, np.float64)
    r = a @ x - b
    return 0.5 * r @ r / len(b) + lam * np.abs(x).sum()


def _reference(a, b, lam, lipschitz, f):
    from sklearn.linear_model import Lasso

    x0 = jnp.zeros(a.shape[1])
    reg = so.prox.l1(lam)
    ref = so.run(so.fista(reg, learning_rate=1 / lipschitz), f, x0, max_steps=MAX_STEPS, tol=1e-13)
    cert = float(jnp.linalg.norm(so.min_norm_subgradient(f, reg)(ref.params)))
    f_star = _objective(a, b, lam, ref.params)
    sk = Lasso(alpha=lam, fit_intercept=False, tol=1e-14, max_iter=1_000_000).fit(a, b).coef_
    sk_gap = (_objective(a, b, lam, sk) - f_star) / abs(f_star)
    f_star = min(f_star, _objective(a, b, lam, sk))
    return f_star, {
        "status": so.Status(int(ref.status)).name,
        "min_norm_subgradient": cert,
        "sklearn_tol1e-14_rel_gap": float(sk_gap),
    }


def _contenders(a, b, lam, lipschitz, f):
    """name -> (tol -> zero-argument callable returning (x, steps)); compiled per tol if needed."""
    import jaxopt
    from sklearn.linear_model import Lasso

    n = a.shape[1]
    x0 = jnp.zeros(n)
    step = 1.0 / lipschitz

    def so_at(tol):
        def go():
            res = so.run(
                so.fista(so.prox.l1(lam), learning_rate=step), f, x0, max_steps=MAX_STEPS, tol=tol
            )
            return block(res.params), res.num_steps

        return go

    def jaxopt_at(tol):
        pg = jaxopt.ProximalGradient(
            fun=f,
            prox=jaxopt.prox.prox_lasso,
            stepsize=step,
            acceleration=True,
            maxiter=MAX_STEPS,
            tol=tol,
        )
        solve = jax.jit(lambda: pg.run(x0, hyperparams_prox=lam))

        def go():
            out = solve()
            return block(out.params), out.state.iter_num

        return go

    def sklearn_at(tol):
        def go():
            est = Lasso(alpha=lam, fit_intercept=False, tol=tol, max_iter=1_000_000).fit(a, b)
            return est.coef_, est.n_iter_

        return go

    return {"so.fista": so_at, "jaxopt": jaxopt_at, "sklearn": sklearn_at}


def _calibrate(make, a, b, lam, f_star, target):
    """The loosest ladder tolerance reaching the target gap: (tol, callable, gap, steps)."""
    for tol in LADDER:
        go = make(tol)
        x, steps = go()  # also compiles
        gap = (_objective(a, b, lam, x) - f_star) / abs(f_star)
        if gap <= target:
            return tol, go, float(gap), int(steps)
    raise RuntimeError(f"no tolerance in the ladder reached a relative gap of {target}")


def compare(
    m: int, n: int, rho: float, *, target: float = 1e-6, lam_ratio: float = 0.05, rounds: int = 7
) -> dict:
    """One record: medians, ratios, calibrated tolerances, steps and gaps."""
    a, b, lam, lipschitz, f = _problem(m, n, rho, lam_ratio)
    f_star, ref_info = _reference(a, b, lam, lipschitz, f)
    chosen, steps, gaps, runs = {}, {}, {}, {}
    for name, make in _contenders(a, b, lam, lipschitz, f).items():
        tol, go, gap, k = _calibrate(make, a, b, lam, f_star, target)
        chosen[name], runs[name], gaps[name], steps[name] = tol, go, gap, k
    times = interleaved(runs, rounds=rounds, warmup=1)
    base = times["so.fista"]["median_s"]
    return {
        "comparison": f"Lasso {m}x{n}, AR(1) correlation {rho}, lam = {lam_ratio} lam_max, "
        f"time to relative gap <= {target:g}",
        "times": times,
        "ratios": {k: v["median_s"] / base for k, v in times.items()},
        "ratio_label": "time / so.fista time",
        "so_over_jaxopt": base / times["jaxopt"]["median_s"],
        "so_over_sklearn": base / times["sklearn"]["median_s"],
        "target": 0.25,
        "judged_by": "so_over_jaxopt",
        "tolerances": chosen,
        "steps": steps,
        "max_rel_gap": gaps,
        "reference": ref_info,
    }


def run(quick: bool = False) -> list[dict]:
    """The records for ``python -m benchmarks`` (a list, one record per comparison).

    The first record is the one the 0.25 target is judged by: a correlated design solved to
    a 1e-9 relative objective gap (the accuracy the test suite asks of the Lasso). The others
    show the same design at a loose 1e-6 (where acceleration has had less time to pay off)
    and a milder design.
    """
    if quick:
        return [compare(100, 200, 0.9, target=1e-9, rounds=3)]
    return [
        compare(500, 1000, 0.9, target=1e-9),
        compare(500, 1000, 0.9, target=1e-6),
        compare(500, 1000, 0.5, target=1e-9),
    ]


def _print(record: dict) -> None:
    print(f"## {record['comparison']}")
    for name, t in record["times"].items():
        print(
            f"  {name:<10} median {t['median_s'] * 1e3:9.2f} ms"
            f"   tol {record['tolerances'][name]:.0e}"
            f"   steps {record['steps'][name]:>6}   rel gap {record['max_rel_gap'][name]:.1e}"
        )
    print(f"  so.fista / jaxopt  = {record['so_over_jaxopt']:.3f}  (target <= 0.25)")
    print(f"  so.fista / sklearn = {record['so_over_sklearn']:.3f}")
    print(f"  reference: {record['reference']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    t0 = time.perf_counter()
    for record in run(quick=args.quick):
        _print(record)
    print(f"({time.perf_counter() - t0:.0f} s, {jax.devices()[0].device_kind})")


if __name__ == "__main__":
    main()
