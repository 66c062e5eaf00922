"""Lexicographic derivatives: their cost against jax.jacfwd, clarke_min_norm against one
lexicographic gradient, and steepest descent against the subgradient method.

* ``lexicographic_gradient`` at n = 100 on a composition with kinks (abs, ns.relu, a max
  reduction, the Euclidean norm) against ``jax.jacfwd`` of the same function, both jitted:
  ratio target <= 1.5.
* ``clarke_min_norm`` on LAD regression at n = 50, at a random point and at a point with 25
  exact zero residuals, against one lexicographic gradient: ratio target < 10.
* ``so.steepest_descent`` against ``so.polyak_subgradient`` (given f*) and
  ``so.subgradient_descent`` (normalized, 1/sqrt(k) steps) on LAD regression and a linear
  SVM: steps to a relative gap of 1e-8 and the time that takes (time per step times steps).
"""

from __future__ import annotations

import time

import cvxpy as cp
import jax
import jax.numpy as jnp
import numpy as np

import subopt as so
from benchmarks._timing import block, interleaved
from subopt import nonsmooth as ns

GAP = 1e-8


def _ratio(comparison: str, contenders: dict, rounds: int, target: float, **extra) -> dict:
    """Time two contenders side by side; the ratio is the first's median over the second's."""
    times = interleaved(contenders, rounds=rounds)
    first, second = list(contenders)
    ratio = times[first]["median_s"] / times[second]["median_s"]
    return {"comparison": comparison, "times": times, "ratio": ratio,
            "ratio_label": f"{first} / {second}", "target": target, **extra}  # fmt: skip


def _kinky(a, b, c):
    def f(x):
        return (
            jnp.sum(ns.abs(a @ x - b))
            + jnp.sum(ns.relu(c @ x))
            + jnp.max(a[:10] @ x)
            + ns.l2_norm(x[:5])
        )

    return f


def cost_vs_jacfwd(n: int, rounds: int) -> dict:
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.standard_normal((2 * n, n)))
    b = jnp.asarray(rng.standard_normal(2 * n))
    c = jnp.asarray(rng.standard_normal((n, n)))
    x = jnp.asarray(rng.standard_normal(n))
    f = _kinky(a, b, c)
    lg = jax.jit(lambda x: ns.lexicographic_gradient(f, x))
    jf = jax.jit(jax.jacfwd(f))
    gap = float(jnp.max(jnp.abs(lg(x) - jf(x))))
    return _ratio(
        f"lexicographic_gradient vs jax.jacfwd (n = {n}, smooth point)",
        {"lexicographic_gradient": lambda: block(lg(x)), "jax.jacfwd": lambda: block(jf(x))},
        rounds,
        1.5,
        max_abs_diff=gap,
    )


def clarke_vs_lg(n: int, rounds: int) -> list[dict]:
    rng = np.random.default_rng(1)
    m = 2 * n
    a_np = rng.integers(-3, 4, (m, n)).astype(float)
    x_kink = rng.integers(-2, 3, n).astype(float)
    b_np = a_np @ x_kink
    b_np[n // 2 :] += rng.standard_normal(m - n // 2)  # n/2 exact zero residuals
    a, b = jnp.asarray(a_np), jnp.asarray(b_np)
    lad = lambda x: jnp.sum(ns.abs(a @ x - b))  # noqa: E731
    lg = jax.jit(lambda x: ns.lexicographic_gradient(lad, x))
    cm = jax.jit(lambda x: ns.clarke_min_norm(lad, x, convex=True))
    out = []
    kink = f"{n // 2} exact zero residuals"
    for label, x in (("random point", rng.standard_normal(n)), (kink, x_kink)):
        x = jnp.asarray(x)
        _, info = cm(x)
        out.append(
            _ratio(
                f"clarke_min_norm vs one lexicographic gradient (LAD, n = {n}, {label})",
                {
                    "clarke_min_norm": lambda x=x: block(cm(x)),
                    "lexicographic_gradient": lambda x=x: block(lg(x)),
                },
                rounds,
                10.0,
                certified=bool(info.certified),
                points=int(info.points),
            )
        )
    return out


def _problems(n: int):
    rng = np.random.default_rng(2)
    m = 4 * n
    A = rng.standard_normal((m, n))
    b = A @ rng.standard_normal(n) + rng.laplace(size=m)
    x = cp.Variable(n)
    tight = {"tol_gap_abs": 1e-13, "tol_gap_rel": 1e-13, "tol_feas": 1e-13}
    lad_star = cp.Problem(cp.Minimize(cp.norm1(A @ x - b))).solve("CLARABEL", **tight)
    X = rng.standard_normal((m, n))
    y = np.sign(X @ rng.standard_normal(n) + 0.5 * rng.standard_normal(m))
    lam = 0.1
    svm_obj = cp.sum(cp.pos(1 - cp.multiply(y, X @ x))) / m + lam / 2 * cp.sum_squares(x)
    svm_star = cp.Problem(cp.Minimize(svm_obj)).solve("CLARABEL", **tight)
    Aj, bj, Xj, yj = map(jnp.asarray, (A, b, X, y))
    lad = lambda w: jnp.sum(ns.abs(Aj @ w - bj))  # noqa: E731
    svm = lambda w: jnp.mean(ns.hinge(yj * (Xj @ w))) + lam / 2 * jnp.sum(w * w)  # noqa: E731
    return {"LAD": (lad, lad_star), "SVM": (svm, svm_star)}


def descent(n: int, steps: int, names: tuple[str, ...]) -> list[dict]:
    out = []
    for name, (fun, f_star) in _problems(n).items():
        if name not in names:
            continue
        x0 = jnp.zeros(n)
        opts = {
            "steepest_descent": so.steepest_descent(),
            "polyak_subgradient (f* given)": so.polyak_subgradient(f_star),
            "subgradient_descent (a/sqrt(k))": so.subgradient_descent(
                so.schedules.inverse_sqrt(1.0), normalize=True
            ),
        }
        results: dict = {}
        for label, opt in opts.items():
            run = jax.jit(
                lambda x0, opt=opt, fun=fun: so.run(
                    opt, fun, x0, max_steps=steps, tol=0.0, record=True
                )
            )
            block(run(x0))  # compile
            t0 = time.perf_counter()
            res = block(run(x0))
            per_step = (time.perf_counter() - t0) / steps
            values = np.minimum.accumulate(np.asarray(res.history.value))
            rel = (values - f_star) / max(1.0, abs(f_star))
            hit = np.nonzero(rel <= GAP)[0]
            k = int(hit[0]) + 1 if hit.size else None
            results[label] = {
                "steps_to_1e-8": k,
                "seconds_to_1e-8": None if k is None else k * per_step,
                "final_rel_gap": float(rel[-1]),
                "seconds_per_step": per_step,
            }
        out.append({"comparison": f"steepest descent vs subgradient ({name}, n = {n}, "
                                  f"{steps} steps)", "descent": results})  # fmt: skip
    return out


def run(quick: bool = False) -> list[dict]:
    rounds = 2 if quick else 15
    records = [cost_vs_jacfwd(20 if quick else 100, rounds)]
    records += clarke_vs_lg(10 if quick else 50, rounds)
    if quick:
        records += descent(5, 30, ("LAD",))
    else:
        records += descent(5, 300, ("LAD", "SVM")) + descent(20, 300, ("LAD", "SVM"))
    for record in records:
        if "target" in record:
            record["met"] = bool(
                record["ratio"] <= record["target"]
                if record["target"] == 1.5
                else record["ratio"] < record["target"]
            )
    return records


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    for record in run(quick=False):
        print(record)
