r"""`fit`: the host-side entry point of the GLM solver, with input checks and growing
working sets.

It checks and converts the inputs (dense arrays or ``scipy.sparse`` matrices, labels mapped
for the logistic datafit), then runs `subopt.linear_model.solve` on working sets that grow
along a short ladder of compiled sizes while the support fills them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from subopt.linear_model._grow import grow
from subopt.linear_model._solver import GLMResult
from subopt.linear_model._validation import check_counts, check_labels, check_xy, sample_weights


def fit(
    datafit: Any,
    penalty: Any,
    X: Any,
    y: Any,
    *,
    sample_weight: Any = None,
    fit_intercept: bool = False,
    coef0: Any = None,
    intercept0: Any = 0.0,
    tol: float = 1e-6,
    max_outer: int = 100,
    max_inner: int = 20_000,
    ws_size: int | None = None,
    screen: bool = True,
    gram: bool | None = None,
    anderson: bool = False,
    dtype: Any = None,
) -> GLMResult:
    r"""Minimize :math:`F(Xw + b) + g(w)` to a duality gap ``<= tol * F(0)``.

    Args:
      datafit: `quadratic`, `logistic` or `poisson`.
      penalty: `l1`, `elastic_net`, `nonnegative_l1` or `group_l2`.
      X: ``(n, p)`` array or ``scipy.sparse`` matrix (CSC or CSR).
      y: ``(n,)`` targets: reals, two class labels (logistic; the larger one is +1), counts
        (Poisson).
      sample_weight: ``(n,)`` nonnegative weights (normalized to sum 1; default 1/n each).
      fit_intercept: fit an unpenalized intercept b.
      coef0, intercept0: a warm start.
      tol: the relative gap tolerance.
      max_outer: outer iterations per working-set size; max_inner: FISTA steps per
        working set.
      ws_size: the first working-set size (default: from the support of ``coef0``).
      screen: gap-safe screening.
      gram: least squares in Gram space (default: when the working set has <= 2 n features).
      anderson: Anderson-accelerated proximal gradient on the working sets instead of FISTA
        (`solve`; quadratic datafit, or logistic without Newton).
      dtype: the computation dtype (default: float64 under x64, else float32).

    Returns:
      A `GLMResult` (``status`` 0 is CONVERGED, with ``gap`` the certificate).

    Raises:
      ValueError: mismatched rows of X and y, NaN or inf in X or y, a bad ``sample_weight``,
        y with one class (logistic) or negative counts (Poisson).

    Example:
      >>> import numpy as np
      >>> from subopt import linear_model as lm
      >>> rng = np.random.default_rng(0)
      >>> X = rng.standard_normal((30, 100)); y = X[:, 3] - X[:, 7]
      >>> res = lm.fit(lm.quadratic(), lm.l1(0.1), X, y)
      >>> np.flatnonzero(np.asarray(res.coef)).tolist(), bool(res.gap < 1e-6)
      ([3, 7], True)
    """
    if datafit.name == "logistic":
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be a 1-d array (n_samples,), got shape {y.shape}")
        used = np.ones(y.shape, bool) if sample_weight is None else np.asarray(sample_weight) > 0
        signs = np.ones(y.shape)
        if used.shape == y.shape:  # else check_xy/sample_weights raise below
            signs[used] = check_labels(y[used])[1]  # rows of weight 0 are ignored
        y = signs
    design, y, dtype, norms = check_xy(X, y, dtype)
    n, p = design.shape
    s = sample_weights(sample_weight, n, dtype)
    if datafit.name == "poisson":
        check_counts(np.asarray(y)[np.asarray(s) > 0])
    # host arrays: the solver's jit moves them (eager jnp ops cost ~0.1 ms each)
    w0 = np.zeros(p, dtype) if coef0 is None else np.asarray(coef0, dtype)
    if w0.shape != (p,):
        raise ValueError(f"coef0 must have shape ({p},), got {w0.shape}")
    res, _ = grow(
        datafit,
        penalty,
        design,
        y,
        s,
        w0,
        np.asarray(intercept0, dtype),
        ws_size=ws_size,
        norms=norms,
        fit_intercept=fit_intercept,
        tol=tol,
        max_outer=max_outer,
        max_inner=max_inner,
        screen=screen,
        gram=gram,
        anderson=anderson,
    )
    return res


__all__ = ["fit"]
