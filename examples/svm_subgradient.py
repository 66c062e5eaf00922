"""A linear SVM trained by the subgradient method: 1/sqrt(k) steps, 1/k steps, Polyak steps.

The hinge loss is not differentiable, so gradient descent's stopping rule ||grad|| < eps does
not apply: the method is not a descent method, and we follow f_best(k) = min_{i<=k} f(x_i).

1. The reference optimum f* of the SVM (a quadratic program) comes from cvxpy.
2. The subgradient method runs with a_k = a/sqrt(1 + k), with a_k = a/(b + k), and with
   Polyak's step (f(x_k) - f*)/||g_k||^2, 20000 steps each, inside so.run.
3. Checked: each run's result is its best iterate (value = min over the recorded values); the
   classical bound f_best(k) - f* <= (R^2 + sum_i a_i^2 ||g_i||^2) / (2 sum_i a_i) holds at
   every k for both schedules (R = ||x_0 - x*||, g_i the subgradients the run used); every
   method ends within 1e-4 of f* (relative), Polyak within 1e-5.
4. f_best(k) - f* is plotted on log-log axes with the O(1/sqrt(k)) slope, written to
   svm_subgradient.png in the working directory.

Run: python examples/svm_subgradient.py
"""

import cvxpy as cp
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import subopt as so  # noqa: E402

jax.config.update("jax_enable_x64", True)

STEPS = 20000


def reference(prob) -> tuple[float, np.ndarray]:
    X, y, lam = np.asarray(prob.data["X"]), np.asarray(prob.data["y"]), prob.data["lam"]
    m, n = X.shape
    w, b = cp.Variable(n), cp.Variable()
    hinge = cp.sum(cp.pos(1 - cp.multiply(y, X @ w + b))) / m
    problem = cp.Problem(cp.Minimize(hinge + lam / 2 * cp.sum_squares(w)))
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    return float(problem.value), np.r_[w.value, b.value]


def main() -> None:
    prob = so.problems.linear_svm(m=200, n=10, lam=0.1, seed=0)
    f_star, x_star = reference(prob)
    f_cvx = float(prob.fun({"w": jnp.asarray(x_star[:-1]), "b": jnp.asarray(x_star[-1])}))
    print(f"cvxpy (Clarabel): f* = {f_star:.10f}; our objective at its solution {f_cvx:.10f}")
    assert abs(f_cvx - f_star) < 1e-9

    f0 = float(prob.fun(prob.x0))
    g0 = float(
        jnp.linalg.norm(
            jnp.concatenate(
                [v.ravel() for v in jax.tree_util.tree_leaves(jax.grad(prob.fun)(prob.x0))]
            )
        )
    )
    R = float(np.linalg.norm(x_star))  # x0 = 0
    k = np.arange(STEPS + 1)
    runs = {
        "a_k = 1/sqrt(1 + k)": (so.schedules.inverse_sqrt(1.0), 1.0 / np.sqrt(1.0 + k)),
        "a_k = 10/(10 + k)": (so.schedules.inverse_time(10.0, 10.0), 10.0 / (10.0 + k)),
        "Polyak, f* known": (None, None),
    }
    curves = {}
    bound_sqrt = None
    for label, (schedule, steps) in runs.items():
        if schedule is None:
            opt = so.polyak_subgradient(f_star)
        else:
            opt = so.subgradient_descent(schedule)
        res = so.run(opt, prob.fun, prob.x0, max_steps=STEPS, tol=0.0, record=True)
        n = int(res.num_steps)
        values = np.r_[f0, np.asarray(res.history.value)[:n]]  # f(x_0) ... f(x_n)
        f_best = np.minimum.accumulate(values)
        status = so.Status(int(res.status)).name
        gap = (float(res.value) - f_star) / f_star
        print(
            f"{label:22s} {status:9s} after {n:5d} steps: f_best = {float(res.value):.10f}, "
            f"relative gap {gap:.2e}"
        )
        # the result is the best iterate, and its value is the objective there
        assert float(res.value) == f_best[-1]
        assert abs(float(prob.fun(res.params)) - float(res.value)) < 1e-12
        assert -1e-9 < gap < (1e-5 if schedule is None else 1e-4)
        if schedule is not None:
            # subgradient norms the run used: ||g_0||, then the recorded ones at x_1 ... x_n
            g = np.r_[g0, np.asarray(res.history.stationarity)[: n - 1]]
            a = steps[:n]
            bound = (R**2 + np.cumsum(a**2 * g**2)) / (2 * np.cumsum(a))
            assert np.all(f_best[:-1] - f_star <= bound * (1 + 1e-12)), label
            print(
                f"{'':22s} classical bound holds at every k; at k = {n - 1}: "
                f"{f_best[-2] - f_star:.2e} <= {bound[-1]:.2e}"
            )
            if bound_sqrt is None:
                bound_sqrt = bound
        curves[label] = f_best[1:] - f_star  # f_best(k) - f*, k = 1 ... n

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, gap in curves.items():
        kk = np.arange(1, gap.size + 1)
        pos = gap > 0
        ax.loglog(kk[pos], gap[pos], label=label)
    kk = np.arange(1, STEPS + 1)
    assert bound_sqrt is not None
    ax.loglog(kk, bound_sqrt[:STEPS], "k:", lw=1, label="classical bound, 1/sqrt(k) steps")
    anchor = curves["a_k = 1/sqrt(1 + k)"][9] * np.sqrt(10.0)
    ax.loglog(kk, anchor / np.sqrt(kk), "k--", lw=0.8, label="O(1/sqrt(k)) slope")
    ax.set(xlabel="step k", ylabel="f_best(k) - f*", title="linear SVM, subgradient method")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig("svm_subgradient.png", dpi=110)
    print("wrote svm_subgradient.png")


if __name__ == "__main__":
    main()
