"""Nonsmooth problems: least absolute deviations, the linear SVM and a max of affine functions.

The objectives are written with `subopt.nonsmooth`, so ``jax.grad`` returns a
minimum-norm subgradient of each term at its kinks. None of them has a Lipschitz gradient
(``lipschitz`` is None); where a bound G on the norm of every subgradient is cheap it is in
``data["subgradient_bound"]`` (the Lipschitz constant of f itself, the G of the subgradient
method's rate). The reference optima are linear or quadratic programs: the tests and examples
compute them with scipy's HiGHS or cvxpy, which are not runtime dependencies.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from subopt import nonsmooth as ns
from subopt.problems._base import Problem, as_float, make


def lad_objective(x: Any, A: Any, b: Any) -> Any:
    r""":math:`\frac{1}{m}\|Ax - b\|_1`."""
    return jnp.mean(ns.abs(A @ x - b))


def svm_objective(params: Any, X: Any, y: Any, lam: Any) -> Any:
    """The mean hinge loss of the margins ``y (X w + b)`` plus ``lam / 2 ||w||^2``."""
    margins = y * (X @ params["w"] + params["b"])
    w = params["w"]
    return jnp.mean(ns.hinge(margins)) + 0.5 * lam * jnp.dot(w, w)


def max_affine_objective(x: Any, A: Any, b: Any) -> Any:
    r""":math:`\max_i (a_i^\top x + b_i)`."""
    return ns.max(A @ x + b)


def lad_regression(m: int = 200, n: int = 20, *, seed: int = 0, dtype: Any = None) -> Problem:
    r"""Least absolute deviations (L1) regression with a Gaussian design and Laplace noise.

    .. math::

      f(x) = \frac{1}{m}\|Ax - b\|_1 = \frac{1}{m}\sum_i |a_i^\top x - b_i|

    f is convex, polyhedral and sharp (it grows linearly away from its minimisers), so Polyak
    steps converge linearly on it. Every subgradient has norm at most
    ``data["subgradient_bound"]`` :math:`= \frac{1}{m}\sum_i \|a_i\|`. The optimum is the LP
    :math:`\min \frac{1}{m} 1^\top u` s.t. :math:`-u \le Ax - b \le u`.

    Args:
      m: number of samples.
      n: number of features.
      seed: seed of the numpy generator that draws the data.
      dtype: dtype of the arrays (default: jax's default float).

    Returns:
      A `Problem` with ``x0 = 0`` and ``data = {"A", "b", "x_true", "subgradient_bound"}``.

    Example:
      >>> import subopt as so
      >>> p = so.problems.lad_regression(100, 5)
      >>> res = so.run(so.subgradient_descent(so.schedules.inverse_sqrt(0.5)), p.fun, p.x0,
      ...              max_steps=2000, tol=0.0)
      >>> bool(res.value < p.fun(p.x0))
      True
    """
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    x_true = rng.standard_normal(n)
    b = a @ x_true + rng.laplace(scale=0.5, size=m)
    A, B = as_float(a, dtype), as_float(b, dtype)
    data = {
        "A": A,
        "b": B,
        "x_true": x_true,
        "subgradient_bound": float(np.linalg.norm(a, axis=1).mean()),
    }
    return make("LAD regression", lad_objective, (A, B), jnp.zeros(n, A.dtype), data)


def linear_svm(
    m: int = 200, n: int = 10, *, lam: float = 0.1, seed: int = 0, dtype: Any = None
) -> Problem:
    r"""Soft-margin linear SVM: the mean hinge loss plus a ridge penalty on the weights.

    .. math::

      f(w, b) = \frac{1}{m}\sum_i \max(0, 1 - y_i (x_i^\top w + b))
                + \frac{\lambda}{2}\|w\|^2, \qquad y_i \in \{-1, +1\}

    Params are ``{"w": (n,), "b": ()}``; the two classes are Gaussian clouds whose means are
    about two standard deviations apart, so they overlap and the hinge stays active. f is
    strongly convex in w, not in b, and has no global subgradient bound (the ridge term grows).
    The optimum is a quadratic program (cvxpy solves it).

    Args:
      m: number of samples.
      n: number of features.
      lam: ridge weight lambda > 0.
      seed: seed of the numpy generator that draws the data.
      dtype: dtype of the arrays (default: jax's default float).

    Returns:
      A `Problem` with ``x0 = {"w": 0, "b": 0}`` and ``data = {"X", "y", "lam"}``.

    Example:
      >>> import subopt as so
      >>> p = so.problems.linear_svm(100, 3)
      >>> float(p.fun(p.x0))  # the hinge of a zero margin
      1.0
    """
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(m) < 0.5, -1.0, 1.0)
    direction = rng.standard_normal(n)
    direction /= np.linalg.norm(direction)
    x = rng.standard_normal((m, n)) + np.outer(y, direction) + 0.3 * direction
    X, Y = as_float(x, dtype), as_float(y, dtype)
    lam_f = float(lam)
    x0 = {"w": jnp.zeros(n, X.dtype), "b": jnp.zeros((), X.dtype)}
    args = (X, Y, jnp.asarray(lam_f, X.dtype))
    return make("linear SVM", svm_objective, args, x0, {"X": X, "y": Y, "lam": lam_f})


def max_of_affine(m: int = 100, n: int = 20, *, seed: int = 0, dtype: Any = None) -> Problem:
    r"""The piecewise-linear function :math:`f(x) = \max_i (a_i^\top x + b_i)`.

    The rows :math:`a_i` are Gaussian and then centred (they sum to zero), so 0 lies in their
    convex hull and f is bounded below by :math:`\frac{1}{m}\sum_i b_i`. Every subgradient is
    a convex combination of rows, so its norm is at most ``data["subgradient_bound"]``
    :math:`= \max_i \|a_i\|`. The optimum is the LP :math:`\min t` s.t. :math:`Ax + b \le t`.

    Args:
      m: number of affine pieces.
      n: dimension of x.
      seed: seed of the numpy generator that draws the data.
      dtype: dtype of the arrays (default: jax's default float).

    Returns:
      A `Problem` with ``x0 = 0`` and ``data = {"A", "b", "subgradient_bound"}``.

    Example:
      >>> import subopt as so
      >>> p = so.problems.max_of_affine(30, 4)
      >>> bool(p.fun(p.x0) >= p.data["b"].mean())
      True
    """
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    a -= a.mean(axis=0)
    b = rng.standard_normal(m)
    A, B = as_float(a, dtype), as_float(b, dtype)
    data = {"A": A, "b": B, "subgradient_bound": float(np.linalg.norm(a, axis=1).max())}
    return make("max of affine", max_affine_objective, (A, B), jnp.zeros(n, A.dtype), data)
