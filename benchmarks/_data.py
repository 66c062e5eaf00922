"""Seeded synthetic data shared by the benchmarks (no downloads)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def lasso_data(m: int, n: int, *, seed: int = 0, rho: float = 0.5, k: int | None = None):
    """A Lasso design with correlated columns (AR(1) correlation ``rho``) and a sparse truth.

    Returns ``(A, b, lam_max)`` in float64 numpy, for f(x) = ||Ax - b||^2 / (2m) + lam ||x||_1;
    ``lam_max = ||A^T b||_inf / m`` is the smallest lambda whose solution is 0.
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((m, n))
    a = np.empty_like(z)
    a[:, 0] = z[:, 0]
    for j in range(1, n):
        a[:, j] = rho * a[:, j - 1] + np.sqrt(1 - rho**2) * z[:, j]
    x_true = np.zeros(n)
    k = k if k is not None else max(1, n // 10)
    x_true[rng.choice(n, k, replace=False)] = rng.standard_normal(k)
    b = a @ x_true + 0.1 * rng.standard_normal(m)
    lam_max = float(np.max(np.abs(a.T @ b)) / m)
    return a, b, lam_max


def logistic_data(m: int, n: int, *, seed: int = 0):
    """Overlapping classes from a logistic model: ``(X, y)`` in float64 numpy, y in {0, 1}."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, n))
    p = 1.0 / (1.0 + np.exp(-(x @ rng.standard_normal(n))))
    y = (rng.random(m) < p).astype(float)
    return x, y


def least_squares(a: np.ndarray, b: np.ndarray):
    """The smooth part f(x) = ||Ax - b||^2 / (2m) as a jax function, and its Lipschitz constant."""
    m = a.shape[0]
    A, B = jnp.asarray(a), jnp.asarray(b)

    def f(x):
        r = A @ x - B
        return 0.5 * jnp.dot(r, r) / m

    return f, float(np.linalg.norm(a, 2) ** 2 / m)
