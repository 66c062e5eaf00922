"""A learning-rate x lambda grid for the Lasso with FISTA, in one so.sweep call.

1. so.sweep runs FISTA on every (learning rate, lambda) pair of a 9 x 8 grid in one compiled,
   vmapped program; each lane keeps its own status and step count.
2. For every lambda, the converged lanes agree with scikit-learn's Lasso (an independent
   coordinate-descent solver) on the objective, and a few lanes are checked against so.run
   called on that point alone.
3. A second sweep with new lambda values reuses the compiled program (the objective is not
   traced again), and batch_size gives the same statuses and steps.
4. so.sweep_best picks the fastest learning rate for each lambda.
5. Two heatmaps, the final objective gap and the steps to tolerance, are written to
   hyperparameter_grid.png in the working directory.

Run: python examples/hyperparameter_grid.py
"""

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import subopt as so  # noqa: E402

jax.config.update("jax_enable_x64", True)

MAX_STEPS, TOL = 400, 1e-9


def main() -> None:
    from sklearn.linear_model import Lasso

    p = so.problems.lasso(200, 80, correlation=0.6, seed=0)
    lam_max, L = p.data["lam_max"], p.lipschitz
    traces = {"n": 0}

    def smooth(x):  # the least-squares part, counting its traces
        traces["n"] += 1
        return p.fun(x)

    def solve(learning_rate, lam):
        opt = so.fista(so.prox.l1(lam), learning_rate=learning_rate)
        return so.run(opt, smooth, p.x0, max_steps=MAX_STEPS, tol=TOL)

    # steps from timid to past the 2/L stability limit of the plain gradient step
    lrs = np.array([0.05, 0.1, 0.2, 0.4, 0.7, 1.0, 1.3, 1.7, 2.3]) / L
    lams = lam_max * np.logspace(-3, -0.3, 8)
    res = so.sweep(solve, learning_rate=lrs, lam=lams)
    status, steps = np.asarray(res.status), np.asarray(res.num_steps)
    print(f"one sweep over {lrs.size} learning rates x {lams.size} lambdas: "
          f"result.params {res.params.shape}, status counts "
          + ", ".join(f"{s.name} {int((status == s).sum())}" for s in so.Status))
    converged = status == so.Status.CONVERGED
    capped, diverged = status == so.Status.MAX_STEPS, status == so.Status.DIVERGED
    # a step <= 1/L never diverges (FISTA's descent lemma); past 2/L, small lambdas do
    assert not diverged[lrs <= 1.0 / L].any() and diverged[lrs > 2.0 / L].any()
    assert capped.any() and converged.sum() > status.size // 2

    # 2. against scikit-learn, lambda by lambda (same objective: 1/(2m)||Ax-b||^2 + lam||x||_1)
    A, b = np.asarray(p.data["A"]), np.asarray(p.data["b"])
    f_star = np.empty(lams.size)
    for j, lam in enumerate(lams):
        ref = Lasso(alpha=lam, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(A, b)
        f_star[j] = float(p.fun(jnp.asarray(ref.coef_)) + lam * np.abs(ref.coef_).sum())
    gap = (np.asarray(res.value) - f_star) / np.abs(f_star)  # relative to scikit-learn's optimum
    worst = float(np.abs(gap[converged]).max())
    print(f"converged lanes vs scikit-learn Lasso: max relative objective gap {worst:.1e}; "
          f"lanes stopped at max_steps={MAX_STEPS}: gap up to {float(gap[capped].max()):.1e}")
    assert worst < 1e-7 and (gap[capped] > -1e-12).all()

    for i, j in [(0, 0), (5, 3), (8, 7)]:
        alone = solve(float(lrs[i]), float(lams[j]))
        assert int(alone.status) == status[i, j] and int(alone.num_steps) == steps[i, j]
        np.testing.assert_allclose(alone.params, res.params[i, j], rtol=1e-8, atol=1e-12)
    print("three grid lanes equal so.run on that point alone (status, steps, solution)")

    # 3. new lambda values: the same program, no new trace of the objective
    before = traces["n"]
    res2 = so.sweep(solve, learning_rate=lrs, lam=lams * 0.9)
    assert traces["n"] == before
    chunked = so.sweep(solve, learning_rate=lrs, lam=lams, batch_size=16)
    assert (np.asarray(chunked.num_steps) == steps).all()
    assert (np.asarray(chunked.status) == status).all()
    print(f"new lambdas reused the compiled grid (objective traced {traces['n']} times in all); "
          f"batch_size=16 gave the same statuses and steps; "
          f"{int((np.asarray(res2.status) == so.Status.CONVERGED).sum())} lanes converged")

    # 4. the fastest converging learning rate for each lambda
    print("lambda/lam_max  fastest step*L  steps")
    for j, lam in enumerate(lams):
        column = jax.tree_util.tree_map(lambda x, j=j: x[:, j], res)
        best = so.sweep_best(column, {"learning_rate": lrs}, key="num_steps",
                             statuses=(so.Status.CONVERGED,))
        print(f"{lam / lam_max:14.4f}  {best.point['learning_rate'] * L:14.2f}  "
              f"{int(best.score):5d}")
        assert best.point["learning_rate"] >= 0.7 / L  # longer safe steps are faster

    # 5. heatmaps
    gap = np.where(diverged, np.nan, np.maximum(gap, 1e-16))
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    extent_labels = dict(
        xticks=range(lams.size), xticklabels=[f"{v:.0e}" for v in lams / lam_max],
        yticks=range(lrs.size), yticklabels=[f"{v:.2f}" for v in lrs * L],
        xlabel="lambda / lambda_max", ylabel="learning rate x L",
    )
    im0 = ax[0].imshow(np.log10(gap), origin="lower", aspect="auto", cmap="viridis")
    ax[0].set(title="log10 (F - F*) / |F*| at the stop (F*: scikit-learn)", **extent_labels)
    fig.colorbar(im0, ax=ax[0])
    shown = np.where(diverged, np.nan, steps).astype(float)
    im1 = ax[1].imshow(shown, origin="lower", aspect="auto", cmap="magma_r")
    ax[1].set(title=f"steps to tol={TOL:g} (M: max_steps, D: diverged)", **extent_labels)
    fig.colorbar(im1, ax=ax[1])
    for i, j in zip(*np.nonzero(~converged)):
        for a in ax:
            a.text(j, i, "D" if diverged[i, j] else "M", ha="center", va="center", color="red")
    fig.tight_layout()
    fig.savefig("hyperparameter_grid.png", dpi=110)
    print("wrote hyperparameter_grid.png")


if __name__ == "__main__":
    main()
