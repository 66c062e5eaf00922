"""Smooth problems: least squares and binary logistic regression."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subopt.problems._base import Problem, as_float, make


def least_squares_objective(x: Any, A: Any, b: Any) -> Any:
    r""":math:`\frac{1}{2m}\|Ax - b\|^2` with m the rows of A."""
    r = A @ x - b
    return 0.5 * jnp.dot(r, r) / A.shape[0]


def logistic_objective(params: Any, X: Any, y: Any) -> Any:
    """The mean cross-entropy of the labels y under the logits ``X w + b``."""
    z = X @ params["w"] + params["b"]
    return jnp.mean(jax.nn.softplus(z) - y * z)


def least_squares(m: int = 100, n: int = 20, *, seed: int = 0, dtype: Any = None) -> Problem:
    r"""Least squares :math:`f(x) = \frac{1}{2m}\|Ax - b\|^2` with a Gaussian design.

    The minimiser is ``data["x_star"]`` (``numpy.linalg.lstsq``), in float64.

    Example:
      >>> import subopt as so
      >>> p = so.problems.least_squares(50, 5)
      >>> res = so.run(so.gradient_descent(1.0 / p.lipschitz), p.objective, p.x0, *p.args,
      ...              tol=1e-5)
      >>> bool(res.status == so.Status.CONVERGED)
      True
    """
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    b = a @ rng.standard_normal(n) + 0.1 * rng.standard_normal(m)
    x_star = np.linalg.lstsq(a, b, rcond=None)[0]
    A, B = as_float(a, dtype), as_float(b, dtype)
    lipschitz = float(np.linalg.norm(a, 2) ** 2 / m)
    data = {"A": A, "b": B, "x_star": x_star}
    x0 = jnp.zeros(n, A.dtype)
    return make("least squares", least_squares_objective, (A, B), x0, data, None, lipschitz)


def logistic_regression(m: int = 200, n: int = 10, *, seed: int = 0, dtype: Any = None) -> Problem:
    r"""Binary logistic regression with a bias, mean cross-entropy over m samples.

    .. math::

      f(w, b) = \frac{1}{m}\sum_i \log(1 + e^{z_i}) - y_i z_i, \quad z_i = x_i^\top w + b

    Params are ``{"w": (n,), "b": ()}``; labels are drawn from a logistic model, so the classes
    overlap and the minimiser exists. The hand-derived gradient (DIGEST seed 002) is
    :math:`-\frac{1}{m}\sum_i (y_i - \hat y_i)[x_i; 1]`.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, n))
    w_true = rng.standard_normal(n)
    p = 1.0 / (1.0 + np.exp(-(x @ w_true + 0.5)))
    y = (rng.random(m) < p).astype(float)
    x0, lipschitz, data = logistic_loss(x, y, dtype)
    args = (data["X"], data["y"])
    return make("logistic regression", logistic_objective, args, x0, data, None, lipschitz)


def logistic_loss(x: np.ndarray, y: np.ndarray, dtype: Any) -> tuple:
    """Mean cross-entropy with a bias on data (x, y): ``(x0, lipschitz, data)``.

    Params are ``{"w": (n,), "b": ()}``; L = ||[x, 1]||_2^2 / (4m) bounds the gradient's
    Lipschitz constant. Shared by the plain and the sparse logistic regression problems.
    """
    m, n = x.shape
    X, Y = as_float(x, dtype), as_float(y, dtype)
    x1 = np.hstack([x, np.ones((m, 1))])
    lipschitz = float(np.linalg.norm(x1, 2) ** 2 / (4 * m))
    x0 = {"w": jnp.zeros(n, X.dtype), "b": jnp.zeros((), X.dtype)}
    return x0, lipschitz, {"X": X, "y": Y}
