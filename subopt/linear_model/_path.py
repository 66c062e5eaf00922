r"""Regularization paths with scikit-learn's signatures: `lasso_path` and `enet_path`.

The path runs from :math:`\alpha_{\max} = \|X^\top y\|_\infty / (n \rho)` (the smallest
weight whose solution is 0) down to ``eps * alpha_max`` on a log grid (or over the given
``alphas``, sorted decreasing). Each solve warm-starts from the previous solution and
working-set size, so its first outer iteration already has a small gap and the gap-safe rule
removes most features at once. Many alphas can also be solved at once with `jax.vmap` over
`subopt.linear_model.solve` (see docs/linear_model.md); the paths here do not, since every
lane would pay for the largest working set and lose the warm starts (not measured yet).

References:
  Friedman, Hastie and Tibshirani, *Regularization paths for generalized linear models via
  coordinate descent*, J. Stat. Softw., 2010. Ndiaye et al., *Gap safe screening rules*,
  JMLR, 2017 (sequential screening).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from subopt.linear_model._datafits import quadratic
from subopt.linear_model._design import rmatvec
from subopt.linear_model._grow import first_ws_size, grow
from subopt.linear_model._penalties import elastic_net, nonnegative_l1
from subopt.linear_model._validation import check_alpha, check_xy, sample_weights


def _grid(alpha_max: float, alphas: Any, n_alphas: int, eps: float) -> np.ndarray:
    if alphas is not None:
        grid = np.sort(np.asarray(alphas, float).ravel())[::-1]
        for a in grid:
            check_alpha(a, "alphas")
        return grid
    if not 0 < eps <= 1:
        raise ValueError(f"eps must be in (0, 1], got {eps!r}")
    if int(n_alphas) < 1:
        raise ValueError(f"n_alphas must be >= 1, got {n_alphas!r}")
    if alpha_max <= 0:
        return np.full(int(n_alphas), np.finfo(float).resolution)
    return np.geomspace(alpha_max, alpha_max * eps, int(n_alphas))


def enet_path(
    X: Any,
    y: Any,
    *,
    l1_ratio: float = 0.5,
    eps: float = 1e-3,
    n_alphas: int = 100,
    alphas: Any = None,
    coef_init: Any = None,
    tol: float = 1e-4,
    max_iter: int = 100,
    positive: bool = False,
    return_n_iter: bool = False,
    ws_size: int | None = None,
    **solver_options: Any,
) -> tuple:
    r"""The elastic-net path of :math:`\|y - Xw\|^2 / (2n) + \alpha(\rho\|w\|_1 +
    (1 - \rho)\|w\|^2 / 2)`, scikit-learn's ``enet_path`` (no intercept: center X and y first).

    Args:
      X: ``(n, p)`` array or ``scipy.sparse`` matrix.
      y: ``(n,)`` targets.
      l1_ratio: :math:`\rho \in (0, 1]`.
      eps, n_alphas, alphas: the grid (``alphas`` overrides; sorted decreasing).
      coef_init: the start at the first alpha.
      tol: each solve stops at a duality gap ``<= tol * ||y||^2 / (2n)``.
      max_iter: outer iterations per alpha.
      positive: constrain w >= 0 (``l1_ratio`` must then be 1).
      return_n_iter: also return the FISTA steps per alpha.
      ws_size: the first working-set size (default: from the support of ``coef_init``).
      solver_options: passed to `subopt.linear_model.solve` (``screen``, ``gram``, ...).

    Returns:
      ``(alphas, coefs, dual_gaps)`` (and ``n_iters``): ``coefs`` is ``(p, n_alphas)``;
      ``dual_gaps`` the certified gaps (of the objective above, not multiplied by n).

    Example:
      >>> import numpy as np
      >>> from subopt import linear_model as lm
      >>> rng = np.random.default_rng(0)
      >>> X = rng.standard_normal((30, 10)); y = X[:, 0] + 0.1 * rng.standard_normal(30)
      >>> alphas, coefs, gaps = lm.lasso_path(X, y, n_alphas=5)
      >>> coefs.shape, bool(np.all(coefs[:, 0] == 0)), bool(gaps.max() < 1e-4)
      ((10, 5), True, True)
    """
    design, y, dtype, norms = check_xy(X, y)
    y = jnp.asarray(y)  # once for the whole path
    n, p = design.shape
    ratio = float(l1_ratio)
    if not 0 < ratio <= 1:
        raise ValueError(f"l1_ratio must be in (0, 1] for a path, got {l1_ratio!r}")
    if positive and ratio != 1:
        raise ValueError("positive=True needs l1_ratio=1 (the nonnegative Lasso)")
    s = jnp.asarray(sample_weights(None, n, dtype))
    alpha_max = float(jnp.max(jnp.abs(rmatvec(design, y)))) / (n * ratio)
    grid = _grid(alpha_max, alphas, n_alphas, eps)
    w = jnp.zeros(p, dtype) if coef_init is None else jnp.asarray(coef_init, dtype)
    coefs = np.zeros((p, grid.size), dtype)
    gaps = np.zeros(grid.size)
    n_iters = np.zeros(grid.size, int)
    k = first_ws_size(p, int(np.count_nonzero(np.asarray(w)))) if ws_size is None else ws_size
    for i, alpha in enumerate(grid):
        pen = nonnegative_l1(alpha) if positive else elastic_net(alpha, ratio)
        res, k = grow(
            quadratic(),
            pen,
            design,
            y,
            s,
            w,
            jnp.zeros((), dtype),
            ws_size=k,
            norms=norms,
            tol=tol,
            max_outer=max_iter,
            **solver_options,
        )
        w = res.coef
        coefs[:, i] = np.asarray(w)
        gaps[i] = float(res.gap)
        n_iters[i] = int(res.n_inner)
    out = (grid, coefs, gaps)
    return (*out, n_iters) if return_n_iter else out


def lasso_path(
    X: Any,
    y: Any,
    *,
    eps: float = 1e-3,
    n_alphas: int = 100,
    alphas: Any = None,
    coef_init: Any = None,
    tol: float = 1e-4,
    max_iter: int = 100,
    positive: bool = False,
    return_n_iter: bool = False,
    ws_size: int | None = None,
    **solver_options: Any,
) -> tuple:
    r"""The Lasso path of :math:`\|y - Xw\|^2 / (2n) + \alpha\|w\|_1`: `enet_path` with
    ``l1_ratio=1``, scikit-learn's ``lasso_path`` signature and returns
    ``(alphas, coefs, dual_gaps)``.

    Example:
      >>> import numpy as np
      >>> from subopt import linear_model as lm
      >>> X = np.eye(3); y = np.array([3.0, 2.0, 1.0])
      >>> alphas, coefs, _ = lm.lasso_path(X, y, alphas=[0.5])
      >>> np.round(coefs[:, 0], 6).tolist()  # soft-thresholding of y at n * alpha = 1.5
      [1.5, 0.5, 0.0]
    """
    return enet_path(
        X,
        y,
        l1_ratio=1.0,
        eps=eps,
        n_alphas=n_alphas,
        alphas=alphas,
        coef_init=coef_init,
        tol=tol,
        max_iter=max_iter,
        positive=positive,
        return_n_iter=return_n_iter,
        ws_size=ws_size,
        **solver_options,
    )


__all__ = ["enet_path", "lasso_path"]
