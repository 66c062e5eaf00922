"""Gradients with respect to matrices: the textbook's closed forms against jax.grad (DIGEST: 001).

1. grad_X tr(A X^T B) = B A.
2. f(X, Y) = 1/2 ||XY - A||_F^2: df/dX = (XY - A) Y^T and df/dY = X^T (XY - A).
3. grad ln det X = X^{-T}: on a random SPD matrix (where X^{-T} = X^{-1}), and on a
   non-symmetric matrix with positive determinant, where the transpose matters; the Gateaux
   quotient (f(X + tV) - f(X)) / t tends to <X^{-T}, V> as in the chapter's derivation.
4. Low-rank matrix factorization min_(X, Y) 1/2 ||XY - A||_F^2 solved by so.gradient_descent
   on the pytree (X, Y) with so.run(record=True); the optimum is checked against the truncated
   SVD (Eckart-Young), and the loss curve is written to matrix_calculus.png.

Run: python examples/matrix_calculus.py
"""

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import subopt as so  # noqa: E402

jax.config.update("jax_enable_x64", True)

RNG = np.random.default_rng(0)


def max_abs(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def closed_forms() -> None:
    # 1. tr(A X^T B), X: m x n, A: k x n, B: m x k
    m, n, k = 4, 3, 5
    A, B, X = RNG.normal(size=(k, n)), RNG.normal(size=(m, k)), RNG.normal(size=(m, n))
    auto = jax.grad(lambda X: jnp.trace(A @ X.T @ B))(X)
    err = max_abs(auto, B @ A)
    print(f"grad tr(A X^T B) = B A: max |jax.grad - B A| = {err:.1e}")
    assert err < 1e-12

    # 2. f(X, Y) = 1/2 ||XY - A||_F^2, X: m x r, Y: r x n
    m, r, n = 6, 2, 5
    A, X, Y = RNG.normal(size=(m, n)), RNG.normal(size=(m, r)), RNG.normal(size=(r, n))
    gX, gY = jax.grad(lambda X, Y: 0.5 * jnp.sum((X @ Y - A) ** 2), argnums=(0, 1))(X, Y)
    errX, errY = max_abs(gX, (X @ Y - A) @ Y.T), max_abs(gY, X.T @ (X @ Y - A))
    print(
        f"f = 1/2||XY - A||_F^2: df/dX = (XY - A)Y^T to {errX:.1e}, "
        f"df/dY = X^T(XY - A) to {errY:.1e}"
    )
    assert errX < 1e-12 and errY < 1e-12

    # 3. ln det X, via slogdet (the sign is +1 on the matrices used here)
    logdet = lambda X: jnp.linalg.slogdet(X)[1]  # noqa: E731
    grad_logdet = jax.jit(jax.grad(logdet))
    M = RNG.normal(size=(5, 5))
    spd = M @ M.T + 5 * np.eye(5)
    err = max_abs(grad_logdet(spd), np.linalg.inv(spd).T)
    print(f"grad ln det X = X^(-T) on an SPD matrix: max error {err:.1e}")
    assert err < 1e-12

    N = 2 * np.eye(5) + 0.6 * RNG.normal(size=(5, 5))
    N = N if np.linalg.det(N) > 0 else N[[1, 0, 2, 3, 4]]  # a row swap flips the sign
    assert np.linalg.det(N) > 0 and max_abs(N, N.T) > 0.1
    auto = grad_logdet(N)
    inv = np.linalg.inv(N)
    err_t, err_no_t = max_abs(auto, inv.T), max_abs(auto, inv)
    print(
        f"  on a non-symmetric X with det X = {np.linalg.det(N):.3f} > 0: "
        f"|jax.grad - X^(-T)| = {err_t:.1e}, |jax.grad - X^(-1)| = {err_no_t:.2f} "
        "(the transpose matters)"
    )
    assert err_t < 1e-12 and err_no_t > 0.05

    # Gateaux: (f(X + tV) - f(X)) / t -> <X^(-T), V>, with an error O(t)
    V = RNG.normal(size=(5, 5))
    exact = float(np.sum(inv.T * V))
    for t in (1e-2, 1e-4, 1e-6):
        quotient = (float(logdet(N + t * V)) - float(logdet(N))) / t
        print(f"  t = {t:.0e}: Gateaux quotient {quotient:+.6f}, <X^(-T), V> = {exact:+.6f}")
    assert abs(quotient - exact) < 1e-4


def factorization() -> None:
    # 4. A = U V^T (rank 3) + small noise; best rank-3 fit by gradient descent on (X, Y)
    m, n, r = 30, 20, 3
    A = RNG.normal(size=(m, r)) @ RNG.normal(size=(r, n)) + 0.01 * RNG.normal(size=(m, n))
    sing = np.linalg.svd(A, compute_uv=False)
    f_star = 0.5 * float(np.sum(sing[r:] ** 2))  # Eckart-Young: the best rank-r residual

    def loss(params):
        X, Y = params
        return 0.5 * jnp.sum((X @ Y - A) ** 2)

    x0 = (0.1 * RNG.normal(size=(m, r)), 0.1 * RNG.normal(size=(r, n)))
    # the gradient so.run uses is the closed form of part 2
    gX, gY = jax.grad(loss)(x0)
    X, Y = x0
    assert max_abs(gX, (X @ Y - A) @ Y.T) < 1e-12 and max_abs(gY, X.T @ (X @ Y - A)) < 1e-12

    eta = 0.5 / sing[0]  # the local curvature near a balanced solution is about 2 sigma_1
    res = so.run(so.gradient_descent(eta), loss, x0, max_steps=5000, tol=1e-6, record=True)
    status = so.Status(int(res.status)).name
    X, Y = res.params
    print(
        f"rank-{r} factorization of a {m}x{n} matrix, gradient descent on (X, Y), eta = {eta:.4f}: "
        f"{status} after {int(res.num_steps)} steps, loss {float(res.value):.8f}, "
        f"Eckart-Young optimum {f_star:.8f}"
    )
    assert res.status == so.Status.CONVERGED
    assert abs(float(res.value) - f_star) < 1e-8 * (1 + f_star)
    # X Y is the truncated SVD of A (unique when sigma_r > sigma_(r+1))
    U, s, Vt = np.linalg.svd(A)
    best = (U[:, :r] * s[:r]) @ Vt[:r]
    err = max_abs(X @ Y, best)
    print(f"  ||XY - truncated SVD||_max = {err:.1e}")
    assert err < 1e-6

    k, history = int(res.num_steps), res.history
    assert history is not None  # record=True
    steps = np.arange(1, k + 1)
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    ax[0].semilogy(steps, np.asarray(history.value[:k]) - f_star)
    ax[0].set(xlabel="step k", ylabel="f(X_k, Y_k) - f*", title="loss above the SVD optimum f*")
    ax[1].semilogy(steps, np.asarray(history.stationarity[:k]))
    ax[1].axhline(1e-6, color="k", ls="--", lw=0.8, label="tol")
    ax[1].set(xlabel="step k", ylabel="||grad f||", title="gradient norm over (X, Y)")
    ax[1].legend()
    fig.suptitle(f"rank-{r} factorization XY ~ A by so.gradient_descent on the pytree (X, Y)")
    fig.tight_layout()
    fig.savefig("matrix_calculus.png", dpi=110)
    print("wrote matrix_calculus.png")


def main() -> None:
    closed_forms()
    factorization()


if __name__ == "__main__":
    main()
