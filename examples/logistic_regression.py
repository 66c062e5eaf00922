"""Logistic regression by gradient descent, as derived in the textbook (DIGEST, seed 002 s3.3).

1. The hand-derived gradient of the mean cross-entropy,
   grad_(w, b) = -(1/m) sum_i (y_i - yhat_i) [x_i; 1],
   is checked against jax.grad.
2. Gradient descent runs to ||grad|| < eps with so.run and the textbook update
   w <- w + (eta/m) sum (y - yhat) x, b <- b + (eta/m) sum (y - yhat).
3. The loss curve is written to logistic_regression.png in the working directory.

Run: python examples/logistic_regression.py
"""

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import subopt as so  # noqa: E402

jax.config.update("jax_enable_x64", True)


def main() -> None:
    prob = so.problems.logistic_regression(m=300, n=4, seed=1)
    X, y = prob.data["X"], prob.data["y"]
    m = X.shape[0]

    # 1. the chapter's gradient, by hand
    params = {"w": jnp.array([0.5, -1.0, 0.25, 2.0]), "b": jnp.array(-0.3)}
    yhat = jax.nn.sigmoid(X @ params["w"] + params["b"])
    by_hand = {"w": -(X.T @ (y - yhat)) / m, "b": -jnp.sum(y - yhat) / m}
    auto = jax.grad(prob.fun)(params)
    err = max(float(jnp.max(jnp.abs(by_hand[k] - auto[k]))) for k in ("w", "b"))
    print(f"hand-derived gradient vs jax.grad: max abs difference {err:.2e}")
    assert err < 1e-12

    # 2. gradient descent to ||grad|| < eps
    eps = 1e-6
    eta = 1.0 / prob.lipschitz
    res = so.run(so.gradient_descent(eta), prob.fun, prob.x0, max_steps=20000, tol=eps, record=True)
    status = so.Status(int(res.status)).name
    print(
        f"gradient descent (eta = 1/L = {eta:.3f}): {status} after {int(res.num_steps)} steps, "
        f"loss {float(res.value):.6f}, ||grad|| {float(res.stationarity):.2e}"
    )
    assert res.status == so.Status.CONVERGED and res.stationarity < eps

    # the same iteration written out as in the chapter, for a few steps
    w, b = jnp.zeros(4), jnp.zeros(())
    for _ in range(int(res.num_steps)):
        r = y - jax.nn.sigmoid(X @ w + b)
        w, b = w + eta / m * (X.T @ r), b + eta / m * jnp.sum(r)
    gap = float(jnp.max(jnp.abs(w - res.params["w"])))
    print(f"textbook update loop vs so.run after the same number of steps: {gap:.2e}")
    assert gap < 1e-9

    accuracy = float(jnp.mean((X @ res.params["w"] + res.params["b"] > 0) == (y > 0.5)))
    print(f"training accuracy {accuracy:.3f}")

    k = int(res.num_steps)
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    ax[0].plot(range(1, k + 1), res.history.value[:k])
    ax[0].set(xlabel="step k", ylabel="mean cross-entropy", title="loss")
    ax[1].semilogy(range(1, k + 1), res.history.stationarity[:k])
    ax[1].axhline(eps, color="k", ls="--", lw=0.8, label="eps")
    ax[1].set(xlabel="step k", ylabel="||grad f||", title="stopping rule ||grad|| < eps")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig("logistic_regression.png", dpi=110)
    print("wrote logistic_regression.png")


if __name__ == "__main__":
    main()
