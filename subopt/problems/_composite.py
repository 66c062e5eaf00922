r"""Composite problems min f(x) + h(x) on seeded synthetic data: f smooth, h a regularizer.

Each constructor returns a `Problem` whose ``fun`` is the smooth part f and whose ``reg`` is
the `subopt.prox` term h. The least-squares losses use scikit-learn's scaling
:math:`\frac{1}{2m}\|Ax - b\|^2`, so ``lam`` here is scikit-learn's ``alpha``. Unless given,
the weight is a tenth of ``lam_max``, the smallest weight whose solution is 0 (stored in
``data`` with the weight actually used). ``lipschitz`` is the Lipschitz constant of grad f
where it is global (None for the graphical lasso: use `subopt.backtracking`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subopt import prox
from subopt.problems._base import Problem, as_float, make
from subopt.problems._smooth import least_squares_objective, logistic_loss, logistic_objective


def _design(rng, m: int, n: int, correlation: float) -> np.ndarray:
    """Gaussian columns with AR(1) correlation: corr(a_i, a_j) = correlation^|i - j|."""
    if not 0.0 <= correlation < 1.0:
        raise ValueError(f"correlation must be in [0, 1), got {correlation!r}")
    z = rng.standard_normal((m, n))
    a = np.empty_like(z)
    a[:, 0] = z[:, 0]
    for j in range(1, n):
        a[:, j] = correlation * a[:, j - 1] + np.sqrt(1 - correlation**2) * z[:, j]
    return a


def _sparse_regression(rng, m, n, correlation, sparsity):
    a = _design(rng, m, n, correlation)
    x_true = np.zeros(n)
    k = max(1, int(round(sparsity * n)))
    x_true[rng.choice(n, k, replace=False)] = rng.standard_normal(k)
    b = a @ x_true + 0.1 * rng.standard_normal(m)
    return a, b, x_true


def group_objective(xs: Any, A: Any, b: Any) -> Any:
    """Least squares of the concatenated groups."""
    return least_squares_objective(jnp.concatenate(xs), A, b)


def graphical_objective(theta: Any, S: Any) -> Any:
    r""":math:`-\ln\det \mathrm{sym}(\Theta) + \mathrm{tr}(S\Theta)`."""
    # logdet of the symmetric part: value and gradient S - sym(Theta^{-1}) then agree for
    # any Theta, and iterates that start symmetric stay symmetric up to rounding.
    return -logdet(0.5 * (theta + theta.T)) + jnp.sum(S * theta)


def _check_weight(name: str, value: Any) -> None:
    if value is not None and not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def lasso(
    m: int = 100,
    n: int = 50,
    *,
    lam: float | None = None,
    correlation: float = 0.0,
    sparsity: float = 0.1,
    seed: int = 0,
    dtype: Any = None,
) -> Problem:
    r"""The Lasso :math:`\frac{1}{2m}\|Ax - b\|^2 + \lambda\|x\|_1` (scikit-learn's ``Lasso``).

    A has Gaussian columns with AR(1) correlation ``correlation`` (near 1: ill-conditioned),
    b = A x_true + noise with x_true having ``sparsity * n`` nonzeros.

    Args:
      m: samples; n: features.
      lam: the weight (scikit-learn's ``alpha``); default ``0.1 * lam_max``.
      correlation: in [0, 1).
      sparsity: the fraction of nonzeros of x_true.
      seed: the numpy seed.
      dtype: the float dtype of the data and x0.

    Returns:
      A `Problem` with ``data`` = A, b, x_true, lam, lam_max.

    Example:
      >>> import subopt as so
      >>> p = so.problems.lasso(60, 30)
      >>> res = so.run(so.fista(p.reg, 1 / p.lipschitz), p.objective, p.x0, *p.args, tol=1e-6)
      >>> bool(res.status == so.Status.CONVERGED), int((res.params != 0).sum()) < 30
      (True, True)
    """
    _check_weight("lam", lam)
    rng = np.random.default_rng(seed)
    a, b, x_true = _sparse_regression(rng, m, n, correlation, sparsity)
    lam_max = float(np.max(np.abs(a.T @ b)) / m)
    lam = 0.1 * lam_max if lam is None else float(lam)
    A, B = as_float(a, dtype), as_float(b, dtype)
    data = {"A": A, "b": B, "x_true": x_true, "lam": lam, "lam_max": lam_max}
    lipschitz = float(np.linalg.norm(a, 2) ** 2 / m)
    x0 = jnp.zeros(n, A.dtype)
    return make("lasso", least_squares_objective, (A, B), x0, data, prox.l1(lam), lipschitz)


def elastic_net(
    m: int = 100,
    n: int = 50,
    *,
    l1: float | None = None,
    l2: float | None = None,
    correlation: float = 0.0,
    sparsity: float = 0.1,
    seed: int = 0,
    dtype: Any = None,
) -> Problem:
    r"""The elastic net :math:`\frac{1}{2m}\|Ax - b\|^2 + \lambda_1\|x\|_1
    + \frac{\lambda_2}{2}\|x\|^2`.

    scikit-learn's ``ElasticNet(alpha, l1_ratio)`` is the same problem with
    alpha = l1 + l2 and l1_ratio = l1 / (l1 + l2) (both stored in ``data``). The data are
    those of `lasso` with the same arguments.

    Args:
      m, n, correlation, sparsity, seed, dtype: as in `lasso`.
      l1: lambda_1, default ``0.05 * lam_max``; l2: lambda_2, default ``0.05 * lam_max``.

    Returns:
      A `Problem` with ``reg = so.prox.elastic_net(l1, l2)``.
    """
    _check_weight("l1", l1)
    _check_weight("l2", l2)
    rng = np.random.default_rng(seed)
    a, b, x_true = _sparse_regression(rng, m, n, correlation, sparsity)
    lam_max = float(np.max(np.abs(a.T @ b)) / m)
    l1 = 0.05 * lam_max if l1 is None else float(l1)
    l2 = 0.05 * lam_max if l2 is None else float(l2)
    if l1 + l2 == 0:
        raise ValueError("l1 and l2 must not both be 0 (that is least squares)")
    A, B = as_float(a, dtype), as_float(b, dtype)
    data = {
        "A": A,
        "b": B,
        "x_true": x_true,
        "l1": l1,
        "l2": l2,
        "lam_max": lam_max,
        "alpha": l1 + l2,
        "l1_ratio": l1 / (l1 + l2),
    }
    lipschitz = float(np.linalg.norm(a, 2) ** 2 / m)
    reg = prox.elastic_net(l1, l2)
    x0 = jnp.zeros(n, A.dtype)
    return make("elastic net", least_squares_objective, (A, B), x0, data, reg, lipschitz)


def group_lasso(
    m: int = 100,
    groups: int = 10,
    group_size: int = 5,
    *,
    lam: float | None = None,
    seed: int = 0,
    dtype: Any = None,
) -> Problem:
    r"""The group lasso :math:`\frac{1}{2m}\|\sum_g A_g x_g - b\|^2 + \lambda\sum_g\|x_g\|_2`.

    Params are a list of ``groups`` arrays of ``group_size`` entries (one leaf per group, as
    `subopt.prox.group_l2` expects); a quarter of the groups are active in the truth.

    Args:
      m: samples; groups: the number of groups; group_size: entries per group.
      lam: the weight, default ``0.1 * lam_max`` with lam_max = max_g ||A_g^T b|| / m.
      seed, dtype: as in `lasso`.

    Returns:
      A `Problem` with ``data`` = A (m, groups * group_size), b, x_true, lam, lam_max.
    """
    _check_weight("lam", lam)
    rng = np.random.default_rng(seed)
    n = groups * group_size
    a = rng.standard_normal((m, n))
    x_true = np.zeros(n)
    for g in rng.choice(groups, max(1, groups // 4), replace=False):
        x_true[g * group_size : (g + 1) * group_size] = rng.standard_normal(group_size)
    b = a @ x_true + 0.1 * rng.standard_normal(m)
    lam_max = float(
        max(
            np.linalg.norm(a[:, g * group_size : (g + 1) * group_size].T @ b) for g in range(groups)
        )
        / m
    )
    lam = 0.1 * lam_max if lam is None else float(lam)
    A, B = as_float(a, dtype), as_float(b, dtype)
    x0 = [jnp.zeros(group_size, A.dtype) for _ in range(groups)]
    data = {"A": A, "b": B, "x_true": x_true, "lam": lam, "lam_max": lam_max}
    lipschitz = float(np.linalg.norm(a, 2) ** 2 / m)
    return make("group lasso", group_objective, (A, B), x0, data, prox.group_l2(lam), lipschitz)


def nonnegative_least_squares(
    m: int = 60, n: int = 20, *, seed: int = 0, dtype: Any = None
) -> Problem:
    r"""Nonnegative least squares :math:`\min_{x \ge 0} \frac{1}{2m}\|Ax - b\|^2`.

    The truth has mixed signs, so some constraints are active at the solution (the same
    minimiser as ``scipy.optimize.nnls(A, b)``, which minimises ||Ax - b||).

    Returns:
      A `Problem` with ``reg = so.prox.nonnegative()``.
    """
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    b = a @ rng.standard_normal(n) + 0.1 * rng.standard_normal(m)
    A, B = as_float(a, dtype), as_float(b, dtype)
    lipschitz = float(np.linalg.norm(a, 2) ** 2 / m)
    return make(
        "nonnegative least squares",
        least_squares_objective,
        (A, B),
        jnp.zeros(n, A.dtype),
        {"A": A, "b": B},
        prox.nonnegative(),
        lipschitz,
    )


def sparse_logistic_regression(
    m: int = 200, n: int = 50, *, lam: float | None = None, seed: int = 0, dtype: Any = None
) -> Problem:
    r"""L1-regularized logistic regression with an unpenalized bias.

    .. math::

      \frac{1}{m}\sum_i \log(1 + e^{z_i}) - y_i z_i + \lambda\|w\|_1,
      \quad z_i = x_i^\top w + b

    Params are ``{"w": (n,), "b": ()}``; ``reg = so.prox.l1({"w": lam, "b": 0})``. Labels come
    from a logistic model with a sparse truth. lam_max = ||X^T (y - mean(y))||_inf / m.

    Returns:
      A `Problem` with ``data`` = X, y, w_true, lam, lam_max.
    """
    _check_weight("lam", lam)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, n))
    w_true = np.zeros(n)
    k = max(1, n // 10)
    w_true[rng.choice(n, k, replace=False)] = 2.0 * rng.standard_normal(k)
    p = 1.0 / (1.0 + np.exp(-(x @ w_true + 0.25)))
    y = (rng.random(m) < p).astype(float)
    lam_max = float(np.max(np.abs(x.T @ (y - y.mean()))) / m)
    lam = 0.1 * lam_max if lam is None else float(lam)
    x0, lipschitz, data = logistic_loss(x, y, dtype)
    reg = prox.l1({"w": lam, "b": 0.0})
    args = (data["X"], data["y"])
    data = {**data, "w_true": w_true, "lam": lam, "lam_max": lam_max}
    name = "sparse logistic regression"
    return make(name, logistic_objective, args, x0, data, reg, lipschitz)


@jax.custom_jvp
def logdet(theta: jax.Array) -> jax.Array:
    r"""log det Theta for a symmetric positive definite Theta; -inf outside that set.

    Only the lower triangle is read (a Cholesky factorisation), so pass a symmetric matrix.

    Its derivative is the matrix-calculus result :math:`\nabla \ln\det X = (X^{-1})^\top`
    (DIGEST seed 001), written as a custom JVP: :math:`d \ln\det X[V] = \mathrm{tr}(X^{-1}V)`.
    """
    chol = jnp.linalg.cholesky(theta)
    val = 2 * jnp.sum(jnp.log(jnp.diagonal(chol)))
    return jnp.where(jnp.isnan(val), -jnp.inf, val)


@logdet.defjvp
def _logdet_jvp(primals, tangents):
    (theta,), (v,) = primals, tangents
    inv_t = jnp.linalg.inv(theta).T  # grad ln det X = X^{-T}
    return logdet(theta), jnp.sum(inv_t * v)


def graphical_lasso(
    n: int = 10,
    samples: int = 50,
    *,
    lam: float | None = None,
    seed: int = 0,
    dtype: Any = None,
) -> Problem:
    r"""The graphical lasso: a sparse inverse covariance from ``samples`` Gaussian draws.

    .. math::

      \min_{\Theta \succ 0} -\ln\det\Theta + \mathrm{tr}(S\Theta)
      + \lambda \sum_{i \ne j} |\Theta_{ij}|

    (scikit-learn's ``graphical_lasso`` objective with ``alpha = lam``). S is the empirical
    covariance of draws from N(0, P^{-1}) with a sparse tridiagonal precision P. The smooth
    part is evaluated at the symmetric part of Theta, so its gradient is
    :math:`S - \Theta^{-1}` for symmetric Theta (`logdet`'s rule) and iterates stay
    symmetric. f is +inf where Theta is not positive definite and grad f is not globally
    Lipschitz, so ``lipschitz`` is NaN: use ``learning_rate=so.backtracking(...)``, whose
    test also keeps Theta positive definite. ``reg = so.prox.l1(lam * (1 - I))`` leaves the
    diagonal free.

    Args:
      n: the dimension; samples: the number of draws.
      lam: the weight, default ``0.1 * max_{i != j} |S_ij|``.
      seed, dtype: as in `lasso`.

    Returns:
      A `Problem` with x0 = diag(1 / diag(S)) and ``data`` = S, precision, lam.
    """
    _check_weight("lam", lam)
    rng = np.random.default_rng(seed)
    precision = np.eye(n) + np.diag(np.full(n - 1, 0.4), 1) + np.diag(np.full(n - 1, 0.4), -1)
    draws = rng.multivariate_normal(np.zeros(n), np.linalg.inv(precision), size=samples)
    s = draws.T @ draws / samples
    s = 0.5 * (s + s.T)
    off = s - np.diag(np.diag(s))
    lam = 0.1 * float(np.max(np.abs(off))) if lam is None else float(lam)
    S = as_float(s, dtype)
    weights = as_float(lam * (1 - np.eye(n)), dtype)
    x0 = as_float(np.diag(1.0 / np.diag(s)), dtype)
    data = {"S": S, "precision": precision, "lam": lam}
    return make("graphical lasso", graphical_objective, (S,), x0, data, prox.l1(weights))
